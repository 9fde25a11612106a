"""The derivative-free optimizer driver (BOBYQA, as lme4's default nloptwrap; the core's own
implementation of Powell's method, with NLopt's conventions) and the record of how a fit was
obtained, as MixedModels.jl's OptSummary."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._lazy import optimize
from .._native import _core
from ..errors import ConvergenceWarning, warn

# lme4's nloptwrap defaults.
FTOL_ABS = 1e-8
XTOL_ABS = 1e-8
MAXEVAL = 100_000
# What lmer's fits also stop on: nloptr's default xtol_rel, which nloptwrap leaves in place (ρ ends
# at 1e-4 of its start unless xtol_abs is larger; NLopt's XTOL_REACHED in lme4's optinfo). With it
# the core's BOBYQA takes lme4's number of evaluations (star 45, InstEval 68); OptSummary's
# default is NLopt's own 0 (ρ ends at xtol_abs), for every other optimization.
LMER_XTOL_REL = 1e-4

# NLopt's result codes, which the core's BOBYQA returns (lme4 reports the same names).
SUCCESS, FTOL_REACHED, XTOL_REACHED, MAXEVAL_REACHED, ROUNDOFF_LIMITED = 1, 3, 4, 5, -4
NUMERICAL_FAILURE = -100  # the core's refits: the criterion failed (bootstrap.hpp's kNumericalFailure)
_RETURN_CODES = {
    SUCCESS: "SUCCESS",
    FTOL_REACHED: "FTOL_REACHED",
    XTOL_REACHED: "XTOL_REACHED",
    MAXEVAL_REACHED: "MAXEVAL_REACHED",
    ROUNDOFF_LIMITED: "ROUNDOFF_LIMITED",
}


def converged_code(code: int | np.ndarray) -> bool | np.ndarray:
    """Whether the optimizer stopped on a tolerance (not on its evaluation budget or an error)."""
    return (np.asarray(code) > 0) & (np.asarray(code) != MAXEVAL_REACHED)


@dataclass
class OptSummary:
    """How a fit was obtained."""

    initial: np.ndarray
    lower: np.ndarray
    optimizer: str = "LN_BOBYQA"
    ftol_abs: float = FTOL_ABS
    xtol_abs: float = XTOL_ABS
    maxeval: int = MAXEVAL
    xtol_rel: float = 0.0
    initial_step: np.ndarray | None = None  # None: NLopt's heuristic
    upper: np.ndarray | None = None  # None: unbounded above
    quiet: bool = False  # no ConvergenceWarning (refits in worker threads count them instead)
    verbose: bool = False  # print every evaluation (as lme4's verbose = 1) to standard error
    trace: list | None = None  # a list to receive every evaluation's (x, objective), or None
    final: np.ndarray = field(default_factory=lambda: np.empty(0))
    fmin: float = np.nan
    feval: int = 0
    return_code: str = ""
    seconds: float = 0.0
    # The factorization of Λ'Z'WZΛ + I the core chose at the first θ, and the costs it weighed
    # (flops, Schur updates and predicted seconds per factorization of each candidate).
    factorization: str = ""
    factorization_costs: dict = field(default_factory=dict)
    # Whether final came from the convergence check's Newton step after BOBYQA's stop (its
    # evaluation is not counted in feval, as the check's are not).
    newton_step: bool = False

    def __str__(self) -> str:
        text = (
            f"Optimizer {self.optimizer}: {self.feval} evaluations, {self.return_code}\n"
            f"  initial {np.array2string(self.initial, precision=6)}\n"
            f"  final   {np.array2string(self.final, precision=6)}, objective {self.fmin:.6f}"
        )
        if self.newton_step:
            text += " (after a Newton step from the convergence check's derivatives)"
        if self.factorization == "grouped":
            costs = self.factorization_costs
            text += (
                f"\n  factorization grouped ({costs.get('grouped_groups', 0):.0f} groups of the first term's levels: "
                f"{costs.get('grouped_work', 0):.3g} multiply-adds per θ against the blocked factorization's "
                f"{costs.get('grouped_replaced', 0):.3g})"
            )
        elif self.factorization:
            costs = self.factorization_costs
            predicted = {
                "blocked": "blocked_seconds",
                "blocked with a sparse Schur complement": "blocked_sparse_seconds",
                "sparse": "sparse_seconds",
            }
            text += f"\n  factorization {self.factorization} (predicted per factorization: " + ", ".join(
                f"{label} {costs.get(key, np.inf) * 1e3:.3g} ms" for label, key in predicted.items()
            ) + ")"
        return text


def check_settings(summary: OptSummary) -> None:
    """Refuse what the optimizer cannot start from, naming the setting: finite starting values
    within the bounds, bounds that are not NaN, positive finite steps."""
    n = len(summary.initial)
    arrays = {"initial": summary.initial, "lower": summary.lower}
    if summary.upper is not None:
        arrays["upper"] = summary.upper
    if summary.initial_step is not None:
        arrays["initial_step"] = summary.initial_step
    for name, values in arrays.items():
        values = np.asarray(values)
        if values.shape != (n,) or not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"optsum.{name} must be {n} numbers, got {values!r}")
        if np.isnan(values).any():
            raise ValueError(f"optsum.{name} has a NaN at position {int(np.flatnonzero(np.isnan(values))[0])}")
    x0 = np.asarray(summary.initial, dtype=np.float64)
    if not np.all(np.isfinite(x0)):
        raise ValueError(f"optsum.initial must be finite, got {x0}")
    upper = np.full(n, np.inf) if summary.upper is None else np.asarray(summary.upper, dtype=np.float64)
    outside = (x0 < summary.lower) | (x0 > upper)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ValueError(f"optsum.initial[{k}] = {x0[k]} is outside its bounds [{summary.lower[k]}, {upper[k]}]")
    if summary.initial_step is not None and not np.all(
        np.isfinite(summary.initial_step) & (np.asarray(summary.initial_step) > 0)
    ):
        raise ValueError(f"optsum.initial_step must be positive and finite, got {summary.initial_step}")
    for name in ("ftol_abs", "xtol_abs", "xtol_rel"):
        value = getattr(summary, name)
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value >= 0):
            raise ValueError(f"optsum.{name} must be a non-negative number, got {value!r}")
    if isinstance(summary.maxeval, bool) or not isinstance(summary.maxeval, (int, np.integer)) or summary.maxeval < 1:
        raise ValueError(f"optsum.maxeval must be a positive integer, got {summary.maxeval!r}")


def bobyqa(objective: Callable[[np.ndarray], float], summary: OptSummary) -> np.ndarray:
    """Minimize objective within summary's bounds from its initial point; fills in the summary.
    The objective's exceptions propagate."""
    count = [0]

    def f(x: np.ndarray) -> float:
        count[0] += 1
        value = objective(x)
        if summary.verbose:
            print(f"evaluation {count[0]:4d}: objective {value:.8g} at {np.array2string(x, precision=6)}", file=sys.stderr)
        if summary.trace is not None:
            summary.trace.append((np.array(x), value))
        return value

    return bobyqa_in_core(lambda x0, settings: _core.bobyqa(f, x0, settings), summary)


