"""The marginal view of a fitted model: G, R and V = ZGZ' + R as matrices, and the variance
decomposition behind Nakagawa's R² and the intraclass correlation, as R's performance package
(insight::get_variance) computes them."""

from __future__ import annotations

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
    """insight::get_variance's var.fixed, var.random and var.residual: the variance of Xβ (n − 1
    denominator), the random effects' mean variance over the observations (Johnson 2014: the
    mean of zᵢ'Σzᵢ for each term; like insight, terms without an intercept column add nothing)
    and the residual variance (σ² for an LMM; the link's latent variance for a binomial GLMM)."""
    d = model.design
    fixed = d.fixed.X @ model._beta
    var_fixed = float(np.var(fixed, ddof=1)) if len(fixed) > 1 else 0.0
    scale = model._random_effects_scale()
    var_random = 0.0
    factor = d.factor(model._theta)
    for t, sl in zip(d.terms, d.factor_slices()):
        if "(Intercept)" not in t.columns:
            continue
        T = lower_factor(factor[sl], t.p)
        Sigma = scale**2 * T @ T.T
        var_random += float(np.mean(np.einsum("ij,jk,ik->i", t.X, Sigma, t.X)))
    return {"fixed": var_fixed, "random": var_random, "residual": model._residual_variance()}


def latent_residual_variance(family) -> float:
    """A binomial GLMM's residual variance on the latent scale of its link (insight's)."""
    if family.name != "binomial" or family.link not in LATENT_VARIANCE:
        raise ValueError(f"R² and ICC are available for LMMs and binomial GLMMs (logit, probit, cloglog), not {family}")
    return LATENT_VARIANCE[family.link]


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
