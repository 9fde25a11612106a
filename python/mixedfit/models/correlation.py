"""Residual correlation within groups (nlme's corAR1, corCAR1, corCompSymm), by whitening.

With Var(ε) = σ² D C(φ) D — D = diag(dᵢ) the residual SDs' scale (a variance function's sᵢ over
√wᵢ), C block-diagonal by group — the transform T = C^{-1/2} D⁻¹ (a Cholesky or symmetric root
per group) makes the errors independent: Ty = TXβ + TZb + Tε with Tε ~ N(0, σ²I). So the core
fits the whitened data (X̃ = TX, Z̃ = TZ, ỹ = Ty, unit weights) and the criterion gains the
Jacobian 2 log|T⁻¹| = 2 Σ log dᵢ + log|C(φ)|, for REML as for ML. T is lower bidiagonal within
a group for AR(1) and continuous-time AR(1) (each row combines itself and its predecessor) and
"aI + bJ" within a group for compound symmetry, so Z̃ keeps a pattern fixed for all φ: it is
built once (every product structural, so no value cancels out of it) and refilled in place at
each evaluation, and the core keeps its symbolic analysis. φ joins θ (and a variance function's
δ) in the optimizer, bounded inside its valid range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import solve_triangular

from ..design.matrices import numeric_column
from ..errors import DataError

# φ stays this far inside (−1, 1) (the AR(1) root's 1/√(1−φ²) and the compound symmetry's
# 1/√(1−ρ) are finite there).
EDGE = 1e-6


@dataclass(frozen=True)
class corAR1:
    """AR(1) correlation φ^abs(j − k) between the j-th and k-th observations of a group in data
    order, or φ^abs(tⱼ − tₖ) for the whole-number positions t in the column ``order`` (nlme's
    ``corAR1(form = ~ order | group)``: gaps count, and each position is unique within a group)."""

    group: str
    order: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.group,) if self.order is None else (self.group, self.order)

    def describe(self) -> tuple[str, str]:
        return "AR(1)", f"~{self.order or 1} | {self.group}"


@dataclass(frozen=True)
class corCAR1:
    """Continuous-time AR(1): correlation φ^abs(tⱼ − tₖ) within a group (nlme's ``corCAR1(form = ~ time | group)``)."""

    time: str
    group: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.group, self.time)

    def describe(self) -> tuple[str, str]:
        return "Continuous AR(1)", f"~{self.time} | {self.group}"


@dataclass(frozen=True)
class corCompSymm:
    """Compound symmetry: one correlation ρ between any two observations of a group (nlme's
    ``corCompSymm(form = ~ 1 | group)``)."""

    group: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.group,)

    def describe(self) -> tuple[str, str]:
        return "Compound symmetry", f"~1 | {self.group}"


CORRELATION_STRUCTURES = (corAR1, corCAR1, corCompSymm)


def _group_codes(data: pd.DataFrame, column: str) -> np.ndarray:
    return pd.factorize(data[column].astype(str) if data[column].dtype == object else data[column])[0]