def bobyqa_settings(summary: OptSummary) -> Any:
    """The core's BobyqaSettings from a summary's bounds, initial steps and stopping rules."""
    n = len(summary.initial)
    return _core.BobyqaSettings(
        np.asarray(summary.lower, dtype=np.float64),
        np.full(n, np.inf) if summary.upper is None else np.asarray(summary.upper, dtype=np.float64),
        np.empty(0) if summary.initial_step is None else np.asarray(summary.initial_step, dtype=np.float64),
        float(summary.ftol_abs), float(summary.xtol_abs), int(summary.maxeval), float(summary.xtol_rel),
    )  # fmt: skip


def bobyqa_in_core(minimize: Callable, summary: OptSummary) -> np.ndarray:
    """As bobyqa, with minimize(x0, settings) running the whole loop in the core (a compiled
    model's optimize: no Python between evaluations)."""
    check_settings(summary)
    result = minimize(np.array(summary.initial, dtype=np.float64), bobyqa_settings(summary))
    summary.final = np.array(result.x)
    summary.fmin = result.fmin
    summary.feval = result.evaluations
    summary.return_code = _RETURN_CODES.get(result.code, str(result.code))
    if result.code == MAXEVAL_REACHED and not summary.quiet:
        warn(
            f"optimizer stopped after {summary.feval} evaluations without converging ({summary.return_code})",
            ConvergenceWarning,
        )
    return summary.final


