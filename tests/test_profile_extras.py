"""Profile intervals of a GLMM's zero and dispersion models' coefficients (and of the rest with
them, and NB2's shape, profiled out) against glmmTMB 1.1.5's confint(method = "profile") on Salamanders
(tests/reference/make_profile_extras_reference.R → profile_extras_reference.json)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from conftest import HERE, load_reference
from mixedfit.datasets import read_r_csv
from mixedfit.inference.profile import minimize_others, normal_quantile

REFERENCE = load_reference("profile_extras_reference.json")
# The random effect's SD and the other linear predictor's coefficients (β's rows cost the same
# and are covered with the zero model profiled out by the cases' full runs in the docstring below)
PROFILED = {
    "salamanders_zip_mined": [".sig01", "minedyes", "zi.(Intercept)", "zi.minedyes"],
    "salamanders_nbinom2": [".sig01", "minedyes"],
    "salamanders_nbinom2_disp_mined": [".sig01", "minedyes", "disp.(Intercept)", "disp.minedyes"],
}


@pytest.fixture(scope="module")
def fits():
    data = read_r_csv(HERE / "data" / "Salamanders.csv.gz")
    out = {}
    for name, case in REFERENCE.items():
        spec = case["python"]
        formulas = {key: spec[key] for key in ("ziformula", "dispformula") if key in spec}
        out[name] = mixedfit.glmer(spec["formula"], data, family=spec["family"], **formulas)
    return out


@pytest.mark.parametrize("name", list(REFERENCE))
def test_profile_intervals_equal_glmmtmb(fits, name):
    """Upper ends to 2e-5 (observed ≤ 8e-6); lower ends to 6e-4 (observed ≤ 4.8e-4): glmmTMB's
    ends come from a spline through its profile's points, and at its lower ends mixedfit's
    profile — its inner minimum checked with Powell and Nelder–Mead to 1e-8 — has |ζ| 1.9604 to
    1.9619, past the 1.95996 it should have, so glmmTMB's lower ends lie slightly outside the
    interval (all 11 rows of each model agree this way: 5.2 and 3.7 s for the full runs)."""
    m, case = fits[name], REFERENCE[name]
    assert m.loglik == pytest.approx(case["loglik"], abs=1e-6)
    rows = PROFILED[name]
    ci = m.confint(method="profile", parm=rows)
    assert list(ci.index) == rows
    np.testing.assert_allclose(ci.iloc[:, 1], [case["upper"][r] for r in rows], atol=2e-5)
    np.testing.assert_allclose(ci.iloc[:, 0], [case["lower"][r] for r in rows], atol=6e-4)


def test_reference_lower_ends_lie_outside_the_profile_interval(fits):
    """At glmmTMB's lower end of the zero model's minedyes the deviance, minimized over every
    other parameter, has risen by more than the interval's 1.95996² (the ζ mixedfit's end solves for)."""
    m, case = fits["salamanders_zip_mined"], REFERENCE["salamanders_zip_mined"]
    problem = m._profile()
    try:
        w = problem.names.index("zi.minedyes")
        value = case["lower"]["zi.minedyes"]
        deviance, _ = minimize_others(
            problem.deviance, problem.estimate, w, value, problem.lower, problem.upper, None, problem.scale
        )
    finally:
        m._restore_core()
    assert np.sqrt(deviance - problem.base) > normal_quantile(0.95)
    assert m.confint(method="profile", parm="zi.minedyes").iloc[0, 0] > value


def test_profile_leaves_the_estimates_and_reports_the_nuisance_only_on_request(fits):
    """Profiling moves the core's zero model, dispersion model and NB shape only: the model's
    estimates and log-likelihood are unchanged after it; the NB's log shape is profiled out,
    not reported unless named."""
    m = fits["salamanders_nbinom2_disp_mined"]
    before = (m.loglik, m.fixef_disp.copy(), m.fixef.copy())
    profiles = m.profile(parm=["disp.minedyes"])
    assert list(profiles) == ["disp.minedyes"]
    assert profiles["disp.minedyes"]["zeta"].abs().max() >= normal_quantile(0.95)
    assert m.loglik == before[0]
    np.testing.assert_array_equal(m.fixef_disp, before[1])
    np.testing.assert_array_equal(m.fixef, before[2])
    assert m.objective_at(m.theta, m.fixef.to_numpy()) == pytest.approx(-2 * m.loglik, rel=1e-12)
    zip_model = fits["salamanders_zip_mined"]
    assert "zi.minedyes" in zip_model.confint(method="wald").index
