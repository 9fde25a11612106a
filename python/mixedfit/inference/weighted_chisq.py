"""Upper tail probabilities of weighted sums of independent chi-squares, Q = Σ λ_j χ²(h_j), by
Imhof's (1961) inversion of the characteristic function (the distribution of mgcv's smooth-term
test statistics; mgcv evaluates the same probability by Davies' algorithm)."""

from __future__ import annotations

import numpy as np

from .._lazy import integrate


def weighted_chisq_tail(x: float, weights: np.ndarray, df: np.ndarray | None = None) -> float:
    """P(Σ λ_j χ²(h_j) > x); weights λ may be negative, df h positive integers (1 each if None)."""
    weights = np.asarray(weights, dtype=np.float64)
    df = np.ones_like(weights) if df is None else np.asarray(df, dtype=np.float64)
    kept = weights != 0
    weights, df = weights[kept], df[kept]
    if weights.size == 0:
        return float(x < 0)

    quad = integrate().quad

    def angle(u: float) -> float:  # of the characteristic function, without the −xu/2
        return 0.5 * np.sum(df * np.arctan(weights * u))

    def inverse_radius(u: float) -> float:  # |characteristic function|, underflowing to 0 far out
        return np.exp(-0.25 * np.sum(df * np.log1p((weights * u) ** 2)))

    def integrand(u: float) -> float:
        return np.sin(angle(u) - 0.5 * x * u) * inverse_radius(u) / u

    near, _ = quad(integrand, 0.0, 1.0, limit=200, epsabs=1e-12)
    if x == 0:
        far, _ = quad(integrand, 1.0, np.inf, limit=200, epsabs=1e-12)
    else:
        # sin(a − ωu) = sin a cos ωu − cos a sin ωu: Fourier integrals to infinity (QUADPACK's QAWF),
        # which a plain quadrature of the oscillating integrand does not converge on.
        omega = 0.5 * abs(x)
        sign = np.sign(x)
        cosine, _ = quad(lambda u: np.sin(angle(u)) * inverse_radius(u) / u, 1.0, np.inf, weight="cos", wvar=omega)
        sine, _ = quad(lambda u: np.cos(angle(u)) * inverse_radius(u) / u, 1.0, np.inf, weight="sin", wvar=omega)
        far = cosine - sign * sine
    return float(np.clip(0.5 + (near + far) / np.pi, 0.0, 1.0))
