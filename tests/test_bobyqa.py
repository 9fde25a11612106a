"""The core's BOBYQA (cpp/bobyqa.cpp) on problems with known optima: unconstrained, with active
lower and upper bounds, one variable, given initial steps; its stops, its errors. Its agreement
with NLopt's BOBYQA on the reference cases' optimization problems is measured by
benchmarks/optimizer.py (NLopt is not a dependency)."""

from __future__ import annotations

import mixedfit
import numpy as np
import pytest
from mixedfit._native import _core

INF = np.inf


def minimize(f, x0, lower, upper=None, step=None, ftol=1e-8, xtol=1e-8, maxeval=100_000, xtol_rel=0.0):
    n = len(x0)
    upper = np.full(n, INF) if upper is None else np.asarray(upper, float)
    step = np.empty(0) if step is None else np.asarray(step, float)
    settings = _core.BobyqaSettings(np.asarray(lower, float), upper, step, ftol, xtol, maxeval, xtol_rel)
    r = _core.bobyqa(f, np.asarray(x0, float), settings)
    return {"x": r.x, "fmin": r.fmin, "evaluations": r.evaluations, "code": r.code}


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


@pytest.mark.parametrize("n", [2, 5])
def test_rosenbrock_unconstrained(n):
    r = minimize(rosenbrock, np.full(n, -1.2 if n == 2 else 0.5), np.full(n, -INF), ftol=1e-12, xtol=1e-10)
    np.testing.assert_allclose(r["x"], np.ones(n), atol=1e-4)
    assert r["fmin"] < 1e-9 and r["fmin"] == rosenbrock(r["x"])
    assert r["evaluations"] < 300 * n


def test_active_bounds_are_met_exactly():
    """min Σ (x_i - c_i)² over a box: the solution is c clipped to the box, and the variables on
    a bound sit exactly on it."""
    c = np.array([-1.0, 0.5, 3.0, 2.0])
    lower, upper = np.array([0.0, 0.0, 0.0, -INF]), np.array([INF, 1.0, 1.5, INF])
    r = minimize(lambda x: float(np.sum((x - c) ** 2)), np.array([1.0, 0.2, 1.0, 0.0]), lower, upper)
    assert r["x"][0] == 0.0 and r["x"][2] == 1.5
    np.testing.assert_allclose(r["x"][[1, 3]], c[[1, 3]], atol=1e-6)
    assert r["code"] in (3, 4, 1)


def test_one_variable_and_a_start_on_its_bound():
    r = minimize(lambda x: (x[0] - 2.0) ** 2 + 1.0, [0.0], [0.0])
    assert r["x"][0] == pytest.approx(2.0, abs=1e-5) and r["fmin"] == pytest.approx(1.0, abs=1e-10)


def test_xtol_rel_ends_rho_at_its_fraction_of_the_start():
    """As NLopt: ρ stops at xtol_rel × ρ_begin (here 1e-3 of the initial step 0.75) when that is
    larger than xtol_abs: fewer evaluations than the run to xtol_abs, NLopt's XTOL_REACHED or
    SUCCESS, and the point within a few ρ_end of the optimum."""
    x_star = np.array([0.3, -0.7, 1.1])
    scales = np.array([1.0, 3.0, 0.5])

    def f(x):
        return float(np.sum(scales * (x - x_star) ** 2))

    tight = minimize(f, np.ones(3), np.full(3, -INF), ftol=0.0, xtol=1e-10)
    loose = minimize(f, np.ones(3), np.full(3, -INF), ftol=0.0, xtol=1e-10, xtol_rel=1e-3)
    assert loose["evaluations"] < tight["evaluations"]
    assert loose["code"] in (1, 4)
    np.testing.assert_allclose(loose["x"], x_star, atol=5 * 0.75e-3)
    np.testing.assert_allclose(tight["x"], x_star, atol=1e-7)
    with pytest.raises(ValueError, match="xtol_rel"):
        minimize(f, np.ones(3), np.full(3, -INF), xtol_rel=-1.0)