@dataclass(frozen=True)
class BoundCorrelation:
    """A correlation structure with a data set's groups: for the AR kinds each row's predecessor in
    its group (itself for a group's first) and the gap to it; for compound symmetry the groups."""

    structure: object
    groups: np.ndarray  # each row's group code
    previous: np.ndarray  # AR kinds: the predecessor row (the row itself for a group's first)
    gap: np.ndarray  # AR kinds: |Δt| to the predecessor (1 for AR(1); 0 for a group's first)
    sizes: np.ndarray  # each group's number of rows
    times: np.ndarray | None = None  # corCAR1's times, corAR1's order: each row's position

    @classmethod
    def bind(cls, structure: object, data: pd.DataFrame) -> BoundCorrelation:
        groups = _group_codes(data, structure.group)
        sizes = np.bincount(groups)
        n = len(groups)
        if isinstance(structure, corCompSymm):
            return cls(structure, groups, np.arange(n), np.zeros(n), sizes)
        key = np.arange(n, dtype=np.float64)
        if isinstance(structure, corCAR1):
            key = numeric_column(structure.time, data, "corCAR1 time")
        elif structure.order is not None:
            key = numeric_column(structure.order, data, "corAR1 order")
        order = np.lexsort((np.arange(n), key, groups))  # by group, then time/order, then data order
        previous = np.arange(n)
        same = groups[order][1:] == groups[order][:-1]
        previous[order[1:][same]] = order[:-1][same]
        has_previous = previous != np.arange(n)
        gap = np.where(has_previous, np.abs(key - key[previous]), 0.0)
        if isinstance(structure, corCAR1):
            if np.any(has_previous & (gap == 0)):
                raise DataError(
                    f"corCAR1: two observations of one group of '{structure.group}' have the same time "
                    f"'{structure.time}'; their correlation would be 1"
                )
        elif structure.order is not None:
            # nlme's corAR1(form = ~ t | g): correlation φ^|tᵢ − tⱼ| of integer positions, unique
            # within a group (rows at t = 3 and 6 are φ³ apart, not φ).
            if not np.all(key == np.round(key)):
                bad = int(np.flatnonzero(key != np.round(key))[0])
                raise DataError(
                    f"corAR1: order '{structure.order}' must hold whole numbers (positions in time), got {key[bad]} "
                    f"in row {bad}; for continuous times use corCAR1"
                )
            if np.any(has_previous & (gap == 0)):
                row = int(np.flatnonzero(has_previous & (gap == 0))[0])
                raise DataError(
                    f"corAR1: order '{structure.order}' has the value {key[row]:g} twice in group "
                    f"{data[structure.group].iloc[row]!r} of '{structure.group}'; it must be unique within a group"
                )
        else:
            gap = has_previous.astype(np.float64)
        times = key if isinstance(structure, corCAR1) or structure.order is not None else None
        return cls(structure, groups, previous, gap, sizes, times)

    # The parameter: its name (nlme's), start and bounds.
    n_params = 1

    @property
    def name(self) -> str:
        return "Rho" if isinstance(self.structure, corCompSymm) else "Phi"

    @property
    def names(self) -> list[str]:
        return [self.name]

    def bounds(self) -> tuple[float, float]:
        if isinstance(self.structure, corCAR1):
            return EDGE, 1 - EDGE
        if isinstance(self.structure, corCompSymm):
            largest = self.sizes.max()
            return (-1 / (largest - 1) + EDGE if largest > 1 else -1 + EDGE), 1 - EDGE
        return -1 + EDGE, 1 - EDGE

    def unconstrained(self, phi: np.ndarray) -> np.ndarray:
        """nlme's unconstrained parameter (where its Wald intervals are symmetric): 2·atanh φ for
        AR(1), logit φ for continuous AR(1), log((ρ − inf)/(1 − ρ)) for compound symmetry with
        inf = −1/(largest group − 1)."""
        if isinstance(self.structure, corCAR1):
            return np.log(phi / (1 - phi))
        if isinstance(self.structure, corCompSymm):
            inf = -1 / (self.sizes.max() - 1)
            return np.log((phi - inf) / (1 - phi))
        return np.log((1 + phi) / (1 - phi))

    def constrained(self, u: np.ndarray) -> np.ndarray:
        e = np.exp(u)
        if isinstance(self.structure, corCAR1):
            return e / (1 + e)
        if isinstance(self.structure, corCompSymm):
            return (e - 1 / (self.sizes.max() - 1)) / (e + 1)
        return (e - 1) / (e + 1)

    def initial(self) -> float:
        return 0.2 if isinstance(self.structure, corCAR1) else 0.0

    restarts = 1  # how many of the candidate starts the joint optimization runs from

    @property
    def n_whitened(self) -> int:
        """Rows of the whitened data (one per observation) and normals colour() takes."""
        return len(self.groups)

    n_latent = n_whitened

    def candidate_starts(self) -> list[np.ndarray]:
        """Where the joint optimization may start φ (the best of them is taken): the start alone."""
        return [np.array([self.initial()])]

    # The whitening operator C^{-1/2} as (row, source row, coefficient) triplets.
    def _lag_correlations(self, phi: float) -> np.ndarray:
        """AR kinds: each row's correlation with its predecessor (0 for a group's first)."""
        first = self.previous == np.arange(len(self.previous))
        return np.where(first, 0.0, phi**self.gap)

    def _coefficients(self, phi: float) -> tuple[np.ndarray, np.ndarray]:
        """AR kinds: each row's own coefficient a and its predecessor's b (ẽᵢ = aᵢeᵢ + bᵢe_prev)."""
        rho = self._lag_correlations(phi)
        scale = 1 / np.sqrt(1 - rho**2)
        return scale, -rho * scale

    def _symmetric_root(self, phi: float, power: float) -> tuple[float, np.ndarray]:
        """Compound symmetry: C^power = α(I − P) + βP per group (P the group mean): α and each row's β."""
        alpha = (1 - phi) ** power
        beta = (1 + (self.sizes - 1) * phi) ** power
        return alpha, beta[self.groups]

    def whiten(self, phi: float, values: np.ndarray) -> np.ndarray:
        """C(φ)^{-1/2} applied to a vector or an n × k matrix (rows are observations)."""
        values = np.asarray(values, dtype=np.float64)
        if isinstance(self.structure, corCompSymm):
            alpha, beta = self._symmetric_root(phi, -0.5)
            means = _group_means(values, self.groups, self.sizes)
            shape = (-1,) + (1,) * (values.ndim - 1)
            return alpha * values + (beta.reshape(shape) - alpha) * means
        a, b = self._coefficients(phi)
        shape = (-1,) + (1,) * (values.ndim - 1)
        return a.reshape(shape) * values + b.reshape(shape) * values[self.previous]

    def normalize(self, phi: float, values: np.ndarray) -> np.ndarray:
        """L⁻¹ values for the Cholesky factor L of each group's C (rows in data order): nlme's
        normalized residuals. For the AR kinds that is the whitening itself; for compound symmetry
        (whitened here by the symmetric root, which gives the same likelihood) a triangular solve."""
        if not isinstance(self.structure, corCompSymm):
            return self.whiten(phi, values)
        out = np.empty_like(values, dtype=np.float64)
        for size, members in self._members_by_size():  # groups of one size share C's factor
            factor = np.linalg.cholesky((1 - phi) * np.eye(size) + phi)
            out[members.T] = solve_triangular(factor, values[members.T].reshape(size, -1), lower=True).reshape(
                values[members.T].shape
            )
        return out

    def _members_by_size(self) -> list[tuple[int, np.ndarray]]:
        """For each group size, its groups' rows (groups × size, each group's rows in data order)."""
        order = np.argsort(self.groups, kind="stable")
        starts = np.concatenate([[0], np.cumsum(self.sizes)])[:-1]
        out = []
        for size in np.unique(self.sizes):
            first = starts[self.sizes == size]
            out.append((int(size), order[first[:, None] + np.arange(size)]))
        return out

    def color(self, phi: float, z: np.ndarray) -> np.ndarray:
        """C(φ)^{1/2} z (z: n × k independent standard normals): errors with correlation C."""
        if isinstance(self.structure, corCompSymm):
            alpha, beta = self._symmetric_root(phi, 0.5)
            return alpha * z + (beta[:, None] - alpha) * _group_means(z, self.groups, self.sizes)
        # e = L z for the Cholesky factor L of C: eᵢ = ρᵢ e_prev + √(1−ρᵢ²) zᵢ, in each group's order
        rho = self._lag_correlations(phi)
        e = np.empty_like(z)
        depth = self._depths()
        for level in range(depth.max() + 1):
            rows = np.flatnonzero(depth == level)
            prior = e[self.previous[rows]] if level else 0.0
            e[rows] = rho[rows, None] * prior + np.sqrt(1 - rho[rows] ** 2)[:, None] * z[rows]
        return e

    def _depths(self) -> np.ndarray:
        """Each row's position in its group's order (0 for the first)."""
        depth = np.zeros(len(self.previous), dtype=np.int64)
        pending = self.previous != np.arange(len(self.previous))
        while pending.any():
            rows = np.flatnonzero(pending)
            depth[rows] = depth[self.previous[rows]] + 1
            pending[rows] = pending[self.previous[rows]]
        return depth

    def log_det(self, phi: float) -> float:
        """log|C(φ)|."""
        if isinstance(self.structure, corCompSymm):
            sizes = self.sizes
            return float(np.sum((sizes - 1) * np.log(1 - phi) + np.log(1 + (sizes - 1) * phi)))
        return float(np.sum(np.log(1 - self._lag_correlations(phi) ** 2)))

    def matrix(self, phi: float) -> sp.csr_matrix:
        """C(φ) (n × n, sparse, block-diagonal by group)."""
        pattern = self._pairs()
        i, j = pattern.rows, pattern.sources
        if isinstance(self.structure, corCompSymm):
            values = np.where(i == j, 1.0, phi)
        else:
            position = self.times if self.times is not None else self._depths().astype(np.float64)
            values = phi ** np.abs(position[i] - position[j])
        n = len(self.groups)
        return sp.csr_matrix((values, (i, j)), shape=(n, n))

    def _pairs(self) -> WhitenedPattern:
        """Every (row, row) pair within a group."""
        rows, sources = [], []
        for size, members in self._members_by_size():
            rows.append(np.repeat(members, size, axis=1).ravel())
            sources.append(np.tile(members, size).ravel())
        return WhitenedPattern(np.concatenate(rows), np.concatenate(sources), len(self.groups))

    def sparse_whitener(self) -> WhitenedPattern:
        """The fixed pattern of T·Z for this structure (see WhitenedPattern)."""
        n = len(self.groups)
        if isinstance(self.structure, corCompSymm):
            return self._pairs()
        own = np.arange(n)
        has_previous = self.previous != own
        rows = np.concatenate([own, own[has_previous]])
        sources = np.concatenate([own, self.previous[has_previous]])
        return WhitenedPattern(rows, sources, n)

    def operator_values(self, phi: float, pattern: WhitenedPattern) -> np.ndarray:
        """The coefficient of each (row, source) pair of the pattern at φ."""
        if isinstance(self.structure, corCompSymm):
            alpha, beta = self._symmetric_root(phi, -0.5)
            same = pattern.rows == pattern.sources
            return np.where(same, alpha, 0.0) + (beta[pattern.rows] - alpha) / self.sizes[self.groups[pattern.rows]]
        a, b = self._coefficients(phi)
        n = len(a)
        return np.concatenate([a, b[pattern.rows[n:]]])

    def summary_lines(self, phi: float) -> list[str]:
        structure, formula = self.structure.describe()
        return [f"Correlation structure: {structure}", f" Formula: {formula}", " Parameter estimate(s):", f"{self.name:>10}", f"{phi:>10.6g}"]


