"""Convergence checks at the optimum, as lme4's checkConv: the scaled gradient and the
eigenvalues of the Hessian of the objective, each failure a ConvergenceWarning."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .. import errors
from ..errors import ConvergenceWarning
from .derivatives import CENTRAL_STEP, Objectives, central_derivatives, relative_steps

GRADIENT_TOLERANCE = 2e-3  # lme4's check.conv.grad
GRADIENT_MESSAGE = "Model failed to converge with max|grad|"
HESSIAN_TOLERANCE = 1e-6  # lme4's check.conv.hess


def gradient_problem(gradient: np.ndarray, hessian: np.ndarray) -> str | None:
    """lme4's test: the smaller of |H^{-1/2} g| (Cholesky-scaled) and |g|, per component."""
    try:
        R = np.linalg.cholesky(hessian).T  # upper, H = R'R as R's chol
        scaled = np.linalg.solve(R, gradient)
    except np.linalg.LinAlgError:
        return "unable to evaluate scaled gradient"
    if not np.all(np.isfinite(scaled)):
        return "unable to evaluate scaled gradient"
    smallest = np.minimum(np.abs(scaled), np.abs(gradient))
    if smallest.max() > GRADIENT_TOLERANCE:
        return (
            f"{GRADIENT_MESSAGE} = {smallest.max():.6g} (tol = {GRADIENT_TOLERANCE}, "
            f"component {int(np.argmax(smallest)) + 1})"
        )
    return None


def hessian_problems(hessian: np.ndarray, what: str = "") -> list[str]:
    """lme4's checkHess: negative, zero, very large eigenvalues and a large eigenvalue ratio."""
    label = f" {what}" if what else ""
    try:
        values = np.linalg.eigvalsh(hessian)
    except np.linalg.LinAlgError:
        return ["Problem with Hessian check (infinite or missing values?)"]
    negative = int(np.sum(values < -HESSIAN_TOLERANCE))
    if negative:
        return [f"Model failed to converge: degenerate{label} Hessian with {negative} negative eigenvalues"]
    if np.any(np.abs(values) < HESSIAN_TOLERANCE):
        return [f"{label.strip() or 'the'} Hessian is numerically singular: parameters are not uniquely determined"]
    problems = []
    if values.max() * HESSIAN_TOLERANCE > 1:
        problems.append("Model is nearly unidentifiable: very large eigenvalue - Rescale variables?")
    if values.min() / values.max() < HESSIAN_TOLERANCE:
        problems.append("Model is nearly unidentifiable: large eigenvalue ratio - Rescale variables?")
    return problems


def check_convergence(
    f: Callable[[np.ndarray], float], x: np.ndarray, fx: float, n_theta: int,
    derivatives: tuple[np.ndarray, np.ndarray] | None = None, warn: bool = True, f_rows: Objectives | None = None,
) -> tuple[list[str], tuple[np.ndarray, np.ndarray]]:
    """lme4's checkConv for a non-singular fit at x (objective f, value fx), each problem also a
    ConvergenceWarning; returns the problems and the derivatives (gradient, Hessian) they were
    found with. derivatives: central differences with relative_steps(x), if already computed;
    f_rows: f at each row of a matrix in one call.

    lme4's absolute step (1e-4) cannot resolve the curvature along a parameter of size ~100 (a
    Gamma(identity) θ of 191: the second difference is below the deviance's rounding), which
    makes a spurious 'unable to evaluate scaled gradient'. A problem found with lme4's step is
    therefore confirmed with steps relative to each parameter before it is reported."""  # fmt: skip
    if derivatives is None:
        derivatives = central_derivatives(f, x, fx, f_rows=f_rows)
        steps = relative_steps(x)
        # (the same steps, where no parameter exceeds 1 in size, would find the same problems)
        if np.any(steps != CENTRAL_STEP) and convergence_problems(*derivatives, n_theta):
            derivatives = central_derivatives(f, x, fx, steps, f_rows=f_rows)
    problems = convergence_problems(*derivatives, n_theta)
    for message in problems if warn else ():
        errors.warn(message, ConvergenceWarning)
    return problems, derivatives


def newton_point(
    x: np.ndarray, gradient: np.ndarray, hessian: np.ndarray, lower: np.ndarray, upper: np.ndarray | None
) -> np.ndarray | None:
    """x - H⁻¹g from the checks' derivatives, if H is positive definite and the point is within
    the bounds (else None). BOBYQA stops once a step gains less than ftol_abs (1e-8) or its trust
    region reaches xtol_rel of its start (an LMM's: 1e-4, as lmer), which along a flat direction
    leaves the estimates up to ~1e-4 (relative) from the optimum (sleepstudy's θ₂₁: 3e-7 from it
    after lme4's NLopt run, 2.5e-4 after our BOBYQA's path, without xtol_rel); the
    derivatives are known at that point, and one evaluation of this point tells whether it is
    better."""
    try:
        np.linalg.cholesky(hessian)
        point = x - np.linalg.solve(hessian, gradient)
    except np.linalg.LinAlgError:
        return None
    high = np.inf if upper is None else upper
    if not np.all(np.isfinite(point) & (point >= lower) & (point <= high)):
        return None
    return point


def convergence_problems(gradient: np.ndarray, hessian: np.ndarray, n_theta: int) -> list[str]:
    """Every problem lme4's checkConv reports. Parameters after the first n_theta (a GLMM's β)
    get their own Hessian check, as in lme4."""
    problems = []
    if not np.all(np.isfinite(gradient)):
        problems.append("Gradient contains NAs")
    else:
        message = gradient_problem(gradient, hessian)
        if message:
            problems.append(message)
        if hessian.shape[0] > n_theta:
            problems += hessian_problems(hessian[n_theta:, n_theta:], "fixed-effect")
        problems += hessian_problems(hessian)
    return list(dict.fromkeys(problems))  # the fixed effects' block and the whole may report alike: once
