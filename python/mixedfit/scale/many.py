"""Many responses, one design: fit_many fits the same model to each of many responses (one LMM
per gene, per voxel, per simulated data set) from the design's compiled form, on threads.

Responses with the same missing rows share one compiled model (built once, its symbolic
factorization done once); LMMs are refitted on C++ threads without the GIL, GLMMs on Python
threads whose deviance evaluations release it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import threads
from .._lazy import stats
from ..design.formula import parse_formula
from ..design.frame import as_dataframe
from ..design.restricted import check_restricted, formula_is_restricted
from ..errors import DataError, MixedFitError, NumericalError
from ..inference.parameters import sdcor_names
from ..inference.satterthwaite import satterthwaite as satterthwaite_pieces
from ..models.families import Family
from ..models.glmm import GeneralizedLinearMixedModel
from ..models.lmm import LinearMixedModel
from ..models.model import MixedModel
from ..options import get_options, option_context


def _responses(responses: Any, data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """An n × m float matrix of responses and their names."""
    if isinstance(responses, str):
        responses = [responses]
    if isinstance(responses, (list, tuple)) and all(isinstance(r, str) for r in responses):
        missing = [r for r in responses if r not in data.columns]
        if missing:
            raise DataError(f"response columns {missing} are not in the data")
        return data[list(responses)].to_numpy(dtype=np.float64, na_value=np.nan), list(responses)
    if isinstance(responses, pd.DataFrame):
        return responses.to_numpy(dtype=np.float64, na_value=np.nan), [str(c) for c in responses.columns]
    matrix = np.asarray(responses, dtype=np.float64)
    matrix = matrix[:, None] if matrix.ndim == 1 else matrix
    if matrix.ndim != 2:
        raise DataError(f"responses must be a matrix (rows × responses), got shape {matrix.shape}")
    return matrix, [f"response_{k + 1}" for k in range(matrix.shape[1])]


def _table(model: MixedModel, fits: dict[str, np.ndarray], names: list[str]) -> pd.DataFrame:
    d = model.design
    variance = model._variance_parameters(fits)
    table = pd.DataFrame(fits["beta"].T, index=names, columns=d.fixed.names)
    for j, name in enumerate(d.fixed.names):
        table[f"se:{name}"] = fits["stderr"][j]
    for j, name in enumerate(sdcor_names(d, model._has_residual)):
        table[name] = variance[:, j]
    table["objective"] = fits["objective"]
    table["loglik"] = -0.5 * fits["objective"]  # as the models' loglik (a REML fit's: the REML criterion's)
    table["evaluations"] = fits["evaluations"]
    table["converged"] = fits["converged"]
    table["singular"] = model._singular(fits)
    table["nobs"] = model.nobs
    table["reason"] = fits["reasons"]
    return table


def fit_many(
    formula: str,
    data: Any,
    responses: Any,
    family: str | Family | None = None,
    link: str | None = None,
    nAGQ: int = 1,
    REML: bool = True,
    weights: Any = None,
    n_threads: int | None = None,
    client: Any = None,
    satterthwaite: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Fit one model to each of many responses.

    Parameters
    ----------
    formula : str
        lme4's formula; its left-hand side names the response placeholder, e.g. ``"y ~ x + (1 | g)"``.
    data : data frame
        The covariates and grouping factors (the placeholder column need not exist).
    responses : list of column names, DataFrame, or array (rows × responses)
        One response per column, rows aligned with data. Rows with a missing response are
        dropped for that response alone.
    family, link, nAGQ : optional
        A GLMM as in ``glmer`` (default: an LMM); REML for an LMM as in ``lmer``.
    weights : str, optional
        A column of prior weights.
    n_threads : int, optional
        Threads (default: mixedfit.get_threads()).
    client : dask.distributed.Client, optional
        Spread the responses over the cluster's workers in one chunk per worker (the data are
        sent to each worker once; each builds the compiled design once per pattern of missing
        rows). The table equals the in-process one. If chunks fail, the error says which, and
        the rows of the others are in its ``partial`` attribute.

    Returns
    -------
    DataFrame
        One row per response: β (columns named as the fixed effects), ``se:`` their standard
        errors (from RX, as ``vcov(m, use.hessian = FALSE)``), the variance parameters on lme4's
        sd/cor scale (``.sig01``…, ``.sigma``), the objective, the log-likelihood (−objective/2,
        as the models' ``loglik``), evaluations, ``converged``, ``singular``, ``nobs`` and ``reason``
        (empty, or why the response was not fitted or did not converge: a response with
        infinite values, none observed, or one its model cannot be built from, such as a GLMM's
        constant response, is a row of NaN with ``converged`` False). Each fit starts from lme4's
        default θ (a GLMM from its response's own start, as ``glmer``'s), without the convergence checks'
        derivatives.
    """
    frame = as_dataframe(data)
    Y, names = _responses(responses, frame)
    if Y.shape[1] == 0:
        raise DataError("responses is empty: give at least one response (a column name, or a matrix with a column per response)")
    if Y.shape[0] != len(frame):
        raise DataError(f"responses have {Y.shape[0]} rows for {len(frame)} rows of data")
    if satterthwaite is not None and family is not None:
        raise ValueError("satterthwaite= is for LMMs (a GLMM's coefficients have z tests)")
    if client is not None:
        if formula_is_restricted():  # checked here, and the workers run restricted too
            # (parse_formula only splits the text: it evaluates nothing)
            check_restricted(formula, [*frame.columns, parse_formula(formula).response], data=frame)
        options = {
            "family": family, "link": link, "nAGQ": nAGQ, "REML": REML, "weights": weights, "satterthwaite": satterthwaite,
        }  # fmt: skip
        return _on_cluster(client, formula, frame, pd.DataFrame(Y, columns=names), options)
    response = parse_formula(formula).response
    if not response.isidentifier():
        raise DataError(f"the formula's response '{response}' must be a plain name (a placeholder for each response)")
    n_threads = threads.resolve(n_threads)
    infinite = ~np.isfinite(Y) & ~np.isnan(Y)
    # Responses with the same missing rows share one model; one that cannot be fitted is a row
    # of NaN with the reason, never the end of the batch.
    reasons: dict[int, str] = {}
    patterns: dict[bytes, list[int]] = {}
    for k in range(Y.shape[1]):
        if infinite[:, k].any():
            reasons[k] = f"the response has infinite values (rows at positions {_rows(np.flatnonzero(infinite[:, k]))})"
        elif np.isnan(Y[:, k]).all():
            reasons[k] = "the response has no observed values"
        else:
            patterns.setdefault(np.isnan(Y[:, k]).tobytes(), []).append(k)
    tables = []
    for key, columns in patterns.items():
        present = ~np.frombuffer(key, dtype=bool)
        model, fitted = _model_for(formula, frame, Y, present, columns, response, reasons, family, link, nAGQ, REML, weights)
        if model is None:
            continue
        used = np.flatnonzero(present)[model.frame.rows]
        # LMMs all start from lme4's default θ (one start for the core's threads); GLMMs each from
        # their response's start, as glmer's.
        start = model._initial() if family is None else None
        fits = model._fit_responses(np.asfortranarray(Y[np.ix_(used, fitted)]), min(n_threads, len(fitted)), start)
        table = _table(model, fits, [names[k] for k in fitted])
        if satterthwaite:
            table = table.join(_satterthwaite_tests(model, Y[np.ix_(used, fitted)], fits, satterthwaite, table.index))
        tables.append(table)
    if reasons:
        tables.append(_failed_rows(tables, reasons, names, (~np.isnan(Y)).sum(axis=0)))
    return pd.concat(tables).loc[names]


