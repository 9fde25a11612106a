"""Responses drawn from a family given the means (R's family$simulate): what ``simulate`` and the
parametric bootstrap draw for each observation."""

from __future__ import annotations

import numpy as np

from .._lazy import special, stats
from .families import Family


def draw_response(family: Family, mu: np.ndarray, weights: np.ndarray, dispersion: float, rng: np.random.Generator) -> np.ndarray:
    """A response drawn given the means, as R's family$simulate (binomial: proportions of the
    trials given by the weights; Gamma and inverse Gaussian with the estimated dispersion)."""
    if family.name == "binomial":
        trials = np.rint(weights).astype(np.int64)
        return rng.binomial(trials, mu) / np.maximum(trials, 1)
    if family.name == "poisson":
        return rng.poisson(mu).astype(np.float64)
    if family.name == "negative_binomial":
        return rng.negative_binomial(family.theta, family.theta / (family.theta + mu)).astype(np.float64)
    if family.name == "nbinom1":  # size μ/φ, probability 1/(1 + φ)
        return rng.negative_binomial(mu / family.theta, 1 / (1 + family.theta)).astype(np.float64)
    if family.name == "beta_binomial":  # weights: the numbers of trials
        trials = np.rint(weights).astype(np.int64)
        p = rng.beta(mu * family.theta, (1 - mu) * family.theta)
        return rng.binomial(trials, p) / np.maximum(trials, 1)
    if family.name == "beta":
        return rng.beta(mu * family.theta, (1 - mu) * family.theta)
    if family.zero_truncated:
        return _draw_truncated(family, mu, rng)
    if family.name == "genpois":
        return _draw_genpois(mu, family.theta, rng)
    if family.name == "lognormal":
        v = np.log1p((family.theta / mu) ** 2)
        return np.exp(np.log(mu) - v / 2 + np.sqrt(v) * rng.standard_normal(len(mu)))
    if family.name == "student_t":
        return mu + family.theta * rng.standard_t(family.df, size=len(mu))
    if family.name == "tweedie":
        return _draw_tweedie(mu, family.theta, family.power, rng)
    if family.name == "Gamma":
        shape = weights / dispersion
        return rng.gamma(shape, mu / shape)
    if family.name == "inverse_gaussian":
        return rng.wald(mu, weights / dispersion)
    return mu + np.sqrt(dispersion / weights) * rng.standard_normal(len(mu))


def _draw_truncated(family: Family, mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts ≥ 1 by inverting the untruncated CDF at a uniform draw above P(Y = 0)."""
    if family.name == "truncated_poisson":
        distribution = stats().poisson(mu)
    elif family.name == "truncated_nbinom2":
        distribution = stats().nbinom(family.theta, family.theta / (family.theta + mu))
    else:
        distribution = stats().nbinom(mu / family.theta, 1 / (1 + family.theta))
    p0 = distribution.cdf(0)
    return np.maximum(distribution.ppf(p0 + (1 - p0) * rng.uniform(size=len(mu))), 1.0)


def _draw_tweedie(mu: np.ndarray, phi: float, power: float, rng: np.random.Generator) -> np.ndarray:
    """The compound Poisson–gamma: N ~ Poisson(λ) gamma jumps of shape α and scale γ, with
    λ = μ^(2−p)/(φ(2 − p)), α = (2 − p)/(p − 1), γ = φ(p − 1)μ^(p−1) (mean μ, variance φμ^p); their
    sum is Gamma(Nα, γ)."""
    lam = mu ** (2 - power) / (phi * (2 - power))
    jumps = rng.poisson(lam)
    scale = phi * (power - 1) * mu ** (power - 1)
    amounts = rng.gamma(np.maximum(jumps, 1) * (2 - power) / (power - 1), scale)
    return np.where(jumps > 0, amounts, 0.0)


def _draw_genpois(mu: np.ndarray, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Generalized Poisson counts by inverting the CDF, summed count by count from 0."""
    s = 1 / np.sqrt(phi)
    theta, lam = mu * s, 1 - s
    u, y = rng.uniform(size=len(mu)), np.zeros(len(mu))
    cdf, undecided, k = np.zeros(len(mu)), np.ones(len(mu), dtype=bool), 0
    while undecided.any() and k < 100_000:
        t = theta[undecided] + lam * k
        cdf[undecided] += np.exp(np.log(theta[undecided]) + (k - 1) * np.log(t) - t - special().gammaln(k + 1))
        done = undecided.copy()
        done[undecided] = u[undecided] <= cdf[undecided]
        y[done] = k
        undecided &= ~done
        k += 1
    y[undecided] = k
    return y
