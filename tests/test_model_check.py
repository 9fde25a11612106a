"""check_collinearity against R's performance::check_collinearity
(tests/reference/make_collinearity_reference.R) and the check_model figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mixedfit  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import load_dataset, load_reference  # noqa: E402

CASES = load_reference("collinearity_reference.json")


def _fit(case: dict):
    if case["family"]:
        return mixedfit.glmer(case["formula"], load_dataset("grouseticks"), family=case["family"])
    sleep = load_dataset("sleepstudy")
    sleep["phase"] = np.array(["early", "mid", "late"])[(sleep["Days"] >= 3).astype(int) + (sleep["Days"] >= 6).astype(int)]
    return mixedfit.lmer(case["formula"], sleep)


@pytest.mark.parametrize("name", list(CASES))
def test_collinearity_as_performance(name):
    case = CASES[name]
    got = mixedfit.check_collinearity(_fit(case))
    expected = pd.DataFrame(case["table"])
    assert list(got["Term"]) == list(expected["Term"]) and list(got.columns) == list(expected.columns)
    # the GLMM's vcov is lme4's finite-difference Hessian there (1e-6 apart); its upper VIF bound,
    # 1/(1 − 0.99999998), amplifies that
    rtol = 1e-5 if case["family"] else 1e-7
    for column in expected.columns[1:]:
        tolerance = 1e-2 if case["family"] and column in ("VIF_CI_high", "Tolerance_CI_low") else rtol
        np.testing.assert_allclose(got[column], expected[column], rtol=tolerance, atol=1e-12, err_msg=column)


def test_check_model_draws_its_panels(tmp_path):
    sleep = load_dataset("sleepstudy")
    model = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    with pytest.raises(ValueError, match="at least two fixed-effects terms"):
        mixedfit.check_collinearity(model)
    figure = mixedfit.check_model(model, nsim=10)
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert titles == [
        "Posterior predictive check", "Linearity (the line should be flat)", "Homogeneity of variance (flat)",
        "Influential observations", "Collinearity (VIF; high above 10)", "Normality of residuals",
        "Normality of random effects (Subject)",
    ]  # fmt: skip
    assert "at least two fixed-effects terms" in figure.axes[4].texts[0].get_text()
    figure.savefig(tmp_path / "check.png", dpi=40)
    plt.close(figure)
    glmm = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial")
    figure = mixedfit.check_model(glmm, nsim=5)
    assert len([ax for ax in figure.axes if ax.get_visible()]) == 7
    plt.close(figure)
    sleep["phase"] = np.where(sleep["Days"] >= 5, "late", "early")
    figure = mixedfit.check_model(mixedfit.lmer("Reaction ~ Days + phase + (1 | Subject)", sleep), nsim=5)
    assert [t.get_text() for t in figure.axes[4].get_xticklabels()] == ["Days", "phase"]  # the VIFs drawn
    plt.close(figure)
    structured = mixedfit.lmer("Reaction ~ Days + (1 | Subject)", sleep, variance=mixedfit.varIdent("phase"))
    figure = mixedfit.check_model(structured, nsim=5)  # no hat matrix: the panel says so
    assert "hat values of a model with a variance function" in figure.axes[3].texts[0].get_text()
    plt.close(figure)