def _rows(rows: np.ndarray, shown: int = 5) -> str:
    more = f", … ({len(rows)} rows)" if len(rows) > shown else ""
    return ", ".join(str(r) for r in rows[:shown]) + more


def _model_for(
    formula: str, frame: pd.DataFrame, Y: np.ndarray, present: np.ndarray, columns: list[int], response: str,
    reasons: dict[int, str], family: Any, link: Any, nAGQ: int, REML: bool, weights: Any,
) -> tuple[MixedModel | None, list[int]]:
    """The compiled model of the responses observed on the rows `present`, built from the first of
    them that it can be built from (a GLMM's constant response cannot: lme4 refuses it); those
    tried before it get their reason. Also returns the responses left to fit with it."""
    for position, k in enumerate(columns):
        subset = frame.loc[present].reset_index(drop=True).assign(**{response: Y[present, k]})
        try:
            if family is None:
                return LinearMixedModel(formula, subset, REML=REML, weights=weights, n_threads=1), columns[position:]
            return GeneralizedLinearMixedModel(formula, subset, family, link, nAGQ, weights, n_threads=1), columns[position:]
        except (DataError, NumericalError) as error:
            reasons[k] = f"{type(error).__name__}: {error}"
    return None, []


def _failed_rows(tables: list[pd.DataFrame], reasons: dict[int, str], names: list[str], observed: np.ndarray) -> pd.DataFrame:
    """Rows of NaN, converged False and the reason, for the responses that could not be fitted."""
    # With no response fitted, the design's columns are not known: the table's own columns only.
    columns = tables[0].columns if tables else pd.Index(["objective", "loglik", "evaluations", "converged", "singular", "nobs"])
    failed = pd.DataFrame(np.nan, index=[names[k] for k in reasons], columns=columns)
    for column, value in (("evaluations", 0), ("converged", False), ("singular", False)):
        if column in failed:
            failed[column] = value
    failed["nobs"] = observed[list(reasons)]  # the response's observed values
    failed["reason"] = list(reasons.values())
    return failed


