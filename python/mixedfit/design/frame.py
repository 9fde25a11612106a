"""The model frame: the rows and columns of the user's data that a model uses.

Accepts pandas DataFrames, anything with ``to_pandas()`` (polars, pyarrow tables) and dicts of
columns. The user's data are never modified: the used columns are selected into a new frame and
rows with a missing value in any of them are dropped, as R's ``na.omit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable

import narwhals as nw
import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.transforms import TRANSFORMS

from ..errors import DataError, FormulaError, plain_message
from .formula import ParsedFormula
from .matrices import FORMULA_FUNCTIONS, arithmetic_names, simple_terms


@dataclass(frozen=True)
class ColumnKind:
    """What a used column held in the fit, so that new data are read the same way: its kind
    ("number", "text", "category", "boolean", "datetime", "timedelta" or "other") and dtype."""

    kind: str
    dtype: Any

    def conform(self, name: str, values: pd.Series) -> pd.Series:
        """values (a column of new data) as the fit read this column, or a DataError naming it:
        as R's predict refuses a number where the fit had a factor, never a silent recoding."""
        kind = column_kind(name, values).kind
        if kind == self.kind or {kind, self.kind} <= {"text", "category"}:
            if self.kind in ("datetime", "timedelta"):
                return _same_time_dtype(name, values, self.dtype)
            return values
        raise DataError(
            f"column '{name}' was {_KIND_WORDS[self.kind]} in the fit, but the new data have {_KIND_WORDS[kind]} "
            f"(dtype {values.dtype}); convert it to the fit's kind ({self.dtype})"
        )


_KIND_WORDS = {
    "number": "numbers",
    "text": "text (a factor)",
    "category": "a categorical (a factor)",
    "boolean": "booleans",
    "datetime": "dates/times",
    "timedelta": "time differences",
    "other": "values of another kind",
}


def _same_time_dtype(name: str, values: pd.Series, dtype: Any) -> pd.Series:
    """Dates in the fit's resolution and time zone, so that levels compare by value."""
    if getattr(values.dtype, "tz", None) is None and getattr(dtype, "tz", None) is not None or (
        getattr(values.dtype, "tz", None) is not None and getattr(dtype, "tz", None) is None
    ):
        raise DataError(f"column '{name}' had dtype {dtype} in the fit, the new data have {values.dtype} (time zones differ)")
    return values.astype(dtype)


