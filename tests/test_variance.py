"""Residual variance functions (varIdent, varPower, varExp) against nlme's lme (Orthodont, Dialyzer;
REML and ML) and glmmTMB's dispformula (ScotsSec, crossed effects). References:
tests/reference/make_variance_reference.R → variance_reference.json."""

from __future__ import annotations

import pickle
import warnings

import mixedfit
import numpy as np
import pytest
from conftest import assert_matches_lme, load_dataset, load_reference

REFERENCE = load_reference("variance_reference.json")
NLME_CASES = [name for name, case in REFERENCE.items() if "nlme" in case]


def reference_data(case):
    return load_dataset(case["data"])


def fit(case, **options):
    variance = getattr(mixedfit, case["variance"]["kind"])(case["variance"]["column"])
    return mixedfit.lmer(case["formula"], reference_data(case), REML=case["REML"], variance=variance, **options)


@pytest.mark.parametrize("name", NLME_CASES)
def test_equals_nlme(name):
    ref = REFERENCE[name]
    m = fit(ref)
    assert_matches_lme(m, ref)
    names = list(ref["fixef"])
    sds = m.VarCorr.query("var2 != var2 or var2 == ''")["sdcor"].to_numpy()[:-1]  # the SDs, σ excluded
    np.testing.assert_allclose(sds, list(ref["sd"].values()), rtol=2e-4)
    # δ is poorly determined where the function is nearly flat (varExp's -0.009, SE 0.047): its
    # differences are measured against the interval's width as well
    intervals = m.structure_confint()
    estimates = m.variance_estimates[list(ref["variance_estimates"])].to_numpy()
    expected = np.array(list(ref["variance_estimates"].values()))
    width = (intervals["upper"] - intervals["lower"]).max()
    assert np.all(np.abs(estimates - expected) <= 1e-4 * np.abs(expected) + 1e-3 * width)
    nlme = np.array([[row["lower"], row["est."], row["upper"]] for row in ref["variance_intervals"]])
    np.testing.assert_allclose(intervals.to_numpy(), nlme, atol=1e-2 * width)
    assert m.dof == len(names) + len(ref["sd"]) * (len(ref["sd"]) + 1) // 2 + 1 + len(intervals)
    assert "Variance function:" in m.summary(ddf=None)


def test_crossed_effects_equal_glmmtmb_dispformula():
    ref = REFERENCE["scotssec_crossed_varident_ML"]
    m = fit(ref)
    assert m.loglik == pytest.approx(ref["loglik"], rel=1e-8)
    assert m.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-4)
    ratios = m.variance_estimates
    for level, value in ref["variance_estimates"].items():
        assert ratios[level] == pytest.approx(value, rel=1e-4)
    sd = m.VarCorr.set_index("grp")["sdcor"]
    for group, value in ref["sd"].items():
        assert sd[group] == pytest.approx(value, rel=1e-4)
    # glmmTMB's SEs invert the joint observed information (also without a dispersion model they
    # differ from lme4's by up to 1.8% here); mixedfit's are lme4's and nlme's (X'V⁻¹X)⁻¹σ².
    np.testing.assert_allclose(m.stderr.to_numpy(), list(ref["stderr"].values()), rtol=2.5e-2)


def test_likelihood_ratio_test_against_the_homoscedastic_model():
    ref = REFERENCE["orthodont_varident_ML"]
    data = reference_data(ref)
    plain = mixedfit.lmer(ref["formula"], data, REML=False)
    hetero = fit(ref)
    table = mixedfit.anova(plain, hetero)
    assert table["Df"].iloc[1] == 1
    assert table["Chisq"].iloc[1] == pytest.approx(2 * (ref["loglik"] - plain.loglik), rel=1e-6)
    assert table["Pr(>Chisq)"].iloc[1] < 1e-3


def test_residual_covariance_normalized_residuals_and_simulation():
    ref = REFERENCE["orthodont_varident_REML"]
    m = fit(ref)
    female = (m.frame.data["Sex"] == "Female").to_numpy()
    ratio = m.variance_estimates["Female"]
    expected = np.where(female, (m.sigma * ratio) ** 2, m.sigma**2)
    np.testing.assert_allclose(m.R.diagonal(), expected, rtol=1e-12)
    dense_v = (m.Z @ m.G @ m.Z.T).toarray() + np.diag(expected)
    np.testing.assert_allclose(m.V().toarray(), dense_v, rtol=1e-12, atol=1e-12)
    normalized = m.residuals(type="normalized")
    np.testing.assert_allclose(normalized, m.residuals() / np.sqrt(expected), rtol=1e-12)
    sims = m.simulate(4000, seed=2).to_numpy() - m.fitted_values("marginal")[:, None]
    # per simulation the residuals' spread by sex follows the estimated SDs (random effects shared)
    within = sims - sims.mean(axis=0)
    spread = np.array([within[female].std(), within[~female].std()])
    total = np.sqrt([expected[female][0] + m.VarCorr["vcov"].iloc[0], expected[~female][0] + m.VarCorr["vcov"].iloc[0]])
    np.testing.assert_allclose(spread, total, rtol=0.03)


