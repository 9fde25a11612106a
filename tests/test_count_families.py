"""glmmTMB's zero-truncated counts (truncated_poisson, truncated_nbinom1, truncated_nbinom2), its
generalized Poisson (genpois) and the lognormal: fits against glmmTMB 1.1.5 on Salamanders and Owls
(log links), and with the square-root link of truncated_poisson, nbinom1 and genpois on Salamanders
and grouseticks
(tests/reference/make_count_families_reference.R → count_families_reference.json), and each
family's Laplace objective against one computed here from scipy's densities (the lognormal, which
glmmTMB 1.1.5 lacks, is checked that way only)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from conftest import assert_matches_tmb, load_dataset, load_reference
from mixedfit.models.families import (
    Family,
    response_mean,
    truncated_variance,
)
from mixedfit.models.family_draws import draw_response
from scipy import optimize, special, stats

REFERENCE = load_reference("count_families_reference.json")


def reference_data(case: dict):
    data = load_dataset(case["data"])
    return data.query(case["subset"]).reset_index(drop=True) if case.get("subset") else data


def fit(case: dict):
    return mixedfit.glmer(case["formula"], reference_data(case), family=case["family"], link=case["link"])


@pytest.mark.parametrize("name", list(REFERENCE))
def test_equals_glmmtmb(name):
    ref = REFERENCE[name]
    m = fit(ref)
    assert m.loglik >= ref["loglik"] - 1e-6
    # β to the issue's 1e-3 (Owls' differ by 4e-4, 3e-5 absolute); SEs to 5e-3 (the issue's 2 %): the
    # finite-difference Hessian's SEs of truncated NB1 differ from glmmTMB's exact ones by 8e-4 on
    # the x86-64-v3 build and 3.9e-3 on the baseline build's rounding
    assert_matches_tmb(m, ref, fixef_rtol=1e-3, stderr_rtol=5e-3)
    if m.family.has_shape:
        assert m.fitted_family.theta == pytest.approx(ref["phi"], rel=1e-3)
        assert m.dof == len(ref["fixef"]) + len(ref["sd"]) + 1
        assert f"{ref['family']}, {m.family.parameter_name} = " in m.summary()
    # predict(type="response") is the truncated distribution's mean, as glmmTMB's
    np.testing.assert_allclose(m.predict()[:5], ref["link_head"], rtol=1e-4)
    np.testing.assert_allclose(m.predict(type="response")[:5], ref["response_head"], rtol=1e-4)
    np.testing.assert_allclose(m.fitted[:5], ref["response_head"], rtol=1e-4)
    if not m.family.zero_truncated:
        np.testing.assert_allclose(m.residuals("pearson")[:5], ref["pearson_head"], rtol=1e-3)


@pytest.mark.parametrize("name", [n for n in REFERENCE if REFERENCE[n]["family"].startswith("truncated")])
def test_truncated_pearson_residuals_take_the_truncated_variance_at_the_untruncated_mean(name):
    """(y − E[y | y ≥ 1]) / √Var[y | y ≥ 1] with the moments summed here over the untruncated
    distribution at μ = g⁻¹(η). glmmTMB 1.1.5 evaluates its variance function at the truncated
    mean instead of μ (its residuals for truncated_poisson are reproduced that way below, and it
    has none for truncated_nbinom1): there mixedfit does not follow it."""
    ref = REFERENCE[name]
    m = fit(ref)
    mu, y = m._link_inverse(m.predict()[:5]), m._response[:5]
    family, k = m.fitted_family, np.arange(1, 2000)[:, None]
    if family.name == "truncated_poisson":
        pmf = stats.poisson.pmf(k, mu)
    elif family.name == "truncated_nbinom2":
        pmf = stats.nbinom.pmf(k, family.theta, family.theta / (family.theta + mu))
    else:
        pmf = stats.nbinom.pmf(k, mu / family.theta, 1 / (1 + family.theta))
    pmf = pmf / pmf.sum(axis=0)
    mean = (k * pmf).sum(axis=0)
    variance = (k**2 * pmf).sum(axis=0) - mean**2
    np.testing.assert_allclose(m.residuals("pearson")[:5], (y - mean) / np.sqrt(variance), rtol=1e-8)
    if family.name == "truncated_poisson":
        lam = mean  # glmmTMB's λ
        glmmtmb_variance = (lam + lam**2) / -np.expm1(-lam) - lam**2 / np.expm1(-lam) ** 2
        np.testing.assert_allclose((y - mean) / np.sqrt(glmmtmb_variance), ref["pearson_head"], rtol=1e-4)


def log_density(family: Family, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Each family's log-density written from its definition with scipy's distributions."""
    phi = family.theta
    if family.name == "truncated_poisson":
        return stats.poisson.logpmf(y, mu) - np.log(-np.expm1(-mu))
    if family.name == "truncated_nbinom2":
        base = stats.nbinom(phi, phi / (phi + mu))
        return base.logpmf(y) - np.log(base.sf(0))
    if family.name == "truncated_nbinom1":
        base = stats.nbinom(mu / phi, 1 / (1 + phi))
        return base.logpmf(y) - np.log(base.sf(0))
    if family.name == "genpois":  # Consul's θ(θ + λy)^(y−1) e^(−θ−λy)/y! with θ = μ/√φ, λ = 1 − 1/√φ
        theta, lam = mu / np.sqrt(phi), 1 - 1 / np.sqrt(phi)
        return np.log(theta) + (y - 1) * np.log(theta + lam * y) - theta - lam * y - special.gammaln(y + 1)
    assert family.name == "lognormal"
    v = np.log1p((phi / mu) ** 2)
    return stats.lognorm.logpdf(y, s=np.sqrt(v), scale=np.exp(np.log(mu) - v / 2))


