"""The caterpillar plot of conditional modes with their intervals (lme4's dotplot(ranef(m,
condVar = TRUE))). Needs matplotlib: pip install 'mixedfit[plot]'."""

from __future__ import annotations

from typing import Any

import numpy as np

from .inference.profile import normal_quantile
from .models.model import MixedModel


def caterpillar(model: MixedModel, group: str | None = None, level: float = 0.95, ax: Any = None) -> Any:
    """One panel per random-effects column of a grouping factor: each level's conditional mode
    with a ±z·SD interval from its conditional variance, levels sorted by the first column's mode.
    Returns the matplotlib Figure."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("caterpillar plots need matplotlib: pip install 'mixedfit[plot]'") from None
    tables = model.ranef(condvar=True)
    name = group if group is not None else next(iter(tables))
    if name not in tables:
        raise ValueError(f"no grouping factor '{name}'; the model's are {', '.join(tables)}")
    table = tables[name]
    sd = np.sqrt(np.diagonal(table.attrs["condvar"], axis1=1, axis2=2))
    order = np.argsort(table.iloc[:, 0].to_numpy())
    z = normal_quantile(level)
    columns = list(table.columns)
    if ax is None:
        fig, axes = plt.subplots(1, len(columns), sharey=True, figsize=(3.2 * len(columns), 0.18 * len(table) + 1.2))
        axes = np.atleast_1d(axes)
    else:
        axes, fig = np.atleast_1d(ax), np.atleast_1d(ax)[0].figure
    positions = np.arange(len(table))
    for k, (axis, column) in enumerate(zip(axes, columns)):
        modes = table[column].to_numpy()[order]
        axis.errorbar(modes, positions, xerr=z * sd[order, k], fmt="o", markersize=3, color="C0", ecolor="0.4")
        axis.axvline(0.0, color="0.6", linewidth=0.8)
        axis.set_title(column)
    axes[0].set_yticks(positions)
    axes[0].set_yticklabels(np.asarray(table.index)[order])
    axes[0].set_ylabel(name)
    return fig
