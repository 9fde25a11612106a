"""glmer(..., family="student_t") against glmmTMB 1.1.5's t_family on Exam and sleepstudy
(tests/reference/make_student_t_reference.R → student_t_reference.json)."""

from __future__ import annotations

import warnings

import mixedfit
import numpy as np
import pytest
from conftest import HERE, assert_gradient_matches_differences, load_reference
from mixedfit.datasets import read_r_csv
from scipy import stats

REFERENCE = load_reference("student_t_reference.json")


def data_of(case: dict):
    if case["data"] == "Exam":
        return read_r_csv(HERE / "data" / "Exam.csv.gz")
    return mixedfit.datasets.load(case["data"])


@pytest.fixture(scope="module")
def fits():
    fitted = {}
    for name, case in REFERENCE.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mixedfit.ConvergenceWarning)  # (df at its bound: tested below)
            fitted[name] = mixedfit.glmer(case["formula"], data_of(case), family="student_t")
    return fitted


def glmmtmb_point(m, case: dict) -> np.ndarray:
    """glmmTMB's optimum in the stacked vector (θ, β, log σ, log ν): its θ (log SDs, correlations
    as glmmTMB parametrizes them) turned into Λ's lower-triangular entries."""
    theta = []
    for sd in case["sd"].values():
        sd = np.atleast_1d(sd)
        if len(sd) == 1:
            theta.append(sd)
            continue
        # glmmTMB's theta for a 2 × 2 term: log SDs, then ρ's unconstrained parameter a, ρ = a/√(1 + a²)
        a = case["theta"][-1]
        rho = a / np.sqrt(1 + a * a)
        theta.append([sd[0], rho * sd[1], np.sqrt(1 - rho * rho) * sd[1]])
    beta = [case["fixef"][n] for n in m.design.fixed.names]
    return np.concatenate(
        [np.concatenate(theta), beta, [np.log(case["sigma"]), np.log(min(case["nu"], m.family.second_parameter.high))]]
    )


@pytest.mark.parametrize("name", list(REFERENCE))
def test_objective_at_glmmtmb_optimum_equals_its_deviance(name):
    """The same likelihood: mixedfit's Laplace deviance at glmmTMB's estimates equals glmmTMB's."""
    case = REFERENCE[name]
    m = mixedfit.GeneralizedLinearMixedModel(case["formula"], data_of(case), family="student_t")
    nu_capped = (
        case["nu"] > m.family.second_parameter.high
    )  # (glmmTMB let ν run past mixedfit's bound: the normal there)
    assert m._objective_of(glmmtmb_point(m, case)) == pytest.approx(
        -2 * case["loglik"], abs=1e-3 if nu_capped else 1e-5
    )


@pytest.mark.parametrize("name", list(REFERENCE))
def test_optimum_is_glmmtmb_or_higher(fits, name):
    m, case = fits[name], REFERENCE[name]
    assert m.loglik >= case["loglik"] - 1e-4
    if case["nu"] < 1e3:  # glmmTMB found an interior optimum: the same one
        assert m.loglik == pytest.approx(case["loglik"], abs=1e-3)
        np.testing.assert_allclose(m.fixef[list(case["fixef"])], list(case["fixef"].values()), rtol=1e-3)
        np.testing.assert_allclose(m.stderr[list(case["stderr"])], list(case["stderr"].values()), rtol=2e-2)
        assert m.fitted_family.theta == pytest.approx(case["sigma"], rel=1e-3)
        assert m.fitted_family.df == pytest.approx(case["nu"], rel=1e-2)
        assert m.dof == case["df"]
        assert m.aic == pytest.approx(case["aic"], abs=2e-3)


def test_sleepstudy_glmmtmb_stops_at_the_normal_where_heavier_tails_fit_better(fits):
    """glmmTMB's t fit of Reaction ~ Days + (1 | Subject) runs ν to 2.8e6 (the normal); mixedfit's
    finds ν ≈ 4.5 with a log-likelihood higher by more than 5 — the same likelihood function
    (the test above), a better optimum."""
    m, case = fits["sleepstudy"], REFERENCE["sleepstudy"]
    assert case["nu"] > 1e5
    assert m.loglik > case["loglik"] + 5
    assert 2 < m.fitted_family.df < 10


def test_gradient_in_log_df_equals_central_differences():
    m = mixedfit.GeneralizedLinearMixedModel(
        "normexam ~ standLRT + (1 | school)", read_r_csv(HERE / "data" / "Exam.csv.gz"), family="student_t"
    )
    x = np.array([0.4, 0.01, 0.5, np.log(0.75), np.log(20.0)])
    assert_gradient_matches_differences(m, x)


def test_laplace_objective_equals_scipy_t_density_without_random_effects_variance():
    """At θ = 0 the Laplace deviance is −2 Σ log p(y | μ = Xβ), scipy's t density."""
    data = read_r_csv(HERE / "data" / "Exam.csv.gz")
    m = mixedfit.GeneralizedLinearMixedModel("normexam ~ standLRT + (1 | school)", data, family="student_t")
    beta, sigma, nu = np.array([0.1, 0.5]), 0.8, 7.0
    value = m._objective_of(np.concatenate([[0.0], beta, [np.log(sigma), np.log(nu)]]))
    mu = beta[0] + beta[1] * data["standLRT"].to_numpy()
    expected = -2 * stats.t.logpdf(data["normexam"].to_numpy(), nu, loc=mu, scale=sigma).sum()
    assert value == pytest.approx(expected, rel=1e-12)


def test_fixed_df_simulate_pearson_and_bound_warning(fits):
    sleep = mixedfit.datasets.load("sleepstudy")
    fixed = mixedfit.glmer("Reaction ~ Days + (1 | Subject)", sleep, family=mixedfit.families.student_t(df=5))
    assert fixed.fitted_family.df == 5 and fixed.dof == 4
    m = fits["exam"]
    draws = m.simulate(200, seed=2).to_numpy()
    residual = draws - m.predict(re_form="~0")[:, None]  # new school effects and t noise around Xβ
    assert residual.std() == pytest.approx(
        np.sqrt(m.fitted_family.theta**2 * m.fitted_family.df / (m.fitted_family.df - 2) + m.VarCorr["vcov"].iloc[0]),
        rel=0.05,
    )
    nu = m.fitted_family.df
    pearson = m.residuals("pearson")
    np.testing.assert_allclose(pearson, (m._response - m.fitted) / (m.fitted_family.theta * np.sqrt(nu / (nu - 2))))
    normal = mixedfit.datasets.load("Dyestuff")
    with warnings.catch_warnings(record=True) as caught:  # (also the flat likelihood's degenerate Hessian)
        warnings.simplefilter("always")
        light = mixedfit.glmer("Yield ~ 1 + (1 | Batch)", normal, family="student_t")
    assert any("degrees of freedom ran to" in str(w.message) for w in caught)
    # the normal's optimum: lmer's ML fit
    assert light.loglik == pytest.approx(mixedfit.lmer("Yield ~ 1 + (1 | Batch)", normal, REML=False).loglik, abs=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="df is the Student t's degrees of freedom; the poisson family has none"):
        mixedfit.families.Family("poisson", df=3)
    with pytest.raises(ValueError, match="df must be a positive number"):
        mixedfit.families.student_t(df=-1)
    with pytest.raises(ValueError, match="link 'log' is not available for the student_t family"):
        mixedfit.families.Family("student_t", "log")
