"""check_model: the multi-panel diagnostic figure of R's performance::check_model for a fitted
mixed model (matplotlib: pip install 'mixedfit[plot]'). Seven panels: a posterior-predictive-style
check (the response's density against those of responses simulated from the fit), linearity
(residuals against fitted values), homogeneity of variance (√|standardized residuals| against
fitted values), influential observations (standardized residuals against leverage, with Cook's
distance contours at 0.5 and 1), collinearity (each fixed-effects term's VIF), and normal QQ plots
of the residuals and of the first grouping factor's random effects."""

from __future__ import annotations

from typing import Any

import numpy as np

from .inference.collinearity import check_collinearity
from .models.model import MixedModel
from .plotting import _pyplot, _qq

BINS = 10  # the trend lines: means of the residuals in this many bins of the fitted values


def _trend(ax: Any, x: np.ndarray, y: np.ndarray) -> None:
    """The mean of y in equal-count bins of x (where performance draws a loess line)."""
    order = np.argsort(x)
    bins = [chunk for chunk in np.array_split(order, min(BINS, len(x))) if len(chunk)]
    ax.plot([x[b].mean() for b in bins], [y[b].mean() for b in bins], color="C1", linewidth=1.5)


def _standardized_residuals(model: MixedModel) -> np.ndarray:
    """Pearson residuals over σ (σ = 1 for families without a scale)."""
    return model.residuals(type="pearson") / model.sigma


def _influence_panel(ax: Any, leverage: np.ndarray, standardized: np.ndarray, p: int) -> None:
    """Standardized residuals against leverage, with the curves where Cook's distance
    (r/(1 − h))² h/p is 0.5 and 1."""
    ax.scatter(leverage, standardized, s=8, alpha=0.5)
    h = np.linspace(max(leverage.min(), 1e-3), min(leverage.max() * 1.05, 0.999), 100)
    for distance, style in ((0.5, "--"), (1.0, ":")):
        bound = np.sqrt(distance * p * (1 - h) ** 2 / h)
        ax.plot(h, bound, style, color="C3", linewidth=0.8)
        ax.plot(h, -bound, style, color="C3", linewidth=0.8, label=f"Cook's distance {distance:g}")
    ax.set_ylim(*np.array([-1.2, 1.2]) * max(np.abs(standardized).max(), 1.0))
    ax.legend(fontsize=8)


def check_model(model: MixedModel, nsim: int = 50, seed: int = 1) -> Any:
    """The diagnostic figure of performance::check_model (see the module).

    Parameters
    ----------
    model : fitted model
    nsim : int, default 50
        Simulated responses in the posterior-predictive-style panel.
    seed : int, default 1
        For those simulations.

    Returns
    -------
    matplotlib Figure
    """
    model._require_fit()
    plt = _pyplot()
    fig, axes = plt.subplots(4, 2, figsize=(10, 14))
    axes = axes.ravel()
    fitted, observed = model.fitted, model._response
    residuals = observed - fitted
    standardized = _standardized_residuals(model)

    ax = axes[0]  # the observed response's distribution among simulated ones
    simulated = model.simulate(nsim, seed=seed).to_numpy()
    edges = np.histogram_bin_edges(np.concatenate([observed, simulated.ravel()]), bins=30)
    centres = (edges[:-1] + edges[1:]) / 2
    for k in range(nsim):
        ax.plot(centres, np.histogram(simulated[:, k], edges, density=True)[0], color="C0", alpha=0.15, linewidth=0.8)
    ax.plot(centres, np.histogram(observed, edges, density=True)[0], color="C1", linewidth=2, label="observed")
    ax.plot([], [], color="C0", alpha=0.5, label=f"{nsim} simulated from the fit")
    ax.legend(fontsize=8)
    ax.set(title="Posterior predictive check", xlabel="response", ylabel="density")

    ax = axes[1]
    ax.scatter(fitted, residuals, s=8, alpha=0.5)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    _trend(ax, fitted, residuals)
    ax.set(title="Linearity (the line should be flat)", xlabel="fitted values", ylabel="residuals")

    ax = axes[2]
    root = np.sqrt(np.abs(standardized))
    ax.scatter(fitted, root, s=8, alpha=0.5)
    _trend(ax, fitted, root)
    ax.set(title="Homogeneity of variance (flat)", xlabel="fitted values", ylabel="√|standardized residuals|")

    ax = axes[3]
    try:
        leverage = model.hatvalues()
    except NotImplementedError as exc:  # a residual structure: no hat matrix here
        leverage = None
        ax.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    if leverage is not None:
        _influence_panel(ax, leverage, standardized, len(model.fixef))
    ax.set(title="Influential observations", xlabel="leverage (hat values)", ylabel="standardized residuals")

    ax = axes[4]
    try:
        vif = check_collinearity(model)
    except ValueError as exc:  # fewer than two terms, or no intercept: nothing to compare
        ax.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    else:
        positions = np.arange(len(vif))
        ax.scatter(positions, vif["VIF"], color="C0")
        ax.vlines(positions, vif["VIF_CI_low"].clip(upper=1e3), vif["VIF_CI_high"].clip(upper=1e3), color="C0")
        for bound, colour in ((5, "C1"), (10, "C3")):
            ax.axhline(bound, color=colour, linewidth=0.8, linestyle="--")
        ax.set_xticks(positions, vif["Term"], rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(vif) - 0.5)
        ax.set_ylim(0.9, max(11.0, 1.1 * float(vif["VIF"].max())))
    ax.set(title="Collinearity (VIF; high above 10)", ylabel="variance inflation factor")

    _qq(axes[5], standardized, "Normality of residuals")
    name = model.design.terms[0].name
    modes = model.ranef[name].to_numpy()
    _qq(axes[6], (modes / modes.std(axis=0, ddof=1).clip(min=1e-300)).ravel(), f"Normality of random effects ({name})")
    axes[7].set_visible(False)
    fig.tight_layout()
    return fig

