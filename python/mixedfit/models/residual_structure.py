"""A linear mixed model's residual structure: Var(ε) = σ² D C(φ) D with D = diag(sᵢ(δ)/√wᵢ).

Joins a variance function (``variance``) and a correlation structure (``correlation``) and owns
their parameters ψ = (δ, φ), which the optimizer moves with θ. Without a correlation the structure
is a set of weights wᵢ/sᵢ² the core takes directly (its log|W| is the Jacobian). With one, it
holds the whitened data the core is built on — X̃ = TX, Z̃ = TZ (a fixed pattern), ỹ = Ty with
T = C^{-1/2} D⁻¹ — refills them in place for each ψ, and supplies the Jacobian the core's
criterion lacks (see ``correlation``).
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from .correlation import CORRELATION_STRUCTURES, BoundCorrelation
from .separable import BoundAR1xAR1, corAR1xAR1
from .spatial import SPATIAL_STRUCTURES, BoundSpatial
from .variance import BoundVariance

BoundCorrelationStructure = Union[BoundCorrelation, BoundSpatial, BoundAR1xAR1]
# Each correlation structure lmer takes, and the class that binds it to a data set's rows.
BINDERS = {
    **{kind: BoundCorrelation for kind in CORRELATION_STRUCTURES},
    **{kind: BoundSpatial for kind in SPATIAL_STRUCTURES},
    corAR1xAR1: BoundAR1xAR1,
}


def check_correlation(structure: object) -> None:
    """A TypeError unless structure is one of the correlation structures that lmer takes."""
    if type(structure) not in BINDERS:
        raise TypeError(
            "correlation must be mixedfit.corAR1, corCAR1, corCompSymm, corExp, corGaus, corSpher, corLin, corRatio "
            f"or corAR1xAR1, got {type(structure).__name__}"
        )


def bind_correlation(structure: object, data: pd.DataFrame) -> BoundCorrelationStructure:
    """A correlation structure bound to a data set's rows."""
    check_correlation(structure)
    missing = [c for c in structure.columns if c not in data.columns]
    if missing:
        raise DataError(f"the correlation structure needs column '{missing[0]}' in the data")
    return BINDERS[type(structure)].bind(structure, data)


