"""Nonlinear mixed models by the Laplace approximation: ``mixedfit.nlmer``, lme4's nlmer().

For (θ, β), the conditional modes u minimize |y − f(φ(β, Tu))|² + |u|² (PNLS with β fixed: the
groups do not couple, and each Gauss–Newton step is vectorized over them); with G_g = Σ z z' + I at the mode (z = ∂f/∂u_g per row) and pwrss the penalized residual
sum of squares there, the profiled Laplace deviance is Σ_g log det G_g + n(1 + log(2π pwrss/n)),
lme4's. It is minimized as lme4 does: over θ with β at its start, then over θ and β (BOBYQA).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design.formula import parse_formula
from ..errors import FormulaError, NumericalError
from ..models.optimize import OptSummary, bobyqa
from .lindstrom_bates import NonlinearProblem, group_blocks, pnls

MODE_TOLERANCE = 1e-12  # relative decrease of the penalized RSS that ends the modes' search


@dataclass(frozen=True)
class RandomBlocks:
    """The random-effects terms of one grouping factor: each a block of parameters, correlated
    within it ('(a + b | g)') or not, in the order written; θ is each block's lower triangle by
    column (lme4's order)."""

    sizes: tuple[int, ...]
    correlated: tuple[bool, ...]

    @property
    def q(self) -> int:
        return sum(self.sizes)

    def _positions(self) -> list[tuple[int, int]]:
        positions, offset = [], 0
        for size, correlated in zip(self.sizes, self.correlated):
            pairs = (
                [(i, j) for j in range(size) for i in range(j, size)] if correlated else [(i, i) for i in range(size)]
            )
            positions += [(offset + i, offset + j) for i, j in pairs]
            offset += size
        return positions

    @property
    def n_theta(self) -> int:
        return len(self._positions())

    def factor(self, theta: np.ndarray) -> np.ndarray:
        T = np.zeros((self.q, self.q))
        rows, cols = zip(*self._positions())
        T[list(rows), list(cols)] = theta
        return T

    def start(self) -> np.ndarray:
        return np.array([float(i == j) for i, j in self._positions()])

    def lower(self) -> np.ndarray:
        return np.array([0.0 if i == j else -np.inf for i, j in self._positions()])

    def pairs(self) -> list[tuple[int, int]]:
        """Each correlation's (i, j), i > j, within a correlated block."""
        return [(i, j) for i, j in self._positions() if i != j]


def random_blocks(random: str, parameters: tuple[str, ...]) -> tuple[list[str], RandomBlocks, str]:
    """lme4's nlmer random part: 'Asym | Tree', '(Asym + xmid | Tree)' or '(lKa | g) + (0 + lCl | g)'
    — the parameters with random effects, their blocks and the grouping column."""
    text = random.strip()
    if not text.startswith("("):
        text = f"({text})"
    terms = parse_formula(f"y ~ 0 + {text}").random
    if not terms:
        raise FormulaError(f"nlmer's random part '{random}' has no term such as 'Asym | Tree'")
    groups = {t.group for t in terms}
    if len(groups) > 1:
        raise FormulaError(
            f"nlmer's random part '{random}': one grouping factor is supported yet, not {', '.join(sorted(groups))}"
        )
    names: list[str] = []
    sizes, correlated = [], []
    for term in terms:
        pieces = [p.strip() for p in re.split(r"\+", term.expr) if p.strip() not in ("0", "-1", "")]
        unknown = [p for p in pieces if p not in parameters]
        if unknown or not pieces:
            raise FormulaError(
                f"random term {term}: {', '.join(unknown) or 'nothing'} is not a parameter of the model ({', '.join(parameters)})"
            )
        repeated = [p for p in pieces if p in names]
        if repeated:
            raise FormulaError(f"random term {term}: {', '.join(repeated)} has a random effect already")
        names += pieces
        sizes.append(len(pieces))
        correlated.append(len(pieces) > 1)
    return names, RandomBlocks(tuple(sizes), tuple(correlated)), terms[0].group


@dataclass
class LaplaceFit:
    """nlmer's estimates and what every nonlinear fit reports."""

    beta: np.ndarray
    b: np.ndarray
    theta: np.ndarray
    loglik: float
    sigma: float
    vcov: np.ndarray
    varcorr: pd.DataFrame
    singular: bool
    n_theta: int
    iterations: int  # evaluations of the deviance
    converged: bool
    structure_lines: tuple[str, ...] = ()  # (no variance functions in nlmer)


class LaplaceDeviance:
    """The deviance as a function of (θ, β), keeping the last modes as the next search's start."""

    def __init__(self, problem: NonlinearProblem, blocks: RandomBlocks) -> None:
        self.problem, self.blocks = problem, blocks
        self.u = np.zeros((problem.n_groups, blocks.q))

    def at_modes(self, beta: np.ndarray, T: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
        """(deviance, pwrss, G, H, X) at the conditional modes for (β, T): G and H the groups'
        blocks there, X = ∂f/∂β."""
        problem = self.problem
        _, self.u = pnls(problem, beta, self.u, T, update_beta=False, tolerance=MODE_TOLERANCE)
        evaluation = problem.mean.evaluate(problem.data, problem.parameters(beta, self.u @ T.T))
        r, X, G, H, _, _ = group_blocks(problem, evaluation, self.u, T)
        pwrss = float(r @ r + np.sum(self.u**2))
        n = len(problem.y)
        deviance = float(np.sum(np.linalg.slogdet(G)[1])) + n * (1.0 + np.log(2 * np.pi * pwrss / n))
        return deviance, pwrss, G, H, X

    def __call__(self, theta: np.ndarray, beta: np.ndarray) -> float:
        try:
            deviance = self.at_modes(beta, self.blocks.factor(theta))[0]
        except (NumericalError, np.linalg.LinAlgError):
            return np.inf
        return deviance if np.isfinite(deviance) else np.inf  # outside the model's domain (a scale at 0)


def laplace_fit(
    problem: NonlinearProblem, blocks: RandomBlocks, beta0: np.ndarray, names: list[str], group: str
) -> LaplaceFit:
    deviance = LaplaceDeviance(problem, blocks)
    k = blocks.n_theta
    stage1 = OptSummary(initial=blocks.start(), lower=blocks.lower())
    theta = bobyqa(lambda th: deviance(th, beta0), stage1)
    start = np.concatenate([theta, beta0])
    # BOBYQA's first steps a tenth of each parameter (NLopt's heuristic step took Orange's scal
    # from 350 to 0, where the logistic is undefined)
    stage2 = OptSummary(
        initial=start, lower=np.concatenate([blocks.lower(), np.full(len(beta0), -np.inf)]),
        initial_step=np.maximum(0.1 * np.abs(start), 0.01), ftol_abs=1e-10, xtol_rel=1e-8,
    )  # fmt: skip
    x = bobyqa(lambda v: deviance(v[:k], v[k:]), stage2)
    theta, beta = x[:k], x[k:]
    T = blocks.factor(theta)
    value, pwrss, G, H, X = deviance.at_modes(beta, T)
    sigma = float(np.sqrt(pwrss / len(problem.y)))
    # lme4's vcov from RX: σ² (X'X − Σ_g H'G⁻¹H)⁻¹, X = ∂f/∂β at the modes
    schur = X.T @ X - np.einsum("gqp,gqs->ps", H, np.linalg.solve(G, H))
    vcov = sigma**2 * np.linalg.inv(schur)
    singular = bool(np.any(np.abs(np.diag(T)) < 1e-4))
    return LaplaceFit(
        beta, deviance.u @ T.T, theta, -0.5 * value, sigma, vcov, _varcorr(T, sigma, blocks, names, group), singular,
        k, stage1.feval + stage2.feval, stage2.return_code != "MAXEVAL_REACHED",
    )  # fmt: skip


def _varcorr(T: np.ndarray, sigma: float, blocks: RandomBlocks, names: list[str], group: str) -> pd.DataFrame:
    """lme4's as.data.frame(VarCorr): each block's variances then correlations, the residual."""
    cov = sigma**2 * T @ T.T
    sd = np.sqrt(np.diag(cov))
    rows: list[tuple[Any, ...]] = []
    offset = 0
    for k, size in enumerate(blocks.sizes):
        label = group if k == 0 else f"{group}.{k}"
        block = range(offset, offset + size)
        rows += [(label, names[i], "", cov[i, i], sd[i]) for i in block]
        rows += [
            (label, names[i], names[j], cov[i, j], cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan)
            for i in block for j in block if j > i
        ]  # fmt: skip
        offset += size
    rows.append(("Residual", "", "", sigma**2, sigma))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
