"""fit_many: one design, many responses, on threads; equal to fitting each response alone."""

from __future__ import annotations

import mixedfit
import numpy as np
import pandas as pd
import pytest
from mixedfit import DataError

LMM = "y ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def responses() -> np.ndarray:
    sleep = mixedfit.datasets.load("sleepstudy")
    rng = np.random.default_rng(1)
    Y = sleep["Reaction"].to_numpy()[:, None] + rng.normal(0, 20, (len(sleep), 6))
    Y[[3, 50], 2] = np.nan  # rows dropped for this response alone
    Y[7, 4] = np.nan
    return Y


def test_lmm_responses_equal_separate_fits(responses):
    sleep = mixedfit.datasets.load("sleepstudy")
    table = mixedfit.fit_many(LMM, sleep, responses, n_threads=2)
    assert list(table.index) == [f"response_{k + 1}" for k in range(6)]
    for k, name in enumerate(table.index):
        keep = ~np.isnan(responses[:, k])
        # fit_many's refits skip the convergence check (and its Newton step), as check_conv=False.
        alone = mixedfit.LinearMixedModel(LMM, sleep.assign(y=responses[:, k])[keep]).fit(check_conv=False)
        row = table.loc[name]
        assert row["nobs"] == alone.nobs == keep.sum()
        assert row["objective"] == pytest.approx(alone.objective, rel=1e-10)
        np.testing.assert_allclose(row[list(alone.fixef.index)].to_numpy(float), alone.fixef.to_numpy(), rtol=1e-8)
        np.testing.assert_allclose(row[[f"se:{n}" for n in alone.fixef.index]].to_numpy(float), alone.stderr.to_numpy(), rtol=1e-8)
        np.testing.assert_allclose(row[alone.parameter_names()[:4]].to_numpy(float), alone._parameter_vector()[:4], rtol=1e-7)
        assert row["converged"] and not row["singular"]


def test_threads_and_input_kinds_give_the_same_table(responses):
    sleep = mixedfit.datasets.load("sleepstudy")
    one = mixedfit.fit_many(LMM, sleep, responses, n_threads=1)
    named = pd.DataFrame(responses, columns=[f"gene{k}" for k in range(6)])
    by_frame = mixedfit.fit_many(LMM, sleep, named, n_threads=2)
    by_columns = mixedfit.fit_many(LMM, pd.concat([sleep, named], axis=1), list(named.columns))
    for other in (by_frame, by_columns):
        assert list(other.index) == list(named.columns)
        np.testing.assert_array_equal(other.drop(columns="reason").to_numpy(float), one.drop(columns="reason").to_numpy(float))
        assert list(other["reason"]) == list(one["reason"])


def test_glmm_responses_equal_separate_fits():
    cbpp = mixedfit.datasets.load("cbpp")
    rng = np.random.default_rng(2)
    herd = np.unique(cbpp["herd"], return_inverse=True)[1]
    counts = rng.poisson(np.exp(1 + rng.normal(0, 0.6, (herd.max() + 1, 4))[herd]))
    table = mixedfit.fit_many("k ~ period + (1 | herd)", cbpp, counts, family="poisson", n_threads=2)
    for k in range(4):
        alone = mixedfit.GeneralizedLinearMixedModel(
            "k ~ period + (1 | herd)", cbpp.assign(k=counts[:, k]), family="poisson"
        ).fit(check_conv=False)
        row = table.iloc[k]
        assert row["objective"] == pytest.approx(alone.objective, rel=1e-9)
        np.testing.assert_allclose(row[list(alone.fixef.index)].to_numpy(float), alone.fixef.to_numpy(), rtol=1e-6)


def test_bad_input():
    sleep = mixedfit.datasets.load("sleepstudy")
    with pytest.raises(DataError, match="responses have 10 rows for 180 rows of data"):
        mixedfit.fit_many(LMM, sleep, np.ones((10, 2)))
    with pytest.raises(DataError, match="must be a plain name"):
        mixedfit.fit_many("log(y) ~ Days + (1 | Subject)", sleep, np.ones((180, 2)))
    with pytest.raises(DataError, match=r"response columns \['nope'\] are not in the data"):
        mixedfit.fit_many(LMM, sleep, ["nope"])


