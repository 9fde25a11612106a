"""What linear and generalized linear mixed models share: building the design from a formula
and data, and the accessors of a fitted model (lme4's names)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .design import Design, build_design
from .errors import SingularFitWarning
from .formula import ParsedFormula, parse_formula
from .frame import ModelFrame, model_frame
from .optimize import OptSummary
from .results import (
    format_coefficients,
    format_correlation,
    format_varcorr,
    ranef_tables,
    residual_quantiles,
    varcorr_table,
)

SINGULAR_TOLERANCE = 1e-4  # lme4's isSingular tolerance on θ components bounded at zero


class MixedModel:
    """Base class: holds the parsed formula, model frame, design and the fitted quantities."""

    _has_residual = True

    def __init__(self, formula: str, data: Any, weights: Any = None, offset: Any = None) -> None:
        self.formula = formula
        self.parsed: ParsedFormula = parse_formula(formula)
        self.frame: ModelFrame = model_frame(self.parsed, data, self._response_variables(), weights, offset)
        self.design: Design = build_design(self.parsed, self.frame.data, self.frame.offset, self._has_residual)
        self.optsum = OptSummary(initial=self._initial(), lower=self._lower())
        self._fitted = False

    # Subclasses say which variables the response uses and how θ (and β) start.
    def _response_variables(self) -> set[str]:
        raise NotImplementedError

    def _initial(self) -> np.ndarray:
        return self.design.theta0.copy()

    def _lower(self) -> np.ndarray:
        return self.design.lower.copy()

    def _require_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call .fit() first")

    # Quantities set by a subclass's fit().
    _theta: np.ndarray
    _beta: np.ndarray
    _b: np.ndarray
    _sigma: float
    _vcov: np.ndarray
    _loglik: float
    _objective: float
    _fitted_values: np.ndarray
    _response: np.ndarray

    @property
    def nobs(self) -> int:
        return len(self.frame.data)

    @property
    def theta(self) -> np.ndarray:
        self._require_fit()
        return self._theta.copy()

    @property
    def fixef(self) -> pd.Series:
        self._require_fit()
        return pd.Series(self._beta, index=self.design.fixed.names, name="Estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        self._require_fit()
        names = self.design.fixed.names
        return pd.DataFrame(self._vcov, index=names, columns=names)

    @property
    def stderr(self) -> pd.Series:
        self._require_fit()
        return pd.Series(np.sqrt(np.diag(self._vcov)), index=self.design.fixed.names, name="Std. Error")

    @property
    def sigma(self) -> float:
        self._require_fit()
        return self._sigma

    @property
    def objective(self) -> float:
        """The criterion the fit minimized: the REML criterion of a REML fit, else −2 log L
        (for GLMMs the Laplace or adaptive Gauss–Hermite approximation)."""
        self._require_fit()
        return self._objective

    @property
    def loglik(self) -> float:
        self._require_fit()
        return self._loglik

    @property
    def dof(self) -> int:
        """Number of parameters: fixed effects, θ, and the scale if the family has one."""
        return len(self._beta) + len(self._theta) + int(self._has_residual)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.dof

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.dof * np.log(self.nobs)

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        self._require_fit()
        return ranef_tables(self.design, self._b)

    @property
    def VarCorr(self) -> pd.DataFrame:
        self._require_fit()
        return varcorr_table(self.design, self._theta, self._sigma, self._has_residual)

    @property
    def fitted(self) -> np.ndarray:
        self._require_fit()
        return self._fitted_values.copy()

    def residuals(self, type: str = "response") -> np.ndarray:
        """Residuals of the given type (as lme4's residuals()); subclasses say which types exist."""
        raise NotImplementedError

    def is_singular(self, tol: float = SINGULAR_TOLERANCE) -> bool:
        """True when some θ component bounded at zero is within tol of it (lme4's isSingular)."""
        self._require_fit()
        bounded = self.design.lower == 0
        return bool(np.any(self._theta[bounded] < tol))

    def _warn_if_singular(self) -> None:
        if self.is_singular():
            warnings.warn(
                "boundary (singular) fit: a variance component is (nearly) zero or a correlation is ±1; "
                "see mixedfit's is_singular()",
                SingularFitWarning,
                stacklevel=3,
            )

    def _groups_line(self) -> str:
        groups = {t.name: t.n_levels for t in self.design.terms}
        return f"Number of obs: {self.nobs}, groups:  " + "; ".join(f"{g}, {n}" for g, n in groups.items())

    def _dropped_line(self) -> str:
        n = self.frame.n_dropped
        return f"({n} observation{'s' if n != 1 else ''} deleted due to missingness)\n" if n else ""

    def _summary_body(self, scaled_residuals: np.ndarray, coefficients: pd.DataFrame) -> list[str]:
        """The part of summary() both model kinds share: residuals, random and fixed effects."""
        parts = [
            "Scaled residuals:",
            residual_quantiles(scaled_residuals),
            "",
            "Random effects:",
            format_varcorr(self.VarCorr),
            self._dropped_line() + self._groups_line(),
            "",
            "Fixed effects:",
            format_coefficients(coefficients),
        ]
        if len(self._beta) > 1:
            parts += ["", "Correlation of Fixed Effects:", format_correlation(self.vcov)]
        return parts

    def __repr__(self) -> str:
        if not self._fitted:
            return f"{type(self).__name__}('{self.formula}', not fitted)"
        return self.summary()

    def summary(self) -> str:
        raise NotImplementedError
