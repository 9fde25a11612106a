"""Estimated marginal means and their pairwise contrasts, as R's emmeans: the fixed-effects
predictions on a reference grid (every combination of the factors' levels, numeric covariates at
their means), averaged with equal weights over the factors not asked for. Linear mixed models get
Satterthwaite's degrees of freedom (emmeans' lmer.df = "satterthwaite"), GLMMs the normal
distribution on the link scale; pairwise p-values are Tukey-adjusted as emmeans' pairs()."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._lazy import stats
from ..design.frame import formula_variables


def _reference_grid(model, at: Mapping[str, Any] | None) -> pd.DataFrame:
    """Every combination of the fixed effects' factor levels and covariate values: covariates at
    their means, unless ``at`` gives them values (one or several); ``at`` may also restrict a
    factor to some of its levels."""
    recipe, frame = model.design.fixed.recipe, model.frame
    variables = sorted(formula_variables(recipe.expr, "fixed-effects part", frame.kinds) & set(frame.kinds))
    at = dict(at or {})
    unknown = sorted(set(at) - set(variables))
    if unknown:
        raise ValueError(f"at= names {unknown}, which are not variables of the fixed effects ({', '.join(variables)})")
    levels = {}
    for name in variables:
        column = frame.data[name]
        if frame.kinds[name].kind in FACTOR_KINDS:
            own = list(column.cat.categories) if frame.kinds[name].kind == "category" else sorted(pd.unique(column))
            chosen = ([at[name]] if isinstance(at[name], str) else list(at[name])) if name in at else own
            missing = [v for v in chosen if v not in own]
            if missing:
                raise ValueError(f"at= gives levels {missing} of '{name}', which has {own}")
            levels[name] = chosen
        else:
            levels[name] = [float(v) for v in np.atleast_1d(at[name])] if name in at else [float(frame.numeric[name].mean())]
    # first variable fastest, as emmeans lays out its grid
    combos = [tuple(reversed(c)) for c in itertools.product(*reversed(list(levels.values())))]
    grid = pd.DataFrame(combos, columns=list(levels))
    for name in variables:  # the fit's dtypes, so that new data are read as the fit's data
        if frame.kinds[name].kind == "category":
            categories = list(frame.data[name].cat.categories)
            grid[name] = pd.Categorical(grid[name], categories=categories, ordered=frame.data[name].cat.ordered)
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


FACTOR_KINDS = ("text", "category", "boolean")
# emmeans' name of a GLMM's mean on the response scale, by family
RESPONSE_COLUMN = {"binomial": "prob", "poisson": "rate"}
ADJUSTMENTS = ("tukey", "dunnettx", "sidak", "bonferroni", "holm", "none")


def emmeans(
    model, specs: str | Sequence[str], level: float = 0.95, pairs: bool = False, ddf: str = "Satterthwaite",
    by: str | Sequence[str] | None = None, at: Mapping[str, Any] | None = None, type: str = "link",
    contrasts: str | None = None, adjust: str | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Estimated marginal means of the factors specs (one row per combination of their levels,
    within each level of ``by``: emmean, SE, df, lower_CL, upper_CL), or their contrasts
    (estimate, SE, df, t_ratio or z_ratio, p_value), as R's emmeans: predictions on a reference
    grid (every combination of the factors' levels, covariates at their means or at ``at``'s
    values) averaged with equal weights over the factors not named. A mean or contrast that is not
    estimable (it averages over an empty cell of an interaction, whose coefficient was dropped as
    aliased) is NaN throughout, with "nonEst" in a ``note`` column, as emmeans reports it. For an
    LMM, ddf="Kenward-Roger" takes Kenward–Roger's df and adjusted covariance (emmeans'
    lmer.df = "kenward-roger", its own default for lmer fits).

    Parameters
    ----------
    model : fitted model
    specs : str or list of str
        The factors whose levels' (or level combinations') marginal means are estimated.
    level : float, default 0.95
        Confidence level of the intervals.
    pairs : bool, default False
        The same as ``contrasts="pairwise"``.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        An LMM's degrees of freedom.
    by : str or list of str, optional
        Factors within whose levels the means are computed and compared (each level a family for
        the p-value adjustment).
    at : dict, optional
        Values of covariates (default: their means) or a subset of a factor's levels.
    type : {"link", "response"}
        A GLMM's means on the link scale or, back-transformed, on the response scale ("prob"
        for binomial, "rate" for Poisson, "response" otherwise; SEs by the delta method,
        intervals back-transformed); its pairwise contrasts with a log or logit link then become
        ratios or odds ratios.
    contrasts : {"pairwise", "trt.vs.ctrl", "poly"}, optional
        Every pair of means (a − b), each level against the first, or orthogonal polynomial
        contrasts with integer coefficients (emmeans' poly.emmc).
    adjust : {"tukey", "dunnettx", "sidak", "bonferroni", "holm", "none"}, optional
        The multiplicity adjustment within each family (default: emmeans' — tukey for pairwise,
        dunnettx for trt.vs.ctrl, none for poly; tukey asked for other contrasts is sidak, as
        emmeans changes it).

    Returns
    -------
    DataFrame
    """
    model._require_fit()
    specs = [specs] if isinstance(specs, str) else list(specs)
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    if pairs and contrasts not in (None, "pairwise"):
        raise ValueError(f"pairs=True asks for pairwise contrasts; contrasts={contrasts!r} asks for others")
    contrasts = "pairwise" if pairs else contrasts
    if contrasts not in (None, "pairwise", "trt.vs.ctrl", "poly"):
        raise ValueError(f"contrasts must be 'pairwise', 'trt.vs.ctrl' or 'poly', not {contrasts!r}")
    if adjust is not None and adjust not in ADJUSTMENTS:
        raise ValueError(f"adjust must be one of {', '.join(ADJUSTMENTS)}, not {adjust!r}")
    if type not in ("link", "response"):
        raise ValueError(f"type must be 'link' or 'response', not {type!r}")
    grid = _reference_grid(model, at)
    factors = [c for c in grid.columns if model.frame.kinds[c].kind in FACTOR_KINDS]
    for name in [*specs, *by]:
        if name not in factors:
            raise ValueError(f"specs and by must name factors of the fixed effects ({', '.join(factors)}), not {name!r}")
    response = type == "response" and hasattr(model, "family")
    if response and contrasts is not None and (contrasts == "poly" or not _log_link(model)):
        raise NotImplementedError(
            "type='response' contrasts are ratios (log link) or odds ratios (logit link) of pairwise or trt.vs.ctrl "
            f"contrasts; emmeans' regridded differences for the {model.family.link} link or poly contrasts are not "
            "available: use type='link'"
        )
    X = model.design.fixed.recipe.evaluate(grid, model.design.fixed.names)
    # The cells: combinations of specs and by levels in grid order (first factor fastest, by outermost).
    named = [*specs, *by]
    order = {name: {v: k for k, v in enumerate(pd.unique(grid[name]))} for name in named}
    keys = list(grid[named].itertuples(index=False, name=None))
    cells = sorted(set(keys), key=lambda cell: tuple(order[n][v] for n, v in reversed(list(zip(named, cell)))))
    position = {cell: k for k, cell in enumerate(cells)}
    members = np.zeros((len(cells), len(keys)))
    members[[position[key] for key in keys], np.arange(len(keys))] = 1.0
    weights = members / members.sum(axis=1, keepdims=True)
    families = [cell[len(specs) :] for cell in cells]
    lmm = hasattr(model, "_denominator_df")
    pieces = model._denominator_df(ddf) if lmm else None
    vcov = pieces.vcov if lmm else model._vcov
    if contrasts is None:
        rows, labels, family_of = weights, cells, families
    else:
        rows, labels, family_of = [], [], []
        for family in dict.fromkeys(families):
            at_family = [k for k, f in enumerate(families) if f == family]
            names = [_level_label(specs, cells[k][: len(specs)], contrasts) for k in at_family]
            for coefficients, label in _contrast_coefficients(contrasts, names, response):
                rows.append(coefficients @ weights[at_family])
                labels.append(label)
                family_of.append(family)
        rows = np.vstack(rows)
    L = rows @ X
    non_estimable = _non_estimable(model, grid, rows)
    L[non_estimable] = np.nan
    estimate = L @ model._beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, vcov, L))
    df = np.array([np.nan if bad else pieces.df(row) for row, bad in zip(L, non_estimable)]) if lmm else np.full(len(L), np.inf)
    df[non_estimable] = np.nan
    if contrasts is None:
        table = pd.DataFrame(labels, columns=specs + by)
        quantile = stats().t.ppf(0.5 + level / 2, df) if lmm else stats().norm.ppf(0.5 + level / 2)
        low, high = estimate - quantile * se, estimate + quantile * se
        if response:
            inverse = model._link_inverse
            derivative = np.abs(inverse(estimate + 1e-6) - inverse(estimate - 1e-6)) / 2e-6
            column = RESPONSE_COLUMN.get(model.family.name, "response")
            table[column], table["SE"], table["df"] = inverse(estimate), derivative * se, df
            table["lower_CL"], table["upper_CL"] = inverse(low), inverse(high)
        else:
            table["emmean"], table["SE"], table["df"] = estimate, se, df
            table["lower_CL"], table["upper_CL"] = low, high
    else:
        table = pd.DataFrame({"contrast": labels})
        for k, name in enumerate(by):
            table[name] = [family[k] for family in family_of]
        ratio = estimate / se
        if response:  # on the log (logit) scale a difference is the log of a ratio (odds ratio)
            name = "odds_ratio" if model.family.link == "logit" else "ratio"
            table[name], table["SE"], table["df"] = np.exp(estimate), np.exp(estimate) * se, df
        else:
            table["estimate"], table["SE"], table["df"] = estimate, se, df
        table["t_ratio" if lmm else "z_ratio"] = ratio
        method = adjust or {"pairwise": "tukey", "trt.vs.ctrl": "dunnettx", "poly": "none"}[contrasts]
        if method == "tukey" and contrasts != "pairwise":  # as emmeans: Tukey's is for pairwise comparisons only
            method = "sidak"
        means_per_family = {f: families.count(f) for f in families}
        table["p_value"] = _adjusted_p_values(ratio, df, family_of, method, means_per_family)
    if not lmm:  # asymptotic (z) inference: emmeans shows no df
        table = table.drop(columns="df")
    if non_estimable.any():  # as emmeans prints them: nonEst, every number NaN
        table["note"] = np.where(non_estimable, "nonEst", "")
    return table


