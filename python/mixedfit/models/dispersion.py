"""A dispersion formula for a linear mixed model (glmmTMB's ``dispformula``): the residual
variance log-linear in covariates, log σᵢ² = x_dᵢ'β_d — the formula form of a variance function.

It is a variance function (see variance) with sᵢ = exp(cᵢ'δ), cᵢ the formula's columns without
the intercept, centred (which keeps the weights near 1; the centring factor moves into σ as
varExp's reference does). β_d is reported on glmmTMB 1.1.5's scale for the Gaussian family, the
log of the variance: β_d = (2 log σ, 2δ) with σ the SD at covariates 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.frame import formula_variables
from ..design.matrices import MatrixRecipe, drop_aliased_columns, evaluate
from ..errors import DataError, FormulaError


@dataclass(frozen=True)
class DispersionFormula:
    """``dispformula``'s right-hand side, e.g. ``"~ Days"`` or ``"~ sex + age"``."""

    formula: str

    @property
    def rhs(self) -> str:
        text = self.formula.strip()
        if not text.startswith("~"):
            raise FormulaError(f"dispformula must be a one-sided formula such as '~ x', not {self.formula!r}")
        return text[1:].strip() or "1"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(sorted(formula_variables(self.rhs, "dispformula")))

    def bind(self, data: pd.DataFrame) -> BoundDispersion:
        matrix, recipe = evaluate(self.rhs, data, "dispformula")
        if "(Intercept)" not in matrix.names:
            raise FormulaError(
                f"dispformula '{self.formula}' needs an intercept (σ is its exponential): drop the '0 +' or '- 1'"
            )
        matrix, _ = drop_aliased_columns(matrix)
        keep = [j for j, name in enumerate(matrix.names) if name != "(Intercept)"]
        if not keep:
            raise FormulaError(f"dispformula '{self.formula}' has no covariate: leave it out for a constant σ")
        X = matrix.values[:, keep]
        if not np.all(np.isfinite(X)):
            raise DataError(f"dispformula '{self.formula}' has a non-finite value")
        names = [matrix.names[j] for j in keep]
        return BoundDispersion(self, names, X, X.mean(axis=0), recipe)

    def describe(self) -> tuple[str, str]:
        return "Dispersion model (log variance)", f"{self.formula}"


@dataclass(frozen=True)
class BoundDispersion:
    """A dispersion formula with the fit's data: its columns (without the intercept) and their means."""

    function: DispersionFormula
    names: list[str]
    X: np.ndarray  # n × k
    centre: np.ndarray  # the columns' means
    recipe: MatrixRecipe

    @property
    def n_params(self) -> int:
        return len(self.names)

    def sd(self, delta: np.ndarray, data: pd.DataFrame | None = None) -> np.ndarray:
        """sᵢ = exp((cᵢ − c̄)'δ) for the fit's observations, or for new data."""
        X = self.X if data is None else self.recipe.evaluate(data, self.names)
        return np.exp((X - self.centre) @ np.asarray(delta, dtype=np.float64))

    def scale(self, delta: np.ndarray) -> float:
        """The core's σ (the SD at the covariates' means) over the SD at covariates 0: exp(c̄'δ)
        (σ reported = σ / scale, as for varExp)."""
        return float(np.exp(self.centre @ np.asarray(delta, dtype=np.float64)))

    def nlme_delta(self, values: np.ndarray) -> np.ndarray:
        """δ (or bounds on it) on the log-variance scale of fixef_disp: 2δ."""
        return 2 * np.asarray(values, dtype=np.float64)

    def estimates(self, delta: np.ndarray) -> pd.Series:
        return pd.Series(self.nlme_delta(delta), index=self.names, name="estimate")

    def parameter_names(self) -> list[str]:
        return list(self.names)

    def summary_lines(self, delta: np.ndarray) -> list[str]:
        estimates = self.estimates(delta)
        width = max(10, *(len(str(n)) for n in estimates.index))
        return [
            f"Dispersion model: {self.function.formula} (log variance; the intercept is 2 log σ)",
            " ".join(f"{str(n):>{width}}" for n in estimates.index),
            " ".join(f"{v:>{width}.6g}" for v in estimates),
        ]
