"""Penalized regression spline bases as mgcv constructs them: the cubic regression spline ("cr"),
the thin plate regression spline ("tp") and Eilers and Marx's P-spline ("ps").

Each basis is a function space with a quadratic penalty: ``matrix(x)`` evaluates the k basis
functions at any covariate values (the fit's or new ones), ``penalty`` is the k × k penalty on
their coefficients and ``null_dim`` the dimension of the unpenalized functions. The space and the
penalty (up to a constant factor, which only rescales the smoothing variance) are mgcv's, so a
model fitted on them is gamm4's model. Facts from mgcv (Wood 2017, "Generalized Additive Models",
§5.3 and §5.5; mgcv's smooth.construct.*.smooth.spec), not its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gamma, pi

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from .._lazy import interpolate, spatial

# mgcv's default basis dimensions: cr and ps 10; tp M + 8 in one dimension, M + 27 in two,
# M + 100 beyond (M the null space's dimension).
DEFAULT_K = {"cr": 10, "ps": 10}
TP_EXTRA_K = (8, 27, 100)
# mgcv's thin plate regression spline uses at most this many distinct covariate values as knots
# (a random subset beyond it, which mixedfit does not reproduce: with several covariates it refuses;
# with one it uses them all — the exact basis mgcv's subset approximates — at O(n) per product).
TP_MAX_KNOTS = 2000
# Up to this many knots E is formed (a product with it is faster than four running sums below ~10³).
DENSE_RADIAL_KNOTS = 800


@dataclass(frozen=True)
class CubicRegressionSpline:
    """mgcv's "cr": a natural cubic spline parametrized by its values at k knots (at evenly
    spaced quantiles of the distinct covariate values), penalized by ∫ f''², linear beyond the
    knots."""

    knots: np.ndarray
    F: np.ndarray  # second derivatives at the knots = F @ values at the knots (zero at the ends)
    penalty: np.ndarray
    null_dim: int = 2

    @classmethod
    def of(cls, x: np.ndarray, k: int) -> tuple[CubicRegressionSpline, np.ndarray]:
        """The basis for covariate values x and its matrix at them."""
        knots = _quantile_knots(np.unique(x), k)
        h = np.diff(knots)
        # D (k−2 × k): second differences divided by the spacings; B (k−2 × k−2): tridiagonal.
        D = np.zeros((k - 2, k))
        rows = np.arange(k - 2)
        D[rows, rows] = 1.0 / h[:-1]
        D[rows, rows + 1] = -1.0 / h[:-1] - 1.0 / h[1:]
        D[rows, rows + 2] = 1.0 / h[1:]
        B = np.diag((h[:-1] + h[1:]) / 3.0) + np.diag(h[1:-1] / 6.0, 1) + np.diag(h[1:-1] / 6.0, -1)
        inner = np.linalg.solve(B, D)
        F = np.zeros((k, k))
        F[1:-1] = inner
        penalty = D.T @ inner
        basis = cls(knots, F, (penalty + penalty.T) / 2.0)
        return basis, basis.matrix(x)

    def matrix(self, x: np.ndarray) -> np.ndarray:
        knots, F = self.knots, self.F
        k = len(knots)
        n = len(x)
        X = np.zeros((n, k))
        j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, k - 2)  # interval [knots[j], knots[j + 1]]
        h = knots[j + 1] - knots[j]
        inside = (x >= knots[0]) & (x <= knots[-1])
        rows = np.flatnonzero(inside)
        jj, hh, xx = j[rows], h[rows], x[rows]
        right, left = knots[jj + 1] - xx, xx - knots[jj]
        X[rows, jj] += right / hh
        X[rows, jj + 1] += left / hh
        c_left = (right**3 / hh - hh * right) / 6.0  # multiplies the second derivative at knots[j]
        c_right = (left**3 / hh - hh * left) / 6.0
        X[rows] += c_left[:, None] * F[jj] + c_right[:, None] * F[jj + 1]
        # Beyond the knots the function goes on linearly with its slope at the end knot.
        for end, beyond in ((0, x < knots[0]), (k - 1, x > knots[-1])):
            if not beyond.any():
                continue
            interval = 0 if end == 0 else k - 2
            hh = knots[interval + 1] - knots[interval]
            slope = np.zeros(k)
            slope[interval], slope[interval + 1] = -1.0 / hh, 1.0 / hh
            if end == 0:
                slope += -hh / 3.0 * F[0] - hh / 6.0 * F[1]
            else:
                slope += hh / 6.0 * F[k - 2] + hh / 3.0 * F[k - 1]
            value = np.zeros(k)
            value[end] = 1.0
            X[beyond] = value + (x[beyond] - knots[end])[:, None] * slope
        return X


def _quantile_knots(unique: np.ndarray, k: int) -> np.ndarray:
    """k knots at evenly spaced positions through the sorted distinct values, interpolating
    between neighbours (mgcv's place.knots, which is R's quantile type 7 of the distinct values)."""
    n = len(unique)
    positions = np.linspace(0.0, n - 1.0, k)
    low = np.floor(positions).astype(int).clip(0, n - 1)
    high = np.minimum(low + 1, n - 1)
    fraction = positions - low
    return unique[low] * (1.0 - fraction) + unique[high] * fraction


@dataclass(frozen=True)
class PSpline:
    """mgcv's "ps": k cubic B-splines on evenly spaced knots spanning the data's range (widened by
    0.1 %), with a second-order difference penalty on their coefficients."""

    knots: np.ndarray
    penalty: np.ndarray
    degree: int = 3
    null_dim: int = 2

    @classmethod
    def of(cls, x: np.ndarray, k: int) -> tuple[PSpline, np.ndarray]:
        """The basis for covariate values x and its matrix at them."""
        degree, difference = 3, 2
        interior = k - (degree - 1)  # mgcv's nk = k − m[1] with m[1] = 2
        low, high = float(np.min(x)), float(np.max(x))
        span = high - low
        low, high = low - 0.001 * span, high + 0.001 * span
        step = (high - low) / (interior - 1)
        knots = np.linspace(low - step * degree, high + step * degree, interior + 2 * degree)
        D = np.diff(np.eye(k), n=difference, axis=0)
        basis = cls(knots, D.T @ D, degree, difference)
        return basis, basis.matrix(x)

    def matrix(self, x: np.ndarray) -> np.ndarray:
        inside = (x >= self.knots[self.degree]) & (x <= self.knots[-self.degree - 1])
        if not inside.all():
            raise ValueError(
                f"value {x[~inside][0]} is outside the P-spline's range "
                f"[{self.knots[self.degree]:.6g}, {self.knots[-self.degree - 1]:.6g}] (it cannot extrapolate)"
            )
        return interpolate().BSpline.design_matrix(x, self.knots, self.degree).toarray()


@dataclass(frozen=True)
class ThinPlateSpline:
    """mgcv's "tp", the thin plate regression spline of Wood (2003): the thin plate spline's
    radial functions at the distinct covariate values (the knots), truncated to the k
    eigenvectors of their matrix E with the largest eigenvalues in magnitude, constrained
    orthogonal to the M polynomials of degree < m (k − M free coefficients), plus those
    polynomials (unpenalized); each basis function scaled to a root mean square of 1 over the
    fit's rows (as mgcv's)."""

    knots: np.ndarray  # distinct covariate rows (centred)
    shift: np.ndarray  # the covariates' means, subtracted first (mgcv's shift)
    order: int  # m
    coefficients: np.ndarray  # knots × (k − M): the radial functions' weights in each basis function
    powers: np.ndarray  # M × d exponents of the polynomials
    penalty: np.ndarray
    column_scale: np.ndarray  # each basis function's divisor (its RMS over the fit's rows)

    @property
    def null_dim(self) -> int:
        return len(self.powers)

    @classmethod
    def of(cls, x: np.ndarray, k: int) -> tuple[ThinPlateSpline, np.ndarray]:
        """The basis for covariate rows x (n × d) and its matrix at them."""
        d = x.shape[1]
        order = _default_order(d)
        powers = _polynomial_powers(d, order)
        M = len(powers)
        shift = x.mean(axis=0)
        centred = x - shift
        knots, row_knot = np.unique(centred, axis=0, return_inverse=True)
        if len(knots) > TP_MAX_KNOTS and d > 1:
            raise ValueError(
                f"{len(knots)} distinct covariate values: mgcv's thin plate spline of several covariates then uses "
                f"a random subset of {TP_MAX_KNOTS} as knots, which mixedfit does not reproduce; use fewer distinct "
                "values (rounded coordinates)"
            )
        E = _radial_operator(knots, order)
        if len(knots) - 1 > k:  # Lanczos for the k largest in magnitude (mgcv's choice, whatever their sign)
            values, vectors = scipy.sparse.linalg.eigsh(E, k=k, which="LM", v0=np.ones(len(knots)))
        else:
            values, vectors = np.linalg.eigh(E @ np.eye(len(knots)))
        keep = np.argsort(-np.abs(values))[:k]
        values, vectors = values[keep], vectors[:, keep]
        T = _polynomials(knots, powers)
        # δ = U_k Z δ̃ with T'U_k Z = 0: Z spans the null space of (T'U_k).
        null = scipy.linalg.null_space(T.T @ vectors)
        coefficients = vectors @ null
        penalty = null.T @ (values[:, None] * null)
        k_penalized = coefficients.shape[1]
        S = np.zeros((k_penalized + M, k_penalized + M))
        S[:k_penalized, :k_penalized] = (penalty + penalty.T) / 2.0
        # The rows sit on the knots: E's rows, gathered, are the radial part of their matrix.
        X = np.hstack([(E @ coefficients)[row_knot.ravel()], _polynomials(centred, powers)])
        rms = np.sqrt(np.mean(X**2, axis=0))
        return cls(knots, shift, order, coefficients, powers, S / np.outer(rms, rms), rms), X / rms

    def matrix(self, x: np.ndarray) -> np.ndarray:
        centred = np.atleast_2d(x) - self.shift
        if _one_dimensional(centred.shape[1], self.order):  # no points × knots matrix (any number of knots)
            constant = _radial(np.ones((1, 1)), self.order, 1)[0, 0]
            radial = constant * _cubic_sums(centred[:, 0], self.knots[:, 0], self.coefficients)
        else:
            radial = _radial(_distances(centred, self.knots), self.order, centred.shape[1]) @ self.coefficients
        return np.hstack([radial, _polynomials(centred, self.powers)]) / self.column_scale


def tp_null_dim(d: int) -> int:
    """M, the dimension of the unpenalized polynomials of a d-covariate thin plate spline."""
    return len(_polynomial_powers(d, _default_order(d)))


def _default_order(d: int) -> int:
    """mgcv's default penalty order m for d covariates: the smallest m with 2m > d + 1."""
    m = 1
    while 2 * m <= d + 1:
        m += 1
    return m


