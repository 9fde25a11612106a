"""glmer(..., family="tweedie") against glmmTMB 1.1.5's tweedie on Owls (NegPerChick, exact zeros)
and simulated biomass, and the density against mgcv's ldTweedie
(tests/reference/make_tweedie_reference.R → tweedie_reference.json)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import HERE, assert_gradient_matches_differences, load_reference
from mixedfit._native import _core
from mixedfit.datasets import read_r_csv
from mixedfit.models.family_draws import draw_response

REFERENCE = load_reference("tweedie_reference.json")
DENSITY = REFERENCE.pop("density")


def data_of(case: dict) -> pd.DataFrame:
    if case["data"] == "Owls":
        owls = read_r_csv(HERE / "data" / "Owls.csv.gz")
        return owls.assign(NegPerChick=owls["SiblingNegotiation"] / owls["BroodSize"])
    return read_r_csv(HERE / "data" / "tweedie_biomass.csv")


def family_of(name: str) -> mixedfit.families.Family:
    return mixedfit.families.tweedie(power=1.6) if name == "biomass_power_fixed" else mixedfit.families.tweedie()


@pytest.fixture(scope="module")
def fits():
    return {
        name: mixedfit.glmer(case["formula"], data_of(case), family=family_of(name)) for name, case in REFERENCE.items()
    }


def test_log_density_equals_mgcv_series():
    """Dunn and Smyth's series at every point of the grid (y from 0 to 900, φ from 0.05 to 20,
    p from 1.01 to 1.99), to ~1e-12 of mgcv's value."""
    y, mu, phi, p, expected = (np.array(DENSITY[k], dtype=float) for k in ("y", "mu", "phi", "p", "logf"))
    ours = np.array(
        [
            _core.log_density("tweedie", "log", f, q, np.array([a]), np.array([m]))[0]
            for a, m, f, q in zip(y, mu, phi, p)
        ]
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)
    zero = y == 0  # P(Y = 0) = exp(−λ), λ = μ^(2−p)/(φ(2 − p))
    np.testing.assert_allclose(ours[zero], -(mu[zero] ** (2 - p[zero])) / (phi[zero] * (2 - p[zero])), rtol=1e-14)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_optimum_equals_glmmtmb(fits, name):
    m, case = fits[name], REFERENCE[name]
    assert case["convergence"] == 0
    assert m.loglik >= case["loglik"] - 1e-4
    assert m.loglik == pytest.approx(case["loglik"], abs=1e-3)
    np.testing.assert_allclose(m.fixef[list(case["fixef"])], list(case["fixef"].values()), rtol=1e-3)
    np.testing.assert_allclose(m.stderr[list(case["stderr"])], list(case["stderr"].values()), rtol=2e-2)
    sds = m.VarCorr.set_index(["grp", "var1"])["sdcor"]
    for group, expected in case["sd"].items():
        ours = sds.loc[group].iloc[: len(np.atleast_1d(expected))]
        np.testing.assert_allclose(ours, np.atleast_1d(expected), rtol=2e-3)
    assert m.fitted_family.theta == pytest.approx(case["phi"], rel=1e-3)
    assert m.fitted_family.power == pytest.approx(case["power"], rel=1e-4)
    np.testing.assert_allclose(m.fitted[:10], case["fitted"], rtol=1e-3)
    assert m.dof == case["df"]
    assert m.aic == pytest.approx(case["aic"], abs=2e-3)


def test_r2_and_icc_as_performance(fits):
    """insight's distribution-specific variance for the Tweedie: log1p(φμ^(p−2)) with the model's
    φ and p at the intercept-only null model's μ = exp(β₀)."""
    m, case = fits["owls"], REFERENCE["owls"]
    r2, icc = m.r2(), m.icc()
    assert r2["conditional"] == pytest.approx(case["r2_conditional"], rel=1e-4)
    assert r2["marginal"] == pytest.approx(case["r2_marginal"], rel=1e-4)
    assert icc["adjusted"] == pytest.approx(case["icc_adjusted"], rel=1e-4)
    assert icc["unadjusted"] == pytest.approx(case["icc_unadjusted"], rel=1e-4)


def test_correlated_slopes_correlation(fits):
    m, case = fits["biomass_slopes"], REFERENCE["biomass_slopes"]
    rho = m.VarCorr.query("grp == 'site' and var2 == 'depth'")["sdcor"].iloc[0]
    assert rho == pytest.approx(case["cor"]["site"], abs=2e-3)


