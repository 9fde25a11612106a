"""Kenward-Roger t and F tests against lmerTest (which uses pbkrtest): adjusted standard errors,
denominator df, F values and p-values on balanced, unbalanced, crossed and nested REML fits
(tests/reference/make_kenward_roger_reference.R → kenward_roger_reference.json)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from conftest import load_dataset, load_reference

CASES = load_reference("kenward_roger_reference.json")


def data_of(case: dict):
    data = load_dataset(case["dataset"])
    if case["name"] == "sleep_unbalanced":
        data = data[np.arange(len(data)) % 7 != 3]
    if case["name"] == "sleep_factor":
        data = data.assign(period=(data["Days"] // 4).astype(str))
    if case["name"] == "sleep_interaction":
        data = data.assign(phase=np.where(data["Days"] >= 5, "late", "early"))
    return data


def values(entry) -> np.ndarray:
    return np.atleast_1d(np.array(list(entry.values()) if isinstance(entry, dict) else entry, dtype=float))


@pytest.mark.parametrize("name", list(CASES))
def test_coefficients_equal_lmertest(name):
    case = CASES[name]
    m = mixedfit.lmer(case["formula"], data_of(case))
    assert m.objective <= case["objective"] + 1e-6  # at lme4's optimum or a lower one
    # The adjustment is checked at lme4's θ (on Orthodont mixedfit's optimum is 5e-6 lower and
    # its θ 1e-3 away along a flat ridge, which moves the adjusted SEs by 2e-4)
    m._set_estimates(np.atleast_1d(np.asarray(case["theta"], dtype=float)))
    table = m.fixef_table(ddf="Kenward-Roger")
    np.testing.assert_allclose(table["estimate"], values(case["estimate"]), rtol=1e-5)
    np.testing.assert_allclose(table["std_error"], values(case["stderr"]), rtol=1e-6)
    np.testing.assert_allclose(table["df"], values(case["df"]), rtol=1e-6)
    np.testing.assert_allclose(table["p_value"], values(case["p"]), rtol=1e-3)
    first_row = next(line for line in m.summary(ddf="Kenward-Roger").split("\n") if line.startswith("(Intercept)"))
    assert float(first_row.split()[2]) == pytest.approx(values(case["stderr"])[0], rel=1e-4)  # its adjusted SE, as printed
    if case["anova_terms"]:
        anova = m.anova(type="I", ddf="Kenward-Roger")
        assert list(anova.index) == list(np.atleast_1d(case["anova_terms"]))
        np.testing.assert_allclose(anova["F value"], np.atleast_1d(case["anova_F"]), rtol=1e-4)
        np.testing.assert_allclose(anova["NumDF"], np.atleast_1d(case["anova_numdf"]))
        np.testing.assert_allclose(anova["DenDF"], np.atleast_1d(case["anova_dendf"]), rtol=1e-4)
        np.testing.assert_allclose(anova["Pr(>F)"], np.atleast_1d(case["anova_p"]), rtol=1e-3)


def test_kenward_roger_is_refused_where_pbkrtest_does_not_apply():
    sleep = load_dataset("sleepstudy")
    ml = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    with pytest.raises(ValueError, match="REML"):
        ml.anova(ddf="Kenward-Roger")
    with pytest.raises(ValueError, match="'Satterthwaite' or 'Kenward-Roger'"):
        ml.anova(ddf="containment")


@pytest.mark.parametrize("kind", ["II", "III"])
@pytest.mark.parametrize("ddf", ["Satterthwaite", "Kenward-Roger"])
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if np.atleast_1d(c["type2"]["terms"]).size])
def test_type2_and_type3_anova_equal_lmertest(name, ddf, kind):
    """Types II and III with interactions of a factor and a covariate (SAS's containment)."""
    case = CASES[name]
    m = mixedfit.lmer(case["formula"], data_of(case))
    m._set_estimates(np.atleast_1d(np.asarray(case["theta"], dtype=float)))  # at lme4's θ (see above)
    key = {"II": "type2", "III": "type3"}[kind] + ("" if ddf == "Satterthwaite" else "_kr")
    expected = case[key]
    table = m.anova(type=kind, ddf=ddf)
    assert list(table.index) == list(np.atleast_1d(expected["terms"]))
    np.testing.assert_allclose(table["F value"], np.atleast_1d(expected["F"]), rtol=1e-5)
    np.testing.assert_allclose(table["NumDF"], np.atleast_1d(expected["numdf"]))
    np.testing.assert_allclose(table["DenDF"], np.atleast_1d(expected["dendf"]), rtol=1e-4)
    np.testing.assert_allclose(table["Pr(>F)"], np.atleast_1d(expected["p"]), rtol=1e-3)
