"""Separable AR(1) ⊗ AR(1) residual correlation on a field grid (``corAR1xAR1(row, col, group)``):
corr(e_ij, e_kl) = φ_r^|i−k| φ_c^|j−l| for plots at integer rows i, k and columns j, l of one group
(a field, a trial), the standard spatial analysis of field trials; missing plots are allowed.

The correlation matrix of a complete grid is A_r ⊗ A_c, so its inverse Cholesky factor is the
Kronecker product of two bidiagonal AR(1) whitening operators: each plot's whitened value
combines the plot itself, its neighbours in the previous row and column, and the diagonal one —
four coefficients, O(n) work per evaluation and a T·Z pattern of at most four rows of Z per
plot, fixed for all φ (see correlation). log|C| = C (R − 1) log(1 − φ_r²) + R (C − 1) log(1 − φ_c²)
for an R × C grid. Missing plots are integrated out (BoundAR1xAR1): a correction in the rows next
to them, dense over the m missing plots (m³ per evaluation), so a few hundred are cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, ResourceError
from .correlation import EDGE, WhitenedPattern, parameter_lines

MAX_MATRIX_ENTRIES = 20_000_000  # C(φ) as a sparse matrix (for R and V()) beyond this is refused


@dataclass(frozen=True)
class corAR1xAR1:
    """AR(1) ⊗ AR(1) correlation φ_r^|Δrow| φ_c^|Δcol| between the plots of a field grid: ``row``
    and ``col`` are integer positions (at most one plot per position; missing plots are integrated
    out), within ``group`` (all rows when None)."""

    row: str
    col: str
    group: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.row, self.col) + (() if self.group is None else (self.group,))

    def describe(self) -> tuple[str, str]:
        return "AR(1) x AR(1)", f"~{self.row} + {self.col}" + ("" if self.group is None else f" | {self.group}")


def _adjacent_clusters(
    empty: np.ndarray, cell_group: np.ndarray, cell_row: np.ndarray, cell_col: np.ndarray
) -> list[np.ndarray]:
    """The empty cells in groups of 8-adjacent ones (same grid, rows and columns within 1)."""
    key = {(int(cell_group[c]), int(cell_row[c]), int(cell_col[c])): c for c in empty}
    seen: set[int] = set()
    clusters = []
    for start in empty:
        if start in seen:
            continue
        seen.add(start)
        stack, members = [start], []
        while stack:
            c = stack.pop()
            members.append(c)
            g, r, k = int(cell_group[c]), int(cell_row[c]), int(cell_col[c])
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    other = key.get((g, r + dr, k + dc))
                    if other is not None and other not in seen:
                        seen.add(other)
                        stack.append(other)
        clusters.append(np.sort(np.array(members)))
    return clusters


def _plot_of_cell(cell_of_plot: np.ndarray, n_cells: int) -> np.ndarray:
    """Each cell's plot (−1: empty), with an extra last entry −1 that answers index −1 (no neighbour)."""
    plot_of_cell = np.full(n_cells + 1, -1)
    plot_of_cell[cell_of_plot] = np.arange(len(cell_of_plot))
    return plot_of_cell


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
    """The grids of the groups as cells (every position of each group's bounding rectangle, the
    groups' grids one after another), which plot holds each cell, and each cell's neighbours.

    With missing plots (cells without one) the observed plots' correlation C_oo is no Kronecker
    product, but its inverse is T_o'(I − P)T_o, with T the full grid's whitening operator, T_o and
    T_m its columns for observed and missing cells and P the projection on T_m's columns (integrating
    the missing plots' errors out of the full grid's density). So the whitened data have a row per
    cell, W = (I − P)T_o, which is T_o corrected in the few rows T_m touches, and log|C_oo| = log|C|
    + log|T_m'T_m|; the core is told the number of observations (rows are cells). A missing cell
    touches its own row and those of the cells right of, below and diagonally below it, so T_m'T_m
    is block-diagonal over clusters of 8-adjacent missing cells: the correction is a dense block
    per cluster (its touched rows × the plots entering them), not one over all missing plots."""

    structure: corAR1xAR1
    cell_of_plot: np.ndarray  # each plot's cell
    cell_row: np.ndarray  # each cell's row and column index in its group's grid
    cell_col: np.ndarray
    up: np.ndarray  # the cell in the previous grid row, same column (−1: none)
    left: np.ndarray  # the cell in the previous grid column, same row
    diagonal: np.ndarray  # the cell in the previous row and column
    shapes: np.ndarray  # (rows, columns) of each group's grid
    groups: np.ndarray  # each plot's group code
    # per cluster of 8-adjacent empty cells: (its empty cells, the rows of T they enter, the
    # plots whose cells enter those rows)
    clusters: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    # T's coefficients and the clusters' projections at the last φ (an evaluation whitens X, y
    # and Z and takes log|C_oo| at one φ)
    _last: dict = field(default_factory=dict, repr=False)

    @classmethod
    def bind(cls, structure: corAR1xAR1, data: pd.DataFrame) -> BoundAR1xAR1:
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
        cell = offsets[groups] + grid_row * cols[groups] + grid_col
        counts = np.bincount(cell, minlength=offsets[-1])
        if np.any(counts > 1):
            plot = int(np.flatnonzero(counts[cell] > 1)[0])
            where = (
                ""
                if structure.group is None
                else f" of group {data[structure.group].iloc[plot]!r} of '{structure.group}'"
            )
            raise DataError(
                f"corAR1xAR1: two plots{where} share row {row[plot]} and column {col[plot]}; each position holds one plot"
            )
        cell_group = np.repeat(np.arange(n_groups), rows * cols)
        within = np.arange(offsets[-1]) - offsets[cell_group]
        cell_row, cell_col = within // cols[cell_group], within % cols[cell_group]
        width = cols[cell_group]
        cells = np.arange(offsets[-1])
        up = np.where(cell_row > 0, cells - width, -1)
        left = np.where(cell_col > 0, cells - 1, -1)
        diagonal = np.where((cell_row > 0) & (cell_col > 0), cells - width - 1, -1)
        plot_of_cell = _plot_of_cell(cell, offsets[-1])
        neighbours = np.column_stack([cells, up, left, diagonal])
        clusters = []
        for empty in _adjacent_clusters(np.flatnonzero(counts == 0), cell_group, cell_row, cell_col):
            touched = np.flatnonzero(np.isin(neighbours, empty).any(axis=1))
            near = plot_of_cell[np.unique(neighbours[touched])]
            clusters.append((empty, touched, near[near >= 0]))
        return cls(structure, cell, cell_row, cell_col, up, left, diagonal, np.column_stack([rows, cols]), groups,
                   tuple(clusters))  # fmt: skip

    # The parameters φ = (φ_row, φ_col), nlme-style names, start and bounds.
    n_params = 2
    restarts = 1

    @property
    def names(self) -> list[str]:
        return ["Phi_row", "Phi_col"]

    @property
    def n_whitened(self) -> int:
        """Rows of the whitened data: one per cell."""
        return len(self.cell_row)

    n_latent = n_whitened  # independent normals that colour() turns into the plots' errors

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

    def _at(self, phi: np.ndarray) -> dict:
        """What is kept for φ: its coefficients and, lazily, the clusters' projections."""
        key = tuple(np.atleast_1d(phi).tolist())
        if self._last.get("phi") != key:
            self._last.clear()
            self._last.update(phi=key, coefficients=self._computed_coefficients(np.array(key)))
        return self._last

    def _coefficients(self, phi: np.ndarray) -> tuple[np.ndarray, ...]:
        return self._at(phi)["coefficients"]

    def _computed_coefficients(self, phi: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each cell's coefficients on itself, its upper, left and diagonal neighbours in T: the
        Kronecker product of the two AR(1) whitening operators' (own 1/√(1−φ²), previous
        −φ/√(1−φ²); own 1 for a grid's first row or column)."""
        scale = 1 / np.sqrt(1 - np.asarray(phi, dtype=np.float64) ** 2)
        own_r = np.where(self.cell_row > 0, scale[0], 1.0)
        own_c = np.where(self.cell_col > 0, scale[1], 1.0)
        back_r, back_c = -phi[0] * scale[0], -phi[1] * scale[1]
        return own_r * own_c, back_r * own_c, own_r * back_c, np.full(len(own_r), back_r * back_c)

    def _full_whitening(self, phi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """T u for values u on all cells (rows)."""
        own, up, left, diagonal = self._coefficients(phi)
        shape = (-1,) + (1,) * (u.ndim - 1)
        out = own.reshape(shape) * u
        for coefficient, neighbour in ((up, self.up), (left, self.left), (diagonal, self.diagonal)):
            has = neighbour >= 0
            out[has] += coefficient[has].reshape(shape) * u[neighbour[has]]
        return out

    def _on_cells(self, values: np.ndarray, cells: np.ndarray) -> np.ndarray:
        u = np.zeros((self.n_whitened,) + values.shape[1:])
        u[cells] = values
        return u

    def _block(self, phi: np.ndarray, rows: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """T's block of the given rows and cells' columns (dense)."""
        order = np.argsort(cells)
        ordered = cells[order]
        block = np.zeros((len(rows), len(cells)))
        at = np.arange(len(rows))
        neighbours = (rows, self.up[rows], self.left[rows], self.diagonal[rows])
        for coefficient, neighbour in zip(self._coefficients(phi), neighbours):
            found = np.minimum(np.searchsorted(ordered, neighbour), len(cells) - 1)
            has = ordered[found] == neighbour
            block[at[has], order[found[has]]] += coefficient[rows][has]
        return block

    def _projections(self, phi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per cluster, T_m's block at its touched rows and the inverse of T_m'T_m."""
        kept = self._at(phi)
        if "projections" not in kept:
            blocks = [self._block(phi, touched, empty) for empty, touched, _ in self.clusters]
            kept["projections"] = [(T_m, np.linalg.inv(T_m.T @ T_m)) for T_m in blocks]
        return kept["projections"]

    def whiten(self, phi: np.ndarray, values: np.ndarray) -> np.ndarray:
        """W = (I − P)T_o applied to a vector or an n × k matrix of the plots: a row per cell."""
        phi = np.atleast_1d(phi)
        out = self._full_whitening(phi, self._on_cells(np.asarray(values, dtype=np.float64), self.cell_of_plot))
        for (_, touched, _), (T_m, inverse) in zip(self.clusters, self._projections(phi)):
            out[touched] -= T_m @ (inverse @ (T_m.T @ out[touched]))
        return out

    def normalize(self, phi: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The inverse Cholesky factor L_r⁻¹ ⊗ L_c⁻¹ of a complete grid, back in the plots' order."""
        if self.clusters:
            raise NotImplementedError("normalized residuals of a grid with missing plots are not available yet")
        return self.whiten(phi, values)[self.cell_of_plot]

    def color(self, phi: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The plots' rows of (L_r ⊗ L_c) z for independent normals z on all cells (n_latent rows):
        AR(1) recursions along columns, then along rows, over the full grids."""
        phi = np.atleast_1d(phi)
        out = np.array(z, dtype=np.float64)
        for direction, neighbour, index in ((1, self.left, self.cell_col), (0, self.up, self.cell_row)):
            root = np.sqrt(1 - phi[direction] ** 2)
            for step in range(1, int(index.max(initial=0)) + 1):
                rows = np.flatnonzero(index == step)
                out[rows] = phi[direction] * out[neighbour[rows]] + root * out[rows]
        return out[self.cell_of_plot]

    def log_det(self, phi: np.ndarray) -> float:
        """log|C_oo| = log|C| + log|T_m'T_m|, log|C| = Σ C (R − 1) log(1 − φ_r²) + R (C − 1) log(1 − φ_c²)."""
        phi = np.atleast_1d(phi)
        rows, cols = self.shapes[:, 0], self.shapes[:, 1]
        full = np.sum(cols * (rows - 1)) * np.log(1 - phi[0] ** 2) + np.sum(rows * (cols - 1)) * np.log(1 - phi[1] ** 2)
        return float(full + sum(np.linalg.slogdet(T_m.T @ T_m)[1] for T_m, _ in self._projections(phi)))

    def matrix(self, phi: np.ndarray) -> sp.csr_matrix:
        """C_oo(φ) (n × n, sparse, block-diagonal by group; dense within a grid)."""
        phi = np.atleast_1d(phi)
        sizes = np.bincount(self.groups)
        if np.sum(sizes.astype(np.float64) ** 2) > MAX_MATRIX_ENTRIES:
            raise ResourceError(
                f"corAR1xAR1's correlation matrix would hold {int(np.sum(sizes.astype(np.float64) ** 2))} values; "
                "form it for a subset of the plots instead"
            )
        grid_row, grid_col = self.cell_row[self.cell_of_plot], self.cell_col[self.cell_of_plot]
        rows, cols, values = [], [], []
        for g in range(len(sizes)):
            plots = np.flatnonzero(self.groups == g)
            i, j = np.meshgrid(plots, plots, indexing="ij")
            rows.append(i.ravel())
            cols.append(j.ravel())
            values.append(
                (phi[0] ** np.abs(grid_row[i] - grid_row[j]) * phi[1] ** np.abs(grid_col[i] - grid_col[j])).ravel()
            )
        n = len(self.groups)
        return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))

    @cached_property
    def _neighbour_plots(self) -> list[np.ndarray]:
        """For each cell, the plot at itself and at its upper, left and diagonal neighbour (−1:
        none or empty): T_o's structural entries, in _coefficients' order (fixed for all φ)."""
        plot_of_cell = _plot_of_cell(self.cell_of_plot, self.n_whitened)
        return [plot_of_cell[cells] for cells in (np.arange(self.n_whitened), self.up, self.left, self.diagonal)]

    def sparse_whitener(self) -> WhitenedPattern:
        """W's pattern: T_o's entries, and each cluster's correction block (its touched cells × the
        plots entering them)."""
        cells = np.arange(self.n_whitened)
        plots = self._neighbour_plots
        rows = [cells[p >= 0] for p in plots] + [np.repeat(touched, len(near)) for _, touched, near in self.clusters]
        sources = [p[p >= 0] for p in plots] + [np.tile(near, len(touched)) for _, touched, near in self.clusters]
        return WhitenedPattern(np.concatenate(rows), np.concatenate(sources), self.n_whitened)

    def operator_values(self, phi: np.ndarray, pattern: WhitenedPattern) -> np.ndarray:
        """W's values in sparse_whitener's order (the block's add to T_o's in the product)."""
        phi = np.atleast_1d(phi)
        values = [c[plots >= 0] for c, plots in zip(self._coefficients(phi), self._neighbour_plots)]
        for (_, touched, near), (T_m, inverse) in zip(self.clusters, self._projections(phi)):
            T_near = self._block(phi, touched, self.cell_of_plot[near])
            values.append(-(T_m @ (inverse @ (T_m.T @ T_near))).ravel())
        return np.concatenate(values)

    def summary_lines(self, phi: np.ndarray) -> list[str]:
        return parameter_lines(self.structure, self.names, np.atleast_1d(phi))
