"""LMMs of Dask DataFrames fitted from cross-products summed over partitions (mixedfit.scale.
out_of_core): the same estimates as the in-memory fit of the same data, predictions and residuals
as Dask collections, partitions with levels others lack, bad partitions named."""

from __future__ import annotations

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import load_dataset

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

CASES = {
    "sleepstudy slopes": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", {}),
    "sleepstudy uncorrelated, ML": ("sleepstudy", "Reaction ~ Days + (Days || Subject)", {"REML": False}),
    "Penicillin crossed": ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", {}),
    "Pastes nested": ("Pastes", "strength ~ 1 + (1 | batch/cask)", {}),
    "a factor, weights and an offset": (
        "Orthodont", "distance ~ age + Sex + (1 | Subject)", {"weights": "weight", "offset": "shift"},
    ),
}


def in_memory_and_dask(case: str, npartitions: int = 3):
    name, formula, options = CASES[case]
    data = load_dataset(name).assign(shift=lambda d: 0.01 * np.arange(len(d)) % 0.1, weight=lambda d: 1 + np.arange(len(d)) % 3)
    memory = mixedfit.lmer(formula, data, **options)
    # sorted by the first grouping factor, each partition has levels the others lack
    ddf = dd.from_pandas(data.sort_values(memory.design.terms[0].term.factors[0]), npartitions=npartitions)
    return memory, mixedfit.lmer(formula, ddf, **options), data, ddf


@pytest.mark.parametrize("case", list(CASES))
def test_estimates_equal_the_in_memory_fit(case):
    memory, remote, data, ddf = in_memory_and_dask(case)
    assert remote.nobs == memory.nobs
    assert remote.objective == pytest.approx(memory.objective, rel=1e-10)
    # The two criteria differ by rounding (cross-products summed by partition), so BOBYQA's paths
    # part at its last steps: Pastes' criterion is flat to 2e-11 (relative) over 1e-7 in θ, where
    # one fit keeps the check's Newton step and the other stops 4e-9 lower without it (θ 8e-8
    # apart, σ 1e-8).
    np.testing.assert_allclose(remote.theta, memory.theta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(remote.fixef.to_numpy(), memory.fixef.to_numpy(), rtol=1e-8)
    assert list(remote.fixef.index) == list(memory.fixef.index)
    # Penicillin's criterion is flat to 1e-8 over 1e-4 in θ: the two fits' Newton steps (from
    # points that differ by rounding) leave its SE 1.1e-8 apart on the baseline build.
    np.testing.assert_allclose(remote.stderr.to_numpy(), memory.stderr.to_numpy(), rtol=1e-7)
    assert remote.sigma == pytest.approx(memory.sigma, rel=1e-7)
    for group, table in memory.ranef.items():
        np.testing.assert_allclose(remote.ranef[group].loc[table.index].to_numpy(), table.to_numpy(), rtol=1e-6, atol=1e-8)
    assert remote.n_pseudo <= memory.nobs
    assert "out of core" in remote.summary()


def test_predictions_and_residuals_are_dask_collections():
    memory, remote, data, ddf = in_memory_and_dask("sleepstudy slopes")
    fitted = remote.predict(ddf)
    assert isinstance(fitted, dd.Series)
    np.testing.assert_allclose(fitted.compute().sort_index().to_numpy(), memory.fitted, rtol=1e-8)
    np.testing.assert_allclose(remote.residuals(ddf).compute().sort_index().to_numpy(), memory.residuals(), atol=1e-6)
    population = remote.predict(ddf, re_form="~0").compute().sort_index().to_numpy()
    np.testing.assert_allclose(population, memory.predict(re_form="~0"), rtol=1e-8)
    new = dd.from_pandas(data.head(3).assign(Subject="new subject"), npartitions=1)
    np.testing.assert_allclose(remote.predict(new).compute().to_numpy(), memory.predict(re_form="~0")[:3], rtol=1e-8)


def test_pseudo_observations_do_not_grow_with_the_rows():
    """Longitudinal data with 10× the rows per subject: the same number of pseudo-observations."""
    rng = np.random.default_rng(7)
    frames = []
    for per in (10, 100):
        subject = np.repeat(np.arange(50), per)
        x = rng.normal(size=len(subject))
        y = 1 + x + rng.normal(size=50)[subject] + rng.normal(0, 0.5, size=50)[subject] * x + rng.normal(size=len(subject))
        frames.append(pd.DataFrame({"y": y, "x": x, "g": subject}))
    sizes = [mixedfit.lmer("y ~ x + (x | g)", dd.from_pandas(f, npartitions=4)).n_pseudo for f in frames]
    assert sizes[0] == sizes[1] <= 50 * 5


def test_a_bad_partition_is_named():
    data = load_dataset("sleepstudy").assign(w=1.0)
    good, bad = data.iloc[:90], data.iloc[90:].assign(w=-1.0)
    ddf = dd.from_delayed([dask.delayed(good), dask.delayed(bad)], meta=data.iloc[:0])
    with pytest.raises(mixedfit.DataError, match="partition 1 of the data: weights column 'w' must be positive"):
        mixedfit.lmer("Reaction ~ Days + (Days | Subject)", ddf, weights="w")


def test_what_cannot_be_summed_is_refused():
    ddf = dd.from_pandas(load_dataset("sleepstudy"), npartitions=2)
    with pytest.raises(NotImplementedError, match="stateful|data-dependent"):
        mixedfit.lmer("Reaction ~ scale(Days) + (1 | Subject)", ddf)
    with pytest.raises(NotImplementedError, match="intercept and numeric columns"):
        mixedfit.lmer("Reaction ~ Days + (factor(Days) | Subject)", ddf)
    with pytest.raises(NotImplementedError, match="out of core"):
        mixedfit.lmer("Reaction ~ Days + (1 | Subject)", ddf, variance=mixedfit.varPower("Days"))
    with pytest.raises(NotImplementedError, match=r"smooth terms \(s\(Days, k=5\)\) are not available out of core"):
        mixedfit.lmer("Reaction ~ s(Days, k=5) + (1 | Subject)", ddf)


def test_on_a_local_cluster_equals_in_process():
    distributed = pytest.importorskip("distributed")
    memory, local, data, ddf = in_memory_and_dask("Penicillin crossed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            remote = mixedfit.lmer(CASES["Penicillin crossed"][1], ddf)
    assert remote.objective == local.objective
    np.testing.assert_array_equal(remote.theta, local.theta)