def _polynomial_powers(d: int, order: int) -> np.ndarray:
    """The exponents of the M = C(m + d − 1, d) monomials of degree < m in d variables."""
    powers = [p for p in np.ndindex(*([order] * d)) if sum(p) < order]
    powers.sort(key=lambda p: (sum(p), tuple(-q for q in p)))
    return np.array(powers, dtype=int).reshape(len(powers), d)


def _polynomials(x: np.ndarray, powers: np.ndarray) -> np.ndarray:
    return np.prod(x[:, None, :] ** powers[None, :, :], axis=2)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape[1] == 1:
        return np.abs(a[:, 0, None] - b[None, :, 0])
    return spatial().distance.cdist(a, b)


def _radial_operator(knots: np.ndarray, m: int) -> scipy.sparse.linalg.LinearOperator:
    """E = [η(|x_i − x_j|)] over the knots as an operator. In one dimension (m = 2, η(r) = r³/12)
    E times a vector is running sums over the sorted knots (_cubic_sums): O(n) instead of the n²
    matrix (2,000 knots: 32 MB read per product, 29 products per eigenvector search); elsewhere,
    and for few knots (where numpy's calls cost more than the n² products), the dense matrix."""
    n, d = knots.shape
    if not _one_dimensional(d, m) or n <= DENSE_RADIAL_KNOTS:
        return scipy.sparse.linalg.aslinearoperator(_radial(_distances(knots, knots), m, d))
    x = knots[:, 0]
    constant = _radial(np.ones((1, 1)), m, d)[0, 0]

    def product(v: np.ndarray) -> np.ndarray:
        return constant * _cubic_sums(x, x, v.reshape(n, -1))

    return scipy.sparse.linalg.LinearOperator((n, n), matvec=product, matmat=product, dtype=np.float64)


