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
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as splinalg

from ..design.arrays import ArrayLayout, RandomTerm
from ..errors import ConvergenceWarning, NumericalError, SingularFitWarning, warn
from ..models.lmm import LinearMixedModel
from ..models.residual_structure import ResidualStructure
from ..models.results import lower_factor
from ..models.variance import FITTED
from .mean_function import MeanFunction, Values
from .specification import ParameterDesign

PNLS_TOLERANCE = 1e-10  # relative decrease of the penalized RSS that ends a PNLS
PNLS_MAX_STEPS = 100
HALVINGS = 30
LME_CONTROL = {"xtol_rel": 1e-10, "ftol_abs": 1e-12}
WARM_STEP, WARM_STEP_FLOOR = 0.1, 0.01  # a warm-started LME step's initial BOBYQA steps (relative, least)
TIGHT_BELOW = 1e-3  # the alternation's relative change below which the LME steps use LME_CONTROL


@dataclass(frozen=True)
class NonlinearProblem:
    """The data of a fit: response, covariates, the mean function, the parameters' design and
    each row's group."""

    y: np.ndarray
    data: Values
    mean: MeanFunction
    design: ParameterDesign
    codes: np.ndarray  # each row's group; nested groups: its group at each level, as rows of b (n × levels)
    n_groups: int  # groups (nested: of every level, stacked outermost first as b's rows)
    # nlme's weights= and correlation=: the variance function and correlation structure, the frame
    # of their columns (the LME steps' variance= and correlation=), and the last LME step's residual
    # structure at its (δ, φ), whose whitening T = C^{-1/2} D⁻¹ PNLS applies (it minimizes
    # |T(y − f)|² + |u|²; T acts within the correlation's groups, which lie within the random
    # effects' groups, so the groups' blocks stay separate)
    variance: Any = None
    correlation: Any = None
    structure_frame: pd.DataFrame | None = None
    structure: ResidualStructure | None = None
    level_sizes: tuple[int, ...] = ()  # nested groups: each level's number of groups

    @cached_property
    def indicator(self) -> sp.csr_matrix:
        """The groups' indicator matrix (groups × rows) of one level of groups."""
        n = len(self.codes)
        return sp.csr_matrix((np.ones(n), (self.codes, np.arange(n))), shape=(self.n_groups, n))

    @property
    def nested(self) -> bool:
        return self.codes.ndim == 2

    @property
    def levels(self) -> int:
        return self.codes.shape[1] if self.nested else 1

    def zero_factor(self) -> np.ndarray:
        """T = 0 (b = 0): q × q, or levels × q × q with nested groups (a factor per level)."""
        return np.zeros((self.levels, self.q, self.q) if self.nested else (self.q, self.q))

    def effects(self, u: np.ndarray, T: np.ndarray) -> np.ndarray:
        """b = T u per group (each level's T for nested groups)."""
        if not self.nested:
            return u @ T.T
        return np.einsum("gij,gj->gi", T[np.repeat(np.arange(self.levels), self.level_sizes)], u)

    @property
    def has_structure(self) -> bool:
        return self.variance is not None or self.correlation is not None

    def whiten(self, values: np.ndarray) -> np.ndarray:
        """T applied to rows (values themselves before the first LME step or without a structure)."""
        return values if self.structure is None else self.structure.whiten(values)

    @property
    def q(self) -> int:
        return len(self.design.random)

    def parameters(self, beta: np.ndarray, b: np.ndarray) -> Values:
        """φ per row: A_k β_k plus the row's group's random effect where k has one."""
        return self.design.parameter_values(self.design.matrices, beta, b, self.codes)

    def linearized(self, beta: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mean, X = ∂f/∂β (n × p) and Z = ∂f/∂b (n × q) at (β, b)."""
        return self.matrices(*self.mean.evaluate(self.data, self.parameters(beta, b)))

    def matrices(self, value: np.ndarray, gradient: Values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mean, X and Z from an evaluation of the mean and its gradient in φ."""
        d = self.design
        X = np.column_stack(
            [
                gradient[p] if d.columns[p] == ["(Intercept)"] else gradient[p][:, None] * d.matrices[p]
                for p in d.parameters
            ]
        )
        Z = np.column_stack([gradient[p] for p in d.random]) if d.random else np.zeros((len(value), 0))
        return value, X, Z


def _group_sums(problem: NonlinearProblem, values: np.ndarray) -> np.ndarray:
    """Σ over each group's rows of values (rows × ...): one product with the groups' indicator
    matrix for every entry (a bincount per entry took 13× as long at 10⁵ rows)."""
    flat = values.reshape(len(values), -1)
    return np.asarray(problem.indicator @ flat).reshape((problem.n_groups, *values.shape[1:]))


def _penalized_rss(
    problem: NonlinearProblem, beta: np.ndarray, u: np.ndarray, T: np.ndarray
) -> tuple[float, tuple[np.ndarray, Values]]:
    """|y − f|² + |u|² at (β, u) (inf outside the model's domain), and the evaluation of f there."""
    evaluation = problem.mean.evaluate(problem.data, problem.parameters(beta, problem.effects(u, T)))
    rss = float(np.sum(problem.whiten(problem.y - evaluation[0]) ** 2) + np.sum(u**2))
    return (rss if np.isfinite(rss) else np.inf), evaluation


def _residuals_and_gradients(
    problem: NonlinearProblem, evaluation: tuple[np.ndarray, Values]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y − f, X = ∂f/∂β and Z = ∂f/∂b at an evaluation of the mean, whitened where a residual
    structure whitens them (the whitened problem is one of independent rows)."""
    value, X, Z = problem.matrices(*evaluation)
    r = problem.y - value
    if problem.structure is None:
        return r, X, Z
    return problem.whiten(r), problem.whiten(X), problem.whiten(Z)


def group_blocks(
    problem: NonlinearProblem, evaluation: tuple[np.ndarray, Values], u: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """At an evaluation of the mean (the rows whitened where a residual structure whitens them):
    the residuals r, X = ∂f/∂β, and each group's blocks of the penalized normal equations,
    G = Σ z z' + I, H = Σ z x', c = Σ z r − u (z = ∂f/∂u_g of a row of group g)."""
    r, X, Z = _residuals_and_gradients(problem, evaluation)
    Zu = Z @ T
    G = _group_sums(problem, Zu[:, :, None] * Zu[:, None, :]) + np.eye(problem.q)
    H = _group_sums(problem, Zu[:, :, None] * X[:, None, :])
    c = _group_sums(problem, Zu * r[:, None]) - u
    return r, X, G, H, c, Zu


def pnls(
    problem: NonlinearProblem,
    beta: np.ndarray,
    u: np.ndarray,
    T: np.ndarray,
    update_beta: bool = True,
    tolerance: float = PNLS_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """(β, u) minimizing the penalized RSS for the factor T (q × q), from (β, u); with
    update_beta False, u alone (the conditional modes at β: groups do not couple). Each accepted
    trial point's evaluation (the mean and its gradient come together) is the next step's."""
    current, evaluation = _penalized_rss(problem, beta, u, T)
    if not np.isfinite(current):
        raise NumericalError("the model's mean is not finite at the start: check start and the model's formula")
    step = _sparse_step if problem.nested else _block_step
    for _ in range(PNLS_MAX_STEPS):
        step_beta, step_u = step(problem, evaluation, beta, u, T, update_beta)
        factor = 1.0
        for _ in range(HALVINGS):
            trial, trial_evaluation = _penalized_rss(problem, beta + factor * step_beta, u + factor * step_u, T)
            if trial <= current:
                evaluation = trial_evaluation
                break
            factor /= 2
        else:
            return beta, u  # no descent along the Gauss–Newton direction: at the minimum to rounding
        beta, u = beta + factor * step_beta, u + factor * step_u
        decrease = current - trial
        current = trial
        if decrease <= tolerance * (current + tolerance):
            break
    return beta, u


def _block_step(
    problem: NonlinearProblem, evaluation: tuple[np.ndarray, Values], beta: np.ndarray, u: np.ndarray,
    T: np.ndarray, update_beta: bool,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The Gauss–Newton step of one level of groups: each group's q × q block eliminated."""
    r, X, G, H, c, _ = group_blocks(problem, evaluation, u, T)
    G_inv = np.linalg.inv(G)  # q × q per group, positive definite (≥ I)
    G_inv_c = np.einsum("gij,gj->gi", G_inv, c)
    step_beta = np.zeros_like(beta)
    if update_beta:  # β from the Schur complement of the groups' blocks
        G_inv_H = G_inv @ H
        schur = X.T @ X - np.einsum("gqp,gqs->ps", H, G_inv_H)
        rhs = X.T @ r - np.einsum("gqp,gq->p", H, G_inv_c)
        step_beta = np.linalg.solve(schur, rhs)
        G_inv_c = G_inv_c - np.einsum("gqp,p->gq", G_inv_H, step_beta)
    return step_beta, G_inv_c


def _sparse_step(
    problem: NonlinearProblem, evaluation: tuple[np.ndarray, Values], beta: np.ndarray, u: np.ndarray,
    T: np.ndarray, update_beta: bool,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The Gauss–Newton step with nested groups: a row's effects are its groups' at every level,
    so the normal equations [X'X X'Z; Z'X Z'Z + I] are solved sparse (Z: n × groups·q, level l's
    columns ∂f/∂b T_l at the row's group)."""
    r, X, Z = _residuals_and_gradients(problem, evaluation)
    n, q = Z.shape
    values = np.einsum("nj,lji->nli", Z, T)  # row × level × effect: z T_l
    columns = problem.codes[:, :, None] * q + np.arange(q)
    Zs = sp.csr_matrix(
        (values.ravel(), (np.repeat(np.arange(n), problem.levels * q), columns.ravel())), shape=(n, u.size)
    )
    ZtZ = (Zs.T @ Zs + sp.identity(u.size)).tocsc()
    rhs_u = Zs.T @ r - u.ravel()
    if not update_beta:
        return np.zeros_like(beta), splinalg.spsolve(ZtZ, rhs_u).reshape(u.shape)
    ZtX = np.asarray(Zs.T @ X)
    normal = sp.bmat([[sp.csr_matrix(X.T @ X), sp.csr_matrix(ZtX.T)], [sp.csr_matrix(ZtX), ZtZ]]).tocsc()
    step = splinalg.spsolve(normal, np.concatenate([X.T @ r, rhs_u]))
    return step[: len(beta)], step[len(beta) :].reshape(u.shape)


@dataclass
class LindstromBatesFit:
    """The estimates; the rest (what every nonlinear fit reports) from the last LME step."""

    beta: np.ndarray
    b: np.ndarray  # groups × q
    lme: LinearMixedModel  # the last LME step's fit (log-likelihood, σ, θ, vcov)
    iterations: int
    converged: bool
    last_change: float

    @property
    def loglik(self) -> float:
        return float(self.lme.loglik)

    @property
    def sigma(self) -> float:
        return float(self.lme.sigma)

    @property
    def vcov(self) -> np.ndarray:
        return np.asarray(self.lme.vcov)

    @property
    def varcorr(self) -> pd.DataFrame:
        return self.lme.VarCorr

    @property
    def singular(self) -> bool:
        return bool(self.lme.is_singular())

    @property
    def structure_lines(self) -> list[str]:
        """The variance function's and correlation structure's summary lines (none without them)."""
        return [] if self.lme._structure is None else self.lme._structure.summary_lines()

    @property
    def n_theta(self) -> int:
        """θ's and the residual structure's parameters."""
        return len(self.lme.theta) + len(_psi(self.lme))


def relative_factor(lme: LinearMixedModel, problem: NonlinearProblem) -> np.ndarray:
    """T (q × q lower triangular) from the LME step's θ; with nested groups one per level
    (levels × q × q, outermost first), each from its term's part of θ (the LME model orders its
    terms by their numbers of groups, as lme4)."""
    theta, q = np.asarray(lme.theta), problem.q

    def factor(part: np.ndarray) -> np.ndarray:
        return lower_factor(part, q) if problem.design.correlated else np.diag(part)

    if not problem.nested:
        return factor(theta)
    design = lme.design
    by_name: dict[str, list[np.ndarray]] = {}
    for t, sl in zip(design.terms, design.theta_slices()):  # (a diagonal covariance is a term per column, as ||)
        by_name.setdefault(t.name, []).append(theta[sl])
    return np.stack([factor(np.concatenate(by_name[name])) for name in level_names(problem.design.groups)])


def level_names(groups: tuple[str, ...]) -> list[str]:
    """The nested levels' names, outermost first, as lme4 names (1 | Block/Tree)'s terms: Block, Tree:Block."""
    return [":".join(reversed(groups[: level + 1])) for level in range(len(groups))]


def _terms(problem: NonlinearProblem, Z: np.ndarray) -> list[RandomTerm]:
    """The linearized model's random-effects terms: Z in each level's groups."""
    d = problem.design
    if not problem.nested:
        return [RandomTerm(problem.codes, Z, correlated=d.correlated, group_name=d.group, column_names=d.random_names)]
    offsets = np.cumsum([0, *problem.level_sizes[:-1]])
    return [
        RandomTerm(problem.codes[:, level] - offsets[level], Z, correlated=d.correlated, group_name=name,
                   column_names=d.random_names)
        for level, name in enumerate(level_names(d.groups))
    ]  # fmt: skip


def linearized_model(
    problem: NonlinearProblem, beta: np.ndarray, b: np.ndarray, REML: bool, like: LinearMixedModel | None = None
) -> LinearMixedModel:
    """The (unfitted) linear mixed model of the linearization at (β, b); given a model of an
    earlier linearization (like), that model with the new values."""
    value, X, Z = problem.linearized(beta, b)
    effects = b[problem.codes] if not problem.nested else b[problem.codes].sum(axis=1)  # each row's b (n × q)
    w = problem.y - value + X @ beta + np.sum(Z * effects, axis=1)
    if like is not None and like.REML == REML and not problem.has_structure and not problem.nested:
        return like._with_values(w, X, Z)
    d = problem.design
    terms = _terms(problem, Z)
    if not problem.has_structure:
        return LinearMixedModel.from_arrays(w, X, terms, REML=REML, names=d.beta_names)
    # the array model's formula on its frame with the residual structure's columns beside
    layout = ArrayLayout.of(X, terms, d.beta_names, None, None)
    frame = layout.frame(w, X, terms, None, None)
    for column in problem.structure_frame.columns:
        frame[column] = problem.structure_frame[column].to_numpy()
    if FITTED in getattr(problem.variance, "columns", ()):  # nlme's update of ~fitted(.) before each LME step
        frame[FITTED] = value
    return LinearMixedModel(
        layout.formula(), frame, REML=REML, variance=problem.variance, correlation=problem.correlation
    )


def lme_step(
    problem: NonlinearProblem, beta: np.ndarray, b: np.ndarray, previous: LinearMixedModel | None, tight: bool
) -> LinearMixedModel:
    """The linearized model's ML fit (nlme's LME step; for REML fits too, see _reported), in the
    previous step's model from its θ; near convergence (tight) to tolerances small enough that the
    steps' noise does not keep the alternation from converging (Soybean's six θ's jittered by 1e-4
    at lmer's defaults), before it at lmer's (a third of the evaluations)."""
    model = linearized_model(problem, beta, b, REML=False, like=previous)
    if previous is not None and not problem.has_structure:  # (with one, the search is over θ and ψ: from scratch)
        theta = np.asarray(previous.theta)
        model._restart_optimizer(theta)
        # θ moves little between steps: BOBYQA's first steps a tenth of it (NLopt's heuristic
        # steps are as wide as from scratch: ~30 evaluations a step instead of ~15)
        model.optsum.initial_step = np.maximum(WARM_STEP * np.abs(theta), WARM_STEP_FLOOR)
    with warnings.catch_warnings():  # a step's singular fit is the nonlinear fit's only at the end (said there)
        warnings.simplefilter("ignore", SingularFitWarning)
        return model.fit(check_conv=False, control=LME_CONTROL if tight else None)


def lindstrom_bates(
    problem: NonlinearProblem, beta: np.ndarray, REML: bool, max_iter: int, tolerance: float
) -> LindstromBatesFit:
    q, m = problem.q, problem.n_groups
    u = np.zeros((m, q))
    beta, _ = pnls(problem, beta, u, problem.zero_factor())  # the fixed effects alone first: b = 0
    b = np.zeros((m, q))
    lme = lme_step(problem, beta, b, None, tight=False)
    problem = _reweighted(problem, lme)
    previous = np.concatenate([beta, lme.theta, _psi(lme)])
    change = np.inf
    for iteration in range(1, max_iter + 1):
        T = relative_factor(lme, problem)
        u = _u_of(problem, b, T)
        beta, u = pnls(problem, beta, u, T)
        b = problem.effects(u, T)
        lme = lme_step(problem, beta, b, lme, tight=change < TIGHT_BELOW)
        problem = _reweighted(problem, lme)
        current = np.concatenate([beta, lme.theta, _psi(lme)])
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


def _reweighted(problem: NonlinearProblem, lme: LinearMixedModel) -> NonlinearProblem:
    """The problem with the LME step's residual structure (itself without one)."""
    return replace(problem, structure=lme._structure) if problem.has_structure else problem


def _psi(lme: LinearMixedModel) -> np.ndarray:
    """The residual structure's parameters (δ, φ) (none without one): they converge with β and θ."""
    return np.zeros(0) if lme._structure is None else np.asarray(lme._structure.psi)


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
    restricted = linearized_model(problem, beta, b, REML=True)  # (nlme() refuses REML with a residual structure)
    restricted._set_estimates(np.asarray(lme.theta))
    return restricted


def _u_of(problem: NonlinearProblem, b: np.ndarray, T: np.ndarray) -> np.ndarray:
    """u with b = T u (least squares where T is singular), level by level for nested groups."""
    if b.size == 0:
        return b
    if not problem.nested:
        return np.linalg.lstsq(T, b.T, rcond=None)[0].T
    bounds = np.cumsum([0, *problem.level_sizes])
    return np.vstack(
        [np.linalg.lstsq(T[level], b[bounds[level] : bounds[level + 1]].T, rcond=None)[0].T
         for level in range(problem.levels)]
    )  # fmt: skip
