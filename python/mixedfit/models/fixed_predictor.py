"""A second linear predictor of fixed effects beside the conditional model's: glmmTMB's zero model
(the log-odds of a structural zero) and dispersion model (the log of the family's parameter).
Each is its formula's fixed-effects design; the core takes its values per observation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.matrices import FixedEffects


@dataclass(frozen=True)
class FixedPredictor:
    """X β for a one-sided formula's fixed effects."""

    formula: str
    fixed: FixedEffects

    @property
    def names(self) -> list[str]:
        return self.fixed.names

    @property
    def p(self) -> int:
        return len(self.fixed.names)

    def values(self, beta: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """X β at each row of X (default: the fit's rows), contiguous for the core."""
        return np.ascontiguousarray((self.fixed.X if X is None else X) @ beta, dtype=np.float64)

    def matrix_on(self, newdata: pd.DataFrame) -> np.ndarray:
        """The design on new data (its columns as at the fit)."""
        return self.fixed.recipe.evaluate(newdata, self.names)

    def constant(self, value: float) -> np.ndarray:
        """The coefficients that give every row this value: the least-squares coefficients of a
        constant column (the intercept's, the others 0, where there is an intercept)."""
        coefficients, *_ = np.linalg.lstsq(self.fixed.X, np.full(len(self.fixed.X), value), rcond=None)
        return coefficients