def test_gradient_equals_central_differences():
    """The Laplace gradient in (θ, β, log φ, logit(p − 1)) — the series' slopes in φ and p are
    analytic, the kernel's in φ exact — equals the objective's central differences."""
    case = REFERENCE["biomass_slopes"]
    m = mixedfit.GeneralizedLinearMixedModel(case["formula"], data_of(case), family="tweedie")
    x = np.array([0.4, 0.1, 0.3, 0.2, 0.3, 0.5, np.log(0.9), 0.7])
    assert_gradient_matches_differences(m, x)


def test_objective_without_random_effects_variance_is_the_density_sum():
    """At θ = 0 the Laplace deviance is −2 Σ log f(y | μ = exp(Xβ)): the likelihood's series
    (a table of coefficients per p) equals the density's own evaluation."""
    case = REFERENCE["owls"]
    data = data_of(case)
    m = mixedfit.GeneralizedLinearMixedModel(case["formula"], data, family="tweedie")
    beta, phi, power = np.array([0.6, -0.7, 0.1, 0.2]), 1.7, 1.35
    value = m._objective_of(np.concatenate([[0.0], beta, [np.log(phi), np.log((power - 1) / (2 - power))]]))
    mu = np.exp(m.design.fixed.X @ beta)
    y = data["NegPerChick"].to_numpy()
    assert value == pytest.approx(-2 * _core.log_density("tweedie", "log", phi, power, y, mu).sum(), rel=1e-12)


def test_residuals_simulate_and_summary(fits):
    m = fits["owls"]
    family, mu, y = m.fitted_family, m.fitted, m._response
    p, phi = family.power, family.theta
    np.testing.assert_allclose(m.residuals("pearson"), (y - mu) / np.sqrt(phi * mu**p), rtol=1e-10)
    unit = 2 * (
        np.where(y > 0, y ** (2 - p), 0) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p)
    )
    np.testing.assert_allclose(m.residuals("deviance"), np.sign(y - mu) * np.sqrt(unit), rtol=1e-8, atol=1e-10)
    draws = m.simulate(400, seed=3).to_numpy()
    assert draws.min() == 0 and np.all(draws >= 0)
    conditional = mixedfit.families.Family("tweedie", theta=phi, power=p)
    rng = np.random.default_rng(4)
    samples = np.array([draw_response(conditional, mu, np.ones(len(mu)), 1.0, rng) for _ in range(2000)])
    np.testing.assert_allclose(samples.mean(axis=0).mean(), mu.mean(), rtol=0.01)
    np.testing.assert_allclose(
        (samples == 0).mean(axis=0).mean(), np.exp(-(mu ** (2 - p)) / (phi * (2 - p))).mean(), atol=0.005
    )
    np.testing.assert_allclose(samples.var(axis=0).mean(), (phi * mu**p).mean(), rtol=0.03)
    text = m.summary()
    assert "power p = 1.295 estimated" in text and "dispersion φ = 1.322" in text
    assert str(mixedfit.families.tweedie(power=1.5)) == "tweedie(log, φ estimated, power = 1.5)"


def test_power_at_its_gamma_end_warns():
    """Responses without zeros (sleepstudy's reaction times) run p to its bound 1.999 (the gamma)."""
    with pytest.warns(mixedfit.ConvergenceWarning) as caught:
        m = mixedfit.glmer("Reaction ~ Days + (1 | Subject)", mixedfit.datasets.load("sleepstudy"), family="tweedie")
    assert m.fitted_family.power == pytest.approx(1.999, abs=1e-6)
    assert any("power ran to its bound 1.999 (next to no exact zeros" in str(w.message) for w in caught)


def test_bad_input():
    owls = data_of(REFERENCE["owls"])
    with pytest.raises(mixedfit.DataError, match=r"tweedie response 'y': it must be >= 0; it has -0.5 \(row 1\)"):
        mixedfit.glmer(
            "y ~ 1 + (1 | Nest)", owls.assign(y=np.where(np.arange(len(owls)) == 1, -0.5, 1.0)), family="tweedie"
        )
    with pytest.raises(ValueError, match=r"power must lie strictly between 1 \(Poisson\) and 2 \(gamma\), got 2.5"):
        mixedfit.families.tweedie(power=2.5)
    with pytest.raises(ValueError, match="power is the Tweedie's variance power; the poisson family has none"):
        mixedfit.families.Family("poisson", power=1.5)
    with pytest.raises(ValueError, match="nAGQ > 1 is only available for families without a scale parameter"):
        mixedfit.glmer("NegPerChick ~ 1 + (1 | Nest)", owls, family="tweedie", nAGQ=5)
    with pytest.raises(ValueError, match="log_density takes families whose density needs only y and mu"):
        _core.log_density("beta_binomial", "logit", 1.0, 1.0, np.ones(1), np.full(1, 0.5))