def test_correlated_quadratic_with_given_steps():
    """A badly scaled quadratic (condition 10⁴) from given initial steps on each variable's scale."""
    A = np.array([[1e4, 50.0, 0.0], [50.0, 1.0, 0.2], [0.0, 0.2, 4.0]])
    x_star = np.array([0.01, -2.0, 0.5])
    r = minimize(lambda x: float((x - x_star) @ A @ (x - x_star)), np.zeros(3), np.full(3, -INF),
                 step=np.array([0.01, 1.0, 0.5]), ftol=1e-14, xtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(r["x"], x_star, atol=1e-5)


def test_maxeval_returns_the_best_point_so_far():
    seen = []

    def f(x):
        seen.append(rosenbrock(x))
        return seen[-1]

    r = minimize(f, [-1.2, 1.0], [-INF, -INF], maxeval=20)
    assert r["code"] == 5 and r["evaluations"] == 20 == len(seen) and r["fmin"] == min(seen)


def test_errors():
    with pytest.raises(ZeroDivisionError):
        minimize(lambda x: 1 / 0, [1.0], [0.0])
    with pytest.raises(mixedfit.NumericalError, match=r"the objective is nan at \(1"):
        minimize(lambda x: np.nan, [1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="within the bounds"):
        minimize(lambda x: 0.0, [-1.0], [0.0])
    with pytest.raises(ValueError, match="below its upper bound"):
        minimize(lambda x: 0.0, [0.0], [0.0], upper=[0.0])
    with pytest.raises(ValueError, match="initial steps must be positive"):
        minimize(lambda x: 0.0, [0.0], [-1.0], step=[0.0])


def test_default_initial_step_is_nlopts():
    """NLopt's heuristic, which sets lme4's first points: θ = 1 with lower bound 0 steps by 0.75,
    an unbounded 0 by 1, x in a finite range by a quarter of it, or by three quarters of the
    distance to a bound nearer than that."""
    first = []

    def f(x):
        first.append(np.array(x))
        return float(np.sum(x**2))

    minimize(f, [1.0, 0.0, 1.0, 0.2], [0.0, -INF, 0.0, 0.0], upper=[INF, INF, 2.0, 2.0], maxeval=9)
    # the steps differ, so the variables are scaled to steps of 1: the points x0 ± step e_i
    steps = np.abs(np.array(first[1:5]) - first[0]).max(axis=0)
    np.testing.assert_allclose(steps, [0.75, 1.0, 0.5, 0.15])


@pytest.mark.parametrize("seed", range(12))
def test_random_bound_constrained_quadratics(seed):
    """Convex quadratics in 1–8 variables with random boxes (some bounds infinite, some active at
    the solution), from random starts: the minimum is the one scipy's L-BFGS-B finds with the
    exact gradient, to 1e-6."""
    from scipy.optimize import minimize as scipy_minimize

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    M = rng.normal(size=(n, n))
    A = M @ M.T + 0.1 * np.eye(n)
    center = rng.normal(0, 2, n)
    lower = np.where(rng.random(n) < 0.3, -INF, center - rng.uniform(-1.5, 1.0, n))
    upper = np.where(rng.random(n) < 0.3, INF, np.maximum(lower, center - 5) + rng.uniform(0.5, 3.0, n))
    x0 = np.clip(rng.normal(0, 1, n), lower, upper)

    def f(x):
        return float((x - center) @ A @ (x - center))

    exact = scipy_minimize(f, x0, jac=lambda x: 2 * A @ (x - center), method="L-BFGS-B",
                           bounds=list(zip(lower, upper)), options={"ftol": 1e-15, "gtol": 1e-12})  # fmt: skip
    r = minimize(f, x0, lower, upper, ftol=1e-13, xtol=1e-10)
    assert r["code"] in (1, 3, 4)
    assert np.all(r["x"] >= lower) and np.all(r["x"] <= upper)
    assert r["fmin"] <= exact.fun + 1e-6 * (1 + abs(exact.fun))
    np.testing.assert_allclose(r["x"], exact.x, atol=1e-4 * (1 + np.abs(exact.x).max()))
