"""Covariance structures of random-effects terms, in glmmTMB's formula syntax: ``us(x | g)`` (the
default), ``diag``, ``homdiag``, ``cs``, ``homcs``, ``ar1(0 + f | g)``, ``toep(0 + f | g)``,
``ou(0 + numFactor(t) | g)``, ``exp``/``gau``/``mat(0 + numFactor(x, y) | g)`` and
``rr(0 + f | g, d = 2)``.

Each term's parameters map to the lower-triangular factor T of its relative covariance in the core
(cpp/covariance_structure.cpp); here are what the parameters are, where they start, their bounds,
their names, and the distances between the levels of a ``numFactor``. The parameters (θ of a
structured model) are: SDs (relative to σ for an LMM) ≥ 0; correlations in their closed range
(cs: [−1/(p−1), 1]); toep's partial autocorrelations in [−1, 1]; ou's log decay rate, exp's and
gau's log range, mat's log range and log smoothness; rr's loadings by column, unbounded (a
factor's sign is not identified: they are reported with a positive diagonal, as glmmTMB's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError, FormulaError
from .formula import STRUCTURES, RandomTerm

CODES = {name: code for code, name in enumerate(STRUCTURES)}  # cpp/covariance_structure.hpp's CovarianceKind
DISTANCE_BASED = ("ou", "exp", "gau", "mat")
# mat's smoothness ν is kept in [0.1, 10] (beyond, the Matérn correlation is numerically the
# exponential's or the Gaussian's; Bessel K overflows at the far end).
MATERN_LOG_SMOOTHNESS = (np.log(0.1), np.log(10.0))

_NUM_FACTOR = re.compile(r"\s*(?:0\s*\+\s*)?numFactor\(([^()]*)\)\s*(?:\+\s*0|-\s*1)?\s*")


@dataclass(frozen=True)
class Covariance:
    """A term's covariance structure: its kind, its p columns, rr's rank d and, for the
    distance-based kinds, the p × p distances between its levels."""

    kind: str
    p: int
    rank: int = 0
    distances: np.ndarray | None = field(default=None, compare=False)

    @property
    def code(self) -> int:
        return CODES[self.kind]

    @property
    def n_params(self) -> int:
        p, d = self.p, self.rank
        return {
            "us": p * (p + 1) // 2, "diag": p, "homdiag": 1, "cs": p + 1, "homcs": 2, "ar1": 2, "toep": 2 * p - 1,
            "ou": 2, "exp": 2, "gau": 2, "mat": 3, "rr": p * d - d * (d - 1) // 2,
        }[self.kind]  # fmt: skip

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column in T of each parameter of us and rr (lower triangle by column)."""
        columns = self.p if self.kind == "us" else self.rank
        pairs = [(i, j) for j in range(columns) for i in range(j, self.p)]
        return np.array([i for i, _ in pairs]), np.array([j for _, j in pairs])

    def start(self) -> np.ndarray:
        """lme4's start where it has one (SDs 1, correlations 0, factor diagonal 1); ranges and
        decay rates such that the correlation at the median distance between levels is e⁻¹."""
        if self.kind in ("us", "rr"):
            rows, cols = self._positions()
            return (rows == cols).astype(np.float64)
        if self.kind in DISTANCE_BASED:
            median = float(np.median(self.distances[np.triu_indices(self.p, 1)])) if self.p > 1 else 1.0
            log_range = np.log(median if median > 0 else 1.0)
            if self.kind == "ou":
                return np.array([1.0, -log_range])
            return np.array([1.0, log_range] + ([np.log(0.5)] if self.kind == "mat" else []))
        sds = np.ones(self.p if self.kind in ("diag", "cs", "toep") else 1)
        correlations = {"cs": 1, "homcs": 1, "ar1": 1, "toep": self.p - 1}.get(self.kind, 0)
        return np.concatenate([sds, np.zeros(correlations)])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the parameters (BOBYQA's box)."""
        k = self.n_params
        lower, upper = np.full(k, -np.inf), np.full(k, np.inf)
        if self.kind == "us":
            rows, cols = self._positions()
            lower[rows == cols] = 0.0
        elif self.kind == "rr":
            pass  # free loadings
        elif self.kind in DISTANCE_BASED:
            lower[0] = 0.0
            if self.kind == "mat":
                lower[2], upper[2] = MATERN_LOG_SMOOTHNESS
        else:
            sds = self.p if self.kind in ("diag", "cs", "toep") else 1
            lower[:sds] = 0.0
            lower[sds:], upper[sds:] = -1.0, 1.0
            if self.kind in ("cs", "homcs"):
                lower[sds] = -1.0 / (self.p - 1)
        return lower, upper

    def at_boundary(self, params: np.ndarray, tol: float) -> np.ndarray:
        """Whether the fit is singular in this term: an SD within tol of 0, a correlation within
        tol of its bound, or one of rr's factors (nearly) zero (mat's smoothness bounds are not the
        model's boundary). params: this term's parameters, or a parameters × fits matrix (then one
        answer per fit)."""
        params = np.asarray(params, dtype=np.float64)
        columns = params.reshape(len(params), -1)
        if self.kind == "rr":
            _, cols = self._positions()
            norms = np.array([np.sqrt(np.sum(columns[cols == j] ** 2, axis=0)) for j in range(self.rank)])
            singular = np.any(norms < tol, axis=0)
        else:
            lower, upper = self.bounds()
            kept = slice(0, 2) if self.kind == "mat" else slice(None)
            lower, upper, columns = lower[kept, None], upper[kept, None], columns[kept]
            singular = np.any((columns - lower < tol) | (upper - columns < tol), axis=0)
        return singular.reshape(params.shape[1:])

    def labels(self, columns: list[str]) -> list[str]:
        """Names of the parameters (summary and optimizer output)."""
        if self.kind in ("us", "rr"):
            rows, cols = self._positions()
            prefix = "T" if self.kind == "us" else "loading"
            return [f"{prefix}[{columns[i]}, {columns[j] if self.kind == 'us' else j + 1}]" for i, j in zip(rows, cols)]
        sds = [f"sd({c})" for c in columns] if self.kind in ("diag", "cs", "toep") else ["sd"]
        rest = {
            "homdiag": [], "cs": ["rho"], "homcs": ["rho"], "ar1": ["rho"],
            "toep": [f"partial_rho{k}" for k in range(1, self.p)], "ou": ["log(decay)"], "exp": ["log(range)"],
            "gau": ["log(range)"], "mat": ["log(range)", "log(smoothness)"],
        }.get(self.kind, [])  # fmt: skip
        return sds + rest

    def reported(self, params: np.ndarray, T: np.ndarray, scale: float, columns: list[str]) -> list[tuple[str, float]]:
        """The structure's parameters as glmmTMB reports them: SDs on the response's scale
        (params' times scale, σ for an LMM), correlations (toep's by lag, from the factor T),
        ou's decay rate, ranges and smoothness; rr's loadings."""
        if self.kind == "us":
            return []
        if self.kind == "rr":
            rows, cols = self._positions()
            signs = np.where(params[rows == cols] < 0, -1.0, 1.0)[cols]  # each factor's diagonal positive
            return [(f"loading[{columns[i]}, {j + 1}]", scale * s * v) for i, j, s, v in zip(rows, cols, signs, params)]
        heterogeneous = self.kind in ("diag", "cs", "toep")
        sds = [(f"sd({c})" if heterogeneous else "sd", scale * v) for c, v in zip(columns, params)]
        sds = sds if heterogeneous else sds[:1]
        rest = params[len(sds) :]
        if self.kind in ("cs", "homcs", "ar1"):
            return sds + [("rho", float(rest[0]))]
        if self.kind == "toep":
            covariance = T @ T.T
            sd = np.sqrt(np.diag(covariance))
            with np.errstate(invalid="ignore", divide="ignore"):
                lags = covariance[1:, 0] / (sd[1:] * sd[0])
            return sds + [(f"rho(lag {k + 1})", float(r)) for k, r in enumerate(lags)]
        if self.kind == "ou":
            return sds + [("decay", float(np.exp(rest[0])))]
        if self.kind in ("exp", "gau"):
            return sds + [("range", float(np.exp(rest[0])))]
        if self.kind == "mat":
            return sds + [("range", float(np.exp(rest[0]))), ("smoothness", float(np.exp(rest[1])))]
        return sds


def num_factor_columns(expr: str) -> list[str] | None:
    """The columns of '0 + numFactor(x, y)' (None when the expression is not one)."""
    match = _NUM_FACTOR.fullmatch(expr)
    if match is None:
        if "numFactor(" in expr:
            raise FormulaError(
                f"'{expr}': numFactor(...) must be the term's only variable, without an intercept: "
                "write '0 + numFactor(x, y)'"
            )
        return None
    columns = [c.strip().strip("`") for c in match.group(1).split(",")]
    if not all(columns):
        raise FormulaError(f"'{expr}': numFactor needs one or more column names")
    return columns


@dataclass(frozen=True)
class NumFactor:
    """A numFactor's levels: the distinct coordinates (rows of ``coordinates``, sorted), each one
    column of the term's model matrix; matched by value for new data."""

    columns: list[str]
    coordinates: np.ndarray  # levels × len(columns)

    @property
    def names(self) -> list[str]:
        """glmmTMB's level names: '(1,2)'."""
        return ["(" + ",".join(f"{v:g}" for v in row) + ")" for row in self.coordinates]

    def distances(self) -> np.ndarray:
        difference = self.coordinates[:, None, :] - self.coordinates[None, :, :]
        return np.sqrt(np.sum(difference**2, axis=2))

    def indicators(self, frame: pd.DataFrame, what: str) -> np.ndarray:
        """The n × levels indicator matrix of frame's coordinates; a coordinate the fit has not
        seen is refused."""
        return self.indicators_of(coordinate_values(frame, self.columns, what), what)

    def indicators_of(self, values: np.ndarray, what: str) -> np.ndarray:
        """indicators for coordinates already read (n × len(columns))."""
        keys = (
            pd.MultiIndex.from_arrays(self.coordinates.T) if len(self.columns) > 1 else pd.Index(self.coordinates[:, 0])
        )
        found = keys.get_indexer(pd.MultiIndex.from_arrays(values.T) if len(self.columns) > 1 else values[:, 0])
        if np.any(found < 0):
            row = int(np.nonzero(found < 0)[0][0])
            raise DataError(f"{what}: the coordinates {tuple(values[row])} of row {row} are not among the fit's levels")
        X = np.zeros((len(values), len(self.coordinates)))
        X[np.arange(len(values)), found] = 1.0
        return X

    @classmethod
    def of(cls, columns: list[str], values: np.ndarray) -> NumFactor:
        """The levels of these coordinates (n × len(columns), read by coordinate_values)."""
        return cls(columns, np.unique(values, axis=0))


def coordinate_values(
    frame: pd.DataFrame, columns: Sequence[str], what: str, noun: str = "numFactor's column"
) -> np.ndarray:
    """Coordinate columns (a numFactor's, a spatial correlation's) as an n × k float array,
    refused unless numeric and finite; errors name ``what`` and the column as ``noun``."""
    out = []
    for column in columns:
        if column not in frame:
            raise DataError(f"{what}: {noun} '{column}' is not in the data")
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise DataError(f"{what}: {noun} '{column}' must be numeric coordinates, not {values.dtype}")
        values = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise DataError(
                f"{what}: {noun} '{column}' has a non-finite value at row {int(np.nonzero(~np.isfinite(values))[0][0])}"
            )
        out.append(values)
    return np.column_stack(out)


def covariance_of(term: RandomTerm, X: np.ndarray, columns: list[str], distances: np.ndarray | None) -> Covariance:
    """The structure of a term with model matrix X, refused (FormulaError naming the term) where
    it cannot serve the term's columns."""
    p, kind = len(columns), term.structure
    if kind in ("ar1", "toep") and not _indicator_columns(X, columns):
        raise FormulaError(
            f"{term}: {kind} needs one column per equally spaced time, a factor without intercept: "
            f"write {kind}(0 + f | {term.group}) with f a factor (its levels in time order)"
        )
    if kind in DISTANCE_BASED and distances is None:
        raise FormulaError(f"{term}: {kind} needs coordinates: write {kind}(0 + numFactor(x, y) | {term.group})")
    if kind not in DISTANCE_BASED and distances is not None and kind != "us":
        raise FormulaError(f"{term}: numFactor's distances are used by ou, exp, gau and mat only, not {kind}")
    if kind in ("cs", "homcs", "ar1", "toep") and p < 2:
        raise FormulaError(f"{term}: {kind} needs at least two columns, this term has {p}")
    if kind == "rr" and not 1 <= term.rank < p:
        raise FormulaError(
            f"{term}: rr's rank d = {term.rank} must be at least 1 and less than the term's {p} columns "
            f"(d = {p} is the unstructured us(...))"
        )
    return Covariance(kind, p, term.rank, distances if kind in DISTANCE_BASED else None)


def _indicator_columns(X: np.ndarray, columns: list[str]) -> bool:
    """Whether X's columns are a factor's indicators without an intercept (each row one 1)."""
    return "(Intercept)" not in columns and bool(np.all((X == 0) | (X == 1))) and bool(np.all(X.sum(axis=1) == 1))
