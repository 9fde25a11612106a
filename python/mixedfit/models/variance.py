"""Residual variance functions (nlme's varIdent, varPower, varExp): Var(εᵢ) = σ² sᵢ(δ)² / wᵢ.

A variance function makes the residual standard deviation of observation i σ·sᵢ(δ) (times
1/√wᵢ for prior weights wᵢ). For fixed δ that is the weighted linear mixed model with weights
wᵢ/sᵢ², whose criterion already holds the Jacobian Σ log sᵢ (through log|W|): so δ joins θ in the
optimizer and each evaluation gives the core new weights (Z'WZ is updated in its fixed pattern).
Parameters are nlme's: varIdent's are log-ratios of each stratum's SD to the first stratum's
(shown as ratios, as nlme prints them), varPower's and varExp's the exponent δ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design.matrices import numeric_column
from ..errors import DataError


@dataclass(frozen=True)
class varIdent:
    """A residual SD per level of the column ``by`` (nlme's ``varIdent(form = ~ 1 | by)``): the
    first level (in data order) is the reference; the others' SDs are estimated as ratios to it."""

    by: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.by,)

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        strata = data[self.by].astype(str).to_numpy()
        levels = list(pd.unique(strata))
        if len(levels) < 2:
            raise DataError(f"varIdent: column '{self.by}' has a single level ({levels[0]!r}); it needs two or more")
        return BoundVariance(self, np.array(levels, dtype=object), pd.Index(levels).get_indexer(strata), None)

    def describe(self) -> tuple[str, str]:
        return "Different standard deviations per stratum", f"~1 | {self.by}"


@dataclass(frozen=True)
class _CovariateVariance:
    """A variance function of one numeric column (varPower, varExp)."""

    covariate: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.covariate,)

    def values(self, data: pd.DataFrame) -> np.ndarray:
        return numeric_column(self.covariate, data, f"{type(self).__name__} covariate")


@dataclass(frozen=True)
class varPower(_CovariateVariance):
    """SD ∝ abs(v)^δ for a numeric column ``covariate`` (nlme's ``varPower(form = ~ v)``)."""

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        values = self.values(data)
        if np.any(values == 0):
            raise DataError(f"varPower: column '{self.covariate}' has a zero; |v|^δ is 0 or infinite there")
        return BoundVariance(self, np.array(["power"], dtype=object), None, values)

    def describe(self) -> tuple[str, str]:
        return "Power of variance covariate", f"~{self.covariate}"


@dataclass(frozen=True)
class varExp(_CovariateVariance):
    """SD ∝ exp(δ v) for a numeric column ``covariate`` (nlme's ``varExp(form = ~ v)``)."""

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        return BoundVariance(self, np.array(["expon"], dtype=object), None, self.values(data))

    def describe(self) -> tuple[str, str]:
        return "Exponential of variance covariate", f"~{self.covariate}"


VARIANCE_FUNCTIONS = (varIdent, varPower, varExp)


@dataclass(frozen=True)
class BoundVariance:
    """A variance function with the fit's data: its strata (varIdent) or covariate values."""

    function: Any
    names: np.ndarray  # varIdent: every stratum (the first is the reference); else the parameter
    strata: np.ndarray | None  # each observation's stratum (varIdent)
    covariate: np.ndarray | None  # each observation's covariate value (varPower, varExp)

    @property
    def n_params(self) -> int:
        return len(self.names) - 1 if isinstance(self.function, varIdent) else 1

    def sd(self, delta: np.ndarray, data: pd.DataFrame | None = None) -> np.ndarray:
        """sᵢ(δ) for the fit's observations, or for new data (a frame with the same columns)."""
        strata, covariate = self.strata, self.covariate
        if data is not None:
            missing = [c for c in self.function.columns if c not in data.columns]
            if missing:
                raise DataError(f"the variance function needs column '{missing[0]}' in the new data")
            if isinstance(self.function, varIdent):
                strata = pd.Index(self.names).get_indexer(data[self.function.by].astype(str).to_numpy())
                if np.any(strata < 0):
                    raise DataError(f"varIdent: the new data have a level of '{self.function.by}' the fit did not")
            else:
                covariate = self.function.values(data)
        if isinstance(self.function, varIdent):
            return np.exp(np.concatenate([[0.0], delta]))[strata]
        if isinstance(self.function, varPower):
            return np.abs(covariate) ** delta[0]
        return np.exp(delta[0] * covariate)

    def estimates(self, delta: np.ndarray) -> pd.Series:
        """nlme's "Parameter estimates": varIdent's SD ratios (the reference's 1 included), or δ."""
        if isinstance(self.function, varIdent):
            return pd.Series(np.exp(np.concatenate([[0.0], delta])), index=list(self.names), name="ratio")
        return pd.Series(delta, index=list(self.names), name="estimate")

    def parameter_names(self) -> list[str]:
        """Names of the optimized parameters (varIdent's log-ratios are named by stratum)."""
        if isinstance(self.function, varIdent):
            return [f"log({level}/{self.names[0]})" for level in self.names[1:]]
        return list(self.names)

    def summary_lines(self, delta: np.ndarray) -> list[str]:
        structure, formula = self.function.describe()
        estimates = self.estimates(delta)
        width = max(10, *(len(str(n)) for n in estimates.index))
        header = " ".join(f"{str(n):>{width}}" for n in estimates.index)
        values = " ".join(f"{v:>{width}.6g}" for v in estimates)
        return ["Variance function:", f" Structure: {structure}", f" Formula: {formula}", " Parameter estimates:", header, values]
