"""What a fitted model says about its smooth terms, as gamm4 and mgcv's summary.gam say it: each
smooth's estimated function with its standard error, its effective degrees of freedom and
Wood's (2013) test that it is zero.

The smooths' coefficients (their unpenalized fixed effects and penalized random effects) and the
other fixed effects are treated as one penalized regression, the other random effects integrated
out: with V = σ²(W⁻¹ + Z_o Λ_o Λ_o' Z_o') their marginal covariance, C the columns of the fixed
effects and of the smooths and P the penalty (1/σ_s² on a smooth's penalized coefficients), the
Bayesian covariance of the coefficients is V_b = (C'V⁻¹C + P)⁻¹ and the effective degrees of
freedom are the diagonal of V_b C'V⁻¹C, summed over each smooth's coefficients (gamm4's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.linalg import splu

from .._lazy import stats
from ..design.smooths import Smooth, SmoothTerm
from .condvar import relative_factor
from .weighted_chisq import weighted_chisq_tail

if TYPE_CHECKING:
    from ..models.model import MixedModel


@dataclass(frozen=True)
class PenalizedFit:
    """The fit's coefficients as one penalized regression: ``coefficients`` (fixed effects, then
    each smooth's penalized ones), ``information`` C'V⁻¹C, ``covariance`` V_b, ``positions`` of
    each smooth's coefficients in them, and the scale σ² (None where the family fixes it)."""

    coefficients: np.ndarray
    information: np.ndarray
    covariance: np.ndarray
    positions: list[np.ndarray]
    smooths: list[Smooth]
    scale: float | None
    n: int

    @property
    def edf(self) -> np.ndarray:
        return np.einsum("ij,ji->i", self.covariance, self.information)


def penalized_fit(model: MixedModel) -> PenalizedFit:
    design = model.design
    smooth_terms = [k for k, t in enumerate(design.terms) if isinstance(t.term, SmoothTerm)]
    if not smooth_terms:
        raise ValueError("the model has no smooth terms s(...)")
    if getattr(model, "_whitened", False):
        raise NotImplementedError("smooth summaries of a model with residual variance or correlation structures")
    slices = design.b_slices()
    others = np.concatenate(
        [np.arange(slices[k].start, slices[k].stop) for k in range(len(design.terms)) if k not in smooth_terms]
        or [np.zeros(0, dtype=int)]
    )
    smooth_rows = [np.arange(slices[k].start, slices[k].stop) for k in smooth_terms]
    Zt = design.Zt.tocsr()
    C = np.hstack([design.fixed.X, *(Zt[rows].T.toarray() for rows in smooth_rows)])
    w = model._working_weights()
    sigma2 = model._sigma**2
    information = C.T @ (w[:, None] * C)
    if len(others):
        Lambdat = relative_factor(design, model._theta).tocsr()[others][:, others]
        ZL = (Zt[others].T @ Lambdat.T).tocsc()  # Z_o Λ_o
        M = (ZL.T @ sp.diags(w) @ ZL + sp.identity(len(others))).tocsc()
        cross = np.asarray(ZL.T @ (w[:, None] * C))  # Λ_o'Z_o'WC
        information -= cross.T @ splu(M).solve(cross)
    information /= sigma2
    penalty = np.zeros(C.shape[1])
    factor = design.factor(model._theta)
    factor_slices = design.factor_slices()
    p = design.fixed.X.shape[1]
    positions, start = [], p
    for k, rows in zip(smooth_terms, smooth_rows):
        variance = sigma2 * factor[factor_slices[k]][0] ** 2
        penalty[start : start + len(rows)] = 1.0 / max(variance, 1e-300)
        start += len(rows)
    b = model._b
    coefficients = np.concatenate([model._beta, *(b[rows] for rows in smooth_rows)])
    covariance = cho_solve(cho_factor(information + np.diag(penalty)), np.eye(C.shape[1]))
    smooths = [design.terms[k].term.smooth for k in smooth_terms]
    start = p
    for s, rows in zip(smooths, smooth_rows):
        fixed = np.array([design.fixed.names.index(name) for name in s.fixed_names], dtype=int)
        positions.append(np.concatenate([np.arange(start, start + len(rows)), fixed]))
        start += len(rows)
    scale = sigma2 if model._has_residual else None
    return PenalizedFit(coefficients, information, covariance, positions, smooths, scale, len(w))


def smooth_table(model: MixedModel) -> pd.DataFrame:
    """mgcv's s.table: edf, Ref.df, F (Chi.sq where the family fixes the scale) and p-value."""
    fit = penalized_fit(model)
    edf = fit.edf
    residual_df = fit.n - float(np.sum(edf))
    rows = []
    # The test's design matrix is R with R'R = C'V⁻¹C (as gamm4's object$R).
    R = np.linalg.cholesky(fit.information).T
    for smooth, at in zip(fit.smooths, fit.positions):
        smooth_edf = float(np.sum(edf[at]))
        statistic, p_value, rank = _wood_test(
            fit.coefficients[at], R[:, at], fit.covariance[np.ix_(at, at)], min(len(at), smooth_edf),
            residual_df if fit.scale is not None else -1.0,
        )  # fmt: skip
        rows.append((smooth.label, smooth_edf, rank, statistic / rank if fit.scale is not None else statistic, p_value))
    name = "F" if fit.scale is not None else "Chi.sq"
    return pd.DataFrame(rows, columns=["term", "edf", "Ref.df", name, "p-value"]).set_index("term")


