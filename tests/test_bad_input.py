"""Bad input gets a clear exception naming what is wrong; nothing is modified or silently wrong."""

from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import mixedfit
import numpy as np
import pandas as pd
import pytest
from mixedfit import DataError, FormulaError

LMM = "Reaction ~ Days + (Days | Subject)"


@pytest.mark.parametrize(
    "formula,message",
    [
        ("Reaction ~ Dayz + (Days | Subject)", "'Dayz' used in the formula is not in the data"),
        ("Reaction ~ Days + (Days | Subjekt)", "'Subjekt' used in the formula is not in the data"),
        ("Reaction ~ Days", "no random-effects term such as (1 | group)"),
        ("Subject ~ Days + (1 | Subject)", "response 'Subject' must be numeric"),
    ],
)
def test_lmm_formula_and_column_errors(sleep, formula, message):
    with pytest.raises((DataError, FormulaError), match=re.escape(message)):
        mixedfit.lmer(formula, sleep)


def test_more_fixed_effects_than_observations(sleep):
    few = sleep.iloc[[0, 1, 10, 11, 20]].assign(f=["a", "b", "c", "d", "e"])
    with pytest.raises(DataError, match="5 observations for 5 fixed effects"):
        mixedfit.lmer("Reaction ~ f + (1 | Subject)", few)


def test_non_finite_response(sleep):
    bad = sleep.assign(Reaction=sleep["Reaction"].where(sleep.index != 7, np.inf))
    with pytest.raises(DataError, match=r"response 'Reaction' has a non-finite value \(inf\) in row 7"):
        mixedfit.lmer(LMM, bad)


