"""mixedfit: linear and generalized linear mixed models with lme4's formulas and a C++ core."""

from . import datasets
from .errors import (
    ConvergenceWarning,
    DataError,
    FormulaError,
    MixedFitError,
    NumericalError,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from .lmm import LinearMixedModel, lmer

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "FormulaError",
    "LinearMixedModel",
    "MixedFitError",
    "NumericalError",
    "RankDeficiencyWarning",
    "SingularFitWarning",
    "datasets",
    "lmer",
]
__version__ = "0.1.0"