def test_pickle_refit_and_new_data():
    ref = REFERENCE["dialyzer_varpower_REML"]
    m = fit(ref)
    again = pickle.loads(pickle.dumps(m))
    assert again.loglik == m.loglik
    np.testing.assert_allclose(again.variance_estimates, m.variance_estimates)
    np.testing.assert_allclose(again.predict(), m.predict(), rtol=1e-12)
    y = m.simulate(1, seed=5).to_numpy()[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.SingularFitWarning)  # a draw may put a variance at 0
        refitted = again.refit(y)
    assert refitted.variance_estimates["power"] != m.variance_estimates["power"]
    drawn = m.simulate(2, seed=1, newdata=reference_data(ref).iloc[:10])
    assert drawn.shape == (10, 2)
    # a variance function's column is needed in new data even where the formula does not use it
    by_sex = fit(REFERENCE["orthodont_varident_REML"])
    data = reference_data(REFERENCE["orthodont_varident_REML"])
    np.testing.assert_allclose(by_sex.predict(data.drop(columns="Sex")), by_sex.predict(), rtol=1e-12)
    with pytest.raises(mixedfit.DataError, match="needs column 'Sex'"):
        by_sex.simulate(1, seed=1, newdata=data.drop(columns="Sex"))


def test_bad_variance_functions_are_refused():
    data = load_dataset("sleepstudy")
    with pytest.raises(mixedfit.DataError, match="single level"):
        mixedfit.lmer("Reaction ~ Days + (1 | Subject)", data.assign(g="a"), variance=mixedfit.varIdent("g"))
    with pytest.raises(mixedfit.DataError, match="zero"):
        mixedfit.lmer("Reaction ~ Days + (1 | Subject)", data, variance=mixedfit.varPower("Days"))
    with pytest.raises(mixedfit.DataError, match="not in the data"):
        mixedfit.lmer("Reaction ~ Days + (1 | Subject)", data, variance=mixedfit.varExp("nope"))
    with pytest.raises(TypeError, match="varIdent, varPower or varExp"):
        mixedfit.lmer("Reaction ~ Days + (1 | Subject)", data, variance="Days")


@pytest.mark.parametrize(
    "name,factor",
    [("dialyzer_varpower_ML", 1e6), ("dialyzer_varpower_REML", 1e8), ("dialyzer_varpower_ML", 1e-6),
     ("orthodont_varexp_ML", 1e6), ("orthodont_varexp_REML", 1e-6)],
)  # fmt: skip
def test_estimates_do_not_depend_on_the_covariates_units(name, factor):
    """The variance covariate in other units (v × c) is the same model: the same log-likelihood,
    β and random effects as nlme's fit in the original units, δ the same (varPower) or divided
    by c (varExp), σ in nlme's terms times c^(−δ) (varPower). Before, × 10⁶ moved δ by 26 % and
    lost 1.7e-3 in log-likelihood, × 10⁸ raised NumericalError, and varExp failed on large
    covariates with an error about weights."""
    ref = REFERENCE[name]
    column = ref["variance"]["column"]
    data = reference_data(ref).assign(v=lambda d: d[column] * factor)
    function = getattr(mixedfit, ref["variance"]["kind"])("v")
    m = mixedfit.lmer(ref["formula"], data, REML=ref["REML"], variance=function)
    assert m.loglik == pytest.approx(ref["loglik"], rel=1e-8)
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-4)
    (delta,) = ref["variance_estimates"].values()
    if ref["variance"]["kind"] == "varPower":
        assert m.variance_estimates["power"] == pytest.approx(delta, rel=1e-3)
        assert m.sigma == pytest.approx(ref["sigma"] * factor ** (-m.variance_estimates["power"]), rel=5e-4)
    else:
        assert m.variance_estimates["expon"] * factor == pytest.approx(delta, rel=1e-2, abs=2e-4)
        assert m.sigma == pytest.approx(ref["sigma"], rel=5e-4)
    sds = m.VarCorr.query("var2 != var2 or var2 == ''")["sdcor"].to_numpy()[:-1]
    np.testing.assert_allclose(sds, list(ref["sd"].values()), rtol=2e-4)
