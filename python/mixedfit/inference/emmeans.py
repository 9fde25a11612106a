"""Estimated marginal means and their pairwise contrasts, as R's emmeans: the fixed-effects
predictions on a reference grid (every combination of the factors' levels, numeric covariates at
their means), averaged with equal weights over the factors not asked for. Linear mixed models get
Satterthwaite's degrees of freedom (emmeans' lmer.df = "satterthwaite"), GLMMs the normal
distribution on the link scale; pairwise p-values are Tukey-adjusted as emmeans' pairs()."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .._lazy import stats
from ..design.frame import formula_variables


def _reference_grid(model) -> pd.DataFrame:
    recipe, frame = model.design.fixed.recipe, model.frame
    variables = sorted(formula_variables(recipe.expr, "fixed-effects part", frame.kinds) & set(frame.kinds))
    levels = {}
    for name in variables:
        kind = frame.kinds[name].kind
        column = frame.data[name]
        if kind in ("text", "category", "boolean"):
            levels[name] = list(column.cat.categories) if kind == "category" else sorted(pd.unique(column))
        else:
            levels[name] = [float(frame.numeric[name].mean())]
    combos = list(itertools.product(*levels.values()))
    grid = pd.DataFrame(combos, columns=list(levels))
    for name in variables:  # the fit's dtypes, so that new data are read as the fit's data
        if frame.kinds[name].kind == "category":
            grid[name] = pd.Categorical(grid[name], categories=levels[name], ordered=frame.data[name].cat.ordered)
    return grid


# A linear function Lβ is estimable when L is orthogonal to the null space of the full design
# (aliased columns included) to this tolerance, relative to L's size: emmeans' (estimability's) rule.
ESTIMABILITY_TOLERANCE = 1e-8


def _non_estimable(model, grid: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
    """For each row of weights (rows of the reference grid averaged into one function each),
    whether it is not estimable: with aliased columns dropped (an empty cell of an interaction),
    the kept coefficients give a number for every mean, but only those in the row space of the
    full design mean anything."""
    fixed = model.design.fixed
    if not fixed.dropped:
        return np.zeros(len(weights), dtype=bool)
    full = fixed.recipe.matrix_of(model.frame.data)
    _, singular, vt = np.linalg.svd(full.values, full_matrices=True)
    rank = int(np.sum(singular > singular[0] * max(full.values.shape) * np.finfo(float).eps))
    null = vt[rank:].T  # p_full × (p_full − rank)
    L = weights @ fixed.recipe.matrix_of(grid).select(full.names)
    size = np.maximum(np.abs(L).max(axis=1), 1.0)
    return np.abs(L @ null).max(axis=1) > ESTIMABILITY_TOLERANCE * size


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def emmeans(model, specs: str, level: float = 0.95, pairs: bool = False, ddf: str = "Satterthwaite") -> pd.DataFrame:
    """Estimated marginal means of the factor specs (one row per level: emmean, SE, df, lower_CL,
    upper_CL), or with pairs=True their pairwise differences (estimate, SE, df, t_ratio or
    z_ratio, p_value Tukey-adjusted). A mean or contrast that is not estimable (it averages over
    an empty cell of an interaction, whose coefficient was dropped as aliased) is NaN throughout,
    with "nonEst" in a ``note`` column, as emmeans reports it. For an LMM, ddf="Kenward-Roger"
    takes Kenward–Roger's df and adjusted covariance (emmeans' lmer.df = "kenward-roger", its own
    default for lmer fits).

    Parameters
    ----------
    model : fitted model
    specs : str
        The factor whose levels' marginal means are estimated.
    level : float, default 0.95
        Confidence level of the intervals.
    pairs : bool, default False
        Tukey-adjusted pairwise differences instead of the means.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        An LMM's degrees of freedom.

    Returns
    -------
    DataFrame
    """
    model._require_fit()
    grid = _reference_grid(model)
    if specs not in grid.columns or model.frame.kinds[specs].kind not in ("text", "category", "boolean"):
        factors = [c for c in grid.columns if model.frame.kinds[c].kind in ("text", "category", "boolean")]
        raise ValueError(f"specs must name a factor of the fixed effects ({', '.join(factors)}), not {specs!r}")
    X = model.design.fixed.recipe.evaluate(grid, model.design.fixed.names)
    names = list(pd.unique(grid[specs]))
    # each mean: the grid's rows of its level, averaged with equal weights
    weights = np.vstack([(grid[specs] == value).to_numpy() / np.sum(grid[specs] == value) for value in names])
    lmm = hasattr(model, "_denominator_df")
    pieces = model._denominator_df(ddf) if lmm else None
    vcov = pieces.vcov if lmm else model._vcov
    if pairs:
        combos = list(itertools.combinations(range(len(names)), 2))
        weights = np.vstack([weights[a] - weights[b] for a, b in combos])
        # Numbers as levels are named with their factor, as emmeans names them ("period1 - period2").
        shown = [f"{specs}{n}" if _is_number(n) else str(n) for n in names]
        labels = [f"{shown[a]} - {shown[b]}" for a, b in combos]
    else:
        labels = names
    L = weights @ X
    non_estimable = _non_estimable(model, grid, weights)
    L[non_estimable] = np.nan
    estimate = L @ model._beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, vcov, L))
    df = np.array([np.nan if bad else pieces.df(row) for row, bad in zip(L, non_estimable)]) if lmm else np.full(len(L), np.inf)
    df[non_estimable] = np.nan
    table = pd.DataFrame({specs if not pairs else "contrast": labels})
    if pairs:
        ratio = estimate / se
        table["estimate"], table["SE"], table["df"] = estimate, se, df
        table["t_ratio" if lmm else "z_ratio"] = ratio
        table["p_value"] = stats().studentized_range.sf(np.sqrt(2) * np.abs(ratio), len(names), df)
    else:
        quantile = stats().t.ppf(0.5 + level / 2, df) if lmm else stats().norm.ppf(0.5 + level / 2)
        table["emmean"], table["SE"], table["df"] = estimate, se, df
        table["lower_CL"], table["upper_CL"] = estimate - quantile * se, estimate + quantile * se
    if non_estimable.any():  # as emmeans prints them: nonEst, every number NaN
        table["note"] = np.where(non_estimable, "nonEst", "")
    return table
