"""mixedfit: linear and generalized linear mixed models with lme4's formulas and a C++ core.

The public names below are imported when first used (PEP 562), not with the package: the
modelling code needs pandas, formulaic and scipy.sparse (0.5 s together), which a process that
only imports mixedfit — a command-line tool, a library probing its backends, a worker process —
should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from .options import get_options, option_context, set_options
from .threads import get_threads, set_threads

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from . import datasets, plotting
    from .design.arrays import ArrayData, RandomTerm
    from .inference.anova import anova
    from .inference.collinearity import check_collinearity
    from .inference.emmeans import emmeans
    from .models import families
    from .models.all_fit import all_fit
    from .models.control import Control
    from .models.correlation import corAR1, corCAR1, corCompSymm
    from .models.glmm import GeneralizedLinearMixedModel, glmer
    from .models.lmm import LinearMixedModel, lmer
    from .models.ordinal import CumulativeLinkMixedModel, clmm
    from .models.separable import corAR1xAR1
    from .models.spatial import corExp, corGaus, corLin, corRatio, corSpher
    from .model_check import check_model
    from .models.variance import varExp, varIdent, varPower
    from .nonlinear.model import NonlinearMixedModel, nlme, nlmer
    from .scale.many import fit_many

# The public modules and the public names with the module that defines each, imported on first use.
_LAZY_MODULES = {"datasets": "datasets", "plotting": "plotting", "families": "models.families"}
_LAZY_NAMES = {
    "ArrayData": "design.arrays",
    "RandomTerm": "design.arrays",
    "anova": "inference.anova",
    "check_collinearity": "inference.collinearity",
    "check_model": "model_check",
    "emmeans": "inference.emmeans",
    "all_fit": "models.all_fit",
    "Control": "models.control",
    "corAR1": "models.correlation",
    "corCAR1": "models.correlation",
    "corCompSymm": "models.correlation",
    "GeneralizedLinearMixedModel": "models.glmm",
    "glmer": "models.glmm",
    "LinearMixedModel": "models.lmm",
    "lmer": "models.lmm",
    "CumulativeLinkMixedModel": "models.ordinal",
    "clmm": "models.ordinal",
    "corAR1xAR1": "models.separable",
    "corExp": "models.spatial",
    "corGaus": "models.spatial",
    "corLin": "models.spatial",
    "corRatio": "models.spatial",
    "corSpher": "models.spatial",
    "varExp": "models.variance",
    "varIdent": "models.variance",
    "varPower": "models.variance",
    "NonlinearMixedModel": "nonlinear.model",
    "nlme": "nonlinear.model",
    "nlmer": "nonlinear.model",
    "fit_many": "scale.many",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        value = importlib.import_module(f".{_LAZY_MODULES[name]}", __name__)
    elif name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later uses are plain attribute lookups
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ArrayData",
    "ConvergenceWarning",
    "CumulativeLinkMixedModel",
    "DataError",
    "FormulaError",
    "GeneralizedLinearMixedModel",
    "LinearMixedModel",
    "MixedFitError",
    "NonlinearMixedModel",
    "NumericalError",
    "RandomTerm",
    "RankDeficiencyWarning",
    "ResourceError",
    "SingularFitWarning",
    "anova",
    "Control",
    "all_fit",
    "check_collinearity",
    "check_model",
    "clmm",
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
    "nlme",
    "nlmer",
    "set_options",
    "set_threads",
    "varExp",
    "varIdent",
    "varPower",
]
__version__ = "0.1.0"
