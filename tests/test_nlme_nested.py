"""mixedfit.nlme with nested groups (random = "Asym ~ 1 | Block/Tree") against nlme 3.1 on simulated
growth curves, 8 blocks of 5 trees at 7 ages (tests/reference/make_nlme_reference.R →
nlme_nested_reference.json, data tests/data/nested_growth.csv)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from conftest import HERE, load_reference
from mixedfit.datasets import read_r_csv
from mixedfit.errors import DataError, FormulaError

REFERENCE = load_reference("nlme_nested_reference.json")


@pytest.fixture(scope="module")
def data():
    return read_r_csv(HERE / "data" / "nested_growth.csv")


@pytest.fixture(scope="module")
def fits(data):
    out = {}
    for name, case in REFERENCE.items():
        spec = case["python"]
        correlation = mixedfit.corAR1(spec["correlation"]) if "correlation" in spec else None
        variance = getattr(mixedfit, spec["variance"])() if "variance" in spec else None
        out[name] = mixedfit.nlme(
            spec["model"], data, spec["fixed"], spec["random"], start=spec["start"], method=spec["method"],
            covariance=spec.get("covariance"), correlation=correlation, variance=variance,
        )  # fmt: skip
    return out


@pytest.mark.parametrize("name", list(REFERENCE))
def test_nested_fit_equals_nlme(fits, name):
    """Log-likelihood at least nlme's − 1e-3 and within it (nlme's PNLS stops at 1e-3: observed
    2e-4), fixed effects to 1e-4 relative (observed 2e-5), SEs to 1e-3 (observed 3e-5), each
    level's SD of Asym and σ to 1e-3, the first groups' effects at each level to 1e-3 of the
    level's SD (Asym alone, and Asym and xmid correlated at each level)."""
    m, case = fits[name], REFERENCE[name]
    assert m.loglik >= case["loglik"] - 1e-3
    assert m.loglik == pytest.approx(case["loglik"], abs=1e-3)
    np.testing.assert_allclose(m.fixef, list(case["fixef"].values()), rtol=1e-4)
    np.testing.assert_allclose(m.stderr, case["fixef_se"], rtol=1e-3)
    vc = m.VarCorr
    sds = vc[(vc["var1"] == "Asym") & (vc["var2"] == "")].set_index("grp")["sdcor"]
    assert sds["Block"] == pytest.approx(case["level_sd"]["Block"], rel=1e-3)
    assert sds["Tree:Block"] == pytest.approx(case["level_sd"]["Tree"], rel=1e-3)
    assert m.sigma == pytest.approx(case["sigma"], rel=1e-3)
    ranef = m.ranef
    assert list(ranef) == ["Block", "Tree"]
    for level, values in case["ranef"].items():
        effects = ranef[level].loc[case["ranef_levels"][level], "Asym"]
        np.testing.assert_allclose(effects, values, atol=1e-3 * case["level_sd"][level])


@pytest.mark.parametrize("name", list(REFERENCE))
def test_nested_predictions_equal_nlme_at_each_level(fits, data, name):
    """predict(level=0|1|2) (nlme's predict.fixed, predict.Block, predict.Tree) to 1e-4 relative,
    on the fit's rows and on new data holding them; a tree the fit has not seen gets its block's
    effect only."""
    m, case = fits[name], REFERENCE[name]
    for level, key in enumerate(["predict.fixed", "predict.Block", "predict.Tree"]):
        np.testing.assert_allclose(m.predict(level=level)[:6], case["predict"][key], rtol=1e-4)
        np.testing.assert_allclose(m.predict(data.head(6), level=level), case["predict"][key], rtol=1e-4)
    np.testing.assert_allclose(m.predict(data.head(6)), m.predict(level=2)[:6])
    unseen = data.head(6).assign(Tree="T99")
    np.testing.assert_allclose(m.predict(unseen), case["predict"]["predict.Block"], rtol=1e-4)


def test_nested_coef_summary_and_refusals(fits, data):
    """coef() per tree adds both levels' effects; summary() names both levels and nlme's DF
    (N − trees − (p − 1) = 238); a grouping that is not columns nested with '/' is a
    FormulaError; new data without a level's column a DataError naming it."""
    m = fits["nested_ml"]
    coef = m.coef()
    assert len(coef) == 40 and coef.index[0] == "B1/T1"
    expected = m.fixef["Asym"] + m.ranef["Block"].loc["B1", "Asym"] + m.ranef["Tree"].loc["B1/T1", "Asym"]
    assert coef.loc["B1/T1", "Asym"] == pytest.approx(expected, rel=1e-12)
    text = m.summary()
    assert "8 groups of Block, 40 groups of Tree:Block" in text
    assert "  238  " in text
    assert text.index(" Block: Asym") < text.index(" Tree:Block: Asym")
    spec = REFERENCE["nested_ml"]["python"]
    with pytest.raises(FormulaError, match="nested columns"):
        mixedfit.nlme(spec["model"], data, spec["fixed"], "Asym ~ 1 | Block:Tree", start=spec["start"])
    with pytest.raises(DataError, match="'Block'"):
        m.predict(data.head(3).drop(columns="Block"), level=1)


def test_nested_groups_with_ar1_within_the_inner_groups_equal_nlme(fits):
    """correlation=corAR1("Tree") with random = Asym ~ 1 | Block/Tree is AR(1) within each tree of
    each block (nlme's default grouping, the innermost; "Tree" alone repeats across blocks): φ to
    2e-3 (nlme's 0.035; the rest as every case above)."""
    m, case = fits["nested_ar1"], REFERENCE["nested_ar1"]
    assert float(m._fit.lme._structure.phi) == pytest.approx(case["phi"], abs=2e-3)
    assert m.dof == 3 + 2 + 1 + 1  # fixed effects, two levels' SDs, φ, σ