def test_grouping_factor_levels(sleep):
    with pytest.raises(DataError, match="grouping factor 'one' .* has 1 level; a random effect needs at least 2"):
        mixedfit.lmer("Reaction ~ Days + (1 | one)", sleep.assign(one="a"))
    with pytest.raises(DataError, match="grouping factor 'row' has 180 levels for 180 observations"):
        mixedfit.lmer("Reaction ~ Days + (1 | row)", sleep.assign(row=np.arange(len(sleep))))
    with pytest.raises(DataError, match=r"number of observations \(180\) <= number of random effects \(180\)"):
        mixedfit.lmer("Reaction ~ Days + (Days | half)", sleep.assign(half=np.arange(len(sleep)) // 2))
    # lme4's lmerControl(check.nobs.vs.nRE = "ignore"): fitted (the variances are then weakly told apart)
    with mixedfit.option_context(check_nobs_vs_nRE="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a singular or unconverged fit is the expected outcome here
        fit = mixedfit.lmer("Reaction ~ Days + (Days | half)", sleep.assign(half=np.arange(len(sleep)) // 2))
    assert np.isfinite(fit.loglik)
    with pytest.raises(ValueError, match="option 'check_nobs_vs_nRE' must be one of"):
        mixedfit.set_options(check_nobs_vs_nRE="warning")


def test_empty_and_wrong_data_types(sleep):
    with pytest.raises(DataError, match="data has no rows"):
        mixedfit.lmer(LMM, sleep.iloc[:0])
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        mixedfit.lmer(LMM, [1, 2, 3])
    with pytest.raises(DataError, match="no complete rows"):
        mixedfit.lmer(LMM, sleep.assign(Reaction=np.nan))


def test_bad_weights(sleep):
    with pytest.raises(DataError, match=r"weights must be positive and finite; found -1.0 \(row 3\)"):
        mixedfit.lmer(LMM, sleep, weights=np.where(np.arange(180) == 3, -1.0, 1.0))
    with pytest.raises(DataError, match="weights must be positive and finite; found inf"):
        mixedfit.lmer(LMM, sleep, weights=np.full(180, np.inf))
    with pytest.raises(DataError, match=r"weights must have one value per row of data \(180\)"):
        mixedfit.lmer(LMM, sleep, weights=np.ones(10))
    with pytest.raises(DataError, match="weights column 'w' is not in the data"):
        mixedfit.lmer(LMM, sleep, weights="w")


def test_missing_rows_are_dropped_and_counted(sleep):
    holes = sleep.copy()
    holes.loc[[3, 50], "Reaction"] = np.nan
    holes.loc[90, "Days"] = np.nan
    model = mixedfit.lmer(LMM, holes)
    complete = mixedfit.lmer(LMM, sleep.drop(index=[3, 50, 90]))
    assert model.frame.n_dropped == 3
    assert model.nobs == 177
    assert model.objective == pytest.approx(complete.objective, rel=1e-12)
    assert "(3 observations deleted due to missingness)" in model.summary()


def test_rank_deficient_fixed_effects_are_dropped(sleep):
    doubled = sleep.assign(Days2=2 * sleep["Days"])
    with pytest.warns(mixedfit.RankDeficiencyWarning, match="dropping 1 column / coefficient: Days2"):
        model = mixedfit.lmer("Reaction ~ Days + Days2 + (Days | Subject)", doubled)
    assert list(model.fixef.index) == ["(Intercept)", "Days"]
    assert model.objective == pytest.approx(mixedfit.lmer(LMM, sleep).objective, rel=1e-10)


def test_input_kinds_give_the_same_fit(sleep):
    reference = mixedfit.lmer(LMM, sleep)
    kinds = {
        "categorical": sleep.assign(Subject=sleep["Subject"].astype("category")),
        "int group": sleep.assign(Subject=sleep["Subject"].astype(int)),
        "float32 response": sleep.assign(Reaction=sleep["Reaction"].astype(np.float32).astype(np.float64)),
        "dict": {c: sleep[c].to_numpy() for c in sleep.columns},
    }
    for name, data in kinds.items():
        model = mixedfit.lmer(LMM, data)
        assert model.objective == pytest.approx(reference.objective, rel=1e-6), name


def test_data_are_not_modified(sleep):
    before = sleep.copy(deep=True)
    mixedfit.lmer(LMM, sleep, weights=np.ones(180))
    pd.testing.assert_frame_equal(sleep, before)


def test_threads_give_the_same_results_as_sequential_fits(sleep):
    formulas = [LMM, "Reaction ~ Days + (Days || Subject)", "Reaction ~ 1 + (1 | Subject)", LMM]
    sequential = [mixedfit.lmer(f, sleep).objective for f in formulas]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda f: mixedfit.lmer(f, sleep).objective, formulas))
    assert threaded == sequential


@pytest.mark.parametrize(
    "kwargs,exception,message",
    [
        ({"formula": "incidence ~ period + (1 | herd)"}, DataError, "has value 2.0 outside [0, 1]"),
        ({"formula": "prop ~ period + (1 | herd)", "weights": np.full(56, 2.5)}, DataError, "not a whole number of successes"),
        ({"formula": "period ~ size + (1 | herd)"}, DataError, "is a factor with 4 levels"),
        ({"formula": "incidence ~ period + (1 | herd)", "family": "poisson", "weights": -np.ones(56)}, DataError, "weights must be positive"),
        ({"formula": "I(incidence - 3) ~ period + (1 | herd)", "family": "poisson"}, DataError, "poisson response 'I(incidence - 3)': counts must be >= 0; it has -1 (row 0), -3 (row 3)"),
        ({"formula": "incidence ~ period + (1 | herd)", "family": "Gamma"}, DataError, "Gamma response 'incidence' has a non-positive value (0.0)"),
        ({"formula": "incidence ~ period + (1 | herd)", "family": "inverse_gaussian"}, DataError, "non-positive value"),
        ({"formula": "incidence ~ period + (1 | herd)", "family": "compound_poisson"}, ValueError, "unknown family 'compound_poisson'"),
        ({"formula": "incidence ~ period + (1 | herd)", "family": "poisson", "link": "logit"}, ValueError, "link 'logit' is not available for the poisson family"),
        ({"formula": "prop ~ period + (period | herd)", "weights": "size", "nAGQ": 5}, ValueError, "needs a single scalar random-effects term"),
        ({"formula": "prop ~ period + (1 | herd) + (1 | period)", "weights": "size", "nAGQ": 5}, ValueError, "needs a single scalar random-effects term"),
        ({"formula": "prop ~ period + (1 | herd)", "weights": "size", "nAGQ": -1}, ValueError, "nAGQ must be a non-negative integer"),
        ({"formula": "cbind(incidence, size) ~ period + (1 | herd) ", "weights": None, "data_fn": lambda d: d.assign(size=-d["size"])}, DataError, "binomial counts 'size' must be non-negative integers"),
    ],
)
def test_glmm_bad_input(cbpp, kwargs, exception, message):
    kwargs = dict(kwargs)
    data_fn = kwargs.pop("data_fn", lambda d: d)
    with pytest.raises(exception, match=re.escape(message)):
        mixedfit.glmer(data=data_fn(cbpp), **kwargs)


def test_poisson_non_integer_counts_warn(cbpp):
    with pytest.warns(UserWarning, match="non-integer values"):
        mixedfit.glmer("I(incidence + 0.5) ~ period + (1 | herd)", cbpp, family="poisson")


def test_binomial_response_forms_agree(cbpp):
    proportion = mixedfit.glmer("prop ~ period + (1 | herd)", cbpp, weights="size")
    counts = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    assert counts.loglik == pytest.approx(proportion.loglik, abs=1e-8)
    np.testing.assert_allclose(counts.fixef, proportion.fixef, rtol=1e-6)
    verbs = mixedfit.datasets.load("sleepstudy").assign(slow=lambda d: np.where(d["Reaction"] > 300, "yes", "no"))
    factor = mixedfit.glmer("slow ~ Days + (1 | Subject)", verbs)
    zero_one = mixedfit.glmer("y ~ Days + (1 | Subject)", verbs.assign(y=(verbs["slow"] == "yes").astype(float)))
    assert factor.loglik == pytest.approx(zero_one.loglik, abs=1e-10)


def test_unfitted_model_says_so(sleep):
    model = mixedfit.LinearMixedModel(LMM, sleep)
    with pytest.raises(RuntimeError, match=r"not fitted yet: call .fit\(\) first"):
        _ = model.fixef
    assert model.fit() is model
    assert np.isfinite(model.objective)


def test_array_arguments_of_any_layout_give_the_same_fit(sleep):
    """Weights and offsets as float32, int, Fortran-ordered or strided arrays are converted once."""
    w = np.linspace(0.5, 2.0, 180)
    reference = mixedfit.lmer(LMM, sleep, weights=w, offset=np.arange(180) % 3)
    wide = np.column_stack([w, w]).astype(np.float32)
    for weights, offset in [
        (w.astype(np.float32), (np.arange(180) % 3).astype(np.int64)),
        (np.asfortranarray(np.column_stack([w, w]))[:, 0], np.arange(180) % 3),
        (np.repeat(w, 2)[::2], (np.arange(360) % 6)[::2] / 2),
    ]:
        model = mixedfit.lmer(LMM, sleep, weights=weights, offset=offset)
        assert model.objective == pytest.approx(reference.objective, rel=1e-6)
    assert wide.dtype == np.float32  # the caller's arrays are untouched


def test_polars_data_frames_are_accepted(sleep):
    import polars as pl
    frame = pl.DataFrame({name: sleep[name].to_numpy() for name in sleep.columns})
    model = mixedfit.lmer(LMM, frame)
    assert model.objective == pytest.approx(mixedfit.lmer(LMM, sleep).objective, rel=1e-12)


def test_non_convergence_warns_and_leaves_a_usable_fit(sleep):
    model = mixedfit.LinearMixedModel(LMM, sleep)
    model.optsum.maxeval = 5
    with pytest.warns(mixedfit.ConvergenceWarning) as caught:
        model.fit()
    messages = [str(w.message) for w in caught]
    assert "optimizer stopped after 5 evaluations without converging (MAXEVAL_REACHED)" in messages
    # lme4's checkConv at the (unconverged) end point agrees: the gradient there is far from zero.
    assert any(m.startswith(("Model failed to converge", "unable to evaluate scaled gradient")) for m in messages)
    assert model.convergence_problems
    assert model.optsum.return_code == "MAXEVAL_REACHED"
    assert np.isfinite(model.objective) and model.objective > mixedfit.lmer(LMM, sleep).objective
    with pytest.warns(mixedfit.ConvergenceWarning, match="negative eigenvalue"):  # as lmerTest's
        assert "Fixed effects" in model.summary()


def test_optsum_stopping_rules_are_the_users(sleep):
    """lmer's xtol_rel (1e-4) can be set off before the fit, as the other stopping rules: BOBYQA then
    stops on ftol_abs instead (NLopt's codes), at the same optimum; a bad value is named."""
    default = mixedfit.lmer(LMM, sleep)
    tight = mixedfit.LinearMixedModel(LMM, sleep)
    tight.optsum.xtol_rel = 0.0
    tight.fit()
    assert default.optsum.return_code == "XTOL_REACHED" and tight.optsum.return_code == "FTOL_REACHED"
    assert tight.optsum.feval > default.optsum.feval
    assert tight.objective == pytest.approx(default.objective, rel=1e-10)
    bad = mixedfit.LinearMixedModel(LMM, sleep)
    bad.optsum.xtol_rel = -1.0
    with pytest.raises(ValueError, match="optsum.xtol_rel must be a non-negative number"):
        bad.fit()


def test_boolean_and_object_columns(sleep):
    data = sleep.assign(late=sleep["Days"] >= 5, Subject=sleep["Subject"].astype(object))
    model = mixedfit.lmer("Reaction ~ late + (1 | Subject)", data)
    assert list(model.fixef.index) == ["(Intercept)", "lateTRUE"]  # a logical is a factor, as in R
    numeric = mixedfit.lmer("Reaction ~ late + (1 | Subject)", data.assign(late=data["late"].astype(float)))
    assert model.objective == pytest.approx(numeric.objective, rel=1e-10)


def test_inference_arguments_are_checked(sleep):
    model = mixedfit.lmer(LMM, sleep)
    with pytest.raises(ValueError, match="type must be one of 'link', 'response'"):
        model.predict(type="mean")
    with pytest.raises(ValueError, match="method must be 'profile', 'wald' or 'boot'"):
        model.confint("bayes")
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        model.confint("wald", level=95)
    with pytest.raises(ValueError, match="at least two fitted models"):
        mixedfit.anova(mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mixedfit.datasets.load("cbpp")))
    other = mixedfit.lmer(LMM, sleep.iloc[:150])
    with pytest.raises(mixedfit.DataError, match="different numbers of observations"):
        mixedfit.anova(model, other)
    shifted = mixedfit.lmer(LMM, sleep.assign(Reaction=sleep["Reaction"] + 1))
    with pytest.raises(mixedfit.DataError, match="different responses"):
        mixedfit.anova(model, shifted)
    cbpp = mixedfit.datasets.load("cbpp")
    fast = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, nAGQ=0)
    with pytest.raises(ValueError, match="fit with nAGQ >= 1"):
        fast.confint("profile")
    with pytest.raises(ValueError, match="all linear or all generalized"):
        mixedfit.anova(model, fast)
    glmm = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    unseen = pd.DataFrame({"period": ["9"], "herd": ["1"]})
    with pytest.raises(mixedfit.DataError, match="fixed-effects part 'period' has factor levels the fit has not seen: {'9'}"):
        glmm.predict(unseen)
    offset_values = mixedfit.lmer(LMM, sleep, offset=np.ones(len(sleep)))
    with pytest.raises(mixedfit.DataError, match="offset was given as values"):
        offset_values.predict(sleep.iloc[:3])


def test_an_error_inside_the_optimizer_surfaces_as_itself():
    """An objective that raises mid-optimization (the fuzz test found a data set that BOBYQA
    drives to an exact fit, pwrss = 0, at a denormal θ) stops the optimizer and raises that
    error itself (it crosses the core's C++ loop)."""
    from mixedfit.models.optimize import OptSummary, bobyqa

    def criterion(x: np.ndarray) -> float:
        if x[0] < 0.5:
            raise mixedfit.NumericalError("the model fits the data exactly")
        return (x[0] - 0.2) ** 2

    with pytest.raises(mixedfit.NumericalError, match="fits the data exactly"):
        bobyqa(criterion, OptSummary(initial=np.array([1.0]), lower=np.array([0.0])))


@pytest.mark.parametrize(
    "formula,where",
    [
        ("Reaction ~ log(Days) + (1 | Subject)", r"fixed-effects part: column 'log\(Days\)'"),
        ("Reaction ~ Days + (log(Days) | Subject)", r"random-effects term \(log\(Days\) \| Subject\): column 'log\(Days\)'"),
        ("Reaction ~ I(1 / Days) + (1 | Subject)", r"column 'I\(1 / Days\)' has a non-finite value \(inf\)"),
    ],
)
def test_infinite_predictor_values_are_refused(sleep, formula, where):
    """log(Days) at Days = 0 was dropped as a 'rank-deficient' column with only a warning; lme4
    refuses it (NA/NaN/Inf in 'x')."""
    with np.errstate(divide="ignore"), pytest.raises(DataError, match=where + r".* at row 0 of the data \(18 such rows\)"):
        mixedfit.lmer(formula, sleep)
