"""The derivative-free optimizer driver (NLopt's BOBYQA, as lme4's default nloptwrap) and the
record of how a fit was obtained, as MixedModels.jl's OptSummary."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import Callable

import nlopt
import numpy as np

from ..errors import ConvergenceWarning

# lme4's nloptwrap defaults.
FTOL_ABS = 1e-8
XTOL_ABS = 1e-8
MAXEVAL = 100_000

_RETURN_CODES = {
    nlopt.SUCCESS: "SUCCESS",
    nlopt.STOPVAL_REACHED: "STOPVAL_REACHED",
    nlopt.FTOL_REACHED: "FTOL_REACHED",
    nlopt.XTOL_REACHED: "XTOL_REACHED",
    nlopt.MAXEVAL_REACHED: "MAXEVAL_REACHED",
    nlopt.MAXTIME_REACHED: "MAXTIME_REACHED",
    nlopt.ROUNDOFF_LIMITED: "ROUNDOFF_LIMITED",
}


@dataclass
class OptSummary:
    """How a fit was obtained."""

    initial: np.ndarray
    lower: np.ndarray
    optimizer: str = "LN_BOBYQA"
    ftol_abs: float = FTOL_ABS
    xtol_abs: float = XTOL_ABS
    maxeval: int = MAXEVAL
    initial_step: np.ndarray | None = None  # None: NLopt's heuristic
    upper: np.ndarray | None = None  # None: unbounded above
    quiet: bool = False  # no ConvergenceWarning (refits in worker threads count them instead)
    verbose: bool = False  # print every evaluation (as lme4's verbose = 1) to standard error
    final: np.ndarray = field(default_factory=lambda: np.empty(0))
    fmin: float = np.nan
    feval: int = 0
    return_code: str = ""
    seconds: float = 0.0
    # The factorization of Λ'Z'WZΛ + I the core chose at the first θ, and the costs it weighed
    # (flops, Schur updates and predicted seconds per factorization of each candidate).
    factorization: str = ""
    factorization_costs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        text = (
            f"Optimizer {self.optimizer}: {self.feval} evaluations, {self.return_code}\n"
            f"  initial {np.array2string(self.initial, precision=6)}\n"
            f"  final   {np.array2string(self.final, precision=6)}, objective {self.fmin:.6f}"
        )
        if self.factorization:
            costs = self.factorization_costs
            text += (
                f"\n  factorization {self.factorization} (predicted per factorization: blocked "
                f"{costs.get('blocked_seconds', np.inf) * 1e3:.3g} ms, simplicial {costs.get('sparse_seconds', np.inf) * 1e3:.3g} ms)"
            )
        return text


def _unhooked(x: np.ndarray, grad: np.ndarray) -> float:
    """What the optimizer holds once it has finished (see bobyqa)."""
    return 0.0


def check_settings(summary: OptSummary) -> None:
    """Refuse what NLopt must never see (a NaN start reaches its C code and corrupts its memory):
    finite starting values within the bounds, bounds that are not NaN, positive finite steps."""
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
    for name in ("ftol_abs", "xtol_abs"):
        value = getattr(summary, name)
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value >= 0):
            raise ValueError(f"optsum.{name} must be a non-negative number, got {value!r}")
    if isinstance(summary.maxeval, bool) or not isinstance(summary.maxeval, (int, np.integer)) or summary.maxeval < 1:
        raise ValueError(f"optsum.maxeval must be a positive integer, got {summary.maxeval!r}")


def bobyqa(objective: Callable[[np.ndarray], float], summary: OptSummary) -> np.ndarray:
    """Minimize objective within summary's bounds from its initial point; fills in the summary."""
    check_settings(summary)
    n = len(summary.initial)
    best = {"f": np.inf, "x": np.array(summary.initial, dtype=np.float64)}
    count = [0]
    failure: list[BaseException] = []

    def f(x: np.ndarray, grad: np.ndarray) -> float:
        count[0] += 1
        try:
            value = objective(x)
        except Exception as exc:  # re-raised below, once NLopt has stopped
            # An exception raised through NLopt's wrapper can surface as a SystemError; stop the
            # optimizer instead and raise the objective's own error after it returns.
            failure.append(exc)
            opt.force_stop()
            return 0.0  # not used: the error is raised as soon as NLopt returns
        if value < best["f"]:
            best["f"], best["x"] = value, x.copy()
        if summary.verbose:
            print(f"evaluation {count[0]:4d}: objective {value:.8g} at {np.array2string(x, precision=6)}", file=sys.stderr)
        return value

    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    try:
        opt.set_min_objective(f)
        opt.set_lower_bounds(np.asarray(summary.lower, dtype=np.float64))
        if summary.upper is not None:
            opt.set_upper_bounds(np.asarray(summary.upper, dtype=np.float64))
        opt.set_ftol_abs(summary.ftol_abs)
        opt.set_xtol_abs(summary.xtol_abs)
        opt.set_maxeval(int(summary.maxeval))
        if summary.initial_step is not None:
            opt.set_initial_step(np.asarray(summary.initial_step, dtype=np.float64))
        try:
            opt.optimize(np.array(summary.initial, dtype=np.float64))
            code = opt.last_optimize_result()
        except nlopt.RoundoffLimited:
            code = nlopt.ROUNDOFF_LIMITED
        except nlopt.ForcedStop:
            code = nlopt.FORCED_STOP
    finally:
        # Unhook the callback. NLopt's objects do not take part in garbage collection, so an
        # optimizer holding the callback (which holds the objective and so the model) is a cycle
        # (callback -> optimizer -> callback) the collector cannot see into; and an error's
        # traceback keeps NLopt's frame, which holds the optimizer. Either way no model was freed.
        opt.set_min_objective(_unhooked)
    if failure:
        raise failure[0]
    summary.final = best["x"]
    summary.fmin = best["f"]
    summary.feval = count[0]
    summary.return_code = _RETURN_CODES.get(code, str(code))
    if code in (nlopt.MAXEVAL_REACHED, nlopt.MAXTIME_REACHED) and not summary.quiet:
        warnings.warn(
            f"optimizer stopped after {summary.feval} evaluations without converging ({summary.return_code})",
            ConvergenceWarning,
            stacklevel=3,
        )
    return summary.final
