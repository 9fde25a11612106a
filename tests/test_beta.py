"""Beta GLMMs (proportions in (0, 1), precision φ estimated jointly or fixed) against glmmTMB's
beta_family on simulated proportions with crossed random effects. References:
tests/reference/make_beta_reference.R → beta_reference.json (glmmTMB 1.1.5)."""

from __future__ import annotations

import pickle

import mixedfit
import numpy as np
import pytest
from conftest import HERE, assert_matches_tmb, load_reference
from mixedfit.datasets import read_r_csv
from mixedfit.models.family_draws import draw_response

REFERENCE = load_reference("beta_reference.json")


@pytest.fixture(scope="module")
def proportions():
    return read_r_csv(HERE / "data" / "beta_proportions.csv")


def family_of(name):
    return mixedfit.families.beta(5.0) if name == "beta_phi_fixed" else "beta"


@pytest.mark.parametrize("name", list(REFERENCE))
def test_equals_glmmtmb(proportions, name):
    """Laplace with the exact curvature (each observation's observed information, negative in the
    tails at φ ≈ 7.6 for 11 of 720 rows, as glmmTMB's Hessian has it): log-likelihood to 1e-9."""
    ref = REFERENCE[name]
    m = mixedfit.glmer(ref["formula"], proportions, family=family_of(name))
    assert_matches_tmb(m, ref, loglik_rtol=1e-9, fixef_rtol=1e-4)
    assert m.fitted_family.theta == pytest.approx(ref["phi"], rel=1e-4)
    assert m.dof == len(ref["fixef"]) + len(ref["sd"]) + (name != "beta_phi_fixed")
    assert "beta, precision φ" in m.summary()


def test_predictions_draws_and_pickle(proportions):
    m = mixedfit.glmer("y ~ x + (1 | site) + (1 | year)", proportions, family="beta")
    mu = m.predict(proportions, type="response")
    np.testing.assert_allclose(mu, m.fitted, rtol=1e-10)
    draws = m.simulate(400, seed=3).to_numpy()
    assert np.all((draws > 0) & (draws < 1))
    # conditional on the fitted random effects' distribution the draws' mean is near the data's
    assert abs(draws.mean() - proportions["y"].mean()) < 0.02
    phi = m.fitted_family.theta
    within = draw_response(m.fitted_family, np.full(20000, 0.3), np.ones(20000), 1.0, np.random.default_rng(1))
    assert within.var() == pytest.approx(0.3 * 0.7 / (1 + phi), rel=0.05)
    again = pickle.loads(pickle.dumps(m))
    assert again.loglik == m.loglik and again.fitted_family.theta == m.fitted_family.theta


def test_responses_outside_the_unit_interval_are_refused(proportions):
    bad = proportions.assign(y=proportions["y"].where(proportions.index != 7, 1.0))
    with pytest.raises(mixedfit.DataError, match=r"beta response 'y': it must be strictly between 0 and 1; it has 1 \(row 7\)"):
        mixedfit.glmer("y ~ x + (1 | site)", bad, family="beta")
    with pytest.raises(ValueError, match="nAGQ=0 cannot estimate the beta family's parameter"):
        mixedfit.glmer("y ~ x + (1 | site)", proportions, family="beta", nAGQ=0)
    with pytest.raises(ValueError, match="link 'log' is not available for the beta family"):
        mixedfit.families.beta(link="log")
