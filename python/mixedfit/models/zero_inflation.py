"""Zero-inflation and hurdles (glmmTMB's ``ziformula``): a second linear predictor, fixed effects
only, for the log-odds π/(1 − π) that an observation is a structural zero. With a count family
the model is zero-inflated (a zero comes from the point mass or from the counts); with a
zero-truncated family it is a hurdle model (every zero is the point mass's). The core mixes the
densities per observation (cpp/densities.cpp); this module builds the zero model's design,
starts its coefficients and turns them into probabilities and moments.
"""

from __future__ import annotations

import numpy as np

from .._lazy import special
from ..design.frame import ModelFrame, formula_variables
from ..design.matrices import fixed_effects_matrix
from ..errors import FormulaError
from .families import Family
from .fixed_predictor import FixedPredictor

# The families a zero model serves: glmmTMB's counts and binomial successes (zero-inflated) and
# zero-truncated counts (hurdles).
ZERO_INFLATABLE = (
    "poisson", "negative_binomial", "nbinom1", "genpois", "binomial", "truncated_poisson", "truncated_nbinom1",
    "truncated_nbinom2",
)  # fmt: skip


def zero_formula_rhs(ziformula: str | None, argument: str = "ziformula") -> str | None:
    """The right-hand side of a one-sided ziformula ('~ x' → 'x'); None for none ('~0', '~ 0').
    argument: the formula's name in messages (glmer's dispformula is parsed the same way)."""
    if ziformula is None:
        return None
    if not isinstance(ziformula, str):
        raise TypeError(f"{argument} must be a one-sided formula string such as '~ x', got {type(ziformula).__name__}")
    text = ziformula.strip()
    if not text.startswith("~"):
        raise FormulaError(f"{argument} '{ziformula}' must be one-sided, such as '~ 1' or '~ x' (no response)")
    rhs = text[1:].strip()
    if rhs in ("0", "-1", "0 + 1", ""):
        return None
    if "|" in rhs:
        raise FormulaError(
            f"{argument} '{ziformula}' has a random-effects term: it takes fixed effects only here "
            f"(glmmTMB's random effects in {argument} are not available yet)"
        )
    return rhs


def zero_variables(ziformula: str | None) -> set[str]:
    rhs = zero_formula_rhs(ziformula)
    return set() if rhs is None else formula_variables(rhs, "ziformula")


class ZeroModel(FixedPredictor):
    """The zero model's fixed-effects design: logit P(structural zero) = X β_zi (its values)."""

    def start(self, y: np.ndarray, family: Family) -> np.ndarray:
        """β_zi to start from: the intercept (or every coefficient, through a constant logit) at
        the share of zeros — all of a hurdle's zeros are structural, and half of them is a start
        for a zero-inflated count — the other coefficients 0."""
        share = float(np.mean(y == 0))
        share = share if family.zero_truncated else share / 2
        return self.constant(float(special().logit(np.clip(share, 0.01, 0.99))))


def zero_model(ziformula: str | None, frame: ModelFrame, family: Family) -> ZeroModel | None:
    rhs = zero_formula_rhs(ziformula)
    if rhs is None:
        return None
    if family.name not in ZERO_INFLATABLE:
        raise ValueError(
            f"ziformula needs a count or binomial family ({', '.join(ZERO_INFLATABLE)}); the {family.name} family has "
            "no zeros to inflate"
        )
    return ZeroModel(str(ziformula), fixed_effects_matrix(rhs, frame))


def zero_probability(logits: np.ndarray) -> np.ndarray:
    return special().expit(logits)


def mixture_moments(mean: np.ndarray, variance: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of y when it is 0 with probability π and else has the conditional mean
    and variance given: (1 − π) m and (1 − π) v + π (1 − π) m² (glmmTMB's Pearson residuals)."""
    return (1 - pi) * mean, (1 - pi) * variance + pi * (1 - pi) * mean**2