def _wood_test(
    p: np.ndarray, X: np.ndarray, V: np.ndarray, rank: float, residual_df: float
) -> tuple[float, float, float]:
    """Wood (2013, Biometrika 100:221) test that a smooth is zero, as mgcv's testStat(type = 0):
    the Wald statistic with V's pseudo-inverse of the (fractional) rank of the smooth's edf,
    referred to a weighted sum of chi-squares (an F-like ratio when the scale is estimated)."""
    R = np.linalg.qr(X, mode="r")
    V = R @ V @ R.T
    V = (V + V.T) / 2.0
    values, vectors = np.linalg.eigh(V)
    values, vectors = values[::-1], vectors[:, ::-1]
    signs = np.where(vectors[0] < 0, -1.0, 1.0)
    vectors = vectors * signs
    k = max(0, int(np.floor(rank)))
    nu = abs(rank - k)
    k1 = k + 1 if nu > 0 else k
    estimated_rank = int(np.sum(values > values[0] * np.finfo(float).eps ** 0.9))
    if estimated_rank < k1:
        k1 = k = estimated_rank
        nu = 0.0
        rank = float(estimated_rank)
    vec = vectors[:, :k1].copy()
    if nu > 0 and k > 0:
        if k > 1:
            vec[:, : k - 1] /= np.sqrt(values[: k - 1])
        b12 = np.sqrt(max(0.5 * nu * (1 - nu), 0.0))
        ev = np.diag(values[k - 1 : k1] ** -0.5)
        B = ev @ np.array([[1.0, b12], [b12, nu]]) @ ev
        eb_values, eb_vectors = np.linalg.eigh(B)
        root = eb_vectors @ np.diag(np.sqrt(eb_values)) @ eb_vectors.T
        vec1 = vec.copy()
        vec1[:, k - 1 : k1] = (root @ np.diag([-1.0, 1.0]) @ vec[:, k - 1 : k1].T).T
        vec[:, k - 1 : k1] = (root @ vec[:, k - 1 : k1].T).T
    else:
        vec = vectors[:, :1] / np.sqrt(values[0]) if k == 0 else vectors[:, :k] / np.sqrt(values[:k])
        vec1 = vec
        if k == 1:
            rank = 1.0
    Rp = R @ p
    d = float(np.sum((vec.T @ Rp) ** 2))
    d1 = float(np.sum((vec1.T @ Rp) ** 2))
    rank1 = rank
    p_value = 2.0
    if nu > 0:
        if k1 == 1:
            rank1 = 1.0
            val = np.array([1.0])
        else:
            val = np.ones(k1)
            rp = nu + 1
            val[k - 1] = (rp + np.sqrt(rp * (2 - rp))) / 2
            val[k1 - 1] = rp - val[k - 1]
        if residual_df <= 0:
            p_value = (weighted_chisq_tail(d, val) + weighted_chisq_tail(d1, val)) / 2
        else:
            k0 = max(1, round(residual_df))
            dfs = np.concatenate([np.ones(len(val)), [k0]])
            p_value = (
                weighted_chisq_tail(0.0, np.append(val, -d / k0), dfs)
                + weighted_chisq_tail(0.0, np.append(val, -d1 / k0), dfs)
            ) / 2
    if p_value > 1:
        if residual_df <= 0:
            p_value = (stats().chi2.sf(d, rank1) + stats().chi2.sf(d1, rank1)) / 2
        else:
            p_value = (stats().f.sf(d / rank1, rank1, residual_df) + stats().f.sf(d1 / rank1, rank1, residual_df)) / 2
    return d, min(1.0, p_value), rank


def smooth_curve(model: MixedModel, label: str, grid: pd.DataFrame) -> pd.DataFrame:
    """A smooth's estimated function on grid (its covariates' columns, and the by variable's
    level where it has one) with its standard error from V_b (mgcv's plot.gam band: the smooth
    alone, without the intercept's uncertainty)."""
    fit = penalized_fit(model)
    labels = [s.label for s in fit.smooths]
    if label not in labels:
        raise ValueError(f"no smooth '{label}' in the model; its smooths are {', '.join(labels)}")
    k = labels.index(label)
    smooth, at = fit.smooths[k], fit.positions[k]
    L = smooth.columns(grid)
    estimate = L @ fit.coefficients[at]
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", L, fit.covariance[np.ix_(at, at)], L), 0.0))
    out = grid.copy()
    out["estimate"] = estimate
    out["se"] = se
    return out
