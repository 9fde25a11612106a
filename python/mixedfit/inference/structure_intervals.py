"""The covariance structures' parameters as summary() reports them (SDs on the response's scale,
correlations, ranges, decay rates, loadings) and their Wald intervals.

An interval is symmetric on the scale where the parameter is unbounded — log for SDs, ranges,
decay rates and smoothness, atanh for correlations, none for loadings — with its standard error
from the delta method: the gradient of the transformed value in the variance parameters (θ, and
σ for an LMM) against their covariance (2 H⁻¹ of the deviance's Hessian: Satterthwaite's A for
an LMM, the fit's Hessian in (θ, β) for a GLMM).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design.matrices import Design
from ..design.smooths import SmoothTerm
from ..models.results import lower_factor, unique_group_names
from .profile import normal_quantile

STEP = 1e-6  # central differences of the reported values, relative to each parameter (at least absolute)


def structure_values(design: Design, theta: np.ndarray, scale: float) -> list[tuple[str, str, str, float]]:
    """(group, structure, label, value) of each structured term's reported parameters (a smooth's
    iid effects have only their SD, which VarCorr reports)."""
    factor = design.factor(theta)
    out = []
    for name, t, sl, fsl in zip(
        unique_group_names(design), design.terms, design.theta_slices(), design.factor_slices()
    ):
        if isinstance(t.term, SmoothTerm):
            continue
        for label, value in t.covariance.reported(theta[sl], lower_factor(factor[fsl], t.p), scale, t.columns):
            out.append((name, t.covariance.kind, label, value))
    return out


def _transforms(label: str):
    """The scale on which label's interval is symmetric, and back."""
    if label.startswith("rho"):
        return np.arctanh, np.tanh
    if label.startswith("loading"):
        return (lambda v: v), (lambda v: v)
    return np.log, np.exp


def structure_intervals(
    design: Design, varpar: np.ndarray, covariance: np.ndarray, with_sigma: bool, level: float
) -> pd.DataFrame:
    """Wald intervals of the reported structure parameters. varpar: θ, then σ if with_sigma;
    covariance: its asymptotic covariance."""
    k = len(design.theta0)

    def values(v: np.ndarray) -> list[tuple[str, str, str, float]]:
        return structure_values(design, v[:k], v[k] if with_sigma else 1.0)

    rows = values(varpar)
    labels = [label for _, _, label, _ in rows]
    transformed = lambda v: np.array([_transforms(l)[0](x) for l, (_, _, _, x) in zip(labels, values(v))])  # noqa: E731
    steps = STEP * np.maximum(np.abs(varpar), 1.0)
    jacobian = np.column_stack([
        (transformed(varpar + np.eye(len(varpar))[j] * steps[j]) - transformed(varpar - np.eye(len(varpar))[j] * steps[j]))
        / (2 * steps[j])
        for j in range(len(varpar))
    ])  # fmt: skip
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian), 0.0))
    z = normal_quantile(level)
    centre = transformed(varpar)
    table = []
    for (group, kind, label, value), c, s in zip(rows, centre, se):
        back = _transforms(label)[1]
        table.append((group, kind, label, float(back(c - z * s)), value, float(back(c + z * s))))
    frame = pd.DataFrame(table, columns=["group", "structure", "parameter", "lower", "est.", "upper"])
    return frame.set_index(["group", "parameter"])
