"""lme4's ``allFit``: a fitted model refitted with several optimizers (and from several starts),
to see whether its optimum depends on how it was found."""

from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from .._lazy import optimize
from .glmm import GeneralizedLinearMixedModel
from .model import MixedModel

# The core's BOBYQA (what fit() uses) and scipy's derivative-free and quasi-Newton methods that
# take bounds, as allFit's bobyqa, Nelder_Mead, nlminbwrap and L-BFGS-B.
OPTIMIZERS = ("bobyqa", "Nelder-Mead", "Powell", "L-BFGS-B")


def all_fit(
    model: MixedModel, optimizers: Sequence[str] = OPTIMIZERS, starts: Sequence[np.ndarray] | None = None
) -> pd.DataFrame:
    """Refit a fitted model with each optimizer from each start, as lme4's ``allFit``.

    Parameters
    ----------
    model : LinearMixedModel or GeneralizedLinearMixedModel
        A fitted model; it is not changed (each refit is on a copy).
    optimizers : sequence of str, default ("bobyqa", "Nelder-Mead", "Powell", "L-BFGS-B")
        "bobyqa" is the core's (fit()'s); the others are ``scipy.optimize.minimize``'s methods,
        run on the same criterion (an LMM's profiled criterion in θ; a GLMM's deviance in θ and
        β — with nAGQ = 0 in θ alone) within the same bounds.
    starts : sequence of arrays, optional
        Starting θ values (default: the model's own start, lme4's). A GLMM's β starts at its
        estimate.

    Returns
    -------
    DataFrame
        One row per optimizer (and start, if several): ``objective``, ``evaluations``,
        ``converged``, ``seconds``, ``messages`` (the refit's warnings and the optimizer's own
        word, joined by "; ") and the parameters on lme4's scale (standard deviations and
        correlations, σ, then the fixed effects), as ``summary(allFit(m))``'s tables in one.
        Rows whose objectives agree to a few digits found the same optimum.
    """
    model._require_fit()
    if not isinstance(optimizers, (list, tuple)) or not optimizers:
        raise TypeError("optimizers must be a non-empty list of names: 'bobyqa' or scipy.optimize.minimize methods")
    starts = [model.optsum_stage1.initial if isinstance(model, GeneralizedLinearMixedModel) else model.optsum.initial] if starts is None else list(starts)
    rows, index = [], []
    for k, start in enumerate(starts):
        start = np.asarray(start, dtype=np.float64)
        if start.shape != model.design.theta0.shape:
            raise ValueError(f"start {k} must have {len(model.design.theta0)} values of θ, got {start.shape}")
        for name in optimizers:
            rows.append(_refit(model, str(name), start))
            index.append(name if len(starts) == 1 else f"{name} (start {k + 1})")
    return pd.DataFrame(rows, index=pd.Index(index, name="optimizer"))


def _refit(model: MixedModel, optimizer: str, start: np.ndarray) -> dict:
    twin = model._twin()
    began = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if optimizer == "bobyqa":
            twin._restart_optimizer(start.copy())
            twin.fit(control={"gradient": False})  # (a GLMM's default final stage is the gradient search)
            evaluations, converged, note = twin.optsum.feval, twin.optsum.return_code != "MAXEVAL_REACHED", twin.optsum.return_code
        else:
            evaluations, converged, note = _scipy_refit(twin, optimizer, start)
    row = {
        "objective": twin.objective, "evaluations": int(evaluations), "converged": bool(converged),
        "seconds": time.perf_counter() - began, "messages": "; ".join([note, *(str(w.message) for w in caught)]),
    }  # fmt: skip
    row.update(zip(twin.parameter_names(), twin._parameter_vector()))
    return row


def _scipy_refit(twin: MixedModel, method: str, start: np.ndarray) -> tuple[int, bool, str]:
    """θ (a GLMM's (θ, β) from the model's β̂) by scipy's method; the twin put at the result."""
    if getattr(twin, "_structure", None) is not None:
        raise NotImplementedError("all_fit with scipy's optimizers: not for models with a residual structure (use 'bobyqa')")
    glmm = isinstance(twin, GeneralizedLinearMixedModel)
    if glmm and twin.nAGQ > 0:
        summary = twin._stage2_optsum(start, twin._beta, twin._vcov, False)
        objective, x0, lower, upper = twin._objective_of, summary.initial, summary.lower, summary.upper
    else:
        objective, x0, lower, upper = twin.objective_at, start, twin._lower(), None
    upper = np.full(len(x0), np.inf) if upper is None else upper
    bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None) for lo, hi in zip(lower, upper)]
    x0 = np.clip(x0, lower, upper)
    result = optimize().minimize(objective, x0, method=method, bounds=bounds)
    x = np.clip(result.x, lower, upper)
    if glmm and twin.nAGQ > 0:
        twin._objective = twin._objective_of(x)  # the core at x (and an NB's shape)
        twin._derivatives = False  # standard errors from RX: the comparison is of optima
        twin._set_estimates(twin._split(twin._without_shape(x))[0])
    elif glmm:
        twin._objective = twin.objective_at(x)
        twin._set_estimates(x)
    else:
        twin._set_estimates(x)
    return int(result.nfev), bool(result.success), str(result.message)
