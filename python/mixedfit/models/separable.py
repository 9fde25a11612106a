"""Separable AR(1) ⊗ AR(1) residual correlation on a field grid (``corAR1xAR1(row, col, group)``):
corr(e_ij, e_kl) = φ_r^|i−k| φ_c^|j−l| for plots at integer rows i, k and columns j, l of one group
(a field, a trial), the standard spatial analysis of field trials.

The correlation matrix of a complete grid is A_r ⊗ A_c, so its inverse Cholesky factor is the
Kronecker product of two bidiagonal AR(1) whitening operators: each plot's whitened value
combines the plot itself, its neighbours in the previous row and column, and the diagonal one —
four coefficients, O(n) work per evaluation and a T·Z pattern of at most four rows of Z per
plot, fixed for all φ (see correlation). log|C| = C (R − 1) log(1 − φ_r²) + R (C − 1) log(1 − φ_c²)
for an R × C grid. Grids with missing plots are refused for now (their correlation matrix is not
a Kronecker product; its precision is, but needs the missing plots integrated out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, ResourceError
from .correlation import EDGE, WhitenedPattern, parameter_lines

MAX_MATRIX_ENTRIES = 20_000_000  # C(φ) as a sparse matrix (for R and V()) beyond this is refused


@dataclass(frozen=True)
class corAR1xAR1:
    """AR(1) ⊗ AR(1) correlation φ_r^|Δrow| φ_c^|Δcol| between the plots of a field grid: ``row``
    and ``col`` are integer positions (every position of the grid observed once), within ``group``
    (all rows when None)."""

    row: str
    col: str
    group: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.row, self.col) + (() if self.group is None else (self.group,))

    def describe(self) -> tuple[str, str]:
        return "AR(1) x AR(1)", f"~{self.row} + {self.col}" + ("" if self.group is None else f" | {self.group}")


def _positions(data: pd.DataFrame, column: str) -> np.ndarray:
    values = data[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"corAR1xAR1: '{column}' must hold integer positions, not {values.dtype}")
    values = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"corAR1xAR1: '{column}' must hold integer positions, got {values[row]} at row {row}")
    return values.astype(np.int64)


@dataclass(frozen=True, eq=False)
class BoundAR1xAR1:
    """The grid of each group: every plot's row and column index within its group's grid (from
    0), and its neighbours' rows in the data (−1 where there is none)."""

    structure: corAR1xAR1
    grid_row: np.ndarray  # each plot's row index in its group's grid
    grid_col: np.ndarray
    up: np.ndarray  # the plot in the previous grid row, same column (−1: none)
    left: np.ndarray  # the plot in the previous grid column, same row
    diagonal: np.ndarray  # the plot in the previous row and column
    shapes: np.ndarray  # (rows, columns) of each group's grid
    groups: np.ndarray  # each plot's group code

    @classmethod
    def bind(cls, structure: corAR1xAR1, data: pd.DataFrame) -> BoundAR1xAR1:
        missing = [c for c in structure.columns if c not in data.columns]
        if missing:
            raise DataError(f"the correlation structure needs column '{missing[0]}' in the data")
        row, col = _positions(data, structure.row), _positions(data, structure.col)
        n = len(data)
        groups = np.zeros(n, dtype=np.int64) if structure.group is None else pd.factorize(data[structure.group])[0]
        n_groups = groups.max() + 1 if n else 0
        first_row = np.full(n_groups, np.iinfo(np.int64).max)
        first_col = first_row.copy()
        np.minimum.at(first_row, groups, row)
        np.minimum.at(first_col, groups, col)
        grid_row, grid_col = row - first_row[groups], col - first_col[groups]
        rows = np.zeros(n_groups, dtype=np.int64)
        cols = rows.copy()
        np.maximum.at(rows, groups, grid_row + 1)
        np.maximum.at(cols, groups, grid_col + 1)
        offsets = np.concatenate([[0], np.cumsum(rows * cols)])
        cell = offsets[groups] + grid_row * cols[groups] + grid_col  # each plot's cell among all grids' cells
        where = f" of group {{}} of '{structure.group}'" if structure.group is not None else ""
        counts = np.bincount(cell, minlength=offsets[-1])
        if np.any(counts > 1):
            plot = int(np.flatnonzero(counts[cell] > 1)[0])
            group = "" if not where else where.format(repr(data[structure.group].iloc[plot]))
            raise DataError(
                f"corAR1xAR1: two plots{group} share row {row[plot]} and column {col[plot]}; each position holds one plot"
            )
        if np.any(counts == 0):
            empty = int(np.flatnonzero(counts == 0)[0])
            g = int(np.searchsorted(offsets, empty, side="right") - 1)
            r, c = divmod(empty - offsets[g], cols[g])
            group = (
                "" if not where else where.format(repr(data[structure.group].iloc[int(np.flatnonzero(groups == g)[0])]))
            )
            raise DataError(
                f"corAR1xAR1: the grid{group} has no plot at row {r + first_row[g]}, column {c + first_col[g]}: "
                "grids with missing plots are not supported yet; meanwhile use corExp on the coordinates"
            )
        plot_of_cell = np.empty(offsets[-1], dtype=np.int64)
        plot_of_cell[cell] = np.arange(n)
        width = cols[groups]
        up = np.where(grid_row > 0, plot_of_cell[np.maximum(cell - width, 0)], -1)
        left = np.where(grid_col > 0, plot_of_cell[np.maximum(cell - 1, 0)], -1)
        diagonal = np.where((grid_row > 0) & (grid_col > 0), plot_of_cell[np.maximum(cell - width - 1, 0)], -1)
        return cls(structure, grid_row, grid_col, up, left, diagonal, np.column_stack([rows, cols]), groups)

    # The parameters φ = (φ_row, φ_col), nlme-style names, start and bounds.
    n_params = 2
    restarts = 1

    @property
    def names(self) -> list[str]:
        return ["Phi_row", "Phi_col"]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.full(2, -1 + EDGE), np.full(2, 1 - EDGE)

    def initial(self) -> np.ndarray:
        return np.zeros(2)

    def candidate_starts(self) -> list[np.ndarray]:
        return [self.initial()]

    def unconstrained(self, phi: np.ndarray) -> np.ndarray:
        """2·atanh φ, as nlme's corAR1 (Wald intervals are symmetric there)."""
        phi = np.asarray(phi, dtype=np.float64)
        return np.log((1 + phi) / (1 - phi))

    def constrained(self, u: np.ndarray) -> np.ndarray:
        e = np.exp(np.asarray(u, dtype=np.float64))
        return (e - 1) / (e + 1)

    def _coefficients(self, phi: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each plot's coefficients on itself, its upper, left and diagonal neighbours: the
        Kronecker product of the two AR(1) whitening operators' (own 1/√(1−φ²), previous
        −φ/√(1−φ²); own 1 for a grid's first row or column)."""
        scale = 1 / np.sqrt(1 - np.asarray(phi, dtype=np.float64) ** 2)
        own_r = np.where(self.grid_row > 0, scale[0], 1.0)
        own_c = np.where(self.grid_col > 0, scale[1], 1.0)
        back_r, back_c = -phi[0] * scale[0], -phi[1] * scale[1]
        return own_r * own_c, back_r * own_c, own_r * back_c, np.full(len(own_r), back_r * back_c)

    def whiten(self, phi: np.ndarray, values: np.ndarray) -> np.ndarray:
        """T = L_r⁻¹ ⊗ L_c⁻¹ per grid, applied to a vector or an n × k matrix."""
        values = np.asarray(values, dtype=np.float64)
        own, up, left, diagonal = self._coefficients(np.atleast_1d(phi))
        shape = (-1,) + (1,) * (values.ndim - 1)
        out = own.reshape(shape) * values
        for coefficient, neighbour in ((up, self.up), (left, self.left), (diagonal, self.diagonal)):
            has = neighbour >= 0
            out[has] += coefficient[has].reshape(shape) * values[neighbour[has]]
        return out

    normalize = whiten  # the inverse Cholesky factor L_r⁻¹ ⊗ L_c⁻¹ (rows of the grid in order)

    def color(self, phi: np.ndarray, z: np.ndarray) -> np.ndarray:
        """(L_r ⊗ L_c) z per grid: AR(1) recursions along columns, then along rows."""
        phi = np.atleast_1d(phi)
        out = np.array(z, dtype=np.float64)
        for direction, neighbour, index in ((1, self.left, self.grid_col), (0, self.up, self.grid_row)):
            root = np.sqrt(1 - phi[direction] ** 2)
            for step in range(1, int(index.max(initial=0)) + 1):
                rows = np.flatnonzero(index == step)
                out[rows] = phi[direction] * out[neighbour[rows]] + root * out[rows]
        return out

    def log_det(self, phi: np.ndarray) -> float:
        phi = np.atleast_1d(phi)
        rows, cols = self.shapes[:, 0], self.shapes[:, 1]
        return float(
            np.sum(cols * (rows - 1)) * np.log(1 - phi[0] ** 2) + np.sum(rows * (cols - 1)) * np.log(1 - phi[1] ** 2)
        )

    def matrix(self, phi: np.ndarray) -> sp.csr_matrix:
        """C(φ) (n × n, sparse, block-diagonal by group; dense within a grid)."""
        phi = np.atleast_1d(phi)
        sizes = np.bincount(self.groups)
        if np.sum(sizes.astype(np.float64) ** 2) > MAX_MATRIX_ENTRIES:
            raise ResourceError(
                f"corAR1xAR1's correlation matrix would hold {int(np.sum(sizes.astype(np.float64) ** 2))} values; "
                "form it for a subset of the plots instead"
            )
        rows, cols, values = [], [], []
        for g in range(len(sizes)):
            plots = np.flatnonzero(self.groups == g)
            i, j = np.meshgrid(plots, plots, indexing="ij")
            rows.append(i.ravel())
            cols.append(j.ravel())
            dr = np.abs(self.grid_row[i] - self.grid_row[j])
            dc = np.abs(self.grid_col[i] - self.grid_col[j])
            values.append((phi[0] ** dr * phi[1] ** dc).ravel())
        n = len(self.groups)
        return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))

    def sparse_whitener(self) -> WhitenedPattern:
        """T's pattern: each plot with itself and its upper, left and diagonal neighbours."""
        n = len(self.groups)
        own = np.arange(n)
        rows, sources = [own], [own]
        for neighbour in (self.up, self.left, self.diagonal):
            has = neighbour >= 0
            rows.append(own[has])
            sources.append(neighbour[has])
        return WhitenedPattern(np.concatenate(rows), np.concatenate(sources), n)

    def operator_values(self, phi: np.ndarray, pattern: WhitenedPattern) -> np.ndarray:
        """T's coefficients in sparse_whitener's order."""
        own, up, left, diagonal = self._coefficients(np.atleast_1d(phi))
        return np.concatenate(
            [own]
            + [c[neighbour >= 0] for c, neighbour in ((up, self.up), (left, self.left), (diagonal, self.diagonal))]
        )

    def summary_lines(self, phi: np.ndarray) -> list[str]:
        return parameter_lines(self.structure, self.names, np.atleast_1d(phi))