def _one_dimensional(d: int, m: int) -> bool:
    """Whether η is r³ (one covariate, m = 2): the case of running sums."""
    return d == 1 and m == 2


def _cubic_sums(points: np.ndarray, knots: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_j |p_i − k_j|³ w_j for each point p_i (knots sorted; weights knots × columns): (p − k)³
    expanded in powers of k, summed over the knots below each point and above it by running sums."""
    powers = np.stack([np.ones_like(knots), knots, knots**2, knots**3])  # k^p, p = 0..3
    running = np.cumsum(powers[:, :, None] * weights[None], axis=1)
    running = np.concatenate([np.zeros((4, 1, weights.shape[1])), running], axis=1)  # Σ over the first i knots
    below = running[:, np.searchsorted(knots, points, side="right"), :]  # Σ_{k_j ≤ p}
    above = running[:, -1:, :] - below  # Σ_{k_j > p}
    p = points[:, None]
    left = p**3 * below[0] - 3 * p**2 * below[1] + 3 * p * below[2] - below[3]
    right = above[3] - 3 * p * above[2] + 3 * p**2 * above[1] - p**3 * above[0]
    return left + right


def _radial(r: np.ndarray, m: int, d: int) -> np.ndarray:
    """The thin plate spline's radial function η_{m,d}(r) (Wood 2017, §5.5.1)."""
    power = 2 * m - d
    if d % 2 == 0:
        constant = (-1) ** (m + 1 + d // 2) / (2 ** (2 * m - 1) * pi ** (d / 2) * gamma(m) * gamma(m - d / 2 + 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(r > 0, r**power * np.log(np.where(r > 0, r, 1.0)), 0.0)
        return constant * values
    constant = gamma(d / 2 - m) / (2 ** (2 * m) * pi ** (d / 2) * gamma(m))
    return constant * r ** int(power)  # (an integer power: repeated products, not exp(log))
