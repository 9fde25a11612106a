"""Conditional variances of the random effects (lme4's ranef(condVar = TRUE)).

Given θ and the weights at the fit, Var(b | y) = σ² Λ (Λ'Z'WZΛ + I)⁻¹ Λ' (β taken as known, as
in lme4 and MixedModels.jl). Only the blocks of each level are needed: for a grouping factor
with several terms, e.g. (x || g), the block joins all of that factor's columns, as lme4's
arrange.condVar does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..design.matrices import Design

COLUMNS_PER_SOLVE = 512  # right-hand sides per sparse solve: bounds the dense work memory


def relative_factor(design: Design, theta: np.ndarray) -> sp.csc_matrix:
    """Λt at θ."""
    Lambdat = design.Lambdat.copy()
    Lambdat.data = np.asarray(theta, dtype=np.float64)[design.Lind]
    return Lambdat


def level_positions(design: Design) -> dict[str, np.ndarray]:
    """For each grouping factor, the positions in b of each level's effects: levels × columns."""
    positions: dict[str, list[np.ndarray]] = {}
    for t, sl in zip(design.terms, design.b_slices()):
        block = np.arange(sl.start, sl.stop).reshape(t.n_levels, t.p)
        positions.setdefault(t.name, []).append(block)
    return {name: np.hstack(blocks) for name, blocks in positions.items()}


def conditional_variances(design: Design, theta: np.ndarray, weights: np.ndarray, sigma: float) -> dict[str, np.ndarray]:
    """Grouping factor → array (levels, p, p) of the conditional covariance of each level's effects."""
    Lambdat = relative_factor(design, theta)
    ZtW = design.Zt @ sp.diags(weights)
    A = (Lambdat @ (ZtW @ design.Zt.T) @ Lambdat.T + sp.identity(Lambdat.shape[0])).tocsc()
    # A is symmetric positive definite: a symmetric fill-reducing ordering and diagonal pivots
    # keep the factor 5× sparser than the default column ordering (InstEval: 1.1·10⁶ against
    # 5.8·10⁶ nonzeros) and its solves 4× faster.
    factor = splu(A, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    result = {}
    for name, positions in level_positions(design).items():
        n_levels, p = positions.shape
        out = np.empty((n_levels, p, p))
        per_solve = max(1, COLUMNS_PER_SOLVE // p)
        for start in range(0, n_levels, per_solve):
            chunk = positions[start : start + per_solve]
            columns = Lambdat[:, chunk.ravel()].toarray()
            solved = factor.solve(columns)
            # Only each level's own p × p block of columnsᵀ solved is wanted.
            m = len(chunk)
            out[start : start + m] = np.einsum("rma,rmb->mab", columns.reshape(-1, m, p), solved.reshape(-1, m, p))
        result[name] = sigma**2 * out
    return result