def parameter_lines(structure: object, names: list[str], values: np.ndarray) -> list[str]:
    """nlme's "Correlation structure:" block for a structure with several parameters."""
    kind, formula = structure.describe()
    header = "".join(f"{name:>12}" for name in names)
    row = "".join(f"{value:>12.6g}" for value in values)
    return [f"Correlation structure: {kind}", f" Formula: {formula}", " Parameter estimate(s):", header, row]


def _group_means(values: np.ndarray, groups: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    if values.ndim == 1:
        return (np.bincount(groups, weights=values) / sizes)[groups]
    sums = np.zeros((len(sizes), values.shape[1]))
    np.add.at(sums, groups, values)
    return (sums / sizes[:, None])[groups]


@dataclass
class WhitenedPattern:
    """T·Z in a pattern fixed for all φ: T's structural (row, source) pairs, and for Z (n × q,
    CSR) the product's CSR pattern with, for each of T's pairs and each entry of the source row of
    Z, where the product lands — so that new values are one weighted bincount, whatever cancels."""

    rows: np.ndarray
    sources: np.ndarray
    n: int
    product: sp.csr_matrix | None = None
    _pair: np.ndarray | None = None  # which of T's pairs each contribution comes from
    _source: np.ndarray | None = None  # the row of Z it comes from
    _z: np.ndarray | None = None  # the entry of Z it multiplies
    _position: np.ndarray | None = None  # where in the product's values it lands

    def bind(self, Z: sp.csr_matrix) -> sp.csr_matrix:
        """Build the product's pattern for Z (n × q) and return it (values to be filled)."""
        Z = sp.csr_matrix(Z)
        Z.sort_indices()
        counts = np.diff(Z.indptr)[self.sources]
        pair = np.repeat(np.arange(len(self.rows)), counts)
        starts = Z.indptr[self.sources]
        entry = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        q = Z.shape[1]
        keys = self.rows[pair].astype(np.int64) * q + Z.indices[entry]
        unique, position = np.unique(keys, return_inverse=True)
        indptr = np.searchsorted(unique, np.arange(self.n + 1, dtype=np.int64) * q)
        product = sp.csr_matrix((np.zeros(len(unique)), (unique % q).astype(np.int32), indptr.astype(np.int32)), shape=(self.n, q))
        self.product, self._pair, self._position = product, pair, position
        self._source, self._z = self.sources[pair], Z.data[entry]
        return product

    def fill(self, coefficients: np.ndarray, row_scale: np.ndarray) -> None:
        """The product's values, in place, for T's coefficients applied to diag(row_scale)·Z."""
        contributions = coefficients[self._pair] * row_scale[self._source] * self._z
        self.product.data[:] = np.bincount(self._position, weights=contributions, minlength=len(self.product.data))
