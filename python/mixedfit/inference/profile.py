"""Profile-likelihood confidence intervals, as lme4's confint(profile(m)).

Each parameter on lme4's scale (SDs and correlations of the random effects, σ for an LMM, the
fixed effects) is held at a value while the deviance is minimized over all the others; the
signed square root of the deviance increase, ζ, is the profile. An interval's end is where
|ζ| reaches the normal quantile: found here by bracketing and Brent's root finder on ζ itself
(lme4 interpolates ζ with a spline through a grid of points). As in lme4, an LMM fitted by REML
is profiled on its ML refit, and β of an LMM is profiled with θ re-optimized (β's other
elements and σ profiled out exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .._lazy import optimize, stats
from ..models.optimize import OptSummary, bobyqa
from ..progress import Progress
from .derivatives import central_derivatives

MAX_STEPS = 30  # outward steps per interval end before giving up
ROOT_XTOL = 1e-9


@dataclass
class ProfiledParameter:
    """ζ as a function of one parameter; remembers the others' optimum at each value to start
    the next inner optimization nearby."""

    estimate: float
    lower: float
    upper: float
    zeta_at: Callable[[float, np.ndarray | None], tuple[float, np.ndarray | None]]
    scale: float  # a step of about one standard error
    starts: dict[float, np.ndarray] = field(default_factory=dict)
    trace: dict[float, float] = field(default_factory=dict)  # every ζ computed: the profile's points

    def zeta(self, x: float) -> float:
        nearest = min(self.starts, key=lambda v: abs(v - x)) if self.starts else None
        value, others = self.zeta_at(x, self.starts.get(nearest) if nearest is not None else None)
        if others is not None:
            self.starts[x] = others
        self.trace[x] = value
        return value

    def end(self, direction: int, target: float) -> float:
        """Where ζ = direction · target, or the parameter's bound if ζ never gets there."""
        bound = self.upper if direction > 0 else self.lower
        x_prev, z_prev = self.estimate, 0.0
        step = self.scale
        for _ in range(MAX_STEPS):
            x = x_prev + direction * step
            if direction * (x - bound) >= 0:
                x = bound
            z = self.zeta(x)
            if direction * z >= target:  # bracketed between the last two points
                low, high = min(x_prev, x), max(x_prev, x)
                return optimize().brentq(lambda v: self.zeta(v) - direction * target, low, high, xtol=ROOT_XTOL * max(1.0, abs(x)))
            if x == bound:
                return bound
            # Secant towards the target on ζ, at most 4× the last step and at least a fifth of it.
            slope = abs(z - z_prev) / abs(x - x_prev)
            wanted = (target - direction * z) / slope if slope > 0 else 4 * step
            step = float(np.clip(1.1 * wanted, 0.2 * step, 4 * step))
            x_prev, z_prev = x, z
        return np.nan


def minimize_others(
    deviance: Callable[[np.ndarray], float], full: np.ndarray, w: int, value: float,
    lower: np.ndarray, upper: np.ndarray, start: np.ndarray | None, steps: np.ndarray,
) -> tuple[float, np.ndarray]:
    """The minimum of the deviance over every parameter but the w-th, fixed at value."""  # fmt: skip
    others = np.delete(np.arange(len(full)), w)
    point = full.copy()
    point[w] = value

    def with_others(x: np.ndarray) -> float:
        point[others] = x
        return deviance(point)

    if len(others) == 0:
        return deviance(point), np.empty(0)
    x0 = np.clip(full[others] if start is None else start, lower[others], upper[others])
    summary = OptSummary(initial=x0, lower=lower[others], upper=upper[others], initial_step=steps[others])
    x = bobyqa(with_others, summary)
    return summary.fmin, x


def normal_quantile(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return float(stats().norm.ppf(0.5 + level / 2))


@dataclass
class ProfileProblem:
    """A deviance over a parameter vector on lme4's scale, its minimum and bounds. Parameters
    after the first n_joint are profiled by their own functions (an LMM's β)."""

    names: list[str]
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    deviance: Callable[[np.ndarray], float]
    base: float  # the deviance at the estimate
    scale: np.ndarray  # about one standard error of each parameter
    separate: dict[int, Callable[[float, np.ndarray | None], tuple[float, np.ndarray | None]]] = field(
        default_factory=dict
    )
    reported: list[int] | None = None  # the parameters intervals are given for by default (None: all)


def signed_root(delta: float, x: float, estimate: float) -> float:
    """ζ from a deviance increase; slightly negative increases are optimizer noise."""
    return float(np.sign(x - estimate) * np.sqrt(max(delta, 0.0)))


def standard_errors(deviance: Callable[[np.ndarray], float], x: np.ndarray, fx: float) -> np.ndarray:
    """√diag(2 H⁻¹) of the deviance, for step sizes only; 10% of |x| (or 0.01) where that fails."""
    fallback = np.maximum(0.1 * np.abs(x), 0.01)
    _, H = central_derivatives(deviance, x, fx, delta=1e-3 * np.maximum(np.abs(x), 1e-2))
    try:
        se = np.sqrt(np.diag(2 * np.linalg.inv(H)))
    except np.linalg.LinAlgError:
        return fallback
    return np.where(np.isfinite(se) & (se > 0), se, fallback)


def profile_intervals(
    problem: ProfileProblem,
    level: float,
    which: Sequence[int] | None = None,
    traces: list | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """(lower, upper) of the parameters which (default all): rows in that order. traces, if given,
    receives each parameter's computed (value, ζ) points, sorted by value (ζ = 0 at the estimate)."""
    target = normal_quantile(level)
    steps = np.maximum(0.5 * problem.scale, 1e-6)
    which = range(len(problem.names)) if which is None else which
    out = np.empty((len(which), 2))
    for row, w in enumerate(which):
        estimate = problem.estimate[w]
        if w in problem.separate:
            zeta_at = problem.separate[w]
        else:
            def zeta_at(x: float, start: np.ndarray | None, w: int = w, estimate: float = estimate):
                fmin, others = minimize_others(
                    problem.deviance, problem.estimate, w, x, problem.lower, problem.upper, start, steps
                )
                return signed_root(fmin - problem.base, x, estimate), others

        parameter = ProfiledParameter(estimate, problem.lower[w], problem.upper[w], zeta_at, 0.5 * problem.scale[w])
        out[row] = parameter.end(-1, target), parameter.end(+1, target)
        if traces is not None:
            points = sorted({**parameter.trace, estimate: 0.0}.items())
            traces.append(np.array(points).reshape(-1, 2))
        if progress is not None:
            progress.advance()
    return out
