"""mixedfit.compat.statsmodels.MixedLM against statsmodels' MixedLM itself (a test dependency).

statsmodels' default fit can stop short of the optimum (on Exam's random-intercept model 0.30
log-likelihood units below it, reporting convergence; elsewhere ~1e-3 relative away in the
variance parameters), so the reference is the best of three of its optimizers; at that optimum
estimates, standard errors and everything derived from them agree to 1e-4 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import load_dataset
from mixedfit.compat.statsmodels import MixedLM

sm = pytest.importorskip("statsmodels.api")
smf = pytest.importorskip("statsmodels.formula.api")

RTOL = 1e-4


def statsmodels_fit(model, reml=True, target=None):
    """statsmodels' fit: BFGS to a gradient of 1e-10, then (while its log-likelihood is below
    ``target``'s by more than 1e-6: its optimizers can stop short) Powell and Nelder–Mead; the best."""
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for options in (dict(method="bfgs", gtol=1e-10), dict(method=["powell", "lbfgs"]), dict(method="nm", maxiter=20000)):
            try:
                fits.append(model.fit(reml=reml, **options))
            except (np.linalg.LinAlgError, ValueError):
                continue
            if target is None or np.isfinite(fits[-1].llf) and fits[-1].llf > target.llf - 1e-6:
                break
    return max((f for f in fits if np.isfinite(f.llf)), key=lambda f: f.llf)


def assert_series(ours, theirs, rtol=RTOL, atol=0.0):
    assert isinstance(ours, pd.Series) and isinstance(theirs, pd.Series)
    assert set(ours.index) == set(theirs.index)
    np.testing.assert_allclose(ours[theirs.index].to_numpy(), theirs.to_numpy(), rtol=rtol, atol=atol)


def assert_close_given_se(ours, theirs, se, rtol=RTOL):
    """Equal to rtol relative to the value and its SE: a covariance estimate near zero (sleepstudy's
    0.017 with SE 0.07) moves with the optimizer's tolerance by more than 1e-4 of itself."""
    ours, theirs, se = (np.asarray(v, dtype=float) for v in (ours, theirs, se))
    assert np.all(np.abs(ours - theirs) <= rtol * (np.abs(theirs) + se)), (ours, theirs)


def assert_results_equal(ours, theirs):
    index = theirs.params.index
    se = theirs.bse.to_numpy()
    assert_close_given_se(ours.params[index], theirs.params, se)
    assert_close_given_se(ours.bse[index], theirs.bse, se)
    assert_close_given_se(ours.tvalues[index], theirs.tvalues, 1.0)
    # a p-value's relative error is z² times z's
    p, expected = ours.pvalues[index].to_numpy(), theirs.pvalues.to_numpy()
    assert np.all(np.abs(p - expected) <= RTOL * np.maximum(theirs.tvalues.to_numpy() ** 2, 1) * expected + 1e-12)
    assert_series(ours.fe_params, theirs.fe_params)
    assert_series(ours.bse_fe, theirs.bse_fe)
    # interval ends are differences of nearly equal numbers: relative to the SE as well
    ends, expected = ours.conf_int().loc[theirs.params.index].to_numpy(), theirs.conf_int().to_numpy()
    assert np.all(np.abs(ends - expected) <= RTOL * (np.abs(expected) + se[:, None]))
    assert ours.llf == pytest.approx(theirs.llf, rel=1e-8)
    assert ours.llf >= theirs.llf - 1e-7  # never a worse optimum than statsmodels'
    assert ours.scale == pytest.approx(theirs.scale, rel=RTOL)
    if theirs.k_re:
        scale = np.sqrt(np.outer(np.diag(theirs.cov_re), np.diag(theirs.cov_re)))
        assert_close_given_se(ours.cov_re.loc[theirs.cov_re.index, theirs.cov_re.columns], theirs.cov_re, scale)
    np.testing.assert_allclose(ours.vcomp, theirs.vcomp, rtol=RTOL)
    for metric in ("aic", "bic"):
        assert np.isnan(getattr(theirs, metric)) == np.isnan(getattr(ours, metric))
        if not np.isnan(getattr(theirs, metric)):
            assert getattr(ours, metric) == pytest.approx(getattr(theirs, metric), rel=1e-8)
    assert ours.converged
    assert set(ours.random_effects) == set(theirs.random_effects)
    for label, effects in theirs.random_effects.items():
        assert_series(ours.random_effects[label], effects, rtol=1e-3, atol=1e-4 * np.abs(effects).max())
    for label in list(theirs.random_effects_cov)[:5]:  # conditional covariances: the group's effects jointly
        expected = theirs.random_effects_cov[label]
        got = ours.random_effects_cov[label]
        assert list(got.index) == list(expected.index) and list(got.columns) == list(expected.columns)
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-3, atol=1e-4 * np.abs(expected.to_numpy()).max())
    np.testing.assert_allclose(ours.fittedvalues, theirs.fittedvalues, atol=1e-5 * np.abs(theirs.fittedvalues).max())
    np.testing.assert_allclose(ours.resid, theirs.resid, atol=1e-4 * np.abs(theirs.resid).max())
    np.testing.assert_allclose(ours.predict(), theirs.predict(), atol=1e-5 * np.abs(theirs.predict()).max())


