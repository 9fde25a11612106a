"""lme4 formula parsing: term expansion as lme4 does it, and errors that point at the fault."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mixedfit import FormulaError
from mixedfit.design.formula import parse_formula


def _terms(formula: str) -> list[tuple[str, str]]:
    return [(t.expr, t.group) for t in parse_formula(formula).random]


def test_simple_and_correlated_terms():
    parsed = parse_formula("Reaction ~ Days + (Days | Subject)")
    assert parsed.response == "Reaction"
    assert parsed.fixed == "Days"
    assert _terms("Reaction ~ Days + (Days | Subject)") == [("Days", "Subject")]
    assert _terms("y ~ (0 + x | g) + (1 | h)") == [("0 + x", "g"), ("1", "h")]


def test_double_bar_expands_to_uncorrelated_terms():
    assert _terms("y ~ x + (x || g)") == [("1", "g"), ("0 + x", "g")]
    assert _terms("y ~ (0 + x || g)") == [("0 + x", "g")]
    assert _terms("y ~ (a * b || g)") == [("1", "g"), ("0 + a", "g"), ("0 + b", "g"), ("0 + a:b", "g")]


def test_nesting_and_interactions_follow_lme4_names():
    assert _terms("y ~ (1 | batch/cask)") == [("1", "batch"), ("1", "cask:batch")]
    assert _terms("y ~ (1 | a/b/c)") == [("1", "a"), ("1", "b:a"), ("1", "c:b:a")]
    assert _terms("y ~ (1 | dept:service)") == [("1", "dept:service")]


def test_offsets_and_intercept_removal():
    parsed = parse_formula("y ~ -1 + x + offset(log(n)) + (1 | g)")
    assert parsed.offsets == ("log(n)",)
    assert parsed.fixed == "1 - 1 + x"  # formulaic reads this as "no intercept, x"
    assert parse_formula("y ~ (1 | g)").fixed == "1"


@pytest.mark.parametrize(
    "formula,message,position",
    [
        ("y ~ x + (1 | g", "unclosed '('", 8),
        ("y ~ x) + (1 | g)", "unmatched ')'", 5),
        ("y ~ x | g", "'|' outside parentheses", 6),
        ("y ~ x + (1 | )", "missing grouping factor", None),
        ("y ~ x + ( | g)", "missing expression before '|'", None),
        ("~ x + (1 | g)", "missing response", 0),
        ("y ~ x ~ z", "a second '~'", 6),
        ("y ~ x - (1 | g)", "cannot be subtracted", None),
        ("y ~ (1 | g + h)", "grouping factor 'g + h'", None),
    ],
)
def test_syntax_errors_name_the_position(formula, message, position):
    with pytest.raises(FormulaError, match=re.escape(message)) as info:
        parse_formula(formula)
    if position is not None:
        assert f"at position {position} " in str(info.value)
        pointer_line = str(info.value).splitlines()[-1]
        assert pointer_line.index("^") - 2 == position  # the caret sits under the fault


def test_no_tilde_and_wrong_type():
    with pytest.raises(FormulaError, match="no '~'"):
        parse_formula("y + (1 | g)")
    with pytest.raises(TypeError, match="formula must be a string"):
        parse_formula(42)


_ALPHABET = st.sampled_from(list("yxgab~+-*:/|()01 ") + ["||", "offset(", "log("])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=25).map("".join))
def test_parser_either_parses_or_raises_formula_error(text):
    try:
        parse_formula(text)
    except FormulaError:
        pass


def test_dotted_column_names_are_variables_as_in_r():
    """R's data frames name columns reaction.time; the formula reads them as R does (one variable,
    not an attribute of 'reaction'), in the response, fixed part, random terms, grouping factors
    and calls, with R's coefficient names; a dotted name that is not a column (np.log) is a call."""
    import mixedfit
    import numpy as np
    from mixedfit.datasets import load
    from mixedfit.design.formula import quote_dotted_columns

    plain = load("sleepstudy")
    dotted = plain.rename(columns={"Reaction": "reaction.time", "Days": "days.off", "Subject": "subject.id"})
    a = mixedfit.lmer("log(reaction.time) ~ days.off + I(days.off**2) + (days.off | subject.id)", dotted)
    b = mixedfit.lmer("log(Reaction) ~ Days + I(Days**2) + (Days | Subject)", plain)
    assert a.objective == b.objective
    assert list(a.fixef.index) == ["(Intercept)", "days.off", "I(days.off ** 2)"]
    assert list(a.ranef) == ["subject.id"]
    np.testing.assert_array_equal(a.predict(dotted.iloc[:5]), b.predict(plain.iloc[:5]))
    columns = ["x.1", "y"]
    assert quote_dotted_columns("y ~ np.log(x.1) + `x.1`", columns) == "y ~ np.log(`x.1`) + `x.1`"


def test_logical_columns_are_factors_as_in_r():
    """R codes a logical in a model formula as a factor with levels FALSE, TRUE: coefficient
    lateTRUE (R's model.matrix names, as below), and late:Days without late's main effect one
    slope per level; the fits equal those on 0/1 indicator columns. Inside I() a logical stays a
    number (TRUE = 1), as in R's arithmetic."""
    import mixedfit
    import numpy as np
    from mixedfit.datasets import load

    data = load("sleepstudy")
    data["late"] = data["Days"] > 4
    data["early01"], data["late01"] = (~data["late"]).astype(float), data["late"].astype(float)
    main = mixedfit.lmer("Reaction ~ late + late:Days + (1 | Subject)", data)
    assert list(main.fixef.index) == ["(Intercept)", "lateTRUE", "lateFALSE:Days", "lateTRUE:Days"]
    slopes = mixedfit.lmer("Reaction ~ Days:late + (1 | Subject)", data)
    assert list(slopes.fixef.index) == ["(Intercept)", "Days:lateFALSE", "Days:lateTRUE"]
    indicators = mixedfit.lmer("Reaction ~ Days:early01 + Days:late01 + (1 | Subject)", data)
    np.testing.assert_allclose(slopes.fixef.to_numpy(), indicators.fixef.to_numpy(), rtol=1e-10)
    arithmetic = mixedfit.lmer("Reaction ~ I(2 * late) + (late | Subject)", data)
    assert list(arithmetic.fixef.index) == ["(Intercept)", "I(2 * late)"]
    assert list(arithmetic.ranef["Subject"].columns) == ["(Intercept)", "lateTRUE"]
    np.testing.assert_array_equal(main.predict(data.iloc[:12]), main.fitted[:12])
