"""statsmodels' ``profile_re``: the log-likelihood with one variance parameter held at each value
of a grid around its estimate and everything else refitted.

statsmodels holds the parameter relative to the scale (Ψ₀₀ = cov_re[0, 0] / scale after moving
the profiled random effect to the first column, or a component's vc / scale). In mixedfit's
terms that is one entry of θ held fixed: Λ's first diagonal entry (Ψ = ΛΛ', Λ lower triangular,
so Ψ₀₀ = Λ₀₀²) or the component's relative SD; the rest of θ is optimized by BOBYQA, with β and
σ profiled out as in every fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..models.lmm import LinearMixedModel
from ..models.optimize import OptSummary, bobyqa

if TYPE_CHECKING:
    from .results import MixedLMResults


def profile_variance(
    results: MixedLMResults, re_ix: Any, vtype: str, num_low: int, dist_low: float, num_high: int, dist_high: float
) -> np.ndarray:
    """Rows (value on the data's scale, log-likelihood) over the grid statsmodels uses:
    num_low + 1 points from estimate − dist_low up to the estimate, num_high above it."""
    model = results.model
    if vtype == "re":
        if not isinstance(re_ix, (int, np.integer)) or not 0 <= re_ix < model.k_re:
            raise ValueError(f"re_ix must be the index of a random effect (0 to {model.k_re - 1}), got {re_ix!r}")
        order = np.arange(model.k_re)
        order[[0, re_ix]] = order[[re_ix, 0]]  # the profiled effect first, as statsmodels does
        terms = model._terms(exog_re=model.exog_re[:, order])
        estimate, term_name = np.asarray(results.cov_re)[re_ix, re_ix], "group"
    elif vtype == "vc":
        if re_ix not in model.exog_vc_names:
            raise ValueError(f"re_ix must name a variance component ({model.exog_vc_names}), got {re_ix!r}")
        terms = model._terms()
        j = model.exog_vc_names.index(re_ix)
        estimate, term_name = results.vcomp[j], f"component{j + 1}"
    else:
        raise ValueError(f"vtype must be 're' or 'vc', got {vtype!r}")
    low, high = (estimate - dist_low) / results.scale, (estimate + dist_high) / results.scale
    if low <= 0:
        raise ValueError("dist_low is too large and would result in a negative variance. Try a smaller value.")
    relative = estimate / results.scale
    grid = np.concatenate([np.linspace(low, relative, num_low + 1), np.linspace(relative, high, num_high + 1)[1:]])
    fit = LinearMixedModel.from_arrays(model.endog, model.exog, terms, REML=model.reml)
    fit._quiet = True
    held = _first_theta_of(fit, term_name)
    start = fit.fit(check_conv=False).theta
    free = np.flatnonzero(np.arange(len(start)) != held)
    rows = []
    for value in grid:
        theta = start.copy()
        theta[held] = np.sqrt(value)
        if len(free):

            def criterion(x: np.ndarray, theta: np.ndarray = theta) -> float:
                theta[free] = x
                return fit.objective_at(theta)

            summary = OptSummary(initial=start[free], lower=fit._lower()[free], quiet=True)
            theta[free] = bobyqa(criterion, summary)
        objective = fit.objective_at(theta)
        rows.append([value * fit._core.sigma(fit.REML) ** 2, -0.5 * objective])
    return np.asarray(rows)


def _first_theta_of(fit: LinearMixedModel, term_name: str) -> int:
    """The position in θ of the named term's first parameter (Λ₀₀, or a component's SD)."""
    position = 0
    for term in fit.design.terms:
        if term.name == term_name:
            return position
        position += term.n_theta
    raise ValueError(f"no term {term_name!r} in the model")