FORMULA_CASES = {
    "sleepstudy slopes": ("sleepstudy", "Reaction ~ Days", dict(groups="Subject", re_formula="~Days")),
    "Dyestuff intercept": ("Dyestuff", "Yield ~ 1", dict(groups="Batch")),
    "Exam slopes and a factor": ("Exam", "normexam ~ standLRT + sex", dict(groups="school", re_formula="~standLRT")),
    "Pastes component only": ("Pastes", "strength ~ 1", dict(groups="batch", vc_formula={"cask": "0 + C(cask)"})),
    "Pastes intercept and component": (
        "Pastes", "strength ~ 1", dict(groups="batch", re_formula="1", vc_formula={"cask": "0 + C(cask)"}),
    ),
}  # fmt: skip


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("case", list(FORMULA_CASES))
def test_from_formula_equals_statsmodels(case, reml):
    name, formula, options = FORMULA_CASES[case]
    data = load_dataset(name)
    ours = MixedLM.from_formula(formula, data, **options).fit(reml=reml)
    theirs = statsmodels_fit(smf.mixedlm(formula, data, **options), reml, target=ours)
    assert_results_equal(ours, theirs)
    assert ours.method == ("REML" if reml else "ML")
    text = str(ours.summary())
    assert "Mixed Linear Model Regression Results" in text and all(n in text for n in theirs.params.index)


def test_array_constructor_returns_arrays_like_statsmodels():
    data = load_dataset("sleepstudy")
    X = np.column_stack([np.ones(len(data)), data["Days"].to_numpy()])
    args = (data["Reaction"].to_numpy(), X, data["Subject"].to_numpy())
    ours = MixedLM(*args, exog_re=X).fit()
    theirs = statsmodels_fit(sm.MixedLM(*args, exog_re=X), target=ours)
    for attribute in ("params", "bse", "fe_params", "bse_fe", "tvalues", "cov_re", "vcomp", "conf_int", "cov_params"):
        value = getattr(ours, attribute)
        value = value() if callable(value) else value
        assert isinstance(value, np.ndarray), attribute
    se = theirs.bse
    assert_close_given_se(ours.params, theirs.params, se)
    assert_close_given_se(ours.bse, theirs.bse, se)
    assert_close_given_se(ours.conf_int(), theirs.conf_int(), se[:, None])
    np.testing.assert_allclose(ours.cov_params(), theirs.cov_params(), atol=1e-4 * np.abs(theirs.cov_params()).max())
    label = next(iter(theirs.random_effects))
    assert_series(ours.random_effects[label], theirs.random_effects[label], rtol=1e-4)
    assert list(ours.random_effects) == list(theirs.random_effects)
    assert ours.model.exog_names == theirs.model.exog_names


