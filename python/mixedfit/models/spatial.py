"""Spatial residual correlation (nlme's corSpatial family): corExp, corGaus, corSpher, corLin,
corRatio, within groups or across all rows, with an optional nugget.

The correlation of two observations of a group at distance d is f(d / range) — exp(−r), exp(−r²),
1 − 1.5r + 0.5r³ (r < 1), 1 − r (r < 1), 1/(1 + r²) — times (1 − nugget) with a nugget, as nlme
defines them. The residuals are whitened (see correlation) by T = L⁻¹ per group, L the Cholesky
factor of the group's correlation matrix: T is dense lower triangular within a group, so T·Z's
pattern holds every pair of a group's rows and each evaluation factors every group's matrix —
m³/3 flops for a group of m rows; a field of a few thousand plots as one group is practical, 10⁴
is not (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..design.covariance import coordinate_values
from ..errors import DataError, NumericalError
from .correlation import WhitenedPattern, parameter_lines

# nlme's metrics, on the coordinate differences (last axis)
METRICS = {
    "euclidean": lambda difference: np.sqrt(np.sum(difference**2, axis=-1)),
    "manhattan": lambda difference: np.sum(np.abs(difference), axis=-1),
    "maximum": lambda difference: np.max(np.abs(difference), axis=-1),
}
NUGGET_EDGE = 1e-6  # the nugget stays this far below 1 (where the correlation matrix is I)


@dataclass(frozen=True)
class corSpatial:
    """A spatial correlation over the coordinate columns ``coords`` within ``group`` (all rows
    when None), with a nugget effect if ``nugget``; distances by ``metric`` ("euclidean",
    "manhattan" or "maximum", as nlme's)."""

    coords: tuple[str, ...] | list[str] | str
    group: str | None = None
    nugget: bool = False
    metric: str = "euclidean"
    kind = "spatial"

    def __post_init__(self) -> None:
        if isinstance(self.coords, str):
            object.__setattr__(self, "coords", (self.coords,))
        object.__setattr__(self, "coords", tuple(self.coords))
        if not self.coords:
            raise ValueError(f"{type(self).__name__} needs at least one coordinate column")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {self.metric!r}")

    @property
    def columns(self) -> tuple[str, ...]:
        return self.coords + (() if self.group is None else (self.group,))

    def describe(self) -> tuple[str, str]:
        formula = "~" + " + ".join(self.coords) + ("" if self.group is None else f" | {self.group}")
        return f"{self.kind} spatial correlation", formula

    @staticmethod
    def function(r: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class corExp(corSpatial):
    """Exponential spatial correlation exp(−d/range) (nlme's corExp)."""

    kind = "Exponential"

    @staticmethod
    def function(r: np.ndarray) -> np.ndarray:
        return np.exp(-r)


class corGaus(corSpatial):
    """Gaussian spatial correlation exp(−(d/range)²) (nlme's corGaus)."""

    kind = "Gaussian"

    @staticmethod
    def function(r: np.ndarray) -> np.ndarray:
        return np.exp(-(r**2))


class corSpher(corSpatial):
    """Spherical spatial correlation 1 − 1.5 r + 0.5 r³ for r = d/range < 1, else 0 (nlme's corSpher)."""

    kind = "Spherical"

    @staticmethod
    def function(r: np.ndarray) -> np.ndarray:
        return np.where(r < 1, 1 - 1.5 * r + 0.5 * r**3, 0.0)


class corLin(corSpatial):
    """Linear spatial correlation 1 − d/range for d < range, else 0 (nlme's corLin)."""

    kind = "Linear"

    @staticmethod
    def function(r: np.ndarray) -> np.ndarray:
        return np.where(r < 1, 1 - r, 0.0)


class corRatio(corSpatial):
    """Rational quadratic spatial correlation 1/(1 + (d/range)²) (nlme's corRatio)."""

    kind = "Rational quadratic"

    @staticmethod
    def function(r: np.ndarray) -> np.ndarray:
        return 1 / (1 + r**2)


SPATIAL_STRUCTURES = (corExp, corGaus, corSpher, corLin, corRatio)


@dataclass(frozen=True, eq=False)
class BoundSpatial:
    """A spatial correlation with a data set's groups, in blocks of groups of one size (so that
    each block's matrices are factored as one stack): each group's rows (in data order) and the
    distances between them. Its parameters φ are (range,) or (range, nugget)."""

    structure: corSpatial
    members: tuple[np.ndarray, ...]  # per block: groups × m rows
    distances: tuple[np.ndarray, ...]  # per block: groups × m × m distances
    # The factors at the last φ: one evaluation whitens X, y and Z and takes log|C| at one φ.
    _last: dict = field(default_factory=dict, repr=False)

    @classmethod
    def bind(cls, structure: corSpatial, data: pd.DataFrame) -> BoundSpatial:
        coordinates = coordinate_values(data, structure.coords, type(structure).__name__, "coordinate column")
        n = len(data)
        groups = np.zeros(n, dtype=np.int64) if structure.group is None else pd.factorize(data[structure.group])[0]
        order = np.argsort(groups, kind="stable")
        per_group = np.split(order, np.flatnonzero(np.diff(groups[order])) + 1)
        sizes = np.array([len(rows) for rows in per_group])
        members, distances = [], []
        for size in np.unique(sizes):
            rows = np.array([per_group[g] for g in np.flatnonzero(sizes == size)])
            points = coordinates[rows]  # groups × m × coordinates
            d = METRICS[structure.metric](points[:, :, None, :] - points[:, None, :, :])
            repeated = np.argwhere(np.triu(d == 0, 1))
            if len(repeated) and not structure.nugget:
                g, a, b = repeated[0]
                i, j = rows[g, a], rows[g, b]
                where = "" if structure.group is None else f" of group {data[structure.group].iloc[i]!r}"
                raise DataError(
                    f"{type(structure).__name__}: rows {i} and {j}{where} are at the same position, so their "
                    "correlation would be 1: give distinct coordinates, or nugget=True"
                )
            members.append(rows)
            distances.append(d)
        return cls(structure, tuple(members), tuple(distances))

    @property
    def n_params(self) -> int:
        return 1 + int(self.structure.nugget)

    @property
    def names(self) -> list[str]:
        return ["range", "nugget"][: self.n_params]

    @property
    def n_whitened(self) -> int:
        """Rows of the whitened data (one per observation) and normals colour() takes."""
        return sum(m.size for m in self.members)

    n_latent = n_whitened

    def _pair_distances(self) -> np.ndarray:
        """The distances between every two rows of a group, all groups."""
        parts = []
        for d in self.distances:
            upper = np.triu_indices(d.shape[1], 1)
            parts.append(d[:, upper[0], upper[1]].ravel())
        return np.concatenate(parts)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """range > 0 (from a millionth of the largest distance), nugget in [0, 1)."""
        largest = max((float(d.max()) for d in self.distances), default=1.0) or 1.0
        lower, upper = [1e-6 * largest], [np.inf]
        if self.structure.nugget:
            lower, upper = lower + [0.0], upper + [1 - NUGGET_EDGE]
        return np.array(lower), np.array(upper)

    def initial(self) -> np.ndarray:
        """range: the median distance between a group's rows; nugget 0.1."""
        positive = self._pair_distances()
        positive = positive[positive > 0]
        start = [float(np.median(positive)) if len(positive) else 1.0]
        return np.array(start + ([0.1] if self.structure.nugget else []))

    @property
    def restarts(self) -> int:
        """How many of the best candidate starts BOBYQA runs from: all of them for the linear and
        spherical functions, whose likelihood has a local optimum wherever the range passes a
        distance (BodyWeight's spherical ML fit has optima at ranges 48 and 625, its linear one at
        41 and 304, and neither start ranks the better one first), one for the smooth ones."""
        return len(self.candidate_starts()) if isinstance(self.structure, (corLin, corSpher)) else 1

    def candidate_starts(self) -> list[np.ndarray]:
        """Ranges at the deciles of the distances between a group's rows and at 2, 5 and 10 times the
        largest (the nugget at its start), for the joint optimization to start from."""
        positive = self._pair_distances()
        positive = positive[positive > 0]
        if not len(positive):
            return [self.initial()]
        deciles = np.quantile(positive, np.linspace(0.1, 0.9, 9))
        ranges = np.unique(np.concatenate([deciles, np.array([2, 5, 10]) * positive.max()]))
        return [np.array([r] + ([0.1] if self.structure.nugget else [])) for r in ranges]

    def unconstrained(self, phi: np.ndarray) -> np.ndarray:
        """nlme's unconstrained scale (Wald intervals are symmetric there): log range, logit nugget;
        phi's last axis holds the parameters."""
        phi = np.asarray(phi, dtype=np.float64)
        out = np.log(phi)
        if self.structure.nugget:
            out[..., 1] = np.log(phi[..., 1] / (1 - phi[..., 1]))
        return out

    def constrained(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        out = np.exp(u)
        if self.structure.nugget:
            out[..., 1] = 1 / (1 + np.exp(-u[..., 1]))
        return out

    def _correlations(self, phi: np.ndarray, k: int) -> np.ndarray:
        """Block k's correlation matrices at φ (groups × m × m)."""
        C = self.structure.function(self.distances[k] / phi[0])
        if self.structure.nugget:
            C = (1 - phi[1]) * C
        m = C.shape[1]
        C[:, np.arange(m), np.arange(m)] = 1.0
        return C

    def factors(self, phi: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per block, the groups' Cholesky factors L and their inverses at φ (kept for the last φ)."""
        key = tuple(np.atleast_1d(phi).tolist())
        if self._last.get("phi") != key:
            self._last.update(phi=key, factors=self._factored(np.array(key)))
        return self._last["factors"]

    def _factored(self, phi: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        out = []
        for k in range(len(self.members)):
            try:
                L = np.linalg.cholesky(self._correlations(phi, k))
            except np.linalg.LinAlgError:
                # (the linear and spherical functions are correlations in one, resp. up to three, dimensions only)
                raise NumericalError(
                    f"{type(self.structure).__name__}: the correlation matrix is not positive definite at "
                    f"{dict(zip(self.names, phi.tolist()))}"
                ) from None
            out.append((L, np.linalg.inv(L)))
        return tuple(out)

    @staticmethod
    def _apply(matrices: np.ndarray, rows: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
        """out[rows] = matrices @ values[rows], group by group (values a vector or n × k)."""
        block = values[rows]  # groups × m (× k)
        product = matrices @ (block[..., None] if values.ndim == 1 else block)
        out[rows] = product[..., 0] if values.ndim == 1 else product

    def whiten(self, phi: np.ndarray, values: np.ndarray) -> np.ndarray:
        """L⁻¹ per group applied to a vector or an n × k matrix."""
        values = np.asarray(values, dtype=np.float64)
        out = np.empty_like(values)
        for rows, (_, inverse) in zip(self.members, self.factors(phi)):
            self._apply(inverse, rows, values, out)
        return out

    normalize = whiten  # nlme's normalized residuals: the inverse Cholesky factor

    def color(self, phi: np.ndarray, z: np.ndarray) -> np.ndarray:
        """L z per group: errors with correlation C."""
        out = np.empty_like(z)
        for rows, (L, _) in zip(self.members, self.factors(phi)):
            self._apply(L, rows, z, out)
        return out

    def log_det(self, phi: np.ndarray) -> float:
        return float(sum(2 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))) for L, _ in self.factors(phi)))

    def matrix(self, phi: np.ndarray) -> sp.csr_matrix:
        """C(φ) (n × n, sparse, block-diagonal by group)."""
        phi = np.atleast_1d(phi)
        rows, cols, values = [], [], []
        for k, members in enumerate(self.members):
            m = members.shape[1]
            rows.append(np.repeat(members, m, axis=1).ravel())
            cols.append(np.tile(members, m).ravel())
            values.append(self._correlations(phi, k).ravel())
        n = sum(m.size for m in self.members)
        return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))

    def sparse_whitener(self) -> WhitenedPattern:
        """L⁻¹'s pattern: each row of a group with itself and every row before it in the group."""
        rows, sources = [], []
        for members in self.members:
            i, j = np.tril_indices(members.shape[1])
            rows.append(members[:, i].ravel())
            sources.append(members[:, j].ravel())
        n = sum(m.size for m in self.members)
        return WhitenedPattern(np.concatenate(rows), np.concatenate(sources), n)

    def operator_values(self, phi: np.ndarray, pattern: WhitenedPattern) -> np.ndarray:
        """L⁻¹'s entries in sparse_whitener's order."""
        values = []
        for _, inverse in self.factors(phi):
            i, j = np.tril_indices(inverse.shape[1])
            values.append(inverse[:, i, j].ravel())
        return np.concatenate(values)

    def summary_lines(self, phi: np.ndarray) -> list[str]:
        return parameter_lines(self.structure, self.names, np.atleast_1d(phi))
