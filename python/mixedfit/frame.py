"""The model frame: the rows and columns of the user's data that a model uses.

Accepts pandas DataFrames, anything with ``to_pandas()`` (polars, pyarrow tables) and dicts of
columns. The user's data are never modified: the used columns are selected into a new frame and
rows with a missing value in any of them are dropped, as R's ``na.omit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from formulaic import Formula

from .errors import DataError, FormulaError
from .design import simple_terms
from .formula import ParsedFormula


@dataclass(frozen=True)
class ModelFrame:
    data: pd.DataFrame  # used columns, complete rows only, index reset
    weights: np.ndarray | None
    offset: np.ndarray  # the offset argument's values, zeros if none (formula offsets come later)
    n_dropped: int


def as_dataframe(data: Any) -> pd.DataFrame:
    """pandas as it is; dicts of columns; polars, pyarrow and other data frames through narwhals,
    column by column to numpy (so neither pyarrow nor a copy of unused columns is needed)."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return pd.DataFrame(data)
    try:
        frame = nw.from_native(data, eager_only=True)
    except TypeError:
        raise TypeError(
            f"data must be a pandas DataFrame (or polars/pyarrow table, or dict of columns), got {type(data).__name__}"
        ) from None
    return pd.DataFrame({name: frame[name].to_numpy() for name in frame.columns})


def formula_variables(expr: str, where: str) -> set[str]:
    simple = simple_terms(expr)
    if simple is not None:
        return set(simple[1])
    try:
        return set(Formula(expr).required_variables) if expr.strip() not in ("0", "1") else set()
    except Exception as exc:
        raise FormulaError(f"cannot parse {where} '{expr}': {exc}") from None


def used_columns(parsed: ParsedFormula, response_variables: set[str]) -> list[str]:
    """The data columns a formula refers to, in order of first appearance in the formula text."""
    names = set(response_variables)
    names |= formula_variables(parsed.fixed, "fixed-effects part")
    for term in parsed.random:
        names |= formula_variables(term.expr, f"random-effects term {term}")
        names |= set(term.factors)
    for expr in parsed.offsets:
        names |= formula_variables(expr, "offset")
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
    columns = used_columns(parsed, response_variables)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)} used in the formula "
            f"{'are' if len(missing) > 1 else 'is'} not in the data; columns are {list(df.columns)}"
        )
    # The model's own copy of the used columns (later changes to the user's data must not reach
    # it), built from the arrays: half the cost of selecting and copying the columns with pandas.
    arrays = {name: df[name].array.copy() for name in columns}
    frame = pd.DataFrame(arrays, copy=False)
    w = _column_or_values(df, weights, "weights")
    extra_offset = _column_or_values(df, offset, "offset")

    complete = np.ones(len(frame), dtype=bool)
    for values in [*arrays.values(), w, extra_offset]:
        if values is not None:
            complete &= ~pd.isna(values)
    n_dropped = int((~complete).sum())
    if not complete.any():
        raise DataError(f"no complete rows: every row has a missing value in one of {columns}")
    if n_dropped:
        frame = frame.loc[complete].reset_index(drop=True)
    if w is not None:
        w = w[complete]
        bad = ~np.isfinite(w) | (w <= 0)
        if bad.any():
            raise DataError(f"weights must be positive and finite; found {w[bad][0]} (row {np.flatnonzero(bad)[0]})")
    total_offset = np.zeros(len(frame)) if extra_offset is None else extra_offset[complete]
    if not np.all(np.isfinite(total_offset)):
        raise DataError("offset has non-finite values")
    return ModelFrame(frame, w, total_offset, n_dropped)