def test_free_with_a_diagonal_cov_re_fits_independent_effects_as_statsmodels():
    """statsmodels' fit(free=) marking cov_re's diagonal only: independent random effects (lme4's
    (x || g)); the estimates equal statsmodels' own constrained fit. Other patterns are refused."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    data = load_dataset("sleepstudy")
    free = MixedLMParams(2, 2, 0)
    free.fe_params, free.cov_re, free.vcomp = np.ones(2), np.eye(2), np.zeros(0)
    ours = MixedLM.from_formula("Reaction ~ Days", data, groups="Subject", re_formula="~Days").fit(free=free)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = smf.mixedlm("Reaction ~ Days", data, groups="Subject", re_formula="~Days").fit(free=free, method="bfgs", gtol=1e-10)
    assert ours.cov_re.iloc[0, 1] == 0.0
    assert ours.llf >= theirs.llf - 1e-7 and ours.llf == pytest.approx(theirs.llf, rel=1e-8)
    np.testing.assert_allclose(ours.fe_params, theirs.fe_params, rtol=1e-5)
    np.testing.assert_allclose(np.diag(ours.cov_re), np.diag(theirs.cov_re), rtol=1e-3)
    assert ours.scale == pytest.approx(theirs.scale, rel=1e-4)
    partly = MixedLMParams(2, 2, 0)
    partly.fe_params, partly.cov_re, partly.vcomp = np.array([1.0, 0.0]), np.eye(2), np.zeros(0)
    with pytest.raises(NotImplementedError, match="cannot hold other parameters fixed"):
        MixedLM.from_formula("Reaction ~ Days", data, groups="Subject", re_formula="~Days").fit(free=partly)


def test_predict_on_new_data_through_the_formula():
    data = load_dataset("Exam")
    ours = MixedLM.from_formula("normexam ~ standLRT + sex", data, groups="school").fit()
    theirs = statsmodels_fit(smf.mixedlm("normexam ~ standLRT + sex", data, groups="school"), target=ours)
    new = data.iloc[[5, 900, 3000]]
    assert_series(ours.predict(new), theirs.predict(new), rtol=1e-6)
    np.testing.assert_array_equal(ours.predict(new).index, new.index)


def test_likelihood_and_hessian_are_statsmodels_own():
    """At statsmodels' estimates, the log-likelihood and the covariance of the parameters that
    mixedfit computes equal statsmodels' analytic ones (a check of the reimplementation
    independent of where either optimizer stops)."""
    data = load_dataset("Pastes")
    for reml in (True, False):
        options = dict(groups="batch", re_formula="1", vc_formula={"cask": "0 + C(cask)"})
        theirs = statsmodels_fit(smf.mixedlm("strength ~ 1", data, **options), reml)
        ours = MixedLM.from_formula("strength ~ 1", data, **options)
        params = theirs.params.to_numpy()
        ours.reml = reml  # as fit(reml=) leaves it, statsmodels' loglike reads it
        assert ours.loglike(theirs.params_object, profile_fe=False) == pytest.approx(theirs.llf, rel=1e-12)
        # a packed vector of the covariance parameters (statsmodels' use_sqrt packing), β profiled
        packed = theirs.params_object.get_packed(use_sqrt=True, has_fe=False)
        assert ours.loglike(packed) == pytest.approx(theirs.model.loglike(packed), rel=1e-9)
        hessian = ours.fit(reml=reml)._likelihood.hessian(params)
        expected, _ = theirs.model.hessian(theirs.params_object)
        np.testing.assert_allclose(hessian, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_missing_values_are_dropped_only_when_asked():
    data = load_dataset("sleepstudy").copy()
    data.loc[[3, 50], "Reaction"] = np.nan
    ours = MixedLM.from_formula("Reaction ~ Days", data, groups="Subject", missing="drop").fit()
    theirs = statsmodels_fit(smf.mixedlm("Reaction ~ Days", data, groups="Subject", missing="drop"), target=ours)
    assert ours.nobs == theirs.nobs == 178
    assert_close_given_se(ours.params, theirs.params, theirs.bse)
    with pytest.raises(ValueError, match="'Reaction' has a missing value"):
        MixedLM.from_formula("Reaction ~ Days", data, groups="Subject")
    with pytest.raises(ValueError, match="observation 3 has a missing"):
        MixedLM(data["Reaction"], data[["Days"]], data["Subject"])
    dropped = MixedLM(data["Reaction"], data[["Days"]].assign(const=1.0), data["Subject"], missing="drop")
    assert dropped.nobs == 178


def test_finds_the_optimum_statsmodels_default_misses():
    data = load_dataset("Exam")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = smf.mixedlm("normexam ~ standLRT + sex", data, groups="school").fit()
    ours = MixedLM.from_formula("normexam ~ standLRT + sex", data, groups="school").fit()
    assert ours.llf > default.llf + 0.25
    best = statsmodels_fit(smf.mixedlm("normexam ~ standLRT + sex", data, groups="school"), target=ours)
    assert ours.llf == pytest.approx(best.llf, abs=1e-6)


def test_what_lme4_terms_cannot_express_is_refused():
    data = load_dataset("sleepstudy")
    with pytest.raises(TypeError, match="groups="):
        MixedLM.from_formula("Reaction ~ Days", data)
    with pytest.raises(TypeError, match="free must be a MixedLMParams"):
        MixedLM.from_formula("Reaction ~ Days", data, groups="Subject").fit(free=object())


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_components_with_several_columns_in_a_row_equal_statsmodels(reml):
    """A variance component whose rows have several non-zeros ("0 + x1 + x2": two effects per
    group sharing one variance) is a homdiag term. Simulated (statsmodels itself is the
    reference): sleepstudy's such component sits at its boundary, where statsmodels' analytic
    Hessian and the front's differences part."""
    rng = np.random.default_rng(7)
    groups = np.repeat(np.arange(60), 8)
    data = pd.DataFrame({"g": groups, "x1": rng.normal(size=480), "x2": rng.normal(size=480), "z": rng.normal(size=480)})
    slopes = rng.normal(0, 1.5, (60, 2))[groups]
    data["y"] = 1 + data["z"] + rng.normal(0, 1, 60)[groups] + (slopes * data[["x1", "x2"]].to_numpy()).sum(1) + rng.normal(size=480)
    options = dict(groups="g", re_formula="1", vc_formula={"slopes": "0 + x1 + x2"})
    ours = MixedLM.from_formula("y ~ z", data, **options).fit(reml=reml)
    theirs = statsmodels_fit(smf.mixedlm("y ~ z", data, **options), reml, target=ours)
    assert ours.vcomp[0] > 1.0
    assert_results_equal(ours, theirs)
