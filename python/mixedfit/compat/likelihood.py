"""statsmodels' MixedLM log-likelihood in statsmodels' own parametrization, and its Hessian.

statsmodels reports its standard errors — of the fixed effects and of the variance parameters —
from the inverse of the Hessian of its log-likelihood with the residual variance profiled out, at
``(β, Ψ, vc)`` where Ψ = cov_re / scale (packed by rows of its lower triangle) and vc = vcomp /
scale. The compatible front reproduces those numbers, so it needs that function: evaluated here
with one sparse factorization of ``I + Λ'Z'ZΛ`` (Ψ = LL'), and its Hessian by central differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


@dataclass(frozen=True)
class GroupedDesign:
    """The random effects as statsmodels groups them.

    ``Z_re`` has k_re columns per group (group-major: group g's columns are g·k_re … g·k_re + k_re − 1);
    ``Z_vc`` holds one matrix per variance component, its columns the component's independent
    effects (each nested in a group), all of one variance.
    """

    Z_re: sp.csc_matrix
    k_re: int
    n_groups: int
    Z_vc: tuple[sp.csc_matrix, ...]

    @property
    def k_re2(self) -> int:
        return self.k_re * (self.k_re + 1) // 2


def psd_factor(psi: np.ndarray) -> np.ndarray:
    """A factor L with LL' = Ψ for a positive semi-definite Ψ (which a Cholesky cannot take at a
    boundary); negative eigenvalues, which a difference step can produce, count as zero."""
    values, vectors = np.linalg.eigh(psi)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def unpack_cov(packed: np.ndarray, k: int) -> np.ndarray:
    """Ψ from its lower triangle packed by rows (statsmodels' order: (0,0), (1,0), (1,1), …)."""
    psi = np.zeros((k, k))
    psi[np.tril_indices(k)] = packed
    return psi + np.tril(psi, -1).T


class ProfileLikelihood:
    """statsmodels' log-likelihood (REML or ML) as a function of its packed parameters
    ``[β, Ψ (lower triangle by rows), vc]`` with the residual variance profiled out."""

    def __init__(self, y: np.ndarray, X: np.ndarray, design: GroupedDesign, reml: bool) -> None:
        self.y, self.X, self.design, self.reml = y, X, design, reml
        self.Z = sp.hstack([design.Z_re, *design.Z_vc], format="csc")

    def _lambda(self, psi_packed: np.ndarray, vc: np.ndarray) -> sp.csc_matrix:
        d = self.design
        blocks = []
        if d.k_re:
            L = psd_factor(unpack_cov(psi_packed, d.k_re))
            blocks.append(sp.kron(sp.identity(d.n_groups), sp.csr_matrix(L)))
        for variance, Z in zip(vc, d.Z_vc):
            blocks.append(np.sqrt(max(variance, 0.0)) * sp.identity(Z.shape[1]))
        return sp.block_diag(blocks, format="csc")

    def __call__(self, params: np.ndarray) -> float:
        p, d = self.X.shape[1], self.design
        return self.at(params[:p], params[p : p + d.k_re2], params[p + d.k_re2 :])

    def at(self, beta: np.ndarray | None, psi: np.ndarray, vc: np.ndarray) -> float:
        """The log-likelihood at (β, Ψ, vc); β None: its GLS estimate at (Ψ, vc),
        (X'V⁻¹X)⁻¹X'V⁻¹y with V⁻¹ = I − A(I + A'A)⁻¹A' (statsmodels' profile_fe), from the same
        factorization of I + A'A, A = ZΛ."""
        A = (self.Z @ self._lambda(psi, vc)).tocsc()
        lu = spla.splu((sp.identity(A.shape[1], format="csc") + A.T @ A).tocsc())
        AX = np.asarray(A.T @ self.X)
        xvx = self.X.T @ self.X - AX.T @ lu.solve(AX)
        if beta is None:
            beta = np.linalg.solve(xvx, self.X.T @ self.y - AX.T @ lu.solve(A.T @ self.y))
        logdet_v = float(np.sum(np.log(np.abs(lu.U.diagonal()))))  # |V| = |I + Λ'Z'ZΛ|
        r = self.y - self.X @ beta
        Ar = A.T @ r
        qf = float(r @ r - Ar @ lu.solve(Ar))
        n, p = self.X.shape
        m = n - p if self.reml else n
        value = -0.5 * logdet_v - 0.5 * m * (np.log(qf) + np.log(2 * np.pi) - np.log(m) + 1.0)
        if self.reml:
            value -= 0.5 * np.linalg.slogdet(xvx)[1]
        return float(value)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Central second differences, step ε^¼·max(|x|, 1) per parameter (truncation and
        rounding error both ~1e-6 relative on the curvatures of these likelihoods)."""
        x = np.asarray(params, dtype=np.float64)
        h = np.finfo(float).eps ** 0.25 * np.maximum(np.abs(x), 1.0)
        m = len(x)
        f0 = self(x)
        H = np.empty((m, m))

        def at(*steps: tuple[int, float]) -> float:
            shifted = x.copy()
            for i, s in steps:
                shifted[i] += s * h[i]
            return self(shifted)

        for i in range(m):
            H[i, i] = (at((i, 2)) - 2 * f0 + at((i, -2))) / (4 * h[i] ** 2)
            for j in range(i):
                H[i, j] = H[j, i] = (
                    at((i, 1), (j, 1)) - at((i, 1), (j, -1)) - at((i, -1), (j, 1)) + at((i, -1), (j, -1))
                ) / (4 * h[i] * h[j])
        return H
