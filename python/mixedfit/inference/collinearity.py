"""Variance inflation of the fixed effects, as R's performance::check_collinearity computes it for
mixed models: from the correlation matrix R of β̂ (the intercept left out), each term's
generalized VIF det(R_tt) det(R_−t,−t) / det(R) (Fox and Monette; a one-column term's VIF), with
an interval from the implied R² = 1 − 1/VIF on the logit scale."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._lazy import stats
from .fixed_effects_tests import term_columns


def check_collinearity(model, ci: float = 0.95) -> pd.DataFrame:
    """One row per fixed-effects term (two terms at least, an intercept in the model): Term, VIF,
    VIF_CI_low, VIF_CI_high, SE_factor (√VIF), Tolerance (1/VIF), Tolerance_CI_low and _high.
    The interval's standard error of r = 1 − 1/VIF is performance's,
    (1 − r²)(n − p − 1) / √((n² − 1)(n + 3)) with n observations and p fixed effects.

    Parameters
    ----------
    model : LinearMixedModel or GeneralizedLinearMixedModel
        A fitted model with an intercept and two fixed-effects terms or more.
    ci : float, default 0.95
        The VIF intervals' coverage.

    Returns
    -------
    DataFrame
        One row per term (a factor's or an interaction's columns together: generalized VIFs).
    """
    names = list(model.design.fixed.names)
    if "(Intercept)" not in names:
        raise ValueError("check_collinearity needs a model with an intercept (VIFs without one are not sensible)")
    terms = term_columns(model)
    if len(terms) < 2:
        raise ValueError("check_collinearity needs at least two fixed-effects terms")
    keep = [j for j, name in enumerate(names) if name != "(Intercept)"]
    vcov = model._vcov[np.ix_(keep, keep)]
    sd = np.sqrt(np.diag(vcov))
    R = vcov / np.outer(sd, sd)
    det_R = np.linalg.det(R)
    position = {j: k for k, j in enumerate(keep)}
    vif = []
    for columns in terms.values():
        inside = [position[j] for j in columns]
        outside = [k for k in range(len(keep)) if k not in inside]
        vif.append(np.linalg.det(R[np.ix_(inside, inside)]) * np.linalg.det(R[np.ix_(outside, outside)]) / det_R)
    vif = np.array(vif)
    r = 1 - 1 / vif
    n, p = model.nobs, len(names)
    dist = stats()
    z = dist.norm.ppf((1 + ci) / 2)
    se = np.sqrt((1 - r**2) ** 2 * (n - p - 1) ** 2 / ((n**2 - 1) * (n + 3)))
    with np.errstate(divide="ignore", invalid="ignore"):
        se_logit = se / (r * (1 - r))
        low = dist.logistic.cdf(dist.logistic.ppf(r) - z * se_logit)
        high = dist.logistic.cdf(dist.logistic.ppf(r) + z * se_logit)
        return pd.DataFrame(
            {
                "Term": list(terms), "VIF": vif, "VIF_CI_low": 1 / (1 - low), "VIF_CI_high": 1 / (1 - high),
                "SE_factor": np.sqrt(vif), "Tolerance": 1 / vif, "Tolerance_CI_low": 1 - high, "Tolerance_CI_high": 1 - low,
            }
        )  # fmt: skip
