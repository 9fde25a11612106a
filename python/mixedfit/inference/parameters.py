"""The variance parameters on lme4's 'sdcor' scale (standard deviations and correlations, then σ):
the scale of profile and bootstrap intervals, with lme4's names .sig01, .sig02, ..., .sigma."""

from __future__ import annotations

import numpy as np

from ..design.matrices import Design
from ..models.results import lower_factor

SINGULAR_TOLERANCE = 1e-4  # lme4's isSingular tolerance on θ components bounded at zero


def sdcor_names(design: Design, with_sigma: bool) -> list[str]:
    names = [f".sig{k + 1:02d}" for k in range(sum(t.n_factor for t in design.terms))]
    return names + ([".sigma"] if with_sigma else [])


def theta_to_sdcor(design: Design, theta: np.ndarray, sigma: float) -> np.ndarray:
    """Each term's σT T' as SDs (diagonal) and correlations (below it), in θ's column-major order."""
    return thetas_to_sdcor(design, np.asarray(theta)[:, None], np.array([sigma]))[0]


def thetas_to_sdcor(design: Design, thetas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """theta_to_sdcor for many fits at once: thetas k × m (one column per fit), sigmas m; returns
    m × k' with k' the terms' factor elements (the refits of a bootstrap or of fit_many, without a
    Python loop over them where the terms are unstructured). A structured term's SDs and
    correlations are those of the covariance its parameters imply."""
    thetas = design.factors(thetas)
    out = []
    for t, sl in zip(design.terms, design.factor_slices()):
        lower = np.triu_indices(t.p)[::-1]  # T's lower triangle in θ's column-major order
        T = np.zeros((thetas.shape[1], t.p, t.p))
        T[:, lower[0], lower[1]] = thetas[sl].T
        cov = sigmas[:, None, None] ** 2 * T @ T.transpose(0, 2, 1)
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        with np.errstate(invalid="ignore", divide="ignore"):
            S = cov / (sd[:, :, None] * sd[:, None, :])
        S[:, np.arange(t.p), np.arange(t.p)] = sd
        out.append(S[:, lower[0], lower[1]])  # S's lower triangle, column-major
    return np.concatenate(out, axis=1)


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
