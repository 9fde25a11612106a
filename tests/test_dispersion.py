"""lmer(..., dispformula=): the residual variance log-linear in covariates, against glmmTMB 1.1.5
on sleepstudy, Orthodont and Oats, ML and REML (tests/reference/make_dispersion_reference.R →
dispersion_reference.json)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from conftest import load_reference
from mixedfit.errors import FormulaError

REFERENCE = load_reference("dispersion_reference.json")
DATA = {
    "sleepstudy": mixedfit.datasets.load("sleepstudy"),
    "Orthodont": mixedfit.datasets.read_r_csv("tests/data/Orthodont.csv.gz"),
    "Oats": mixedfit.datasets.read_r_csv("tests/data/Oats.csv.gz"),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_equals_glmmtmb(name):
    ref = REFERENCE[name]
    m = mixedfit.lmer(ref["formula"], DATA[ref["data"]], REML=ref["REML"], dispformula=ref["dispformula"])
    loglik = -0.5 * m.objective if ref["REML"] else m.loglik
    assert loglik >= ref["loglik"] - 1e-7 * abs(ref["loglik"])
    assert loglik == pytest.approx(ref["loglik"], rel=1e-7)
    assert m.dof == ref["df"]
    names = list(ref["fixef"])
    np.testing.assert_allclose(m.fixef[names], list(ref["fixef"].values()), rtol=1e-4)
    disp = m.fixef_disp
    np.testing.assert_allclose(disp[list(ref["fixef_disp"])], list(ref["fixef_disp"].values()), rtol=1e-3, atol=1e-4)
    assert f"Dispersion model: {ref['dispformula']}" in m.summary()


def test_one_factor_equals_varident():
    """A dispersion formula of one factor is varIdent: the same model, another parametrization."""
    data = DATA["Orthodont"]
    formula = "distance ~ age + Sex + (1 | Subject)"
    disp = mixedfit.lmer(formula, data, REML=False, dispformula="~ Sex")
    ident = mixedfit.lmer(formula, data, REML=False, variance=mixedfit.varIdent("Sex"))
    assert disp.loglik == pytest.approx(ident.loglik, rel=1e-9)
    ratio = ident.variance_estimates["Male"] / ident.variance_estimates["Female"]
    assert np.exp(disp.fixef_disp["SexMale"] / 2) == pytest.approx(ratio, rel=1e-4)
    sims = disp.simulate(nsim=2, seed=1)
    assert np.all(np.isfinite(sims.to_numpy()))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dispformula": "Days"}, FormulaError, "one-sided formula"),
        ({"dispformula": "~ 0 + Days"}, FormulaError, "needs an intercept"),
        ({"dispformula": "~ 1"}, FormulaError, "has no covariate"),
        (
            {"dispformula": "~ Days", "variance": mixedfit.varExp("Days")},
            ValueError,
            "either a variance function or dispformula",
        ),
    ],
)
def test_bad_dispersion_formulas(kwargs, error, message):
    with pytest.raises(error, match=message):
        mixedfit.lmer("Reaction ~ Days + (1 | Subject)", DATA["sleepstudy"], **kwargs)
