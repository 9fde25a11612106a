"""The array API: a model given as a response vector, a fixed-effects matrix and random-effects
terms of integer group codes and model matrices, without a formula or pandas on the caller's side.

The arrays are laid out as the columns of a data frame with the names given (or x1…, g1…,
g1_z1…) and the model is built from the equivalent formula with those names backtick-quoted,
so an array model is a formula model in every respect (the same core, inference, pickling);
``predict``/``simulate`` take new arrays as an ``ArrayData``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .formula import STRUCTURES

RESPONSE = "y"
WEIGHTS = "(weights)"
OFFSET = "(offset)"


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term for the array API.

    Parameters
    ----------
    codes : array of int, length n
        Each observation's level of the grouping factor.
    Z : array, n × k, optional
        The term's model matrix; None is an intercept only (lme4's ``(1 | g)``).
    correlated : bool
        False gives each column its own variance and no correlations (lme4's ``(z || g)``).
    group_name, column_names : optional
        Names shown in results (default ``g1``, ``g2``, … and ``g1_z1``, …).
    structure : str, default "us"
        The covariance structure of the term's effects, as in formulas: "us", "diag", "homdiag",
        "cs", "homcs", "ar1", "toep", "ou", "exp", "gau", "mat" or "rr" (see the README).
    rank : int, default 2
        rr's number of factors d.
    coordinates : array, k × m, optional
        For ou, exp, gau and mat: the coordinates of each of Z's k columns (Z then holds each
        observation's indicator of its position); distances between them are Euclidean.
    """

    codes: Any
    Z: Any = None
    correlated: bool = True
    group_name: str | None = None
    column_names: Sequence[str] | None = None
    structure: str = "us"
    rank: int = 2
    coordinates: Any = None


@dataclass(frozen=True)
class ArrayData:
    """New data for ``predict``/``simulate`` of a model built by ``from_arrays``: the fixed-effects
    matrix, one RandomTerm per term of the fit (codes as in the fit; Z of the same columns) and
    the offset if the fit had one."""

    X: Any
    terms: Sequence[RandomTerm]
    offset: Any = None


