"""A GLMM's dispersion model (glmmTMB's ``dispformula``): the family's own parameter log-linear in
covariates, log φᵢ = x_dᵢ'β_d — NB2's shape θ, NB1's, genpois's and the Tweedie's dispersion φ,
the beta's and beta-binomial's precision φ, the lognormal's standard deviation, the Student t's
scale σ, each as glmmTMB parametrizes it (its ``fixef(m)$disp``). The core takes each
observation's log φ (``set_dispersion``) and gives the Laplace gradient in it; this module builds
the design, starts its coefficients and evaluates it on new data.
"""

from __future__ import annotations

from ..design.frame import ModelFrame, formula_variables
from ..design.matrices import fixed_effects_matrix
from ..errors import FormulaError
from .families import Family
from .fixed_predictor import FixedPredictor
from .zero_inflation import zero_formula_rhs


def dispersion_rhs(dispformula: str | None) -> str | None:
    """The right-hand side of a one-sided dispformula, or None for the family's constant parameter
    (glmmTMB's default ``~ 1``)."""
    rhs = zero_formula_rhs(dispformula, "dispformula")
    if rhs is None and dispformula is not None and dispformula.strip()[1:].strip() != "":
        raise FormulaError(
            f"dispformula '{dispformula}' has no intercept: fix the family's parameter with mixedfit.families "
            "(e.g. families.negative_binomial(theta=2)) instead"
        )
    return None if rhs in (None, "1") else rhs


def dispersion_variables(dispformula: str | None) -> set[str]:
    rhs = dispersion_rhs(dispformula)
    return set() if rhs is None else formula_variables(rhs, "dispformula")


class FamilyDispersion(FixedPredictor):
    """The dispersion model's fixed-effects design: log φ = X β_d (its values)."""


def family_dispersion(dispformula: str | None, frame: ModelFrame, family: Family) -> FamilyDispersion | None:
    rhs = dispersion_rhs(dispformula)
    if rhs is None:
        return None
    if not family.has_shape or family.name == "ordinal":
        raise ValueError(
            f"dispformula models a family's own parameter (negative_binomial's θ, beta's φ, ...); the {family.name} "
            "family has none"
        )
    if family.theta is not None:
        raise ValueError(f"dispformula models the {family.name} family's {family.parameter_name}: do not also fix it")
    fixed = fixed_effects_matrix(rhs, frame)
    if "(Intercept)" not in fixed.names:
        raise FormulaError(f"dispformula '{dispformula}' needs an intercept (φ is its exponential)")
    return FamilyDispersion(str(dispformula), fixed)
