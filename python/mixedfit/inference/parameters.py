"""The variance parameters on lme4's 'sdcor' scale (standard deviations and correlations, then σ):
the scale of profile and bootstrap intervals, with lme4's names .sig01, .sig02, ..., .sigma."""

from __future__ import annotations

import numpy as np

from ..design.matrices import Design
from ..models.results import lower_factor


def sdcor_names(design: Design, with_sigma: bool) -> list[str]:
    names = [f".sig{k + 1:02d}" for k in range(len(design.theta0))]
    return names + ([".sigma"] if with_sigma else [])


def theta_to_sdcor(design: Design, theta: np.ndarray, sigma: float) -> np.ndarray:
    """Each term's σT T' as SDs (diagonal) and correlations (below it), in θ's column-major order."""
    out = []
    for t, sl in zip(design.terms, design.theta_slices()):
        T = lower_factor(theta[sl], t.p)
        cov = sigma**2 * T @ T.T
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            S = cov / np.outer(sd, sd)
        np.fill_diagonal(S, sd)
        out.append(S.T[np.triu_indices(t.p)])  # S's lower triangle, column-major
    return np.concatenate(out)


def sdcor_to_theta(design: Design, sdcor: np.ndarray, sigma: float) -> np.ndarray | None:
    """θ for given SDs and correlations; None when a term's correlation matrix is not positive
    definite (|correlation| ≥ 1 or an inconsistent set)."""
    theta = []
    for t, sl in zip(design.terms, design.theta_slices()):
        S = lower_factor(sdcor[sl], t.p)
        sd = np.diag(S).copy()
        C = S + S.T
        np.fill_diagonal(C, 1.0)
        try:
            chol = np.linalg.cholesky(C)
        except np.linalg.LinAlgError:
            return None
        T = sd[:, None] * chol / sigma  # chol(D C D) = D chol(C)
        theta.append(T.T[np.triu_indices(t.p)])
    return np.concatenate(theta)


def sdcor_bounds(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """SDs are ≥ 0, correlations within [-1, 1]."""
    diagonal = design.lower == 0
    return np.where(diagonal, 0.0, -1.0), np.where(diagonal, np.inf, 1.0)
