"""Influence diagnostics as lme4 computes them: the hat matrix's diagonal (hatvalues.merMod),
Cook's distance from it (cooks.distance.merMod), and deletion diagnostics from refits without
each observation or each level of a grouping factor (influence.merMod, the successor of
influence.ME): the fixed effects, variance components and covariance of β̂ of every refit, with
dfbeta, dfbetas and Cook's distance of the deletions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import DataError, ResourceError
from .condvar import relative_factor

# The hat matrix's diagonal solves the (q + p)-square system for blocks of this many
# observations at a time, bounding the dense right-hand sides (q + p) × block.
HAT_BLOCK = 2048
MAX_HAT_SYSTEM = 20_000  # q + p beyond this: the sparse LU's fill would be the problem, not the data


def hat_values(model) -> np.ndarray:
    """diag(H) for the conditional fitted values Xβ̂ + Zb̂ as lme4's hatvalues.merMod: with
    c_i = √w_i (Λ'z_i, x_i) and M the penalized system [Λ'Z'WZΛ + I, Λ'Z'WX; X'WZΛ, X'WX],
    h_i = c_i' M⁻¹ c_i (lme4: ‖L⁻¹PΛ'z_i√w_i‖² + ‖RX'⁻¹(x_i√w_i − RZX'·)‖², the same numbers).
    M has the fit's working weights and c_i the prior weights, as lme4's (for an LMM both are the
    prior weights)."""
    d = model.design
    n, p = d.fixed.X.shape
    Lambda = relative_factor(d, model._theta).T.tocsc()  # q × q
    ZL = (d.Zt.T @ Lambda).tocsc()  # n × q
    q = ZL.shape[1]
    if q + p > MAX_HAT_SYSTEM:
        raise ResourceError(
            f"the hat values need a {q + p}-square penalized system; at most {MAX_HAT_SYSTEM} is supported"
        )
    W = sp.diags(model._working_weights())
    C = sp.hstack([ZL, sp.csc_matrix(d.fixed.X)]).tocsc()  # n × (q + p): the rows (Λ'z_i, x_i)'
    M = (C.T @ W @ C + sp.block_diag([sp.identity(q), sp.csc_matrix((p, p))])).tocsc()
    solver = spla.splu(M)
    Ct = (C.T @ sp.diags(np.sqrt(model._observation_weights()))).tocsc()  # (q + p) × n: the c_i
    hat = np.empty(n)
    for start in range(0, n, HAT_BLOCK):
        block = Ct[:, start : start + HAT_BLOCK].toarray()
        hat[start : start + HAT_BLOCK] = np.einsum("ij,ij->j", block, solver.solve(block))
    return hat


def cooks_distance(model) -> np.ndarray:
    """lme4's cooks.distance.merMod: (r_i / (1 − h_i))² h_i / (σ² p), r the Pearson residuals,
    h the hat values, p the rank of X (σ = 1 for binomial and Poisson GLMMs); NaN where h_i = 1."""
    h = hat_values(model)
    p = np.linalg.matrix_rank(model.design.fixed.X)
    r = model.residuals(type="pearson")
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = (r / (1 - h)) ** 2 * h / (model.sigma**2 * p)
    distance[np.isinf(distance)] = np.nan
    return distance


def studentized_residuals(model) -> np.ndarray:
    """lme4's rstudent of a fitted model: Pearson residuals over σ√(1 − h_i) (for an LMM, lme4's
    sign(r)√(r² + h_i r²/(1 − h_i))/σ with deviance and Pearson residuals equal, the same number);
    NaN where h_i = 1."""
    h = hat_values(model)
    with np.errstate(divide="ignore", invalid="ignore"):
        studentized = model.residuals(type="pearson") / (model.sigma * np.sqrt(1 - h))
    studentized[np.isinf(studentized)] = np.nan
    return studentized


@dataclass
class Influence:
    """Deletion diagnostics (lme4's influence.merMod): the model's estimates and each refit's
    without one unit (an observation, or a level of ``groups``), started from the model's θ (and
    a GLMM's β) with at most ``maxfun`` evaluations.

    Attributes
    ----------
    groups : str
        What was deleted: ``"case"`` (one observation at a time) or the grouping column.
    fixed_effects : Series
        β̂ of the model.
    fixed_effects_deleted : DataFrame
        β̂ of each refit (a row per deleted unit).
    var_cov_comps : Series
        σ² and each term's variances and covariances, named as lme4's (``sigma^2``,
        ``Subject:v[(Intercept)]``, ``Subject:C[Days,(Intercept)]``, ...).
    var_cov_comps_deleted : DataFrame
        The same of each refit.
    vcov : DataFrame
        The model's covariance of β̂.
    vcov_deleted : dict
        Each refit's covariance of β̂.
    converged : Series
        Whether each refit's optimizer stopped on its tolerances (not its evaluation limit; the
        refits are quiet and skip the convergence checks, where lme4 also counts their warnings).
    evaluations : Series
        Each refit's evaluations.
    """

    groups: str
    fixed_effects: pd.Series
    fixed_effects_deleted: pd.DataFrame
    var_cov_comps: pd.Series
    var_cov_comps_deleted: pd.DataFrame
    vcov: pd.DataFrame
    vcov_deleted: dict[object, pd.DataFrame] = field(repr=False)
    converged: pd.Series
    evaluations: pd.Series

    def dfbeta(self, which: str = "fixed") -> pd.DataFrame:
        """Each refit's estimates minus the model's: ``which="fixed"`` (β) or ``"var.cov"``."""
        if which == "fixed":
            return self.fixed_effects_deleted - self.fixed_effects
        if which == "var.cov":
            return self.var_cov_comps_deleted - self.var_cov_comps
        raise ValueError(f"which must be 'fixed' or 'var.cov', not {which!r}")

    def dfbetas(self) -> pd.DataFrame:
        """dfbeta of β divided by each refit's own standard errors (lme4's dfbetas)."""
        se = pd.DataFrame(
            [np.sqrt(np.diag(self.vcov_deleted[unit].to_numpy())) for unit in self.fixed_effects_deleted.index],
            index=self.fixed_effects_deleted.index,
            columns=self.fixed_effects_deleted.columns,
        )
        return self.dfbeta() / se

    def cooks_distance(self) -> pd.Series:
        """lme4's cooks.distance of the deletions: D_i = dfbeta_i' V⁻¹ dfbeta_i (n − p)/(n p), V the
        model's covariance of β̂, n the number of deleted units and p the number of β."""
        db = self.dfbeta().to_numpy()
        n, p = db.shape
        scaled = np.linalg.solve(self.vcov.to_numpy(), db.T) * (n - p) / (n * p)
        return pd.Series(
            np.einsum("ij,ji->i", db, scaled), index=self.fixed_effects_deleted.index, name="cooks_distance"
        )