def _satterthwaite_tests(
    model: LinearMixedModel, Y: np.ndarray, fits: dict[str, np.ndarray], names: Sequence[str], index: pd.Index
) -> pd.DataFrame:
    """df and p of the named coefficients for each response, the model put at its estimates."""
    fixed = list(model.design.fixed.names)
    missing = [name for name in names if name not in fixed]
    if missing:
        raise DataError(f"satterthwaite: {missing} are not fixed effects of the model ({', '.join(fixed)})")
    rows = []
    for k in range(Y.shape[1]):
        if not np.all(np.isfinite(fits["theta"][:, k])):
            rows.append([np.nan] * (2 * len(names)))
            continue
        model._set_response(Y[:, k])
        model._set_estimates(fits["theta"][:, k])
        pieces = satterthwaite_pieces(model._core, model._theta, model._sigma, model._vcov, model.nobs, model.REML)
        row = []
        for name in names:
            j = fixed.index(name)
            df = pieces.df(np.eye(len(fixed))[j])
            t = model._beta[j] / np.sqrt(model._vcov[j, j])
            row += [df, 2 * stats().t.sf(abs(t), df)]
        rows.append(row)
    columns = [f"{kind}:{name}" for name in names for kind in ("df", "p")]
    return pd.DataFrame(rows, index=index, columns=columns)


def _fit_chunk(settings: dict, formula: str, data: pd.DataFrame, responses: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """fit_many on a worker, under the caller's settings."""
    with option_context(**settings):
        return fit_many(formula, data, responses, **options)


class ClusterError(MixedFitError):
    """Some chunks of a fit_many on a cluster failed; ``partial`` holds the other chunks' rows."""

    def __init__(self, message: str, partial: pd.DataFrame) -> None:
        super().__init__(message)
        self.partial = partial


def _on_cluster(client: Any, formula: str, frame: pd.DataFrame, responses: pd.DataFrame, options: dict) -> pd.DataFrame:
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    chunks = [c for c in np.array_split(np.arange(responses.shape[1]), min(workers, responses.shape[1])) if len(c)]
    data = client.scatter(frame, broadcast=True, hash=False)  # a new key: a re-scattered frame must not share one
    # A worker's options are its own process's: the caller's (restricted formula evaluation) go
    # with each task.
    settings = get_options()
    futures = [
        client.submit(_fit_chunk, settings, formula, data, responses.iloc[:, chunk], pure=False, **options)
        for chunk in chunks
    ]
    tables, failures = [], []
    for chunk, future in zip(chunks, futures):
        try:
            tables.append(future.result())
        except Exception as exc:  # a worker's error, or a lost worker: reported with the chunk
            first, last = responses.columns[chunk[0]], responses.columns[chunk[-1]]
            failures.append(f"responses {first!r} … {last!r}: {type(exc).__name__}: {exc}")
    done = pd.concat(tables) if tables else pd.DataFrame()
    if failures:
        raise ClusterError(f"{len(failures)} of {len(chunks)} chunks failed: " + "; ".join(failures), done)
    return done.loc[list(responses.columns)]
