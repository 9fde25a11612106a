"""glmer(..., dispformula=) against glmmTMB 1.1.5's dispersion models: the log of the family's own
parameter linear in covariates, for NB2, NB1, genpois (NB2 with a zero model, a hurdle NB2), the
Tweedie, the beta and the Student t (tests/reference/make_dispersion_glmm_reference.R → dispersion_glmm_reference.json)."""

from __future__ import annotations

import pickle

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import HERE, assert_gradient_matches_differences, assert_matches_tmb, load_reference
from mixedfit.datasets import read_r_csv

REFERENCE = load_reference("dispersion_glmm_reference.json")
FAMILIES = {
    "nbinom2": "negative_binomial", "nbinom1": "nbinom1", "tweedie": "tweedie", "beta": "beta", "t": "student_t",
    "genpois": "genpois", "truncated_nbinom2": "truncated_nbinom2",
}  # fmt: skip


def data_of(name: str) -> pd.DataFrame:
    data = read_r_csv(HERE / "data" / ("beta_proportions.csv" if name == "beta_proportions" else f"{name}.csv.gz"))
    if name == "Owls":
        data = data.assign(NegPerChick=data["SiblingNegotiation"] / data["BroodSize"])
    return data


def fit(case: dict):
    zi = None if case["ziformula"].replace(" ", "") == "~0" else case["ziformula"]
    return mixedfit.glmer(
        case["formula"],
        data_of(case["data"]),
        family=FAMILIES[case["family"]],
        dispformula=case["dispformula"],
        ziformula=zi,
    )


@pytest.fixture(scope="module")
def fits():
    return {name: fit(case) for name, case in REFERENCE.items()}