def _matrix(values: Any, name: str, n: int | None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or (n is not None and array.shape[0] != n):
        raise DataError(f"{name} must be a matrix with {n if n is not None else 'one row per observation'} rows, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} has a non-finite value")
    return array


def _structure(term: RandomTerm, k: int, z_names: tuple[str, ...] | None) -> tuple[str, int, int]:
    """(structure, rank, number of coordinate columns) of array term k, checked."""
    if term.structure not in STRUCTURES:
        raise ValueError(f"structure of term {k + 1} must be one of {', '.join(STRUCTURES)}, not {term.structure!r}")
    if term.structure != "us" and not term.correlated:
        raise ValueError(f"term {k + 1}: correlated=False is the structure 'diag'; give one of them")
    distance_based = term.structure in ("ou", "exp", "gau", "mat")
    if distance_based != (term.coordinates is not None):
        raise ValueError(
            f"term {k + 1}: coordinates (one row per column of Z) are needed by ou, exp, gau and mat, and only by them"
        )
    if not distance_based:
        return term.structure, int(term.rank), 0
    if z_names is None:
        raise ValueError(f"term {k + 1}: {term.structure} needs Z, one indicator column per position")
    return term.structure, int(term.rank), _matrix(term.coordinates, f"coordinates of term {k + 1}", len(z_names)).shape[1]


def _check_name(name: Any, what: str) -> str:
    """Any non-empty string without a backtick (the generated formula quotes each name in them)."""
    if not isinstance(name, str) or not name or "`" in name:
        raise ValueError(f"{what} {name!r} must be a non-empty string without '`'")
    return name


@dataclass(frozen=True)
class ArrayLayout:
    """The column names an array model's data frame uses, and how to lay new arrays out in it."""

    x_names: tuple[str, ...]
    groups: tuple[str, ...]
    z_names: tuple[tuple[str, ...] | None, ...]  # None: intercept-only term
    correlated: tuple[bool, ...]
    has_weights: bool
    has_offset: bool
    structures: tuple[tuple[str, int, int], ...] = ()  # (structure, rank, coordinate columns) per term

    @classmethod
    def of(cls, X: np.ndarray, terms: Sequence[RandomTerm], names: Sequence[str] | None, weights: Any, offset: Any) -> ArrayLayout:
        if not terms or not all(isinstance(t, RandomTerm) for t in terms):
            raise TypeError("terms must be a non-empty list of mixedfit.RandomTerm")
        x_names = tuple(names) if names is not None else tuple(f"x{j + 1}" for j in range(X.shape[1]))
        if len(x_names) != X.shape[1]:
            raise ValueError(f"names has {len(x_names)} entries for the {X.shape[1]} columns of X")
        groups, z_names = [], []
        for k, term in enumerate(terms):
            group = term.group_name or f"g{k + 1}"
            groups.append(group)
            if term.Z is None:
                z_names.append(None)
                continue
            k_columns = _matrix(term.Z, f"Z of term {k + 1}", None).shape[1]
            columns = tuple(term.column_names) if term.column_names is not None else tuple(
                f"{group}_z{j + 1}" for j in range(k_columns)
            )
            if len(columns) != k_columns:
                raise ValueError(f"column_names of term {k + 1} has {len(columns)} entries for {k_columns} columns of Z")
            z_names.append(columns)
        structures = tuple(_structure(term, k, z_names[k]) for k, term in enumerate(terms))
        # A grouping factor named twice is one factor (as (1 | g) + (0 + x | g)), and a column
        # of Z may share a name with a column of X (or another Z) if it holds the same values, as
        # lme4's (Days | Subject) beside the fixed Days; otherwise names are distinct.
        columns = dict.fromkeys([*x_names, *(c for z in z_names if z for c in z)])
        every = [RESPONSE, WEIGHTS, OFFSET, *dict.fromkeys(groups), *columns]
        for name in every[3:]:
            _check_name(name, "name")
        duplicated = {name for name in every if every.count(name) > 1} | {n for n in x_names if x_names.count(n) > 1}
        if duplicated:
            raise ValueError(f"names must be distinct; repeated: {sorted(duplicated)}")
        return cls(
            x_names, tuple(groups), tuple(z_names), tuple(bool(t.correlated) for t in terms), weights is not None,
            offset is not None, structures,
        )  # fmt: skip

    def _coordinate_names(self, k: int) -> list[str]:
        """The data frame's columns holding term k's observations' coordinates (ou, exp, gau, mat)."""
        return [f"{self.groups[k]}_coordinate{j + 1}" for j in range(self.structures[k][2])]

    def formula(self) -> str:
        quote = lambda name: f"`{name}`"  # noqa: E731
        parts = ["0", *map(quote, self.x_names)]
        for k, (group, columns, correlated) in enumerate(zip(self.groups, self.z_names, self.correlated)):
            structure, rank, _ = self.structures[k]
            expr = "1" if columns is None else " + ".join(["0", *map(quote, columns)])
            if self._coordinate_names(k):
                expr = f"0 + numFactor({', '.join(map(quote, self._coordinate_names(k)))})"
            term = f"({expr} {'|' if correlated or columns is None else '||'} {quote(group)}{f', d = {rank}' if structure == 'rr' else ''})"
            parts.append(term if structure == "us" else structure + term)
        return f"{RESPONSE} ~ " + " + ".join(parts)

    def frame(self, y: Any, X: Any, terms: Sequence[RandomTerm], weights: Any = None, offset: Any = None) -> pd.DataFrame:
        """The data frame of these arrays (y None for new data)."""
        X = _matrix(X, "X", None)
        n = X.shape[0]
        if X.shape[1] != len(self.x_names):
            raise DataError(f"X must have {len(self.x_names)} columns ({', '.join(self.x_names)}), got {X.shape[1]}")
        if len(terms) != len(self.groups):
            raise DataError(f"{len(self.groups)} random-effects terms expected, got {len(terms)}")
        columns: dict[str, Any] = {} if y is None else {RESPONSE: np.asarray(y, dtype=np.float64).ravel()}
        columns.update({name: X[:, j] for j, name in enumerate(self.x_names)})
        for k, (term, group, z_names) in enumerate(zip(terms, self.groups, self.z_names)):
            codes = np.asarray(term.codes)
            if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
                raise DataError(f"codes of term {k + 1} must be {n} integers, got dtype {codes.dtype} and shape {codes.shape}")
            if group in columns and not np.array_equal(columns[group], codes):
                raise DataError(f"terms with the grouping factor '{group}' have different codes")
            columns[group] = codes
            if z_names is not None:
                Z = _matrix(term.Z, f"Z of term {k + 1}", n)
                if Z.shape[1] != len(z_names):
                    raise DataError(f"Z of term {k + 1} must have {len(z_names)} columns, got {Z.shape[1]}")
                for j, name in enumerate(z_names):
                    if name in columns and not np.array_equal(columns[name], Z[:, j]):
                        raise DataError(f"column '{name}' of Z of term {k + 1} differs from the column of that name before it")
                    columns[name] = Z[:, j]
                if self._coordinate_names(k):  # each observation's position: its indicator's row of coordinates
                    if not np.all(Z.sum(axis=1) == 1) or not np.all((Z == 0) | (Z == 1)):
                        raise DataError(f"Z of term {k + 1} must hold one indicator of a position per row, for its coordinates")
                    position = _matrix(term.coordinates, f"coordinates of term {k + 1}", Z.shape[1])[Z.argmax(axis=1)]
                    columns.update({name: position[:, j] for j, name in enumerate(self._coordinate_names(k))})
        if self.has_weights and weights is not None:
            columns[WEIGHTS] = np.asarray(weights, dtype=np.float64).ravel()
        if self.has_offset:
            if offset is None:
                raise DataError("the model has an offset: give it with the new arrays (ArrayData(X, terms, offset))")
            columns[OFFSET] = np.asarray(offset, dtype=np.float64).ravel()
        lengths = {len(v) for v in columns.values()}
        if lengths != {n}:
            raise DataError(f"y, weights and offset must have one value per row of X ({n})")
        return pd.DataFrame(columns, copy=False)
