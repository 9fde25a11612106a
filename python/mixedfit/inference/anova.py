"""Likelihood-ratio tests between nested models, as lme4's anova(m0, m1, ...)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._lazy import stats
from ..errors import DataError
from ..models.model import MixedModel


def anova(
    *models: MixedModel, names: list[str] | None = None, type: str = "III", ddf: str = "Satterthwaite"
) -> pd.DataFrame:
    """With several models, lme4's anova(m0, m1, ...): npar, AIC, BIC, logLik, deviance (−2 log L)
    of each model, ordered by npar, and the χ² statistic, its degrees of freedom and p-value
    against the model before it. With one linear mixed model, lmerTest's anova(m): F tests of its
    fixed-effects terms with Satterthwaite's denominator df (see LinearMixedModel.anova).

    Parameters
    ----------
    *models : fitted models
        One linear mixed model, or several models of the same data (nested).
    names : list of str, optional
        Row labels for several models (default: model1, model2, …).
    type : {"III", "I"}
        One model's tests: marginal or sequential.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        One model's denominator degrees of freedom.

    Returns
    -------
    DataFrame
    """
    if len(models) == 1 and hasattr(models[0], "anova"):
        return models[0].anova(type=type, ddf=ddf)
    if len(models) < 2:
        raise ValueError("anova needs a linear mixed model, or at least two fitted models to compare")
    for k, m in enumerate(models):
        if not isinstance(m, MixedModel):
            raise TypeError(f"anova compares fitted mixedfit models; argument {k + 1} is a {m.__class__.__name__}")
        m._require_fit()
    if len({m.__class__ for m in models}) > 1:  # (`type` is the F tests' argument here)
        raise ValueError("anova compares models of one kind: all linear or all generalized linear mixed models")
    if len({m.nobs for m in models}) > 1:
        raise DataError(
            f"models were fitted to different numbers of observations ({', '.join(str(m.nobs) for m in models)}); "
            "a likelihood-ratio test needs the same data"
        )
    if any(not np.array_equal(m._response, models[0]._response) for m in models[1:]):
        raise DataError("models were fitted to different responses; a likelihood-ratio test needs the same data")
    labels = list(names) if names is not None else [m.formula for m in models]
    if len(labels) != len(models):
        raise ValueError(f"names has {len(labels)} entries for {len(models)} models")
    if len(set(labels)) < len(labels):
        labels = [f"model {k + 1}" for k in range(len(models))]
    fits = [m._ml_fit() for m in models]  # an LMM fitted by REML is refitted by ML, as in lme4
    order = sorted(range(len(fits)), key=lambda k: fits[k].dof)  # stable: ties keep the given order
    table = pd.DataFrame(
        {
            "npar": [fits[k].dof for k in order],
            "AIC": [fits[k].aic for k in order],
            "BIC": [fits[k].bic for k in order],
            "logLik": [fits[k].loglik for k in order],
            "deviance": [-2 * fits[k].loglik for k in order],
        },
        index=[labels[k] for k in order],
    )
    chisq = 2 * np.maximum(0.0, np.diff(table["logLik"].to_numpy()))
    df = np.diff(table["npar"].to_numpy())
    table["Chisq"] = np.concatenate([[np.nan], chisq])
    table["Df"] = np.concatenate([[np.nan], df])
    with np.errstate(invalid="ignore"):
        p = np.where(df > 0, stats().chi2.sf(chisq, np.maximum(df, 1)), np.nan)
    table["Pr(>Chisq)"] = np.concatenate([[np.nan], p])
    return table