def column_kind(name: str, values: Any) -> ColumnKind:
    """The kind of a column; DataError for a column that mixes numbers and text (int 308 and str
    '308' would otherwise become two levels with one label)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return ColumnKind("category", dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnKind("boolean", dtype)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return ColumnKind("number", dtype)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnKind("datetime", dtype)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return ColumnKind("timedelta", dtype)
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in ("string", "empty"):
            return ColumnKind("text", dtype)
        if inferred == "boolean":
            return ColumnKind("boolean", dtype)
        if inferred.startswith("mixed") or inferred == "unknown-array":
            kinds = {}
            for value in pd.Series(values).dropna():
                kinds.setdefault(type(value).__name__, value)
                if len(kinds) > 1:
                    break
            examples = ", ".join(f"{value!r} ({kind})" for kind, value in kinds.items())
            raise DataError(
                f"column '{name}' mixes values of different types: {examples}; convert it to one type (all text "
                "or all numbers)"
            )
        return ColumnKind("other", dtype)
    return ColumnKind("other", dtype)


def numeric_arrays(arrays: dict[str, Any], kinds: dict[str, ColumnKind]) -> dict[str, Any]:
    """The columns formulas are evaluated on: integer columns as float64, so that arithmetic in a
    formula (I(y * 100) on an int8 column, x**3 on int64) is done in floating point, as R does
    it, instead of wrapping around. Other columns are shared, not copied."""
    converted = dict(arrays)
    for name, kind in kinds.items():
        if pd.api.types.is_integer_dtype(kind.dtype):
            values = converted[name]
            converted[name] = (
                values.astype(np.float64)
                if isinstance(values, np.ndarray)
                else values.to_numpy(dtype=np.float64, na_value=np.nan)
            )
    return converted


def numeric_view(frame: pd.DataFrame) -> pd.DataFrame:
    """numeric_arrays of a frame, as a frame (the frame itself if it has no integer columns)."""
    kinds = {name: ColumnKind("", dtype) for name, dtype in frame.dtypes.items()}
    if not any(pd.api.types.is_integer_dtype(kind.dtype) for kind in kinds.values()):
        return frame
    arrays = numeric_arrays({name: frame[name].array for name in frame.columns}, kinds)
    return pd.DataFrame(arrays, index=frame.index, copy=False)


@dataclass(frozen=True)
class ModelFrame:
    data: pd.DataFrame  # used columns, complete rows only, index reset, unused categories dropped
    columns: dict[str, Any]  # data's columns as arrays (reading them back from data costs more)
    numeric_columns: dict[str, Any]  # numeric_arrays(columns): what formulas are evaluated on
    kinds: dict[str, ColumnKind]  # what each used column held, for reading new data the same way
    weights: np.ndarray | None
    offset: np.ndarray  # the offset argument's values, zeros if none (formula offsets come later)
    n_dropped: int
    rows: np.ndarray  # positions in the user's data of the rows kept

    @cached_property
    def numeric(self) -> pd.DataFrame:
        """numeric_columns as a DataFrame (data itself without integer columns), for formulaic:
        made only where a formula needs more than numeric columns and an intercept."""
        if all(self.numeric_columns[name] is values for name, values in self.columns.items()):
            return self.data
        return pd.DataFrame(self.numeric_columns, index=self.data.index, copy=False)


def as_dataframe(data: Any) -> pd.DataFrame:
    """pandas as it is; dicts of columns; polars, pyarrow and other data frames through narwhals,
    column by column to numpy (so neither pyarrow nor a copy of unused columns is needed)."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, dict):
        try:
            frame = pd.DataFrame(data)
        except ValueError as exc:
            raise DataError(f"cannot make a data frame of the dict's columns: {exc}") from None
    elif type(data).__module__.split(".")[0] == "dask":
        raise TypeError(
            f"data is a Dask {type(data).__name__}: mixedfit.lmer fits a Dask DataFrame out of core; other "
            "models need data in memory (call .compute() on it, or give a pandas/polars frame)"
        )
    else:
        try:
            native = nw.from_native(data, eager_only=True)
        except TypeError:
            raise TypeError(
                f"data must be a pandas DataFrame (or polars/pyarrow table, or dict of columns), got "
                f"{type(data).__module__}.{type(data).__name__}"
            ) from None
        frame = pd.DataFrame({name: native[name].to_numpy() for name in native.columns})
    if isinstance(frame.columns, pd.MultiIndex):
        raise DataError("data has hierarchical (MultiIndex) column names; flatten them to single names first")
    if not frame.columns.is_unique:  # cached by the Index: a check per fit costs nothing
        duplicated = frame.columns[frame.columns.duplicated()]
        raise DataError(f"data has more than one column named {', '.join(map(repr, dict.fromkeys(duplicated)))}")
    return frame


_NAMES = re.compile(r"`([^`]*)`|([A-Za-z_][A-Za-z0-9_.]*)")
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")


def mentioned_names(expr: str) -> set[str]:
    """Every name in an expression's text (backtick-quoted ones unquoted), strings left out."""
    return {quoted or plain for quoted, plain in _NAMES.findall(_STRINGS.sub("", expr))}


def _required_variables(formula: Formula) -> set[str]:
    """formulaic's required variables, except that a backtick-quoted name is that name:
    formulaic gives the root of `crab.sizeS` (crab), as though it were an attribute access."""
    names: set[str] = set()
    for term in formula:
        for factor in term.factors:
            if factor.eval_method.value == "lookup":
                names.add(factor.expr)
                continue
            quoted = set(re.findall(r"`([^`]+)`", factor.expr))
            roots = {v.root for v in factor.required_variables} - {q.split(".")[0] for q in quoted}
            names |= quoted | (roots - TRANSFORMS.keys())
    return names


def formula_variables(expr: str, where: str, columns: Iterable[str] = ()) -> set[str]:
    """The variables expr needs: formulaic's required variables, less the functions we add to its
    namespace, and every name in the text that is one of columns (formulaic misses variables
    inside stateful transforms such as scale(x) and poly(x, 2))."""
    simple = simple_terms(expr)
    if simple is not None:
        return set(simple[1])
    names = arithmetic_names(expr)  # 'size - incidence': the same variables whether + − × are formula or arithmetic
    if names is not None and names <= set(columns):
        return names
    try:
        required = _required_variables(Formula(expr)) if expr.strip() not in ("0", "1") else set()
    except Exception as exc:
        raise FormulaError(f"cannot parse {where} '{expr}': {plain_message(exc)}") from None
    # numFactor(x, y) is read by design/covariance.py, not by formulaic
    return (required - FORMULA_FUNCTIONS.keys() - {"numFactor"}) | (mentioned_names(expr) & set(columns))