def laplace_deviance(family: Family, y, X, groups, sd: float, beta: np.ndarray) -> float:
    """−2 log L by the Laplace approximation for one scalar random intercept (1 | g): each group's
    mode of ℓⱼ(u) − u²/2 by a bounded scalar search, its curvature by central differences."""
    fixed = X @ beta
    total = 0.0
    for level in np.unique(groups):
        rows = groups == level

        def penalized(u, rows=rows):
            return -2 * np.sum(log_density(family, y[rows], np.exp(fixed[rows] + sd * u))) + u * u

        u = optimize.minimize_scalar(penalized, bounds=(-10, 10), method="bounded", options={"xatol": 1e-10}).x
        h = 1e-4
        curvature = (penalized(u + h) - 2 * penalized(u) + penalized(u - h)) / (2 * h * h)  # −ℓ'' + 1
        total += penalized(u) + np.log(curvature)
    return total


CASES = {
    "truncated_poisson": (Family("truncated_poisson"), "salamanders_truncated_poisson"),
    "truncated_nbinom2": (Family("truncated_nbinom2", theta=1.7), "salamanders_truncated_nbinom2"),
    "truncated_nbinom1": (Family("truncated_nbinom1", theta=1.4), "salamanders_truncated_nbinom1"),
    "genpois": (Family("genpois", theta=2.5), "salamanders_genpois"),
}


@pytest.mark.parametrize("family_name", list(CASES))
def test_laplace_objective_equals_the_one_computed_from_scipy(family_name):
    family, case = CASES[family_name]
    ref = REFERENCE[case]
    m = mixedfit.GeneralizedLinearMixedModel(ref["formula"], reference_data(ref), family=family)
    beta = np.array(list(ref["fixef"].values())) + 0.05
    sd = 0.4
    groups = reference_data(ref)["site"].to_numpy()
    expected = laplace_deviance(family, m._response, m.X, groups, sd, beta)
    assert m.objective_at(np.array([sd]), beta) == pytest.approx(expected, rel=1e-8)


@pytest.fixture(scope="module")
def lognormal_fit():
    return mixedfit.glmer("Reaction ~ Days + (1 | Subject)", load_dataset("sleepstudy"), family="lognormal")


