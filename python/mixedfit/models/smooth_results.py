"""The smooth terms' results of a fitted model: mgcv's summary table, each smooth's estimated
function with its standard error, and its plot (a mixin of MixedModel)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..design.smooths import Smooth
from ..inference.smooth_terms import smooth_curve, smooth_table
from .synchronization import synchronized

GRID_POINTS = 100  # of a one-covariate smooth's curve; a two-covariate one gets a 40 × 40 grid
SURFACE_POINTS = 40


class SmoothResults:
    """What a model with ``s(...)`` terms reports about them."""

    @synchronized
    def smooths(self) -> pd.DataFrame:
        """Each smooth's effective degrees of freedom and Wood's (2013) test that it is zero, as
        mgcv's ``summary(gam)$s.table`` for a gamm4 fit: columns ``edf``, ``Ref.df``, ``F`` (or
        ``Chi.sq`` where the family fixes the scale) and ``p-value``, one row per smooth (per
        level of a ``by`` factor).

        Returns
        -------
        pandas.DataFrame
        """
        self._require_fit()
        return smooth_table(self)

    @synchronized
    def smooth_estimates(self, term: str, data: Any = None) -> pd.DataFrame:
        """A smooth's estimated function and its standard error (Bayesian, of the smooth alone,
        as mgcv's plot.gam draws it).

        Parameters
        ----------
        term : str
            The smooth's label (``"s(x)"``, ``"s(x):fa"``) or, when only one smooth has it, its
            covariate (``"x"``).
        data : DataFrame, optional
            Where to evaluate it (its covariates' columns, and the ``by`` variable's); default an
            evenly spaced grid over the fit's range of the covariate(s).

        Returns
        -------
        pandas.DataFrame
            The covariates, then ``estimate`` and ``se``.
        """
        self._require_fit()
        smooth = self._smooth_named(term)
        grid = self._smooth_grid(smooth) if data is None else pd.DataFrame(data).reset_index(drop=True)
        return smooth_curve(self, smooth.label, grid)

    def plot_smooth(self, term: str, ax: Any = None, se_multiplier: float = 2.0) -> Any:
        """Plot a smooth's estimated function with a band of ± se_multiplier standard errors
        (mgcv's plot.gam: two), the data's covariate values as a rug; a two-covariate smooth as
        contours.

        Parameters
        ----------
        term : str
            The smooth's label or its covariate (see smooth_estimates).
        ax : matplotlib Axes, optional
        se_multiplier : float, default 2

        Returns
        -------
        matplotlib Figure
        """
        from ..plotting import smooth_plot  # matplotlib is optional

        return smooth_plot(self, term, ax=ax, se_multiplier=se_multiplier)

    def _smooth_named(self, term: str) -> Smooth:
        smooths = self.design.smooths
        exact = [s for s in smooths if s.label == term]
        by_covariate = [s for s in smooths if term in s.spec.variables]
        found = exact or by_covariate
        if len(found) != 1:
            labels = ", ".join(s.label for s in smooths) or "none"
            problem = "several smooths use" if found else "no smooth is"
            raise ValueError(f"{problem} '{term}'; give one of the model's smooths by its label ({labels})")
        return found[0]

    def _smooth_grid(self, smooth: Smooth) -> pd.DataFrame:
        data = self.frame.columns
        ranges = [(float(np.min(data[v])), float(np.max(data[v]))) for v in smooth.spec.variables]
        if len(ranges) == 1:
            grid = pd.DataFrame({smooth.spec.variables[0]: np.linspace(*ranges[0], GRID_POINTS)})
        else:
            axes = [np.linspace(low, high, SURFACE_POINTS) for low, high in ranges[:2]]
            mesh = np.meshgrid(*axes, indexing="ij")
            grid = pd.DataFrame({v: m.ravel() for v, m in zip(smooth.spec.variables, mesh)})
            for v, (low, high) in zip(smooth.spec.variables[2:], ranges[2:]):
                grid[v] = (low + high) / 2
        if smooth.spec.by is not None:
            grid[smooth.spec.by] = smooth.by_level if smooth.by_level is not None else 1.0
        return grid
