"""Residual variance functions (nlme's varIdent, varPower, varExp): Var(εᵢ) = σ² sᵢ(δ)² / wᵢ.

A variance function makes the residual standard deviation of observation i σ·sᵢ(δ) (times
1/√wᵢ for prior weights wᵢ). For fixed δ that is the weighted linear mixed model with weights
wᵢ/sᵢ², whose criterion already holds the Jacobian Σ log sᵢ (through log|W|): so δ joins θ in the
optimizer and each evaluation gives the core new weights (Z'WZ is updated in its fixed pattern).
Parameters are nlme's: varIdent's are log-ratios of each stratum's SD to the first stratum's
(shown as ratios, as nlme prints them), varPower's and varExp's the exponent δ.

varPower's and varExp's covariate is taken relative to a reference — its geometric mean |v|
(varPower: sᵢ = |vᵢ/v₀|^δ) or its mean, in units of its SD (varExp: sᵢ = exp(δ'(vᵢ − v₀)/sd(v)),
δ' = δ·sd(v)) — which is the same model (the factor s₀ = |v₀|^δ or exp(δv₀) moves into σ) but
keeps the weights near 1 and the optimizer's parameter independent of the covariate's units: with
v in raw units (v × 10⁶) the weights spanned tens of orders of magnitude, δ moved by 26 % and the
fit lost 1.7e-3 in log-likelihood (× 10⁸: a NumericalError). δ and σ are reported in nlme's
terms: δ = δ'/sd(v) for varExp, σ_nlme = σ / s₀.
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
        """This variance function on a data set's rows: its strata, in data order.

        Parameters
        ----------
        data : DataFrame
            The model's rows, holding the column ``by``.

        Returns
        -------
        BoundVariance
            The strata and each row's stratum.
        """
        strata = data[self.by].astype(str).to_numpy()
        levels = list(pd.unique(strata))
        if len(levels) < 2:
            raise DataError(f"varIdent: column '{self.by}' has a single level ({levels[0]!r}); it needs two or more")
        return BoundVariance(self, np.array(levels, dtype=object), pd.Index(levels).get_indexer(strata), None, 0.0)

    def describe(self) -> tuple[str, str]:
        return "Different standard deviations per stratum", f"~1 | {self.by}"


# The covariate of varPower() and varExp() without a column: the fitted values, nlme's default
# form ~fitted(.). mixedfit.nlme fills this column with each LME step's fitted values.
FITTED = "fitted(.)"


@dataclass(frozen=True)
class _CovariateVariance:
    """A variance function of one numeric column (varPower, varExp), or of the fitted values."""

    covariate: str = FITTED

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.covariate,)

    def values(self, data: pd.DataFrame) -> np.ndarray:
        """The covariate's values on the rows.

        Parameters
        ----------
        data : DataFrame
            The model's rows, holding the column ``covariate``.

        Returns
        -------
        ndarray
            One number per row (a DataError names the column if it is not numeric).
        """
        return numeric_column(self.covariate, data, f"{type(self).__name__} covariate")

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        """This variance function on a data set's rows, the covariate taken relative to its
        reference (varPower: the geometric mean of abs(v); varExp: its mean, in units of its SD).

        Parameters
        ----------
        data : DataFrame
            The model's rows, holding the column ``covariate`` (varPower: without zeros).

        Returns
        -------
        BoundVariance
        """
        return self._bound(self.values(data))


@dataclass(frozen=True)
class varPower(_CovariateVariance):
    """SD ∝ abs(v)^δ for a numeric column ``covariate`` (nlme's ``varPower(form = ~ v)``), or for
    the fitted values without one (nlme's default ``varPower()``; mixedfit.nlme only)."""

    def _bound(self, values: np.ndarray) -> BoundVariance:
        if np.any(values == 0):
            raise DataError(f"varPower: column '{self.covariate}' has a zero; |v|^δ is 0 or infinite there")
        reference = float(np.exp(np.mean(np.log(np.abs(values)))))  # the geometric mean of |v|
        return BoundVariance(self, np.array(["power"], dtype=object), None, values, reference)

    def describe(self) -> tuple[str, str]:
        return "Power of variance covariate", f"~{self.covariate}"


@dataclass(frozen=True)
class varExp(_CovariateVariance):
    """SD ∝ exp(δ v) for a numeric column ``covariate`` (nlme's ``varExp(form = ~ v)``), or for the
    fitted values without one (nlme's default ``varExp()``; mixedfit.nlme only)."""

    def _bound(self, values: np.ndarray) -> BoundVariance:
        spread = float(np.std(values)) or 1.0
        return BoundVariance(self, np.array(["expon"], dtype=object), None, values, float(np.mean(values)), spread)

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
    reference: float  # v₀: varPower's geometric mean of |v|, varExp's mean of v (0 for varIdent)
    spread: float = 1.0  # varExp: the SD of v, the unit of its internal δ' (module doc)

    @property
    def n_params(self) -> int:
        return len(self.names) - 1 if isinstance(self.function, varIdent) else 1

    def sd(self, delta: np.ndarray, data: pd.DataFrame | None = None) -> np.ndarray:
        """sᵢ(δ) relative to the reference (module doc) for the fit's observations, or for new
        data (a frame with the same columns)."""
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
            return np.abs(covariate / self.reference) ** delta[0]
        return np.exp(delta[0] * (covariate - self.reference) / self.spread)

    def scale(self, delta: np.ndarray) -> float:
        """s₀, nlme's sᵢ over ours: |v₀|^δ (varPower), exp(δ v₀) (varExp), 1 (varIdent)."""
        if isinstance(self.function, varPower):
            return float(self.reference ** delta[0])
        if isinstance(self.function, varExp):
            return float(np.exp(delta[0] * self.reference / self.spread))
        return 1.0

    def nlme_delta(self, values: np.ndarray) -> np.ndarray:
        """Values of the optimized parameter (or bounds on it) as nlme's δ: varExp's δ'/sd(v)."""
        return np.asarray(values, dtype=np.float64) / self.spread

    def estimates(self, delta: np.ndarray) -> pd.Series:
        """nlme's "Parameter estimates": varIdent's SD ratios (the reference's 1 included), or δ."""
        if isinstance(self.function, varIdent):
            return pd.Series(np.exp(np.concatenate([[0.0], delta])), index=list(self.names), name="ratio")
        return pd.Series(self.nlme_delta(delta), index=list(self.names), name="estimate")

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