def _log_link(model) -> bool:
    """Whether a pairwise contrast back-transforms to a ratio (log link) or an odds ratio (logit)."""
    return model.family.link in ("log", "logit")


def _level_label(specs: list[str], values: tuple, contrasts: str) -> str:
    """A mean's name in contrast labels: its level (a number with its factor's name, "period1",
    as emmeans writes it), several factors' levels joined by spaces."""
    return " ".join(f"{name}{v}" if _is_number(v) else str(v) for name, v in zip(specs, values))


POLYNOMIAL_NAMES = ["linear", "quadratic", "cubic", "quartic", *[f"degree {d}" for d in range(5, 21)]]


def _polynomial_contrasts(k: int) -> np.ndarray:
    """emmeans' poly.emmc: the orthogonal polynomials of degree 1 … min(6, k − 1) on k equally
    spaced levels (R's poly(1:k)), each scaled to integers (divided by its least positive entry,
    then by the rounding error until it is under 0.05, rounded); columns are degrees."""
    x = np.arange(1, k + 1, dtype=float)
    degree = min(6, k - 1)
    q, _ = np.linalg.qr(np.vander(x - x.mean(), degree + 1, increasing=True))
    columns = []
    for j in range(1, degree + 1):
        con = q[:, j] * np.sign(q[-1, j])  # R's sign: the last level's entry positive
        con = con / np.min(con[con > 0.01])
        error = np.max(np.abs(con - np.round(con)))
        while error > 0.05:
            con = con / error
            error = np.max(np.abs(con - np.round(con)))
        columns.append(np.round(con))
    return np.column_stack(columns)