def values(case: dict, key: str) -> np.ndarray:
    return np.array(list(case[key].values()), dtype=float)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_optimum_equals_glmmtmb(fits, name):
    m, case = fits[name], REFERENCE[name]
    assert case["convergence"] == 0
    assert m.loglik >= case["loglik"] - 1e-4
    assert_matches_tmb(m, case, fixef_rtol=2e-4, stderr_rtol=1e-3)
    np.testing.assert_allclose(m.fixef_disp[list(case["fixef_disp"])], values(case, "fixef_disp"), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(m.beta_disp_stderr, values(case, "stderr_disp"), rtol=1e-3)
    if "fixef_zi" in case:
        np.testing.assert_allclose(m.fixef_zi[list(case["fixef_zi"])], values(case, "fixef_zi"), rtol=1e-3, atol=1e-4)
    if "shape" in case:
        assert m.fitted_family.shape == pytest.approx(case["shape"], rel=1e-2 if case["family"] == "t" else 1e-4)
    np.testing.assert_allclose(m.fitted[:10], case["fitted"], rtol=1e-3)
    assert m.dof == case["df"]


@pytest.mark.parametrize("name", list(REFERENCE))
def test_wald_intervals_of_the_zero_and_dispersion_models_equal_glmmtmbs(fits, name):
    """confint(method="wald") also covers β_zi and β_d, in rows named as glmmTMB's ("zi.x", "disp.x")."""
    m, case = fits[name], REFERENCE[name]
    intervals = m.confint(method="wald")
    other = [row for row in intervals.index if row.startswith(("zi.", "disp."))]
    assert other == list(case["wald"])
    np.testing.assert_allclose(intervals.loc[other].to_numpy(), np.array(list(case["wald"].values())), rtol=2e-3, atol=2e-3)
    assert list(intervals.index[: len(m.parameter_names())]) == m.parameter_names()
    assert list(m.confint(method="wald", parm=list(m.fixef.index)).index) == list(m.fixef.index)


def test_gradient_equals_central_differences():
    """The Laplace gradient in (θ, β, β_d, β_zi): each observation's log φ by the densities'
    differences, chained through the dispersion model's X, as the zero model's log-odds."""
    case = REFERENCE["salamanders_zinb2"]
    m = mixedfit.GeneralizedLinearMixedModel(
        case["formula"], data_of("Salamanders"), "negative_binomial", dispformula="~ mined", ziformula="~ mined"
    )
    x = np.array([1.1, 0.5, -1.8, 0.2, -0.7, -0.3, 0.4])
    assert_gradient_matches_differences(m, x)


def test_each_rows_parameter_in_residuals_predictions_and_draws(fits):
    m = fits["salamanders_nbinom2"]
    data = data_of("Salamanders")
    theta = np.exp(m.fixef_disp["(Intercept)"] + m.fixef_disp["minedyes"] * (data["mined"] == "yes").to_numpy())
    mu = m.fitted
    np.testing.assert_allclose(m.residuals("pearson"), (data["count"] - mu) / np.sqrt(mu + mu**2 / theta), rtol=1e-10)
    assert m.fitted_family.theta is None  # (φ is each row's: fixef_disp)
    new = data.iloc[[0, 1]].assign(mined=["yes", "no"])
    np.testing.assert_allclose(m.predict(new, type="response"), np.exp(m.predict(new, type="link")), rtol=1e-12)
    # the conditional draws at the fitted means: NB2's P(0) = (θ/(θ + μ))^θ at each row's θ, mined or not
    rng = np.random.default_rng(5)
    draws = np.array([m._draw_response(np.log(mu), rng, None) for _ in range(4000)])
    for mined in (True, False):
        rows = np.flatnonzero((data["mined"] == "yes").to_numpy() == mined)
        at = rows[np.argmax(mu[rows])]
        assert (draws[:, at] == 0).mean() == pytest.approx((theta[at] / (theta[at] + mu[at])) ** theta[at], abs=0.025)
        assert draws[:, at].mean() == pytest.approx(mu[at], rel=0.08)
    assert "Dispersion model:" in m.summary() and "Dispersion: ~mined" in m.summary()


def test_pickling_wald_intervals_and_refusals(fits):
    m = fits["owls_tweedie"]
    copy = pickle.loads(pickle.dumps(m))
    assert copy.loglik == m.loglik
    np.testing.assert_array_equal(copy.fixef_disp, m.fixef_disp)
    np.testing.assert_allclose(copy.predict(type="response"), m.predict(type="response"), rtol=1e-12)
    wald = m.confint(method="wald")
    np.testing.assert_allclose(
        wald.loc["FoodTreatmentSatiated"],
        m.fixef["FoodTreatmentSatiated"] + np.array([-1, 1]) * 1.959963985 * m.stderr["FoodTreatmentSatiated"],
        rtol=1e-8,
    )


def test_bad_input():
    salamanders = data_of("Salamanders")
    with pytest.raises(ValueError, match="the poisson family has none"):
        mixedfit.glmer("count ~ mined + (1 | site)", salamanders, family="poisson", dispformula="~ mined")
    with pytest.raises(ValueError, match="do not also fix it"):
        mixedfit.glmer(
            "count ~ mined + (1 | site)",
            salamanders,
            family=mixedfit.families.negative_binomial(2.0),
            dispformula="~ mined",
        )
    with pytest.raises(mixedfit.FormulaError, match="has no intercept"):
        mixedfit.glmer("count ~ mined + (1 | site)", salamanders, family="negative_binomial", dispformula="~ 0")
    with pytest.raises(mixedfit.FormulaError, match="dispformula '~ \\(1 \\| site\\)' has a random-effects term"):
        mixedfit.glmer(
            "count ~ mined + (1 | site)", salamanders, family="negative_binomial", dispformula="~ (1 | site)"
        )
    with pytest.raises(ValueError, match="dispersion model \\(dispformula\\) needs nAGQ=1"):
        mixedfit.GeneralizedLinearMixedModel(
            "count ~ mined + (1 | site)", salamanders, "negative_binomial", nAGQ=0, dispformula="~ mined"
        )
    plain = mixedfit.glmer("count ~ mined + (1 | site)", salamanders, family="negative_binomial", dispformula="~ 1")
    with pytest.raises(ValueError, match="this model has no dispersion model"):
        _ = plain.fixef_disp
    modeled = mixedfit.glmer(
        "count ~ mined + (1 | site)", salamanders, family="negative_binomial", dispformula="~ mined"
    )
    with pytest.raises(ValueError, match="a dispersion model"):
        modeled.r2()
    with pytest.raises(ValueError, match="deviance residuals need the saturated model"):
        modeled.residuals("deviance")  # (φ varies by row: no saturated model, as under a zero model)
    assert plain.loglik < modeled.loglik
