"""Lindstrom and Bates' (1990) alternating algorithm, as nlme fits a nonlinear mixed model
y = f(φ) + ε, φ_k = A_k β_k + b_k (b_g ~ N(0, σ²ΛΛ') per group, ε ~ N(0, σ²)):

- PNLS: for the current relative covariance factor Λ (T per group), minimize the penalized
  residual sum of squares |y − f(φ(β, b))|² + Σ_g |u_g|² over β and u, b_g = T u_g, by
  Gauss–Newton with step halving (the u parametrization, lme4's, stays well posed at a singular
  T). The normal equations have an arrow structure: each group's q × q block is eliminated,
  vectorized over the groups.
- LME: at the PNLS solution, the model is linearized, w = y − f + Xβ + Zb with X = ∂f/∂β and
  Z = ∂f/∂b, and the linear mixed model w ~ X + (Z | group) is fitted by mixedfit's lmer core
  (ML or REML), which gives the next Λ, σ and the log-likelihood nlme reports.

Alternate until β and θ stop moving (relative change below the tolerance), at most max_iter
times: non-convergence warns with the last change, never loops forever.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..design.arrays import RandomTerm
from ..errors import ConvergenceWarning, NumericalError, SingularFitWarning, warn
from ..models.lmm import LinearMixedModel
from ..models.results import lower_factor
from .mean_function import MeanFunction, Values
from .specification import ParameterDesign

PNLS_TOLERANCE = 1e-10  # relative decrease of the penalized RSS that ends a PNLS
PNLS_MAX_STEPS = 100
HALVINGS = 30
LME_CONTROL = {"xtol_rel": 1e-10, "ftol_abs": 1e-12}


@dataclass(frozen=True)
class NonlinearProblem:
    """The data of a fit: response, covariates, the mean function, the parameters' design and
    each row's group."""

    y: np.ndarray
    data: Values
    mean: MeanFunction
    design: ParameterDesign
    codes: np.ndarray
    n_groups: int

    @property
    def q(self) -> int:
        return len(self.design.random)

    def parameters(self, beta: np.ndarray, b: np.ndarray) -> Values:
        """φ per row: A_k β_k plus the row's group's random effect where k has one."""
        d = self.design
        phi = {p: d.matrices[p] @ beta[sl] for p, sl in d.slices.items()}
        for j, p in enumerate(d.random):
            phi[p] = phi[p] + b[self.codes, j]
        return phi

    def linearized(self, beta: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mean, X = ∂f/∂β (n × p) and Z = ∂f/∂b (n × q) at (β, b)."""
        value, gradient = self.mean.evaluate(self.data, self.parameters(beta, b))
        d = self.design
        X = np.hstack([gradient[p][:, None] * d.matrices[p] for p in d.parameters])
        Z = np.column_stack([gradient[p] for p in d.random]) if d.random else np.zeros((len(value), 0))
        return value, X, Z


def penalized_rss(problem: NonlinearProblem, beta: np.ndarray, u: np.ndarray, T: np.ndarray) -> float:
    value, _ = problem.mean.evaluate(problem.data, problem.parameters(beta, u @ T.T))
    rss = float(np.sum((problem.y - value) ** 2) + np.sum(u**2))
    return rss if np.isfinite(rss) else np.inf


def pnls(problem: NonlinearProblem, beta: np.ndarray, u: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(β, u) minimizing the penalized RSS for the factor T (q × q), from (β, u)."""
    current = penalized_rss(problem, beta, u, T)
    if not np.isfinite(current):
        raise NumericalError("the model's mean is not finite at the start: check start and the model's formula")
    codes, m, q = problem.codes, problem.n_groups, problem.q
    for _ in range(PNLS_MAX_STEPS):
        value, X, Z = problem.linearized(beta, u @ T.T)
        r = problem.y - value
        Zu = Z @ T  # ∂f/∂u_g for the row's group
        # Each group's blocks: G = Σ z z' + I, H = Σ z x', c = Σ z r − u.
        G = np.zeros((m, q, q))
        np.add.at(G, codes, Zu[:, :, None] * Zu[:, None, :])
        G += np.eye(q)
        H = np.zeros((m, q, X.shape[1]))
        np.add.at(H, codes, Zu[:, :, None] * X[:, None, :])
        c = np.zeros((m, q))
        np.add.at(c, codes, Zu * r[:, None])
        c -= u
        G_inv_H = np.linalg.solve(G, H)
        G_inv_c = np.linalg.solve(G, c[:, :, None])[:, :, 0]
        schur = X.T @ X - np.einsum("gqp,gqs->ps", H, G_inv_H)
        rhs = X.T @ r - np.einsum("gqp,gq->p", H, G_inv_c)
        step_beta = np.linalg.solve(schur, rhs)
        step_u = G_inv_c - np.einsum("gqp,p->gq", G_inv_H, step_beta)
        factor = 1.0
        for _ in range(HALVINGS):
            trial = penalized_rss(problem, beta + factor * step_beta, u + factor * step_u, T)
            if trial <= current:
                break
            factor /= 2
        else:
            return beta, u  # no descent along the Gauss–Newton direction: at the minimum to rounding
        beta, u = beta + factor * step_beta, u + factor * step_u
        decrease = current - trial
        current = trial
        if decrease <= PNLS_TOLERANCE * (current + PNLS_TOLERANCE):
            break
    return beta, u


@dataclass
class LindstromBatesFit:
    beta: np.ndarray
    b: np.ndarray  # groups × q
    lme: LinearMixedModel  # the last LME step's fit (log-likelihood, σ, θ, vcov)
    iterations: int
    converged: bool
    last_change: float


def relative_factor(lme: LinearMixedModel, q: int, correlated: bool) -> np.ndarray:
    """T (q × q lower triangular) from the LME step's θ."""
    theta = np.asarray(lme.theta)
    return lower_factor(theta, q) if correlated else np.diag(theta)


def linearized_model(problem: NonlinearProblem, beta: np.ndarray, b: np.ndarray, REML: bool) -> LinearMixedModel:
    """The (unfitted) linear mixed model of the linearization at (β, b)."""
    value, X, Z = problem.linearized(beta, b)
    w = problem.y - value + X @ beta + np.sum(Z * b[problem.codes], axis=1)
    d = problem.design
    term = RandomTerm(problem.codes, Z, correlated=d.correlated, group_name=d.group, column_names=d.random_names)
    return LinearMixedModel.from_arrays(w, X, [term], REML=REML, names=d.beta_names)


def lme_step(problem: NonlinearProblem, beta: np.ndarray, b: np.ndarray, theta: np.ndarray | None) -> LinearMixedModel:
    """The linearized model's ML fit (nlme's LME step; for REML fits too, see _reported), from the
    previous step's θ, to tolerances tight enough that the steps' noise does not keep the
    alternation from converging (Soybean's six θ's jittered by 1e-4 at lmer's defaults)."""
    model = linearized_model(problem, beta, b, REML=False)
    if theta is not None:
        model._restart_optimizer(theta)
    with warnings.catch_warnings():  # a step's singular fit is the nonlinear fit's only at the end (said there)
        warnings.simplefilter("ignore", SingularFitWarning)
        return model.fit(check_conv=False, control=LME_CONTROL)


def lindstrom_bates(
    problem: NonlinearProblem, beta: np.ndarray, REML: bool, max_iter: int, tolerance: float
) -> LindstromBatesFit:
    q, m = problem.q, problem.n_groups
    u = np.zeros((m, q))
    beta, _ = pnls(problem, beta, u, np.zeros((q, q)))  # the fixed effects alone first: b = 0
    b = np.zeros((m, q))
    lme = lme_step(problem, beta, b, None)
    previous = np.concatenate([beta, lme.theta])
    change = np.inf
    for iteration in range(1, max_iter + 1):
        T = relative_factor(lme, q, problem.design.correlated)
        u = _u_of(b, T)
        beta, u = pnls(problem, beta, u, T)
        b = u @ T.T
        lme = lme_step(problem, beta, b, lme.theta)
        current = np.concatenate([beta, lme.theta])
        change = float(np.max(np.abs(current - previous) / np.maximum(np.abs(previous), 1e-3)))
        previous = current
        if change < tolerance:
            return LindstromBatesFit(beta, b, _reported(problem, beta, b, lme, REML), iteration, True, change)
    warn(
        f"the alternating algorithm did not converge in {max_iter} iterations: the last relative change of the "
        f"parameters was {change:.2e} (tolerance {tolerance:g}); raise max_iter or check the model",
        ConvergenceWarning,
    )
    return LindstromBatesFit(beta, b, _reported(problem, beta, b, lme, REML), max_iter, False, change)


def _reported(
    problem: NonlinearProblem, beta: np.ndarray, b: np.ndarray, lme: LinearMixedModel, REML: bool
) -> LinearMixedModel:
    """The final linearized model as nlme reports it. nlme's REML fit of a nonlinear model keeps
    the ML estimates of β and of the random effects' relative covariance (its LME steps estimate
    them as ML does: on Orange its REML and ML fixed effects agree to 1e-5 and its SDs differ by
    √(n/(n − p)) exactly); REML changes σ (n − p) and the log-likelihood, the restricted one at
    those estimates: the REML model evaluated at the ML θ."""
    if not REML:
        return lme
    restricted = linearized_model(problem, beta, b, REML=True)
    restricted._set_estimates(np.asarray(lme.theta))
    return restricted


def _u_of(b: np.ndarray, T: np.ndarray) -> np.ndarray:
    """u with b = T u (least squares where T is singular)."""
    if b.size == 0:
        return b
    return np.linalg.lstsq(T, b.T, rcond=None)[0].T
