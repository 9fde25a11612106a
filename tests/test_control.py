"""The optimizer's controls (fit(control=...), mixedfit.Control) are honoured by every
optimization a fit runs, a GLMM can be fitted twice, and all_fit compares optimizers."""

from __future__ import annotations

import warnings

import mixedfit
import numpy as np
import pytest

LMM = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _fit_quietly(model, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(**kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, mixedfit.ConvergenceWarning)]


@pytest.mark.parametrize("how", ["control", "optsum"])
def test_an_lmm_stops_at_the_users_budget(sleep, how):
    """optsum.maxeval = 10 used to be replaced by the convergence check's restart (default budget)."""
    model = mixedfit.LinearMixedModel(LMM, sleep)
    if how == "optsum":
        model.optsum.maxeval = 10
    messages = _fit_quietly(model, **({"control": {"maxeval": 10}} if how == "control" else {}))
    assert model.optsum.feval == 10 and model.optsum.return_code == "MAXEVAL_REACHED"
    assert any("optimizer stopped after 10 evaluations" in m for m in messages)


def test_a_glmm_shares_the_budget_between_its_stages(cbpp):
    for gradient, budget in ((False, 12), (True, 4)):  # BOBYQA's two stages; the quasi-Newton search alone
        model = mixedfit.GeneralizedLinearMixedModel(CBPP, cbpp, family="binomial")
        messages = _fit_quietly(model, control=mixedfit.Control(maxeval=budget, gradient=gradient))
        assert model.optsum_stage1.feval + model.optsum.feval == budget
        assert model.optsum.return_code == "MAXEVAL_REACHED" and any("without converging" in m for m in messages)
        assert model.optsum.optimizer == ("L-BFGS-B" if gradient else "LN_BOBYQA")
    full = mixedfit.glmer(CBPP, cbpp, family="binomial")
    assert full.optsum.maxeval == 100_000 and full.optsum.return_code != "MAXEVAL_REACHED"


def test_tolerances_and_switches_reach_the_final_stage(cbpp, sleep):
    # (BOBYQA's tolerances: the quasi-Newton search, cbpp's default, stops on its gradient)
    tight = mixedfit.GeneralizedLinearMixedModel(CBPP, cbpp, family="binomial").fit(
        control={"ftol_abs": 1e-12, "xtol_rel": 1e-10, "check_conv": False, "gradient": False}
    )
    default = mixedfit.GeneralizedLinearMixedModel(CBPP, cbpp, family="binomial").fit(control={"gradient": False})
    assert (tight.optsum.ftol_abs, tight.optsum.xtol_rel) == (1e-12, 1e-10)
    assert tight.optsum_stage1.ftol_abs == mixedfit.GeneralizedLinearMixedModel.STAGE1_FTOL_ABS
    assert tight.objective <= default.objective + 1e-9
    assert not tight._derivatives  # check_conv=False: standard errors from RX, no Hessian
    lmm = mixedfit.LinearMixedModel(LMM, sleep).fit(control={"xtol_rel": 0.0, "ftol_abs": 1e-10})
    assert (lmm.optsum.xtol_rel, lmm.optsum.ftol_abs) == (0.0, 1e-10)
    assert lmm.objective == pytest.approx(mixedfit.lmer(LMM, sleep).objective, rel=1e-9)


@pytest.mark.parametrize(
    "control,error,message",
    [
        ({"maxfun": 10}, TypeError, "unknown control 'maxfun'; controls are maxeval, ftol_abs"),
        ({"maxeval": 0}, ValueError, "control 'maxeval' must be a positive integer"),
        ({"ftol_abs": -1}, ValueError, "control 'ftol_abs' must be a non-negative number"),
        ({"restart": "no"}, TypeError, "control 'restart' must be True or False"),
        (["maxeval", 3], TypeError, "control must be a dict or mixedfit.Control"),
    ],
)
def test_bad_controls_are_named(sleep, control, error, message):
    with pytest.raises(error, match=message):
        mixedfit.LinearMixedModel(LMM, sleep).fit(control=control)


def test_a_glmm_can_be_fitted_twice(cbpp):
    """The second fit() raised 'theta has the wrong length' (stage 1 restarted from stage 2's (θ, β))."""
    model = mixedfit.GeneralizedLinearMixedModel(CBPP, cbpp, family="binomial").fit()
    first = model.objective
    model.fit()
    assert model.objective == pytest.approx(first, abs=1e-6)
    assert len(model.optsum_stage1.initial) == 1


def test_all_fit_compares_optimizers_on_one_optimum(sleep, cbpp):
    """lme4's allFit: each optimizer from the same start reaches the same optimum here; the
    model itself is unchanged."""
    model = mixedfit.lmer(LMM, sleep)
    before = model.objective
    table = mixedfit.all_fit(model)
    assert list(table.index) == ["bobyqa", "Nelder-Mead", "Powell", "L-BFGS-B"]
    np.testing.assert_allclose(table["objective"], model.objective, rtol=1e-8)
    np.testing.assert_allclose(table["Days"], model.fixef["Days"], rtol=1e-4)
    assert table["converged"].all() and model.objective == before
    assert table.loc["bobyqa", "evaluations"] == model.optsum.feval
    glmm = mixedfit.glmer(CBPP, cbpp, family="binomial")
    table = mixedfit.all_fit(glmm, optimizers=["bobyqa", "L-BFGS-B"], starts=[np.array([1.0]), np.array([0.2])])
    assert list(table.index) == ["bobyqa (start 1)", "L-BFGS-B (start 1)", "bobyqa (start 2)", "L-BFGS-B (start 2)"]
    np.testing.assert_allclose(table["objective"], glmm.objective, rtol=1e-7)
    np.testing.assert_allclose(table["period2"], glmm.fixef["period2"], rtol=1e-4)
    # the bobyqa rows are BOBYQA's (the GLMM's own fit takes the gradient search)
    assert table.filter(like="bobyqa", axis=0)["messages"].str.contains("REACHED").all()
    assert glmm.optsum.optimizer == "L-BFGS-B"
    with pytest.raises(ValueError, match="start 0 must have 1 values of θ"):
        mixedfit.all_fit(glmm, starts=[np.ones(2)])