def test_lognormal_is_at_the_maximum_of_the_laplace_likelihood_computed_from_scipy(lognormal_fit):
    """glmmTMB 1.1.5 has no lognormal family: the fit's −2 log L equals the Laplace deviance
    computed here at its estimates, and that deviance's gradient in (SD, β, log φ) is ~0 there."""
    m = lognormal_fit
    data = load_dataset("sleepstudy")
    y, X, groups = data["Reaction"].to_numpy(), m.X, data["Subject"].to_numpy()

    def deviance(x):
        return laplace_deviance(Family("lognormal", theta=np.exp(x[-1])), y, X, groups, x[0], x[1:-1])

    x0 = np.concatenate([[m.VarCorr["sdcor"].iloc[0]], m.fixef.to_numpy(), [np.log(m.fitted_family.theta)]])
    assert -2 * m.loglik == pytest.approx(deviance(x0), rel=1e-8)
    steps = 1e-4 * np.maximum(np.abs(x0), 1)
    gradient = [(deviance(x0 + e) - deviance(x0 - e)) / (2 * s) for s, e in zip(steps, np.diag(steps))]
    # measured: ≤ 2.5e-3 here (7e-3 on the baseline build: the slope's curvature is ~2e5, so the
    # scalar searches' rounding moves this deviance's optimum by ~3e-8 in it; the fit's own
    # gradient is ≤ 4e-9); 1 % off in log φ and in the slope makes it 0.2 to 130
    np.testing.assert_allclose(gradient, 0, atol=1e-2)
    assert "lognormal, standard deviation φ = " in m.summary()
    assert m.fitted_family.theta == pytest.approx(np.std(y - m.fitted), rel=0.1)  # φ is a data-scale SD


@pytest.mark.parametrize(
    "family",
    [Family("truncated_poisson"), Family("truncated_nbinom2", theta=1.5), Family("truncated_nbinom1", theta=2.0)],
)
def test_simulated_truncated_counts_have_the_truncated_mean_and_variance(family):
    mu = np.full(200_000, 1.3)
    draws = draw_response(family, mu, np.ones_like(mu), 1.0, np.random.default_rng(1))
    untruncated_variance = {"truncated_poisson": mu, "truncated_nbinom2": mu + mu**2 / 1.5, "truncated_nbinom1": mu * 3.0}
    assert draws.min() == 1
    assert draws.mean() == pytest.approx(response_mean(family, mu)[0], rel=0.01)
    assert draws.var() == pytest.approx(truncated_variance(family, mu, untruncated_variance[family.name])[0], rel=0.02)


@pytest.mark.parametrize("family", [Family("genpois", theta=3.0), Family("lognormal", theta=2.0)])
def test_simulated_responses_have_mean_mu_and_the_family_variance(family):
    mu = np.full(200_000, 2.5)
    draws = draw_response(family, mu, np.ones_like(mu), 1.0, np.random.default_rng(2))
    variance = 2.5 * 3.0 if family.name == "genpois" else 2.0**2
    assert draws.mean() == pytest.approx(2.5, rel=0.01)
    assert draws.var() == pytest.approx(variance, rel=0.03)


def test_responses_outside_the_support_name_their_rows():
    data = reference_data(REFERENCE["salamanders_genpois"])
    with pytest.raises(mixedfit.DataError, match=r"truncated_poisson response 'count': a zero-truncated .* it has 0 \(row 0\)"):
        mixedfit.glmer("count ~ mined + (1 | site)", data, family="truncated_poisson")
    halves = data.assign(count=data["count"] + 0.5 * (data.index == 3))
    with pytest.raises(mixedfit.DataError, match=r"genpois response 'count': counts must be whole numbers; it has 2.5 \(row 3\)"):
        mixedfit.glmer("count ~ mined + (1 | site)", halves, family="genpois")
    sleep = load_dataset("sleepstudy")
    with pytest.raises(mixedfit.DataError, match=r"lognormal response 'y': it must be > 0; it has 0 \(row 5\)"):
        mixedfit.glmer("y ~ Days + (1 | Subject)", sleep.assign(y=sleep["Reaction"] * (sleep.index != 5)), family="lognormal")
    with pytest.raises(ValueError, match="generalized Poisson's φ must be >= 1"):
        mixedfit.families.genpois(0.5)


def test_deviance_residuals_are_refused_without_a_saturated_model():
    m = fit(REFERENCE["salamanders_truncated_poisson"])
    with pytest.raises(ValueError, match="saturated model"):
        m.residuals("deviance")
    assert m.residuals("response") == pytest.approx(m._response - m.fitted)
