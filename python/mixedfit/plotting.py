"""Diagnostic plots of a fitted model (matplotlib: pip install 'mixedfit[plot]'): the caterpillar
plot of conditional modes (lme4's dotplot(ranef(m, condVar = TRUE))), residuals against fitted
values, normal QQ plots of the residuals and of the random effects, likelihood-profile ζ plots
(lme4's xyplot(profile(m))) and observed against fitted values per group. Each returns the
matplotlib Figure."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._lazy import stats
from .inference.profile import normal_quantile
from .models.model import MixedModel

MAX_CATERPILLAR_LEVELS = 40  # beyond this the smallest and largest modes are shown (readable height)


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'mixedfit[plot]'") from None
    return plt


def _grouping_factor(model: MixedModel, group: str | None) -> str:
    names = list(dict.fromkeys(t.name for t in model.design.terms))
    name = group if group is not None else names[0]
    if name not in names:
        raise ValueError(f"no grouping factor '{name}'; the model's are {', '.join(names)}")
    return name


def caterpillar(
    model: MixedModel,
    group: str | None = None,
    level: float = 0.95,
    ax: Any = None,
    max_levels: int = MAX_CATERPILLAR_LEVELS,
    levels: Sequence[Any] | None = None,
) -> Any:
    """One panel per random-effects column of a grouping factor: each level's conditional mode
    with a ±z·SD interval from its conditional variance, sorted by the first column's mode. With
    more than max_levels levels only the max_levels/2 smallest and largest are shown (or the
    levels given), so the figure keeps a readable height.

    Parameters
    ----------
    model : fitted model
    group : str, optional
        The grouping factor (default: the first).
    level : float, default 0.95
        Coverage of the intervals.
    ax : matplotlib Axes, optional
        Where to draw a single-column factor's panel.
    max_levels : int, default 40
        Most levels shown.
    levels : sequence, optional
        The levels to show.

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    name = _grouping_factor(model, group)
    table = model.ranef(condvar=True)[name]
    sd = np.sqrt(np.diagonal(table.attrs["condvar"], axis1=1, axis2=2))
    order = np.argsort(table.iloc[:, 0].to_numpy())
    if levels is not None:
        wanted = set(map(str, levels))
        order = np.array([k for k in order if str(table.index[k]) in wanted], dtype=int)
        if len(order) == 0:
            raise ValueError(f"none of the levels {list(levels)[:5]} is a level of '{name}'")
    elif len(order) > max_levels:
        order = np.concatenate([order[: max_levels // 2], order[-(max_levels - max_levels // 2) :]])
    z = normal_quantile(level)
    columns = list(table.columns)
    if ax is None:
        fig, axes = plt.subplots(1, len(columns), sharey=True, figsize=(3.2 * len(columns), 0.18 * len(order) + 1.2))
        axes = np.atleast_1d(axes)
    else:
        axes, fig = np.atleast_1d(ax), np.atleast_1d(ax)[0].figure
    positions = np.arange(len(order))
    for k, (axis, column) in enumerate(zip(axes, columns)):
        modes = table[column].to_numpy()[order]
        axis.errorbar(modes, positions, xerr=z * sd[order, k], fmt="o", markersize=3, color="C0", ecolor="0.4")
        axis.axvline(0.0, color="0.6", linewidth=0.8)
        axis.set_title(column)
    axes[0].set_yticks(positions)
    axes[0].set_yticklabels(np.asarray(table.index)[order])
    shown = f" ({len(order)} of {len(table)} levels)" if len(order) < len(table) else ""
    axes[0].set_ylabel(name + shown)
    return fig


def residual_plot(model: MixedModel, ax: Any = None) -> Any:
    """Pearson residuals against fitted values, with the zero line.

    Parameters
    ----------
    model : fitted model
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4)) if ax is None else (ax.figure, ax)
    ax.scatter(model.fitted, model.residuals(type="pearson"), s=8, alpha=0.6)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("fitted values")
    ax.set_ylabel("Pearson residuals")
    return fig


def _qq(ax: Any, values: np.ndarray, title: str) -> None:
    values = np.sort(values[np.isfinite(values)])
    theoretical = stats().norm.ppf((np.arange(1, len(values) + 1) - 0.5) / len(values))
    ax.scatter(theoretical, values, s=8, alpha=0.7)
    scale = np.std(values, ddof=1) if len(values) > 1 else 1.0
    ax.plot(theoretical, np.mean(values) + scale * theoretical, color="0.5", linewidth=0.8)
    ax.set_xlabel("standard normal quantiles")
    ax.set_title(title)


def qq_plot(model: MixedModel, ax: Any = None) -> Any:
    """Normal QQ plot of the scaled residuals (Pearson residuals over σ for an LMM, deviance
    residuals for a GLMM).

    Parameters
    ----------
    model : fitted model
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4)) if ax is None else (ax.figure, ax)
    if model._has_residual and not hasattr(model, "family"):
        residuals, title = model.residuals(type="pearson") / model.sigma, "scaled residuals"
    else:
        residuals, title = model.residuals(), "deviance residuals"
    _qq(ax, residuals, title)
    return fig


def ranef_qq(model: MixedModel, group: str | None = None) -> Any:
    """Normal QQ plots of a grouping factor's conditional modes, one panel per column.

    Parameters
    ----------
    model : fitted model
    group : str, optional
        The grouping factor (default: the first).

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    name = _grouping_factor(model, group)
    table = model.ranef[name]
    fig, axes = plt.subplots(1, table.shape[1], figsize=(4.2 * table.shape[1], 4), squeeze=False)
    for axis, column in zip(axes[0], table.columns):
        _qq(axis, table[column].to_numpy(), f"{name}: {column}")
    return fig


def profile_plot(model: MixedModel, parm: Any = None, level: float = 0.95) -> Any:
    """ζ against each parameter's value from the likelihood profiles (lme4's xyplot(profile(m))):
    the profile's points and, as lme4 draws it, a natural cubic spline through them, with the ±z
    lines whose crossings are the profile interval's ends. parm as in confint.

    Parameters
    ----------
    model : fitted model
    parm : str, int or sequence, optional
        The parameters (default: all).
    level : float, default 0.95
        Where the ±z lines are drawn.

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    profiles = model.profile(parm=parm, level=level)
    z = normal_quantile(level)
    fig, axes = plt.subplots(1, len(profiles), figsize=(3.2 * len(profiles), 3.4), squeeze=False, sharey=True)
    from scipy.interpolate import CubicSpline  # (imported when a profile is drawn)

    for axis, (name, table) in zip(axes[0], profiles.items()):
        # lme4 draws the trace through its points as a natural cubic spline (interpSpline)
        table = table.sort_values("value").drop_duplicates("value")
        value, zeta = table["value"].to_numpy(float), table["zeta"].to_numpy(float)
        finite = np.isfinite(value) & np.isfinite(zeta)
        value, zeta = value[finite], zeta[finite]
        if len(value) >= 3:
            grid = np.linspace(value[0], value[-1], 200)
            axis.plot(grid, CubicSpline(value, zeta, bc_type="natural")(grid), color="C0")
        else:
            axis.plot(value, zeta, color="C0")
        axis.plot(value, zeta, "o", markersize=3, color="C0")
        for line in (-z, 0.0, z):
            axis.axhline(line, color="0.6", linewidth=0.8, linestyle=":" if line else "-")
        axis.set_title(name)
    axes[0][0].set_ylabel("ζ")
    return fig


