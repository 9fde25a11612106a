"""The optimizer's controls in one place: ``fit(control=...)`` with lme4's names (nloptwrap's
``optCtrl`` and lmerControl's switches), applied to every optimization a fit runs — an LMM's
BOBYQA and the convergence check's restart, a GLMM's two stages — so that a user's budget or
tolerance is never replaced by a default along the way."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .optimize import MAXEVAL, OptSummary


@dataclass(frozen=True)
class Control:
    """Optimizer controls for ``fit(control=...)``; None leaves mixedfit's (lme4's) default.

    Parameters
    ----------
    maxeval : int, optional
        Evaluations the whole fit may spend in BOBYQA (lme4's ``maxeval``/``maxfun``; default
        100,000): a GLMM's two stages and the convergence check's restart share it. Reaching it
        warns (``ConvergenceWarning``) and stops: nothing restarts past it.
    ftol_abs, xtol_abs, xtol_rel : float, optional
        BOBYQA's stopping rules (NLopt's names, as lme4's ``optCtrl``); for a GLMM they apply to
        its final stage (the first, an LMM-like start, keeps its looser tolerances).
    restart : bool, default True
        Where the gradient check fails, restart BOBYQA once from the optimum (mixedfit's
        default; lme4 only warns).
    check_conv : bool, default True
        lme4's convergence checks (derivatives at the optimum; for a GLMM also the Hessian
        behind the standard errors).
    gradient : bool, default True
        A GLMM's final stage by a quasi-Newton search (L-BFGS-B) with the Laplace deviance's
        gradient, and its Hessian from differences of that gradient, wherever the core has it
        (nAGQ = 1 and a family without a scale parameter: not Gamma or inverse Gaussian); the
        first stage is then skipped for unstructured terms. It stops on its projected gradient
        (ftol_abs and xtol_* are BOBYQA's). False: BOBYQA in both stages, as lme4.
    """

    maxeval: int | None = None
    ftol_abs: float | None = None
    xtol_abs: float | None = None
    xtol_rel: float | None = None
    restart: bool = True
    check_conv: bool = True
    gradient: bool = True

    @classmethod
    def of(cls, control: Control | Mapping[str, Any] | None) -> Control:
        """A Control from fit's argument (a Control, a dict of its fields, or None), checked."""
        if control is None:
            return cls()
        if isinstance(control, cls):
            settings = dataclasses.asdict(control)
        elif isinstance(control, Mapping):
            names = [f.name for f in dataclasses.fields(cls)]
            unknown = [key for key in control if key not in names]
            if unknown:
                raise TypeError(f"unknown control {unknown[0]!r}; controls are {', '.join(names)}")
            settings = dict(control)
        else:
            raise TypeError(f"control must be a dict or mixedfit.Control, got {type(control).__name__}")
        for name in ("restart", "check_conv", "gradient"):
            if not isinstance(settings.get(name, True), bool):
                raise TypeError(f"control {name!r} must be True or False, got {settings[name]!r}")
        maxeval = settings.get("maxeval")
        if maxeval is not None and (isinstance(maxeval, bool) or not isinstance(maxeval, (int, np.integer)) or maxeval < 1):
            raise ValueError(f"control 'maxeval' must be a positive integer, got {maxeval!r}")
        for name in ("ftol_abs", "xtol_abs", "xtol_rel"):
            value = settings.get(name)
            if value is not None and not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"control {name!r} must be a non-negative number, got {value!r}")
        return cls(**settings)

    def with_budget_of(self, summary: OptSummary) -> Control:
        """This control, with an evaluation budget set on the model's optsum before fit() (the
        old way to set it) taken where control names none.

        Parameters
        ----------
        summary : OptSummary
            The model's optimizer summary before the fit.

        Returns
        -------
        Control
        """
        if self.maxeval is None and summary.maxeval != MAXEVAL:
            return dataclasses.replace(self, maxeval=int(summary.maxeval))
        return self

    def applied(self, summary: OptSummary, spent: int = 0, tolerances: bool = True) -> OptSummary:
        """summary with these controls: the evaluations left after `spent`, and (tolerances) the
        stopping rules that are set.

        Parameters
        ----------
        summary : OptSummary
            A stage's optimizer settings.
        spent : int, default 0
            Evaluations the fit has used so far (of ``maxeval``).
        tolerances : bool, default True
            Whether the stopping rules apply to this stage (lme4 applies them to the final one).

        Returns
        -------
        OptSummary
            A copy; ``summary`` is left as it was.
        """
        changes: dict[str, Any] = {}
        if self.maxeval is not None:
            changes["maxeval"] = max(1, self.maxeval - spent)
        if tolerances:
            changes.update({name: float(value) for name in ("ftol_abs", "xtol_abs", "xtol_rel") if (value := getattr(self, name)) is not None})
        return dataclasses.replace(summary, **changes)

    def exhausted(self, spent: int) -> bool:
        """Whether the budget is spent (no restart may follow).

        Parameters
        ----------
        spent : int
            Evaluations used so far.

        Returns
        -------
        bool
        """
        return self.maxeval is not None and spent >= self.maxeval