def response_variables(expr: str) -> set[str]:
    """The variables of a response (or of one of cbind's parts): its names if it is arithmetic of
    names and numbers (checked against the data with the other columns), else formula_variables'."""
    names = arithmetic_names(expr)
    return names if names is not None else formula_variables(expr, "response")


def used_columns(parsed: ParsedFormula, response_variables: set[str], columns: Iterable[str]) -> list[str]:
    """The data columns a formula refers to, in order of first appearance in the formula text."""
    columns = set(columns)
    names = set(response_variables) | (mentioned_names(parsed.response) & columns)
    names |= formula_variables(parsed.fixed, "fixed-effects part", columns)
    for term in parsed.random:
        names |= formula_variables(term.expr, f"random-effects term {term}", columns)
        names |= set(term.factors)
    for expr in parsed.offsets:
        names |= formula_variables(f"I({expr})", "offset", columns)  # arithmetic, not formula operators
    for smooth in parsed.smooths:
        names |= set(smooth.columns)
    return sorted(names, key=lambda name: (parsed.text.find(name), name))


def _per_row(values: Any, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != n:
        raise DataError(f"{name} must have one value per row of data ({n}), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise DataError(f"{name} must be numeric, got dtype {array.dtype}")
    return array.astype(np.float64)


def _column_or_values(data: pd.DataFrame, spec: Any, name: str) -> np.ndarray | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in data.columns:
            raise DataError(f"{name} column '{spec}' is not in the data; columns are {list(data.columns)}")
        return _per_row(data[spec].to_numpy(), f"{name} column '{spec}'", len(data))
    return _per_row(spec, name, len(data))


def model_frame(
    parsed: ParsedFormula, data: Any, response_variables: set[str], weights: Any = None, offset: Any = None
) -> ModelFrame:
    """Select the used columns, check they exist, and drop incomplete rows."""
    df = as_dataframe(data)
    if len(df) == 0:
        raise DataError("data has no rows")
    columns = used_columns(parsed, response_variables, df.columns)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)} used in the formula "
            f"{'are' if len(missing) > 1 else 'is'} not in the data; columns are {list(df.columns)}"
        )
    arrays = {name: df[name].array for name in columns}
    w = _column_or_values(df, weights, "weights")
    extra_offset = _column_or_values(df, offset, "offset")

    complete = np.ones(len(df), dtype=bool)
    for values in [*arrays.values(), w, extra_offset]:
        if values is not None:
            complete &= ~pd.isna(values)
    n_dropped = int((~complete).sum())
    if not complete.any():
        raise DataError(f"no complete rows: every row has a missing value in one of {columns}")
    # The model's own copy of the used columns and rows (later changes to the user's data must not
    # reach it), built column by column from the arrays: pandas' selection and copy cost twice this.
    for name, values in arrays.items():
        values = values[complete] if n_dropped else values.copy()
        if isinstance(values, pd.arrays.NumpyExtensionArray):
            values = values.to_numpy()  # the plain numpy array it wraps
        if isinstance(values.dtype, pd.CategoricalDtype):
            # Levels no used row has are dropped, as lme4's model frame drops them: an unused level
            # left of '|' would add a random effect with no data (and its variance and correlations).
            values = values.remove_unused_categories()
        arrays[name] = values
    frame = pd.DataFrame(arrays, copy=False)
    kinds = {name: column_kind(name, values) for name, values in arrays.items()}
    if w is not None:
        w = w[complete]
        bad = ~np.isfinite(w) | (w <= 0)
        if bad.any():
            raise DataError(f"weights must be positive and finite; found {w[bad][0]} (row {np.flatnonzero(bad)[0]})")
    total_offset = np.zeros(len(frame)) if extra_offset is None else extra_offset[complete]
    if not np.all(np.isfinite(total_offset)):
        raise DataError("offset has non-finite values")
    return ModelFrame(
        frame, arrays, numeric_arrays(arrays, kinds), kinds, w, total_offset, n_dropped, np.flatnonzero(complete)
    )
