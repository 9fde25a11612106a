"""mixedfit: linear and generalized linear mixed models with lme4's formulas and a C++ core."""

from . import datasets, plotting
from .design.arrays import ArrayData, RandomTerm
from .errors import (
    ConvergenceWarning,
    DataError,
    FormulaError,
    MixedFitError,
    NumericalError,
    RankDeficiencyWarning,
    ResourceError,
    SingularFitWarning,
)
from .inference.anova import anova
from .inference.emmeans import emmeans
from .models import families
from .models.all_fit import all_fit
from .models.control import Control
from .models.correlation import corAR1, corCAR1, corCompSymm
from .models.glmm import GeneralizedLinearMixedModel, glmer
from .models.lmm import LinearMixedModel, lmer
from .models.separable import corAR1xAR1
from .models.spatial import corExp, corGaus, corLin, corRatio, corSpher
from .models.variance import varExp, varIdent, varPower
from .options import get_options, option_context, set_options
from .scale.many import fit_many
from .threads import get_threads, set_threads

__all__ = [
    "ArrayData",
    "ConvergenceWarning",
    "DataError",
    "FormulaError",
    "GeneralizedLinearMixedModel",
    "LinearMixedModel",
    "MixedFitError",
    "NumericalError",
    "RandomTerm",
    "RankDeficiencyWarning",
    "ResourceError",
    "SingularFitWarning",
    "anova",
    "Control",
    "all_fit",
    "corAR1",
    "corAR1xAR1",
    "corCAR1",
    "corCompSymm",
    "corExp",
    "corGaus",
    "corLin",
    "corRatio",
    "corSpher",
    "datasets",
    "emmeans",
    "fit_many",
    "families",
    "plotting",
    "get_options",
    "option_context",
    "get_threads",
    "glmer",
    "lmer",
    "set_options",
    "set_threads",
    "varExp",
    "varIdent",
    "varPower",
]
__version__ = "0.1.0"