class ResidualStructure:
    def __init__(
        self, variance: BoundVariance | None, correlation: BoundCorrelationStructure | None, prior_weights: np.ndarray,
        X: np.ndarray, Zt: sp.csc_matrix, y: np.ndarray,
    ) -> None:  # fmt: skip
        self.variance, self.correlation = variance, correlation
        self.prior_weights = prior_weights
        n_delta = 0 if variance is None else variance.n_params
        phi0 = np.atleast_1d(correlation.initial()) if correlation is not None else np.zeros(0)
        self.psi = np.concatenate([np.zeros(n_delta), phi0])
        self.weights = prior_weights.copy()
        self._X, self._y = X, y
        if correlation is not None:
            self._pattern = correlation.sparse_whitener()
            self._pattern.bind(Zt.T.tocsr())
            # (a row per whitened row: more than the observations where a grid's missing plots are integrated out)
            self.X = np.asfortranarray(np.zeros((correlation.n_whitened, X.shape[1])))
            self.y = np.zeros(correlation.n_whitened)
        self.set(self.psi)

    @property
    def Zt(self) -> sp.csc_matrix:
        """The whitened Z' (q × n, CSC): a view of the product's arrays, which are refilled in
        place (made on each call, so that an unpickled structure's view shares them too)."""
        product = self._pattern.product
        return sp.csc_matrix((product.data, product.indices, product.indptr), shape=product.shape[::-1], copy=False)

    @property
    def whitens(self) -> bool:
        return self.correlation is not None

    @property
    def n_params(self) -> int:
        return len(self.psi)

    @property
    def _n_phi(self) -> int:
        return self.correlation.n_params if self.whitens else 0

    @property
    def delta(self) -> np.ndarray:
        return self.psi[: len(self.psi) - self._n_phi]

    @property
    def phi(self) -> float | np.ndarray:
        """The correlation's parameter (an array for a spatial one: range, and the nugget)."""
        return float(self.psi[-1]) if self._n_phi == 1 else self.psi[len(self.psi) - self._n_phi :].copy()

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        n_delta = len(self.delta)
        lower, upper = np.full(n_delta, -np.inf), np.full(n_delta, np.inf)
        if self.whitens:
            low, high = self.correlation.bounds()
            lower, upper = np.append(lower, low), np.append(upper, high)
        return lower, upper

    def set(self, psi: np.ndarray) -> None:
        """ψ's values: the weights wᵢ/sᵢ(δ)², and with a correlation the whitened data refilled."""
        self.psi = np.array(psi, dtype=np.float64)
        if self.variance is not None:
            self.weights = np.ascontiguousarray(self.prior_weights / self.variance.sd(self.delta) ** 2)
        if self.whitens:
            root = np.sqrt(self.weights)
            self.X[:] = self.correlation.whiten(self.phi, self._X * root[:, None])
            self.y[:] = self.correlation.whiten(self.phi, self._y * root)
            self._pattern.fill(self.correlation.operator_values(self.phi, self._pattern), root)

    def set_response(self, y: np.ndarray) -> None:
        self._y = y
        if self.whitens:
            self.y[:] = self.correlation.whiten(self.phi, y * np.sqrt(self.weights))

    @property
    def sigma_scale(self) -> float:
        """σ over nlme's σ: the variance function's s₀(δ) (see variance), 1 without one."""
        return 1.0 if self.variance is None else self.variance.scale(self.delta)

    @property
    def jacobian(self) -> float:
        """What the core's criterion on the whitened data lacks: 2 Σ log dᵢ + log|C| (0 without
        a correlation, where the core's log|W| holds the variance function's part)."""
        return self.full_jacobian if self.whitens else 0.0

    @property
    def full_jacobian(self) -> float:
        """2 Σ log dᵢ + log|C|: what a criterion on T-transformed data with unit weights lacks."""
        log_det = self.correlation.log_det(self.phi) if self.whitens else 0.0
        return float(-np.sum(np.log(self.weights)) + log_det)

    def whiten(self, values: np.ndarray) -> np.ndarray:
        """T applied to n-row data (D⁻¹ only, without a correlation)."""
        root = np.sqrt(self.weights)
        scaled = values * (root if values.ndim == 1 else root[:, None])
        return self.correlation.whiten(self.phi, scaled) if self.whitens else scaled

    def normalize(self, residuals: np.ndarray) -> np.ndarray:
        """nlme's normalized residuals times σ: D⁻¹ r, then the inverse Cholesky factor of C."""
        scaled = residuals * np.sqrt(self.weights)
        return self.correlation.normalize(self.phi, scaled) if self.whitens else scaled

    def draw(
        self, rng: np.random.Generator, weights: np.ndarray, correlation: BoundCorrelationStructure | None
    ) -> np.ndarray:
        """Standardized errors D C^{1/2} z for observations with these weights (wᵢ/sᵢ²) and groups."""
        if correlation is None:
            z = rng.standard_normal(len(weights))
        else:
            z = correlation.color(self.phi, rng.standard_normal((correlation.n_latent, 1)))[:, 0]
        return z / np.sqrt(weights)

    def covariance(self) -> sp.csc_matrix:
        """D C D (n × n, sparse): the residual covariance over σ²."""
        d = sp.diags(1 / np.sqrt(self.weights))
        if not self.whitens:
            return (d @ d).tocsc()
        return (d @ self.correlation.matrix(self.phi) @ d).tocsc()

    def summary_lines(self) -> list[str]:
        lines = []
        if self.variance is not None:
            lines += [*self.variance.summary_lines(self.delta), ""]
        if self.whitens:
            lines += [*self.correlation.summary_lines(self.phi), ""]
        return lines

    def parameter_names(self) -> list[str]:
        names = [] if self.variance is None else self.variance.parameter_names()
        return names + (self.correlation.names if self.whitens else [])

    def estimates(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.variance is not None:
            out["variance"] = self.variance.estimates(self.delta)
        if self.whitens:
            out["correlation"] = pd.Series(dict(zip(self.correlation.names, np.atleast_1d(self.phi))))
        return out