def fitted_by_group(model: MixedModel, group: str | None = None, max_panels: int = 12) -> Any:
    """Observed against fitted values, one panel per level of a grouping factor (the first
    max_panels levels), with the identity line.

    Parameters
    ----------
    model : fitted model
    group : str, optional
        The grouping factor (default: the first).
    max_panels : int, default 12
        Most levels shown.

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    name = _grouping_factor(model, group)
    term = next(t for t in model.design.terms if t.name == name)
    shown = min(max_panels, term.n_levels)
    columns = min(4, shown)
    rows = -(-shown // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.4 * rows), squeeze=False, sharex=True, sharey=True)
    observed, fitted = model._response, model.fitted
    for k, axis in enumerate(axes.ravel()):
        if k >= shown:
            axis.set_visible(False)
            continue
        rows_of_level = term.codes == k
        axis.scatter(fitted[rows_of_level], observed[rows_of_level], s=10)
        low, high = np.min(fitted), np.max(fitted)
        axis.plot([low, high], [low, high], color="0.6", linewidth=0.8)
        axis.set_title(f"{name} {term.levels[k]}", fontsize=9)
    fig.supxlabel("fitted")
    fig.supylabel("observed")
    if shown < term.n_levels:  # say what is left out
        fig.suptitle(f"the first {shown} of {term.n_levels} levels of {name}", fontsize=10)
    return fig


def smooth_plot(model: MixedModel, term: str, ax: Any = None, se_multiplier: float = 2.0) -> Any:
    """A smooth's estimated function with a ± se_multiplier standard-error band and a rug of the
    data's covariate values (mgcv's plot.gam); a two-covariate smooth as filled contours.

    Parameters
    ----------
    model : fitted model with s(...) terms
    term : str
        The smooth's label ("s(x)") or its covariate ("x").
    ax : matplotlib Axes, optional
    se_multiplier : float, default 2

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
    smooth = model._smooth_named(term)
    curve = model.smooth_estimates(smooth.label)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 3.6))
    else:
        fig = ax.figure
    variables = smooth.spec.variables
    if len(variables) == 1:
        x = curve[variables[0]].to_numpy()
        estimate, band = curve["estimate"].to_numpy(), se_multiplier * curve["se"].to_numpy()
        ax.plot(x, estimate, color="C0")
        ax.fill_between(x, estimate - band, estimate + band, color="C0", alpha=0.2, linewidth=0)
        ax.plot(model.frame.columns[variables[0]], np.full(model.nobs, ax.get_ylim()[0]), "|", color="0.4", markersize=6)
        ax.set_xlabel(variables[0])
        ax.set_ylabel(smooth.label)
    else:
        side = round(np.sqrt(len(curve)))
        shape = (side, side)
        grid = [curve[v].to_numpy().reshape(shape) for v in variables[:2]]
        filled = ax.contourf(*grid, curve["estimate"].to_numpy().reshape(shape), levels=12, cmap="viridis")
        fig.colorbar(filled, ax=ax, label=smooth.label)
        ax.plot(model.frame.columns[variables[0]], model.frame.columns[variables[1]], ".", color="0.3", markersize=2)
        ax.set_xlabel(variables[0])
        ax.set_ylabel(variables[1])
    ax.set_title(smooth.label)
    return fig