def _contrast_coefficients(kind: str, names: list[str], ratio: bool) -> list[tuple[np.ndarray, str]]:
    """The contrasts of one family's means: coefficients over them and labels, as emmeans'
    pairwise.emmc, trt.vs.ctrl.emmc (each level against the first) and poly.emmc name them."""
    k = len(names)
    unit = np.eye(k)
    if kind == "pairwise":
        sign = " / " if ratio else " - "
        return [(unit[a] - unit[b], f"{names[a]}{sign}{names[b]}") for a, b in itertools.combinations(range(k), 2)]
    if kind == "trt.vs.ctrl":
        sign = " / " if ratio else " - "
        return [(unit[i] - unit[0], f"{names[i]}{sign}{names[0]}") for i in range(1, k)]
    polynomials = _polynomial_contrasts(k)
    return [(polynomials[:, j], POLYNOMIAL_NAMES[j]) for j in range(polynomials.shape[1])]


def _adjusted_p_values(
    ratio: np.ndarray, df: np.ndarray, family_of: list, method: str, means_per_family: dict
) -> np.ndarray:
    """Two-sided p-values adjusted within each family as emmeans adjusts them: tukey (the
    studentized range of the family's means), dunnettx (emmeans' approximation of Dunnett's:
    a mix of the Tukey and Šidák distributions), sidak, bonferroni, holm (step-down), none."""
    t = np.abs(ratio)
    dist = stats()
    raw = 2 * np.where(np.isinf(df), dist.norm.sf(t), dist.t.sf(t, np.where(np.isinf(df), 1.0, df)))
    out = np.full(len(t), np.nan)
    for family in dict.fromkeys(family_of):
        at = np.array([f == family for f in family_of])
        m = int(at.sum())
        p, tf, dff = raw[at], t[at], df[at]
        if method == "tukey":
            adjusted = dist.studentized_range.sf(np.sqrt(2) * tf, means_per_family[family], dff)
        elif method == "dunnettx":
            adjusted = _dunnettx_sf(tf, m, dff) if m > 1 else p
        elif method == "sidak":
            adjusted = 1 - (1 - p) ** m
        elif method == "bonferroni":
            adjusted = np.minimum(1.0, m * p)
        elif method == "holm":
            order = np.argsort(p)
            stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
            adjusted = np.empty(m)
            adjusted[order] = stepped
        else:
            adjusted = p
        out[at] = adjusted
    return out


def _dunnettx_sf(t: np.ndarray, k: int, df: np.ndarray) -> np.ndarray:
    """1 − emmeans' .pdunnx: P(max |T| ≥ t) for k comparisons with a control, approximated by the
    studentized range with (1 + √(1 + 8k))/2 means (weight (k − 1)/k) and Šidák's bound; from
    the upper tails (1 − cdf loses a tiny p-value's digits)."""
    dist = stats()
    weight = (k - 1) / k
    tukey = dist.studentized_range.sf(np.sqrt(2) * t, (1 + np.sqrt(1 + 8 * k)) / 2, df)
    # F(1, ∞) is χ²₁ (scipy's F has no infinite denominator df)
    single = np.where(np.isinf(df), dist.chi2.sf(t**2, 1), dist.f.sf(t**2, 1, np.where(np.isinf(df), 1.0, df)))
    sidak = -np.expm1(k * np.log1p(-single))  # 1 − (1 − single)^k
    return weight * tukey + (1 - weight) * sidak
