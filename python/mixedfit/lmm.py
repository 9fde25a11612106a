"""Linear mixed models: lme4's lmer."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._native import _core
from .design import numeric_column
from .errors import DataError
from .frame import formula_variables
from .model import MixedModel
from .optimize import bobyqa


class LinearMixedModel(MixedModel):
    """y | u ~ N(Xβ + Zu + offset, σ²W⁻¹), u ~ N(0, σ²ΛΛ'), fitted by REML or ML as lme4's lmer."""

    def __init__(
        self, formula: str, data: Any, REML: bool = True, weights: Any = None, offset: Any = None
    ) -> None:
        super().__init__(formula, data, weights, offset)
        self.REML = bool(REML)
        d = self.design
        self._response = numeric_column(self.parsed.response, self.frame.data, "response")
        n, p = d.fixed.X.shape
        if n <= p:
            raise DataError(
                f"{n} observations for {p} fixed effects ({', '.join(d.fixed.names)}): a linear mixed model "
                "needs more observations than fixed effects to estimate the residual variance"
            )
        self._weights = np.ones(n) if self.frame.weights is None else np.ascontiguousarray(self.frame.weights)
        self._y_minus_offset = np.ascontiguousarray(self._response - d.offset)
        self._core = _core.LinearMixedModel(
            d.fixed.X, d.Zt, d.Lambdat, d.Lind, d.term_shapes, self._y_minus_offset, self._weights
        )

    def _response_variables(self) -> set[str]:
        return formula_variables(self.parsed.response, "response")

    def objective_at(self, theta: np.ndarray) -> float:
        """The REML criterion (or ML deviance) at θ, β and σ profiled out."""
        return self._core.objective(np.ascontiguousarray(theta, dtype=np.float64), self.REML)

    def fit(self) -> LinearMixedModel:
        start = time.perf_counter()
        theta = bobyqa(lambda th: self._core.objective(th, self.REML), self.optsum)
        self.optsum.seconds = time.perf_counter() - start
        self._set_estimates(theta)
        self._warn_if_singular()
        return self

    def _set_estimates(self, theta: np.ndarray) -> None:
        self._objective = self.objective_at(theta)
        self._theta = np.array(theta, dtype=np.float64)
        core = self._core
        self._beta = np.array(core.beta)
        self._b = np.array(core.b)
        self._sigma = core.sigma(self.REML)
        RX_inv = np.linalg.inv(core.RX)  # p × p upper triangular (scipy's solver costs ms here)
        self._vcov = self._sigma**2 * RX_inv @ RX_inv.T
        self._loglik = -0.5 * self._objective
        self._deviance = core.deviance_ml()
        d = self.design
        self._fitted_values = d.fixed.X @ self._beta + d.Zt.T @ self._b + d.offset
        self._fitted = True

    @property
    def deviance(self) -> float:
        """−2 log-likelihood at the estimates (for a REML fit: lme4's deviance(m, REML=FALSE))."""
        self._require_fit()
        return self._deviance

    def residuals(self, type: str = "response") -> np.ndarray:
        """Residuals y − fitted ('response', 'working') or scaled by the square roots of the prior
        weights ('pearson', 'deviance'), as lme4's residuals() for lmer fits."""
        self._require_fit()
        raw = self._response - self._fitted_values
        if type in ("response", "working"):
            return raw
        if type in ("pearson", "deviance"):
            return raw * np.sqrt(self._weights)
        raise ValueError(f"residual type must be 'response', 'pearson', 'deviance' or 'working', not {type!r}")

    def summary(self) -> str:
        self._require_fit()
        method = "REML" if self.REML else "maximum likelihood"
        coefs = self.fixef.to_frame()
        coefs["Std. Error"] = self.stderr
        coefs["t value"] = coefs["Estimate"] / coefs["Std. Error"]
        scaled = self.residuals("pearson") / self._sigma
        parts = [
            f"Linear mixed model fit by {method}",
            f"Formula: {self.formula}",
            "",
            (
                f"REML criterion at convergence: {self._objective:.4f}"
                if self.REML
                else f"{'AIC':>10} {'BIC':>10} {'logLik':>10} {'deviance':>10}\n"
                f"{self.aic:10.1f} {self.bic:10.1f} {self.loglik:10.1f} {self._deviance:10.1f}"
            ),
            "",
        ]
        return "\n".join(parts + self._summary_body(scaled, coefs))


def lmer(formula: str, data: Any, REML: bool = True, weights: Any = None, offset: Any = None) -> LinearMixedModel:
    """Fit a linear mixed model given in lme4's formula syntax, as lme4's lmer.

    weights and offset are column names or one value per row of data.
    """
    return LinearMixedModel(formula, data, REML=REML, weights=weights, offset=offset).fit()
