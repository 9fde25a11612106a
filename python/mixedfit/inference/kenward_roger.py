"""Kenward–Roger's adjusted covariance of β̂ and denominator degrees of freedom (pbkrtest's
vcovAdj and Lb_ddf / KRmodcomp, after Kenward & Roger 1997, Halekoh & Højsgaard 2014).

The marginal covariance is linear in its parameters: V = Σᵣ γᵣ Gᵣ, with one Gᵣ per variance and
covariance of each random-effects term (Z_t (I ⊗ Eᵢⱼ) Z_t') and the identity for σ². From
Pᵣ = −X'V⁻¹GᵣV⁻¹X, Qᵣₛ = X'V⁻¹GᵣV⁻¹GₛV⁻¹X and the expected REML information of γ, W = 2 I⁻¹:
Φ_A = Φ + 2Φ[Σᵣₛ Wᵣₛ(Qᵣₛ − PᵣΦPₛ)]Φ (Φ = (X'V⁻¹X)⁻¹), and for a hypothesis Lβ = 0 the F
statistic's scaling and denominator df from A₁, A₂ as in pbkrtest. The computation is dense in
the number of observations (V⁻¹ is n × n), as pbkrtest's is; it is refused above MAX_ROWS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MAX_ROWS = 6000


@dataclass
class KenwardRoger:
    """What Kenward–Roger's tests of any contrast need: Φ (vcov_unadjusted), Φ_A (vcov), the
    Pᵣ and W. Same interface as Satterthwaite's pieces: ``df(l)``, ``f_test(L, β)``, ``vcov``."""

    vcov_unadjusted: np.ndarray
    vcov: np.ndarray
    P: list[np.ndarray]
    W: np.ndarray

    def _adjustment(self, L: np.ndarray) -> tuple[int, float, float]:
        """q, the denominator df and the F statistic's scaling for H0: Lβ = 0 (pbkrtest)."""
        L = np.atleast_2d(L)
        Phi = self.vcov_unadjusted
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        ThetaPhi = Theta @ Phi
        U = [ThetaPhi @ P @ Phi for P in self.P]
        A1 = A2 = 0.0
        for i in range(len(U)):
            for j in range(i, len(U)):
                e = 1.0 if i == j else 2.0
                A1 += e * self.W[i, j] * np.trace(U[i]) * np.trace(U[j])
                A2 += e * self.W[i, j] * np.sum(U[i] * U[j].T)
        q = int(np.linalg.matrix_rank(L))
        B = (A1 + 6 * A2) / (2 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        c1, c2, c3 = g / (3 * q + 2 * (1 - g)), (q - g) / (3 * q + 2 * (1 - g)), (q + 2 - g) / (3 * q + 2 * (1 - g))
        V0, V1, V2 = 1 + c1 * B, 1 - c2 * B, 1 - c3 * B
        V0 = 0.0 if abs(V0) < 1e-10 else V0
        ratio = (1 - A2 / q) / V1 if V1 != 0 else 0.0
        rho = ratio**2 * V0 / V2 / q
        ddf = 4 + (q + 2) / (q * rho - 1)
        scaling = 1.0 if abs(ddf - 4) < 1e-2 else ddf * (1 - A2 / q) / (ddf - 2)
        return q, float(ddf), float(scaling)

    def df(self, l: np.ndarray) -> float:
        return self._adjustment(np.asarray(l, dtype=np.float64))[1]

    def f_test(self, L: np.ndarray, beta: np.ndarray) -> tuple[float, int, float]:
        """Kenward–Roger's F (the Wald statistic with Φ_A over q, scaled), q and the denominator df."""
        q, ddf, scaling = self._adjustment(L)
        Lb = L @ beta
        wald = float(Lb @ np.linalg.solve(L @ self.vcov @ L.T, Lb))
        return scaling * wald / q, q, ddf


def covariance_structure(design, theta: np.ndarray, sigma: float, n: int) -> tuple[list[sp.csr_matrix], np.ndarray]:
    """The Gᵣ (n × n, sparse) and γ of V = Σ γᵣGᵣ: each term's variances and covariances (its
    lower triangle by columns, as pbkrtest orders them), then σ² with the identity."""
    G, gamma = [], []
    start = 0
    for term, columns in zip(design.terms, design.b_slices()):
        p = term.p
        k = p * (p + 1) // 2
        L = np.zeros((p, p))
        rows, cols = np.tril_indices(p)
        order = np.lexsort((rows, cols))  # by columns
        L[rows[order], cols[order]] = theta[start : start + k]
        start += k
        covariance = sigma**2 * L @ L.T
        Z = design.Zt[columns].T.tocsc()  # n × (levels · p), level-major
        parts = [Z[:, j::p] for j in range(p)]
        for i, j in zip(rows[order], cols[order]):
            block = parts[i] @ parts[j].T
            G.append((block if i == j else block + block.T).tocsr())
            gamma.append(covariance[i, j])
    G.append(sp.identity(n, format="csr"))
    gamma.append(sigma**2)
    return G, np.array(gamma)


def kenward_roger(design, X: np.ndarray, theta: np.ndarray, sigma: float, vcov: np.ndarray) -> KenwardRoger:
    """pbkrtest's vcovAdj at the (REML) estimates."""
    n = X.shape[0]
    if n > MAX_ROWS:
        raise NotImplementedError(
            f"Kenward-Roger is computed with dense n × n matrices (as pbkrtest does); {n} observations are more than "
            f"{MAX_ROWS}: use ddf='Satterthwaite'"
        )
    G, gamma = covariance_structure(design, theta, sigma, n)
    V = sum((g * G[r]) for r, g in enumerate(gamma)).toarray()
    Vinv = np.linalg.inv(V)
    Phi = vcov
    T = Vinv @ X
    H = [np.asarray(G[r] @ Vinv) for r in range(len(G))]  # Gᵣ V⁻¹
    O = [h @ X for h in H]  # Gᵣ V⁻¹ X
    VO = [Vinv @ o for o in O]  # V⁻¹ Gᵣ V⁻¹ X, once per r (n² p each) rather than per pair
    P = [-(o.T @ T) for o in O]
    P = [(p + p.T) / 2 for p in P]
    m = len(G)
    Q = {(r, s): O[r].T @ VO[s] for r in range(m) for s in range(r, m)}
    information = np.empty((m, m))
    for r in range(m):
        PhiP = Phi @ P[r]
        for s in range(r, m):
            trace = np.sum(H[r].T * H[s])
            information[r, s] = information[s, r] = trace - 2 * np.sum(Phi * Q[r, s]) + np.sum(PhiP * (P[s] @ Phi))
    smallest = np.min(np.abs(np.linalg.eigvalsh(information)))
    W = 2 * (np.linalg.inv(information) if smallest > 1e-10 else np.linalg.pinv(information))
    W = (W + W.T) / 2
    U = np.zeros_like(Phi)
    for r in range(m):
        for s in range(r, m):
            term = W[r, s] * (Q[r, s] - P[r] @ Phi @ P[s])
            U += term if r == s else term + term.T
    adjusted = Phi + 2 * Phi @ U @ Phi
    return KenwardRoger(Phi, adjusted, P, W)