# The quasi-Newton search's stopping rules, in the coordinates scaled by the initial steps (one
# unit ≈ half a standard error): a projected gradient this small moves the deviance by less than
# ~1e-10 over the last step; the relative decrease rule is effectively off (the deviance's
# rounding, ~1e-12 relative, stops it first).
QUASI_NEWTON_GTOL = 1e-4
QUASI_NEWTON_FTOL = 1e-12


def quasi_newton(objective_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]], summary: OptSummary) -> np.ndarray:
    """Minimize within summary's bounds by L-BFGS-B (scipy) with the objective's gradient, in
    coordinates scaled by summary.initial_step (each parameter on the scale of its uncertainty, as
    BOBYQA's steps put it: the quasi-Newton updates then start from a well-conditioned problem).
    Fills in the summary (feval counts objective-and-gradient evaluations) and returns the best
    point; return_code is NLopt's SUCCESS, or MAXEVAL_REACHED, or FAILURE where the line search
    could not make progress (the caller decides what follows). The objective's exceptions
    propagate."""
    check_settings(summary)
    x0 = np.asarray(summary.initial, dtype=np.float64)
    n = len(x0)
    scale = np.ones(n) if summary.initial_step is None else np.asarray(summary.initial_step, dtype=np.float64)
    upper = np.full(n, np.inf) if summary.upper is None else np.asarray(summary.upper, dtype=np.float64)
    lower = np.asarray(summary.lower, dtype=np.float64)
    best = [np.inf, x0]

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        if summary.feval >= summary.maxeval:
            raise _BudgetSpent
        x = np.clip(x0 + scale * z, lower, upper)
        value, gradient = objective_gradient(x)
        summary.feval += 1
        if value < best[0]:
            best[0], best[1] = value, x
        if summary.verbose:
            print(f"evaluation {summary.feval:4d}: objective {value:.8g} at {np.array2string(x, precision=6)}", file=sys.stderr)
        return value, gradient * scale

    summary.feval = 0
    bounds = list(zip((lower - x0) / scale, (upper - x0) / scale))
    try:
        result = optimize().minimize(
            f, np.zeros(n), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": int(summary.maxeval), "gtol": QUASI_NEWTON_GTOL, "ftol": QUASI_NEWTON_FTOL},
        )  # fmt: skip
        success = bool(result.success)
    except _BudgetSpent:
        success = False
    summary.optimizer = "L-BFGS-B"
    summary.final, summary.fmin = np.array(best[1]), float(best[0])
    if success:
        summary.return_code = _RETURN_CODES[SUCCESS]
    elif summary.feval >= summary.maxeval:
        summary.return_code = _RETURN_CODES[MAXEVAL_REACHED]
        if not summary.quiet:
            warn(f"optimizer stopped after {summary.feval} evaluations without converging (MAXEVAL_REACHED)", ConvergenceWarning)
    else:
        summary.return_code = "FAILURE"
    return summary.final


class _BudgetSpent(Exception):
    """The evaluation budget is spent: quasi_newton stops at its best point."""
