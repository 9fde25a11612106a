"""The beta-binomial family (glmmTMB's betabinomial) against glmmTMB 1.1.5 on cbpp
(tests/reference/make_betabinomial_reference.R → betabinomial_reference.json)."""

from __future__ import annotations

import warnings

import mixedfit
import numpy as np
import pytest
from conftest import load_reference
from mixedfit.models.families import Family
from mixedfit.models.family_draws import draw_response

REFERENCE = load_reference("betabinomial_reference.json")["cbpp_betabinomial"]


def fit_quietly(*args, **kwargs):
    """The herds' SD is on the boundary (glmmTMB's too, 1.4e-4): whether it falls below the
    singular-fit tolerance depends on the last digits; the tests check it directly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.SingularFitWarning)
        return mixedfit.glmer(*args, **kwargs)


@pytest.fixture(scope="module")
def fit():
    return fit_quietly(REFERENCE["formula"], mixedfit.datasets.load("cbpp"), family="beta_binomial")


def test_equals_glmmtmb(fit):
    m, ref = fit, REFERENCE
    assert m.loglik >= ref["loglik"] - 1e-6
    assert m.loglik == pytest.approx(ref["loglik"], rel=1e-7)
    assert m.aic == pytest.approx(ref["aic"], rel=1e-7)
    np.testing.assert_allclose(m.fixef[list(ref["fixef"])], list(ref["fixef"].values()), rtol=1e-3)
    np.testing.assert_allclose(m.stderr[list(ref["stderr"])], list(ref["stderr"].values()), rtol=2e-3)
    assert m.fitted_family.theta == pytest.approx(ref["phi"], rel=1e-3)
    # the overdispersion absorbs the herds' variance: both fits put its SD on the boundary
    assert ref["sd"]["herd"] < 1e-3 and m.VarCorr["sdcor"].iloc[0] < 1e-3
    np.testing.assert_allclose(m.predict(type="response")[:5], ref["response_head"], rtol=1e-3)
    assert m.dof == len(ref["fixef"]) + 2
    assert "beta_binomial, precision φ = " in m.summary()


def test_proportions_with_trials_as_weights_are_the_same_fit(fit):
    cbpp = mixedfit.datasets.load("cbpp")
    proportions = cbpp.assign(p=cbpp["incidence"] / cbpp["size"])
    m = fit_quietly("p ~ period + (1 | herd)", proportions, family="beta_binomial", weights=cbpp["size"].to_numpy(float))
    assert m.loglik == pytest.approx(fit.loglik, rel=1e-10)
    np.testing.assert_allclose(m.fixef, fit.fixef, rtol=1e-6)


def test_pearson_residuals_take_the_overdispersion(fit):
    """(y − μ)/√(μ(1 − μ)(1 + (n − 1)/(φ + 1))/n): glmmTMB 1.1.5's variance function is the
    binomial's μ(1 − μ) (its residuals are reproduced that way below), without the factor."""
    m, ref = fit, REFERENCE
    n = mixedfit.datasets.load("cbpp")["size"].to_numpy()[:5]
    inflation = np.sqrt(1 + (n - 1) / (m.fitted_family.theta + 1))
    np.testing.assert_allclose(m.residuals("pearson")[:5] * inflation, ref["pearson_head"], rtol=2e-3)


def test_simulated_proportions_have_the_beta_binomial_mean_and_variance():
    mu, n, phi = np.full(200_000, 0.3), np.full(200_000, 12.0), 4.0
    draws = draw_response(Family("beta_binomial", theta=phi), mu, n, 1.0, np.random.default_rng(4))
    assert draws.mean() == pytest.approx(0.3, rel=0.01)
    assert draws.var() == pytest.approx(0.3 * 0.7 / 12 * (1 + 11 / (phi + 1)), rel=0.02)
    assert np.allclose(draws * 12, np.round(draws * 12))