def test_on_a_local_dask_cluster_equals_in_process(responses):
    distributed = pytest.importorskip("distributed")
    sleep = mixedfit.datasets.load("sleepstudy")
    local = mixedfit.fit_many(LMM, sleep, responses)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = mixedfit.fit_many(LMM, sleep, responses, client=client)
            pd.testing.assert_frame_equal(remote, local)
            # A response that cannot be fitted (a constant one, refused for a GLMM) is a row of
            # NaN with its reason, on a worker as in process; the other responses are fitted.
            counts = np.random.default_rng(5).poisson(3.0, (len(sleep), 4)).astype(float)
            counts[:, 2] = 0.0  # the first response of the second chunk: its model cannot be built from it
            remote = mixedfit.fit_many("k ~ Days + (1 | Subject)", sleep, counts, family="poisson", client=client)
            local = mixedfit.fit_many("k ~ Days + (1 | Subject)", sleep, counts, family="poisson")
            # (their reasons' wording differ: the worker's model could not be built from it, the
            # in-process one was built from the first response and refused it as a new one)
            pd.testing.assert_frame_equal(remote.drop(columns="reason"), local.drop(columns="reason"))
            assert "constant" in remote.loc["response_3", "reason"] and "constant" in local.loc["response_3", "reason"]
            assert remote.loc[["response_1", "response_2", "response_4"], "converged"].all()


def test_a_response_that_cannot_be_fitted_is_a_row_of_nan():
    sleep = mixedfit.datasets.load("sleepstudy")
    counts = np.random.default_rng(6).poisson(3.0, (len(sleep), 3)).astype(float)
    counts[:, 1] = 0.0  # constant: refused for a GLMM, as lme4 does
    table = mixedfit.fit_many("k ~ Days + (1 | Subject)", sleep, counts, family="poisson")
    assert table.loc["response_2", ["(Intercept)", "Days", "objective"]].isna().all()
    assert not table.loc["response_2", "converged"]
    assert "is constant" in table.loc["response_2", "reason"]
    assert table.loc[["response_1", "response_3"], "converged"].all()
    assert (table.loc[["response_1", "response_3"], "reason"] == "").all()


def test_one_bad_response_does_not_end_the_batch():
    """All NaN, observed in one group only, a +inf, and a constant first response of a GLMM's
    pattern: each is its own row of NaN with converged False and the reason; the others equal
    their fits alone."""
    sleep = mixedfit.datasets.load("sleepstudy")
    Y = sleep["Reaction"].to_numpy()[:, None] + np.random.default_rng(7).normal(0, 10, (len(sleep), 5))
    Y[:, 1] = np.nan
    Y[:, 2] = np.where(sleep["Subject"].astype(str) == "308", Y[:, 2], np.nan)
    Y[3, 3] = np.inf
    table = mixedfit.fit_many(LMM, sleep, Y)
    assert list(table.index) == [f"response_{k}" for k in range(1, 6)]
    reasons = table["reason"]
    assert reasons["response_2"] == "the response has no observed values"
    assert "1 level" in reasons["response_3"]
    assert reasons["response_4"] == "the response has infinite values (rows at positions 3)"
    for name in ("response_2", "response_3", "response_4"):
        assert not table.loc[name, "converged"] and np.isnan(table.loc[name, "Days"])
    for k in (0, 4):
        alone = mixedfit.LinearMixedModel(LMM, sleep.assign(y=Y[:, k])).fit(check_conv=False)
        assert table.iloc[k]["objective"] == pytest.approx(alone.objective, rel=1e-9)
        assert table.iloc[k]["reason"] == ""
    nothing = mixedfit.fit_many(LMM, sleep, np.full((len(sleep), 2), np.nan))
    assert not nothing["converged"].any() and (nothing["reason"] == "the response has no observed values").all()
    with pytest.raises(DataError, match="responses is empty"):
        mixedfit.fit_many(LMM, sleep, np.zeros((len(sleep), 0)))


def test_satterthwaite_tests_per_response_equal_lmertest_on_each_fit():
    sleep = mixedfit.datasets.load("sleepstudy")
    rng = np.random.default_rng(11)
    Y = sleep["Reaction"].to_numpy()[:, None] + rng.normal(0, 20, (len(sleep), 3))
    table = mixedfit.fit_many(LMM, sleep, Y, satterthwaite=["Days"])
    for k, name in enumerate(table.index):
        single = mixedfit.LinearMixedModel(LMM, sleep.assign(y=Y[:, k])).fit(check_conv=False).coef_table.loc["Days"]
        assert table.loc[name, "df:Days"] == pytest.approx(single["df"], rel=1e-5)
        assert table.loc[name, "p:Days"] == pytest.approx(single["Pr(>|t|)"], rel=1e-4)
    with pytest.raises(DataError, match="not fixed effects"):
        mixedfit.fit_many(LMM, sleep, Y, satterthwaite=["Hours"])
