"""Likelihood-ratio tests of the random-effects terms, as lmerTest's ranova(m): each term is reduced
in turn (a variable removed from it; an intercept-only term, or one with a covariance structure,
removed) and the model refitted, by REML if it was fitted so."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from formulaic import Formula

from .._lazy import optimize, stats
from ..design.formula import RandomTerm


def _reductions(term: RandomTerm) -> list[tuple[str, RandomTerm | None]]:
    """(row label, reduced term or None for removed) for each single reduction of term. A term
    with a covariance structure (cs, ar1, ...) is removed whole: taking a column out of it would
    change what its parameters mean (lmerTest has no such terms; this is the likelihood-ratio
    test of the term, as anova of glmmTMB's fits with and without it)."""
    if term.structure != "us":
        return [(str(term), None)]
    parts = [str(t) for t in Formula(term.expr)]
    intercept = "1" in parts
    variables = [p for p in parts if p != "1"]
    if not variables:
        return [(str(term), None)]
    out = []
    for variable in variables:
        rest = [v for v in variables if v != variable]
        if rest or intercept:
            expr = " + ".join((["1"] if intercept else ["0"]) + rest)
            out.append((f"{variable} in {term}", RandomTerm(expr, term.factors)))
        else:
            out.append((f"{variable} in {term}", None))
    return out


def _linear_model_loglik(y: np.ndarray, X: np.ndarray, weights: np.ndarray, REML: bool) -> float:
    """R's logLik.lm, for a reduction that leaves no random-effects term."""
    sw = np.sqrt(weights)
    Q, R = np.linalg.qr(X * sw[:, None])
    residuals = y * sw - Q @ (Q.T @ (y * sw))
    n, p = len(y), X.shape[1]
    N = n - p if REML else n
    value = 0.5 * (np.sum(np.log(weights)) - N * (np.log(2 * np.pi) + 1 - np.log(N) + np.log(np.sum(residuals**2))))
    if REML:
        value -= np.sum(np.log(np.abs(np.diag(R))))
    return float(value)


def _gls_loglik(model, psi: np.ndarray | None = None) -> tuple[float, int]:
    """The log-likelihood and parameter count of the model without random effects but with its
    residual structure (nlme's gls): at the structure's parameters ψ if given, else with them
    re-estimated (from the mixed model's, by L-BFGS-B within their bounds)."""
    structure = copy.deepcopy(model._structure)  # the fitted model's arrays stay as they are
    y, X = model._response - model.design.offset, model.design.fixed.X
    ones = np.ones(len(y))

    def minus_loglik(at: np.ndarray) -> float:
        structure.set(at)
        value = _linear_model_loglik(structure.whiten(y), structure.whiten(X), ones, model.REML)
        return -(value - 0.5 * structure.full_jacobian)

    npar = X.shape[1] + 1 + structure.n_params
    if psi is not None:
        return -minus_loglik(np.asarray(psi, dtype=np.float64)), npar
    lower, upper = structure.bounds()
    best = optimize().minimize(minus_loglik, structure.psi, method="L-BFGS-B", bounds=list(zip(lower, upper)))
    return -float(best.fun), npar


def ranova(model) -> pd.DataFrame:
    """lmerTest's ranova table: npar, logLik, AIC, LRT, Df, Pr(>Chisq), first row the model."""
    from ..models.lmm import (
        LinearMixedModel,  # the reduced models are LMMs of the same data
    )

    parsed, frame = model.parsed, model.frame
    fixed = parsed.fixed
    offsets = [f"offset({o})" for o in parsed.offsets]
    offset = frame.offset if np.any(frame.offset) else None
    rows = [("<none>", model.dof, model.loglik)]
    for k, term in enumerate(parsed.random):
        for label, reduced in _reductions(term):
            others = [str(t) for j, t in enumerate(parsed.random) if j != k] + ([str(reduced)] if reduced else [])
            if others:
                formula = f"{parsed.response} ~ " + " + ".join([fixed, *others, *offsets])
                refit = LinearMixedModel(
                    formula, frame.data, REML=model.REML, weights=frame.weights, offset=offset,
                    variance=model._variance_spec, correlation=model._correlation_spec,
                )  # fmt: skip
                refit._quiet = True  # its warnings are not the user's model's
                refit.fit()
                rows.append((label, refit.dof, refit.loglik))
            else:
                if model._structure is not None:
                    loglik, npar = _gls_loglik(model)
                    rows.append((label, npar, loglik))
                    continue
                d = model.design
                y = model._response - d.offset
                loglik = _linear_model_loglik(y, d.fixed.X, model._weights, model.REML)
                rows.append((label, d.fixed.X.shape[1] + 1, loglik))
    table = pd.DataFrame(rows, columns=["label", "npar", "logLik"]).set_index("label")
    table.index.name = None
    table["AIC"] = -2 * table["logLik"] + 2 * table["npar"]
    lrt = 2 * (model.loglik - table["logLik"].to_numpy())
    df = model.dof - table["npar"].to_numpy()
    table["LRT"] = np.where(df > 0, np.maximum(lrt, 0.0), np.nan)
    table["Df"] = np.where(df > 0, df, np.nan)
    with np.errstate(invalid="ignore"):
        table["Pr(>Chisq)"] = np.where(df > 0, stats().chi2.sf(table["LRT"], np.maximum(df, 1)), np.nan)
    return table
