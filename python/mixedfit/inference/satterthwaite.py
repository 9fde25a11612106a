"""Satterthwaite's degrees of freedom for an LMM's fixed effects, as lmerTest computes them.

With varpar = (θ, σ), A = 2 H⁻¹ where H is the Hessian of the (unprofiled) REML or ML deviance
in varpar, and J the Jacobian of Var(β̂) = σ² (RX'RX)⁻¹ in varpar, the degrees of freedom of a
contrast l are 2 (l'Vl)² / (g'A g) with g = ∂(l'Vl)/∂varpar. Derivatives are
Richardson-extrapolated central differences, as numDeriv's (lmerTest's) defaults.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConvergenceWarning
from .derivatives import richardson_hessian, richardson_jacobian

EIGEN_TOLERANCE = 1e-8  # lmerTest's tolerance for the eigenvalues of H


def varpar_deviance(core, n: int, p: int, REML: bool, varpar: np.ndarray) -> float:
    """−2 log L (or the REML criterion) at θ = varpar[:-1], σ = varpar[-1], up to a constant."""
    sigma2 = varpar[-1] ** 2
    core.objective(np.ascontiguousarray(varpar[:-1]), REML)
    dev = core.ldL2 + core.pwrss / sigma2 + n * np.log(2 * np.pi * sigma2)
    if REML:
        dev += core.ldRX2 - p * np.log(2 * np.pi * sigma2)
    return dev


def beta_covariance(core, REML: bool, varpar: np.ndarray) -> np.ndarray:
    core.objective(np.ascontiguousarray(varpar[:-1]), REML)
    RX_inv = np.linalg.inv(np.array(core.RX))
    return (varpar[-1] ** 2 * RX_inv @ RX_inv.T).ravel()


def satterthwaite_df(core, theta: np.ndarray, sigma: float, vcov: np.ndarray, n: int, REML: bool) -> np.ndarray:
    """Degrees of freedom of each fixed effect; leaves the core at θ."""
    p = vcov.shape[0]
    varpar = np.concatenate([theta, [sigma]])
    H = richardson_hessian(lambda v: varpar_deviance(core, n, p, REML, v), varpar)
    values, vectors = np.linalg.eigh(H)
    negative = values[values < -EIGEN_TOLERANCE]
    if len(negative):
        warnings.warn(
            f"Model failed to converge with {len(negative)} negative eigenvalue{'s' if len(negative) > 1 else ''} of "
            f"the Hessian in (θ, σ): {' '.join(f'{v:.1e}' for v in negative)} (Satterthwaite df are unreliable)",
            ConvergenceWarning,
            stacklevel=4,
        )
    keep = values > EIGEN_TOLERANCE
    A = 2 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    J = richardson_jacobian(lambda v: beta_covariance(core, REML, v), varpar)
    core.objective(np.ascontiguousarray(theta), REML)
    df = np.empty(p)
    for j in range(p):
        g = J[j * p + j]
        df[j] = 2 * vcov[j, j] ** 2 / (g @ A @ g)
    return df
