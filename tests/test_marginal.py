"""The marginal view (G, R, V, X, Z, both levels of fitted values) and Nakagawa's R² and the ICC
against R's performance package (tests/reference/make_marginal_reference.R; for GLMMs beyond the
binomial tests/reference/make_r2_families_reference.R)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from conftest import HERE, load_dataset, load_reference
from mixedfit.datasets import read_r_csv
from mixedfit.models.marginal import variance_components

CASES = load_reference("marginal_reference.json")
DATA = {"sleep": "sleepstudy", "penicillin": "Penicillin", "cbpp": "cbpp"}


def _fit(case: dict):
    data = load_dataset(DATA[case["name"].split("_")[0]])
    if case["glmm"]:
        return mixedfit.glmer(case["formula"], data, family="binomial", link=case["link"])
    return mixedfit.lmer(case["formula"], data)


@pytest.mark.parametrize("name", list(CASES))
def test_r2_and_icc_as_performance(name):
    case = CASES[name]
    model = _fit(case)
    # LMMs agree with lme4 to its convergence; lme4's GLMM fits stop earlier than ours (see the
    # GLMM reference tests), which moves the fourth digit.
    rtol = 2e-3 if case["glmm"] else 1e-5
    r2, icc = model.r2(), model.icc()
    assert r2["conditional"] == pytest.approx(case["r2_conditional"], rel=rtol)
    assert r2["marginal"] == pytest.approx(case["r2_marginal"], rel=rtol, abs=1e-12)
    assert icc["adjusted"] == pytest.approx(case["icc_adjusted"], rel=rtol)
    assert icc["unadjusted"] == pytest.approx(case["icc_unadjusted"], rel=rtol)


FAMILY_CASES = load_reference("r2_families_reference.json")
FAMILY_DATA = {
    "grouse": lambda: load_dataset("grouseticks"),
    "sleep": lambda: load_dataset("sleepstudy"),
    "salamanders": lambda: read_r_csv(HERE / "data" / "Salamanders.csv.gz"),
    "beta": lambda: read_r_csv(HERE / "data" / "beta_proportions.csv"),
}


@pytest.mark.parametrize("name", list(FAMILY_CASES))
def test_r2_and_icc_of_count_gamma_and_beta_glmms_as_performance(name):
    """insight's distribution-specific variance (the lognormal approximation at the null model's
    exp(β₀) for Poisson, NB2, NB1 and beta; 0.25 for a sqrt link; σ² for a Gamma) and its
    observation-level terms counted as residual (grouse_poisson_olre). lme4's Gamma fit stops
    9e-5 short of ours in log L (every optimizer warns): 1e-3 there, else 1e-4."""
    case = FAMILY_CASES[name]
    model = mixedfit.glmer(case["formula"], FAMILY_DATA[name.split("_")[0]](), family=case["family"], link=case["link"])
    assert model.loglik >= case["loglik"] - 1e-6
    rtol = 1e-3 if case["family"] == "Gamma" else 1e-4
    v = variance_components(model)
    for ours, theirs in (("fixed", "var_fixed"), ("random", "var_random"), ("residual", "var_residual")):
        assert v[ours] == pytest.approx(case[theirs], rel=rtol), ours
    r2, icc = model.r2(), model.icc()
    assert r2["conditional"] == pytest.approx(case["r2_conditional"], rel=rtol)
    assert r2["marginal"] == pytest.approx(case["r2_marginal"], rel=rtol)
    assert icc["adjusted"] == pytest.approx(case["icc_adjusted"], rel=rtol)
    assert icc["unadjusted"] == pytest.approx(case["icc_unadjusted"], rel=rtol)


def test_r2_refuses_what_performance_does_not_define():
    salamanders = read_r_csv(HERE / "data" / "Salamanders.csv.gz")
    genpois = mixedfit.glmer("count ~ mined + (1 | site)", salamanders, family="genpois")
    with pytest.raises(ValueError, match="not genpois"):
        genpois.r2()
    zip_model = mixedfit.glmer("count ~ mined + (1 | site)", salamanders, family="poisson", ziformula="~ mined")
    with pytest.raises(ValueError, match="zero model"):
        zip_model.icc()


def test_g_r_v_against_dense_algebra():
    model = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"), weights=np.linspace(0.5, 2, 180))
    Z, G, R = model.Z.toarray(), model.G.toarray(), model.R.toarray()
    assert Z.shape == (180, 36) and G.shape == (36, 36) and R.shape == (180, 180)
    np.testing.assert_allclose(model.V().toarray(), Z @ G @ Z.T + R, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(np.diag(R), model.sigma**2 / np.linspace(0.5, 2, 180), rtol=1e-12)
    # G's blocks are the VarCorr covariance of each subject's (intercept, slope).
    vc = model.VarCorr
    block = G[:2, :2]
    assert block[0, 0] == pytest.approx(vc["vcov"].iloc[0], rel=1e-12)
    assert block[1, 1] == pytest.approx(vc["vcov"].iloc[1], rel=1e-12)
    assert block[0, 1] == pytest.approx(vc["vcov"].iloc[2], rel=1e-12)
    np.testing.assert_allclose(model.X @ model.fixef.to_numpy(), model.fitted_values("marginal"), rtol=1e-12)
    np.testing.assert_allclose(model.fitted_values("marginal"), model.predict(re_form="~0"), rtol=1e-12)
    np.testing.assert_allclose(model.residuals(level="marginal"), model._response - model.fitted_values("marginal"))
    with pytest.raises(ValueError, match="level must be 'conditional' or 'marginal'"):
        model.fitted_values("population")
