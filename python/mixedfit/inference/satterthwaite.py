"""Satterthwaite's degrees of freedom for an LMM's fixed effects, as lmerTest computes them.

With varpar = (θ, σ), A = 2 H⁻¹ where H is the Hessian of the (unprofiled) REML or ML deviance
in varpar, and J the Jacobian of Var(β̂) = σ² (RX'RX)⁻¹ in varpar, the degrees of freedom of a
contrast l are 2 (l'Vl)² / (g'A g) with g = ∂(l'Vl)/∂varpar. Derivatives are
Richardson-extrapolated central differences, as numDeriv's (lmerTest's) defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceWarning, warn
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


@dataclass(frozen=True)
class Satterthwaite:
    """What Satterthwaite's degrees of freedom of any contrast need (lmerTest's vcov_varpar and
    Jac_list): A = 2 H⁻¹ in varpar = (θ, σ), J the Jacobian of vec(Var β̂) (p² × k), Var β̂."""

    A: np.ndarray
    J: np.ndarray
    vcov: np.ndarray

    def df(self, l: np.ndarray) -> float:
        """2 (l'Vl)² / (g'Ag), g = ∂(l'Vl)/∂varpar (lmerTest's contest1D)."""
        g = np.kron(l, l) @ self.J
        return float(2 * (l @ self.vcov @ l) ** 2 / (g @ self.A @ g))

    def f_test(self, L: np.ndarray, beta: np.ndarray) -> tuple[float, int, float]:
        """F statistic, numerator and denominator df of H0: Lβ = 0 (lmerTest's contestMD: the
        eigen-contrasts of L V L' each get Satterthwaite's df, combined as E = Σ ν/(ν − 2),
        DenDF = 2E / (E − q))."""
        values, vectors = np.linalg.eigh(L @ self.vcov @ L.T)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        positive = values > max(np.sqrt(np.finfo(float).eps) * values[0], 0)
        q = int(positive.sum())
        PtL = vectors[:, :q].T @ L
        F = float(np.sum((PtL @ beta) ** 2 / values[:q]) / q)
        nu = np.array([self.df(row) for row in PtL])
        if q == 1 or np.all(np.abs(np.diff(nu)) < 1e-8):
            return F, q, float(np.mean(nu))
        if np.any(nu <= 2):
            return F, q, 2.0
        E = np.sum(nu / (nu - 2))
        return F, q, float(2 * E / (E - q))


def satterthwaite(core, theta: np.ndarray, sigma: float, vcov: np.ndarray, n: int, REML: bool) -> Satterthwaite:
    """The pieces at the estimates (16k² + 8k evaluations for k = len(θ) + 1); leaves the core at θ."""
    p = vcov.shape[0]
    varpar = np.concatenate([theta, [sigma]])
    H = richardson_hessian(lambda v: varpar_deviance(core, n, p, REML, v), varpar)
    values, vectors = np.linalg.eigh(H)
    negative = values[values < -EIGEN_TOLERANCE]
    if len(negative):
        warn(
            f"Model failed to converge with {len(negative)} negative eigenvalue{'s' if len(negative) > 1 else ''} of "
            f"the Hessian in (θ, σ): {' '.join(f'{v:.1e}' for v in negative)} (Satterthwaite df are unreliable)",
            ConvergenceWarning,
        )
    keep = values > EIGEN_TOLERANCE
    A = 2 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    J = richardson_jacobian(lambda v: beta_covariance(core, REML, v), varpar)
    core.objective(np.ascontiguousarray(theta), REML)
    return Satterthwaite(A, J, vcov)
