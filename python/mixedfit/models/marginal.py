"""The marginal view of a fitted model: G, R and V = ZGZ' + R as matrices, and the variance
decomposition behind Nakagawa's R² and the intraclass correlation, as R's performance package
(insight::get_variance) computes them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ResourceError
from ..inference.condvar import relative_factor
from .results import lower_factor

MAX_V_ENTRIES = 50_000_000  # V = ZGZ' + R is n × n; past this many nonzeros it is refused
# insight's distribution-specific variance of binomial links on the latent scale.
LATENT_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}


def covariance_of_random_effects(design, theta: np.ndarray, scale: float) -> sp.csc_matrix:
    """G = scale² Λ Λ' (q × q), in b's order."""
    Lambda = relative_factor(design, theta).T
    return (scale**2 * (Lambda @ Lambda.T)).tocsc()


def marginal_covariance(Z: sp.csc_matrix, G: sp.csc_matrix, R: sp.csc_matrix) -> sp.csc_matrix:
    """V = Z G Z' + R, refused (ResourceError) when it would be too large to hold."""
    # Each level's observations are all paired in ZZ': at most Σ (observations per level)² entries.
    estimate = int(np.sum(Z.getnnz(axis=0).astype(np.int64) ** 2))
    if estimate > MAX_V_ENTRIES:
        raise ResourceError(
            f"V = ZGZ' + R would hold about {estimate} nonzeros; form it for a subset of the data instead"
        )
    return (Z @ G @ Z.T + R).tocsc()


def variance_components(model) -> dict[str, float]:
    """insight::get_variance's var.fixed, var.random and var.residual (0.19.0, as performance
    0.10.2 uses it): the variance of Xβ (n − 1 denominator); the random effects' mean variance
    over the observations (Johnson 2014: the mean of zᵢ'Σzᵢ for each term; like insight, terms
    without an intercept column add nothing); the residual variance, the distribution-specific
    one (σ² for an LMM, see distribution_variance for GLMMs) plus, for a GLMM, the variance of
    observation-level terms (a grouping factor with a level per observation), which insight
    counts as dispersion rather than as random (and, for an LMM, not at all)."""
    d = model.design
    fixed = d.fixed.X @ model._beta
    var_fixed = float(np.var(fixed, ddof=1)) if len(fixed) > 1 else 0.0
    scale = model._sigma  # the terms' covariances as VarCorr reports them (a Gamma GLMM's: σ²ΛΛ', as lme4)
    var_random = var_dispersion = 0.0
    factor = d.factor(model._theta)
    for t, sl in zip(d.terms, d.factor_slices()):
        if "(Intercept)" not in t.columns:
            continue
        T = lower_factor(factor[sl], t.p)
        Sigma = scale**2 * T @ T.T
        variance = float(np.mean(np.einsum("ij,jk,ik->i", t.X, Sigma, t.X)))
        if t.n_levels != model.nobs:
            var_random += variance
        elif model._OBSERVATION_TERMS_ARE_DISPERSION:
            var_dispersion += variance
    distribution = model._distribution_variance()
    return {"fixed": var_fixed, "random": var_random, "residual": distribution + var_dispersion}


def distribution_variance(family, sigma: float, null_intercept: Callable[[], float]) -> float:
    """A GLMM's distribution-specific variance as insight 0.19.0 computes it (performance 0.10.2's
    r2_nakagawa and icc): a binomial's latent variance of its link; for Poisson and negative
    binomial (NB2, NB1) counts with a log link, beta responses with a logit link and the Tweedie
    (φμ^p with the model's φ and p) the lognormal
    approximation log(1 + v(μ)/μ²), with v the family's variance function at μ = exp(β₀) of the
    null model (the same random effects, offsets and weights, intercept only: null_intercept()
    fits it) — insight takes exp(β₀) for the beta's logit link too; 0.25 for a count's sqrt link;
    σ² (the model's sigma) for a Gamma. Other families raise ValueError, as insight has no
    variance for them or one this package does not reproduce."""
    name, link = family.name, family.link
    if name == "binomial" and link in LATENT_VARIANCE:
        return LATENT_VARIANCE[link]
    if name == "Gamma":
        return sigma**2
    counts = name in ("poisson", "negative_binomial", "nbinom1")
    if counts and link == "sqrt":
        return 0.25
    if (counts and link == "log") or (name == "beta" and link == "logit") or name == "tweedie":
        mu = float(np.exp(null_intercept()))
        variance = {
            "poisson": lambda: mu,
            "negative_binomial": lambda: mu * (1 + mu / family.theta),
            "nbinom1": lambda: mu * (1 + family.theta),
            "beta": lambda: mu * (1 - mu) / (1 + family.theta),
            "tweedie": lambda: family.theta * mu**family.power,  # (the model's φ and p, at the null model's μ)
        }[name]()
        return float(np.log1p(variance / mu**2))
    raise ValueError(
        "R² and ICC are available for LMMs and for GLMMs of the binomial (logit, probit, cloglog), poisson and "
        f"negative binomial (log, sqrt), nbinom1 (log), Gamma, beta (logit) and tweedie families, not {family}"
    )


def nakagawa_r2(model) -> pd.Series:
    v = variance_components(model)
    total = v["fixed"] + v["random"] + v["residual"]
    return pd.Series({"conditional": (v["fixed"] + v["random"]) / total, "marginal": v["fixed"] / total}, name="R2")


def intraclass_correlation(model) -> pd.Series:
    v = variance_components(model)
    return pd.Series(
        {
            "adjusted": v["random"] / (v["random"] + v["residual"]),
            "unadjusted": v["random"] / (v["fixed"] + v["random"] + v["residual"]),
        },
        name="ICC",
    )