def var_cov_comps(model) -> pd.Series:
    """σ² (1 for families without a scale) and each term's variances and covariances, in lme4's
    order and names (the lower triangle by columns; the term's name as a prefix when there are
    several terms)."""
    table = model.VarCorr
    values = {"sigma^2": model.sigma**2}
    terms = table[table["grp"] != "Residual"]
    names = list(dict.fromkeys(terms["grp"]))
    for name in names:
        rows = terms[terms["grp"] == name]
        columns = list(dict.fromkeys(rows["var1"]))
        cov = {(r.var1, r.var2 or r.var1): r.vcov for r in rows.itertuples()}
        prefix = f"{name}:" if len(names) > 1 else ""
        for j, b in enumerate(columns):
            for a in columns[j:]:
                label = f"v[{a}]" if a == b else f"C[{a},{b}]"
                values[prefix + label] = cov.get((b, a), cov.get((a, b)))
    return pd.Series(values, dtype=float)


def deletion_diagnostics(model, groups: str | None = None, maxfun: int = 1000) -> Influence:
    """Refits without each observation (groups None) or each level of the column ``groups``."""
    data = model.frame.data
    if groups is None:
        units = pd.Index(np.arange(1, len(data) + 1))  # lme4's row names of the model's data
        labels = units.to_numpy()
        name = "case"
    else:
        if groups not in data.columns:
            raise DataError(f"groups must name a column of the model's data; '{groups}' is not one")
        labels = data[groups].to_numpy()
        units = pd.Index(pd.unique(labels))
        name = groups
    fixed, comps, covs, converged, evaluations = [], [], {}, [], []
    for unit in units:
        refit = model._without_rows(labels != unit, maxfun)
        fixed.append(refit.fixef)
        comps.append(var_cov_comps(refit))
        covs[unit] = refit.vcov
        converged.append(refit.optsum.return_code not in ("MAXEVAL_REACHED", "FAILURE"))
        evaluations.append(refit.optsum.feval)
    return Influence(
        groups=name,
        fixed_effects=model.fixef,
        fixed_effects_deleted=pd.DataFrame(fixed, index=units),
        var_cov_comps=var_cov_comps(model),
        var_cov_comps_deleted=pd.DataFrame(comps, index=units),
        vcov=model.vcov,
        vcov_deleted=covs,
        converged=pd.Series(converged, index=units, name="converged"),
        evaluations=pd.Series(evaluations, index=units, name="evaluations"),
    )
