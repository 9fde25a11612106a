"""Spatial residual correlation (corExp, corGaus, corSpher, corLin, corRatio; nugget; metrics)
against nlme's lme on BodyWeight and a simulated field trial, REML and ML
(tests/reference/make_spatial_reference.R → spatial_reference.json), and across all rows
(group=None) against the dense marginal likelihood."""

from __future__ import annotations

import pickle
import warnings

import mixedfit
import numpy as np
import pytest
from conftest import load_reference
from mixedfit.errors import DataError

REFERENCE = load_reference("spatial_reference.json")
# nlme stops at a local optimum of the linear correlation's REML criterion (range 267); mixedfit's
# is 0.86 higher in log-likelihood, at range 40.6 (the ML optimum's neighbourhood, which nlme finds by ML).
NLME_LOCAL_OPTIMUM = {"bodyweight_lin_REML"}
DATA = {
    "BodyWeight": mixedfit.datasets.read_r_csv("tests/data/BodyWeight.csv.gz"),
    "field_trial_sim": mixedfit.datasets.read_r_csv("tests/data/field_trial_sim.csv.gz"),
}


def fit(ref):
    """Some of these fits put a random-effects SD at 0 — the field trial's blocks (4 blocks, their
    differences taken up by the spatial correlation), BodyWeight's rats under a spherical
    correlation of range 10× the longest distance — as nlme's do (its SDs there: < 1e-4 of σ);
    the boundary warning is expected."""
    spec = dict(ref["correlation"])
    correlation = getattr(mixedfit, spec.pop("kind"))(**spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.SingularFitWarning)
        return mixedfit.lmer(ref["formula"], DATA[ref["data"]], REML=ref["REML"], correlation=correlation)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_equals_nlme(name):
    ref = REFERENCE[name]
    m = fit(ref)
    assert m.loglik >= ref["loglik"] - 1e-7 * abs(ref["loglik"])
    if name in NLME_LOCAL_OPTIMUM:
        assert m.loglik > ref["loglik"] + 0.5
        return
    assert m.loglik == pytest.approx(ref["loglik"], rel=1e-8, abs=1e-6)
    names = list(ref["fixef"])
    np.testing.assert_allclose(m.fixef[names], list(ref["fixef"].values()), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m.stderr[names], list(ref["stderr"].values()), rtol=1e-4)
    assert m.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    np.testing.assert_allclose(np.atleast_1d(m.correlation_estimate), list(ref["phi"].values()), rtol=1e-3)
    np.testing.assert_allclose(m.residuals(type="normalized"), ref["normalized"], atol=1e-3)
    # (where the rats' SD is near 0 — spherical ML: 0.3% of σ — the Hessian in θ and ψ meets θ's
    # boundary, where nlme's log-SD scale has none: the intervals are compared for the other fits)
    if ref["phi_intervals"] and m.theta.min() > 1e-2:
        intervals = m.structure_confint()
        for parameter, expected in ref["phi_intervals"].items():  # (lower, est., upper)
            width = expected[2] - expected[0]
            np.testing.assert_allclose(intervals.loc[parameter].to_numpy(), expected, atol=2e-2 * width)


def test_across_all_rows_equals_the_dense_likelihood():
    """group=None: one correlation matrix over every plot (the blocks side by side), checked
    against −2 log L from V = ZGZ' + σ²C computed densely."""
    data = DATA["field_trial_sim"].copy()
    data["east"] = data["x"] + 10 * data["block"].str[1:].astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.SingularFitWarning)  # (the blocks' SD: see fit)
        m = mixedfit.lmer(
            "yield ~ treatment + (1 | block)", data, REML=False,
            correlation=mixedfit.corExp(["east", "y"], nugget=True),
        )  # fmt: skip
    C = m._structure.correlation.matrix(m.correlation_estimate).toarray()
    V = m.Z @ m.G @ m.Z.T + m.sigma**2 * C
    r = data["yield"].to_numpy() - m.X @ m.fixef.to_numpy()
    _, log_det = np.linalg.slogdet(V)
    deviance = len(r) * np.log(2 * np.pi) + log_det + r @ np.linalg.solve(V, r)
    assert m.deviance == pytest.approx(deviance, rel=1e-10)
    assert np.allclose(np.diag(C), 1) and C[0, 1] == pytest.approx(
        (1 - m.correlation_estimate[1]) * np.exp(-1 / m.correlation_estimate[0]), rel=1e-12
    )


def test_predict_simulate_pickle_summary():
    data = DATA["BodyWeight"]
    m = mixedfit.lmer(
        "weight ~ Time * Diet + (1 | Rat)", data, correlation=mixedfit.corGaus("Time", "Rat", nugget=True)
    )
    text = m.summary()
    assert "Correlation structure: Gaussian spatial correlation" in text and "nugget" in text
    again = pickle.loads(pickle.dumps(m))
    assert again.objective == m.objective
    np.testing.assert_allclose(again.predict(data), m.fitted, rtol=1e-10)
    sims = m.simulate(nsim=2, seed=1)
    assert np.all(np.isfinite(sims.to_numpy()))


def test_bad_coordinates_are_refused():
    data = DATA["BodyWeight"].copy()
    with pytest.raises(DataError, match="coordinate column 'Diet' must be numeric"):
        mixedfit.lmer("weight ~ Time + (1 | Rat)", data, correlation=mixedfit.corExp("Diet", "Rat"))
    data["far"] = data["Time"].astype(float)
    data.loc[3, "far"] = np.inf
    with pytest.raises(DataError, match="coordinate column 'far' has a non-finite value at row 3"):
        mixedfit.lmer("weight ~ Time + (1 | Rat)", data, correlation=mixedfit.corExp("far", "Rat"))
    with pytest.raises(DataError, match="at the same position, so their correlation would be 1"):
        mixedfit.lmer("weight ~ Time + (1 | Rat)", data, correlation=mixedfit.corExp("Time"))
    with pytest.raises(ValueError, match="metric must be one of"):
        mixedfit.corExp("Time", metric="cosine")
