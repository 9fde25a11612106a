"""Finite-difference derivatives of a deviance: lme4's plain central differences (deriv12, for
the GLMM Hessian and the convergence checks) and Richardson-extrapolated ones as numDeriv
computes them (for lmerTest's Satterthwaite degrees of freedom, which need more digits)."""

from __future__ import annotations

from typing import Callable

import numpy as np

CENTRAL_STEP = 1e-4  # lme4's deriv12 step
# numDeriv's defaults: first step d·|x| (eps where x is ~0), r extrapolation levels halving it.
RICHARDSON_D = 0.1
RICHARDSON_EPS = 1e-4
RICHARDSON_ZERO_TOL = np.sqrt(np.finfo(float).eps / 7e-7)
RICHARDSON_LEVELS = 4


def relative_steps(x: np.ndarray) -> np.ndarray:
    """lme4's step made relative to each parameter above 1 in size: the deviance flattens along a
    large θ (or β), and an absolute step's second difference there falls below its rounding."""
    return CENTRAL_STEP * np.maximum(1.0, np.abs(x))


Objectives = Callable[[np.ndarray], np.ndarray]  # f at each row of a matrix of points


def _each_row(f: Callable[[np.ndarray], float]) -> Objectives:
    return lambda points: np.array([f(p) for p in points])


def central_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, delta: float | np.ndarray = CENTRAL_STEP,
    f_rows: Objectives | None = None,
) -> np.ndarray:
    """The gradient alone by central differences (2n evaluations; f_rows, if given, evaluates
    f at every row of a matrix in one call, as a core model's objectives does)."""
    h = np.broadcast_to(np.asarray(delta, dtype=np.float64), (len(x),))
    values = (f_rows or _each_row(f))(np.concatenate([x + np.diag(h), x - np.diag(h)]))
    return (values[: len(x)] - values[len(x) :]) / (2 * h)


def central_derivatives(
    f: Callable[[np.ndarray], float], x: np.ndarray, fx: float, delta: float | np.ndarray = CENTRAL_STEP,
    f_rows: Objectives | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian by central differences (lme4's step unless delta, one per element, is
    given; 2n² evaluations, by f_rows in one call if given). Like lme4, also at a θ on its bound:
    the deviance is defined (and symmetric) for negative diagonal elements of Λ."""
    n = len(x)
    h = np.broadcast_to(np.asarray(delta, dtype=np.float64), (n,))
    steps = np.diag(h)
    i, j = np.tril_indices(n, -1)
    corners = [steps[i] * a + steps[j] * b for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    values = (f_rows or _each_row(f))(np.concatenate([x + steps, x - steps, *(x + c for c in corners)]))
    plus, minus = values[:n], values[n : 2 * n]
    fpp, fpm, fmp, fmm = values[2 * n :].reshape(4, -1)
    H = np.diag((plus - 2 * fx + minus) / h**2)
    H[i, j] = H[j, i] = (fpp - fpm - fmp + fmm) / (4 * h[i] * h[j])
    return (plus - minus) / (2 * h), H


def gradient_differences(
    gradient_rows: Callable[[np.ndarray], np.ndarray], x: np.ndarray, delta: float | np.ndarray = CENTRAL_STEP
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient at x and the Hessian by central differences of an exact gradient:
    gradient_rows(points) gives the gradient at each row (2n + 1 evaluations in one call, where
    the objective's differences take 2n²). The Hessian is symmetrized."""
    n = len(x)
    h = np.broadcast_to(np.asarray(delta, dtype=np.float64), (n,))
    steps = np.diag(h)
    gradients = np.asarray(gradient_rows(np.vstack([x[None, :], x + steps, x - steps])), dtype=np.float64)
    H = (gradients[1 : n + 1] - gradients[n + 1 :]) / (2 * h[:, None])
    return gradients[0], (H + H.T) / 2


def _first_steps(x: np.ndarray) -> np.ndarray:
    return RICHARDSON_D * np.abs(x) + RICHARDSON_EPS * (np.abs(x) < RICHARDSON_ZERO_TOL)


def _extrapolate(estimates: list) -> np.ndarray:
    """Richardson's table for errors in even powers of a step halved at each level."""
    table = [np.asarray(e, dtype=np.float64) for e in estimates]
    for m in range(1, len(table)):
        factor = 4.0**m
        table = [(factor * table[k + 1] - table[k]) / (factor - 1) for k in range(len(table) - 1)]
    return table[0]


def richardson_hessian(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    fx = f(x)
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i + 1):
            estimates, h = [], _first_steps(x)
            for _ in range(RICHARDSON_LEVELS):
                ei = np.zeros(n)
                ei[i] = h[i]
                if i == j:
                    estimates.append((f(x + ei) - 2 * fx + f(x - ei)) / h[i] ** 2)
                else:
                    ej = np.zeros(n)
                    ej[j] = h[j]
                    value = f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
                    estimates.append(value / (4 * h[i] * h[j]))
                h = h / 2
            H[i, j] = H[j, i] = _extrapolate(estimates)
    return H


def richardson_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Columns: the derivative of the vector f with respect to each element of x."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for i in range(len(x)):
        estimates, h = [], _first_steps(x)
        for _ in range(RICHARDSON_LEVELS):
            ei = np.zeros(len(x))
            ei[i] = h[i]
            estimates.append((np.asarray(f(x + ei)) - np.asarray(f(x - ei))) / (2 * h[i]))
            h = h / 2
        columns.append(_extrapolate(estimates))
    return np.column_stack(columns)
