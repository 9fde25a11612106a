"""The fixed-effects fast path (an intercept, numeric columns and factors coded without formulaic)
gives formulaic's matrix and column names exactly, whatever holds the factor's values; its recipe
codes new data as the fit did."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import load_dataset
from formulaic import model_matrix
from mixedfit import glmer, lmer
from mixedfit.design.matrices import (
    FORMULA_FUNCTIONS,
    _factor_fast_path,
    _formulaic_matrix,
)


def formulaic(expr: str, frame: pd.DataFrame):
    return _formulaic_matrix(model_matrix(expr, frame, context=FORMULA_FUNCTIONS, na_action="raise", output="numpy"))


def assert_as_formulaic(expr: str, frame: pd.DataFrame) -> None:
    fast = _factor_fast_path(expr, frame)
    assert fast is not None, f"{expr} should take the fast path"
    expected = formulaic(expr, frame)
    assert fast.names == expected.names
    np.testing.assert_array_equal(fast.values, expected.values)


@pytest.mark.parametrize(
    "name, expr",
    [
        ("VerbAgg", "Anger + Gender + btype + situ"),
        ("VerbAgg", "1 + btype + Anger + mode + btype"),  # a repeated term once, formula order kept
        ("Exam", "standLRT + vr + intake + sex + type + schgend"),  # levels with spaces and '%'
    ],
)
def test_fast_path_is_formulaic_on_real_data(name: str, expr: str):
    assert_as_formulaic(expr, load_dataset(name))


def test_fast_path_is_formulaic_for_every_holder_of_a_factor():
    data = load_dataset("VerbAgg")
    situ = data["situ"]
    variants = {
        "object": situ.astype(object),
        "str": situ,
        "categorical, categories not sorted": pd.Categorical(situ, categories=["self", "other"]),
        "categorical of integers": pd.Categorical(data["Anger"] % 7),
        "categorical of floats": pd.Categorical((data["Anger"] % 3).astype(float)),  # levels print as R's: 'f1'
        "one level": pd.Series(["a"] * len(data), dtype="str"),
    }
    for label, values in variants.items():
        frame = pd.DataFrame({"Anger": data["Anger"], "f": values})
        assert_as_formulaic("Anger + f", frame), label


def test_fast_path_leaves_the_rest_to_formulaic():
    data = load_dataset("VerbAgg")
    frame = pd.DataFrame({"Anger": data["Anger"], "b": data["Gender"] == "M", "g": data["Gender"]})
    frame["o"] = pd.Categorical(data["btype"], categories=["curse", "scold", "shout"], ordered=True)
    for expr in ("0 + g", "Anger + b", "Anger + o", "Anger * g", "log(Anger) + g"):
        assert _factor_fast_path(expr, frame) is None, expr


def test_fast_path_recipe_codes_new_data_as_the_fit():
    data = load_dataset("Exam")
    fit = lmer("normexam ~ standLRT + vr + sex + (1 | school)", data)
    fixed = fit.design.fixed
    assert fixed.recipe.spec is not None  # formulaic's spec, made from the fit's frame when needed
    new = data[data["vr"] == "top 25%"].head(20)  # one level of vr only: coded with the fit's levels
    expected = fixed.X[new.index]
    np.testing.assert_array_equal(fixed.recipe.evaluate(new, fixed.names), expected)
    again = pickle.loads(pickle.dumps(fit))
    np.testing.assert_array_equal(again.design.fixed.recipe.evaluate(new, fixed.names), expected)
    np.testing.assert_allclose(again.predict(new), fit.fitted[new.index], rtol=1e-12)


def test_a_column_named_like_a_function_leaves_its_calls_alone():
    """A column named I (or log) does not break I(...) or log(...) in a formula: R looks a call's
    name up among functions only (lme4's tests fit offset(log(I/N)) with such a column). The fit
    equals the one with the column renamed; names and prediction keep the user's spelling."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"g": rng.integers(0, 12, 240).astype(str), "N": rng.integers(50, 100, 240)})
    data["I"], data["log"] = rng.integers(1, 40, 240), rng.normal(size=240)
    data["y"] = rng.poisson(np.exp(0.5 + 0.02 * data["I"]))
    shadowed = glmer("y ~ I(I / 10) + log + offset(log(I / N)) + (1 | g)", data, family="poisson")
    renamed = glmer(
        "y ~ I(J / 10) + L + offset(log(J / N)) + (1 | g)", data.rename(columns={"I": "J", "log": "L"}), family="poisson"
    )
    assert shadowed.objective == pytest.approx(renamed.objective, rel=1e-12)
    np.testing.assert_allclose(shadowed.fixef.to_numpy(), renamed.fixef.to_numpy(), rtol=1e-10)
    assert list(shadowed.fixef.index) == ["(Intercept)", "I(I / 10)", "log"]
    np.testing.assert_allclose(shadowed.predict(data.head(5)), renamed.predict(data.head(5).rename(columns={"I": "J", "log": "L"})))


def test_factor_calls_keep_r_names():
    """factor(x) and as.factor(x) name their columns and terms as R does ('factor(k)1', not
    formulaic's 'C(k)[T.1]'), in the coefficients, the F tests and predictions on new data."""
    data = load_dataset("sleepstudy").assign(k=lambda d: (d["Days"] % 3).astype(int))
    for call in ("factor", "as.factor"):
        model = lmer(f"Reaction ~ {call}(k) + (1 | Subject)", data)
        assert list(model.fixef.index) == ["(Intercept)", f"{call}(k)1", f"{call}(k)2"]
        assert list(model.anova().index) == [f"{call}(k)"]
        np.testing.assert_allclose(model.predict(data.head(4)), model.fitted[:4], rtol=1e-12)


@pytest.mark.parametrize(
    "values",
    [
        ["308", "309", "308", "10", "2"],
        ["é", "e", "Z", "a", "e", "ß"],  # code-point order, as pandas sorts
        ["b", None, "a", "b"],  # missing values: pandas' own factorize
    ],
)
def test_grouping_levels_of_arrow_strings_are_pandas_sorted_factorize(values):
    """The grouping factor's levels and codes from Arrow's dictionary encoding equal
    pd.factorize(sort=True)'s (the fast path for arrow-backed strings)."""
    from mixedfit.design.matrices import _factorize_sorted

    array = pd.array(values, dtype=pd.StringDtype("pyarrow"))
    codes, levels = _factorize_sorted(array)
    expected_codes, expected_levels = pd.factorize(array, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(levels) == list(expected_levels)


@pytest.mark.parametrize("expr", ["size - incidence", "-incidence / size + 2", "(size - 1) ** 2 * 0.5", "size"])
def test_arithmetic_responses_equal_formulaic(expr):
    """Arithmetic of numeric columns (cbind's size - incidence) is computed directly; it equals
    formulaic's I() of it."""
    from mixedfit.design.matrices import evaluate, numeric_column

    data = load_dataset("cbpp")
    direct = numeric_column(expr, data, "response")
    through_formulaic, _ = evaluate(f"0 + I({expr})", data, "response")
    np.testing.assert_array_equal(direct, through_formulaic.values[:, 0])
