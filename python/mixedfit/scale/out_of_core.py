"""Linear mixed models of a Dask DataFrame, fitted from cross-products summed over its partitions.

An LMM's criterion depends on the data only through the cross-products of [Z X y] (weighted) and
the number of observations, so the rows never need to be in one place:

1. one pass collects the levels of every grouping factor and categorical column (global codes);
2. one map-reduce pass: each partition sums, for every *cell* (a combination of the random-effects
   terms' levels: all its rows share one pattern of Z), the Gram matrix of the rows' values
   [term columns, X, y]·√w; the cells' Gram matrices are added across partitions;
3. on the client, each cell's Gram matrix G = Σ λⱼvⱼvⱼ' becomes rank(G) pseudo-observations √λⱼvⱼ'
   with exactly the cell's cross-products, and the ordinary core fits those, told the data's number
   of observations and Σ log wᵢ (``set_observations``). The pseudo-data have at most
   cells × (columns + 1) rows whatever the number of rows: 10⁴ subjects with a random slope are
   5·10⁴ pseudo-rows for 10⁸ observations.

Scope: random-effects terms whose left side is an intercept and numeric columns ((1|g), (x|g),
(0+x|g), (x||g), any grouping factors, crossed or nested); fixed effects any formula without
data-dependent (stateful) transforms such as scale(), center(), poly() and bs(), whose parameters
would differ between partitions. Weights and offsets as column names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..design.arrays import RandomTerm as ArrayTerm
from ..design.formula import ParsedFormula, parse_formula
from ..design.frame import used_columns
from ..design.matrices import evaluate, numeric_column, simple_terms
from ..design.restricted import check_restricted, formula_is_restricted
from ..errors import DataError, FormulaError
from ..models.lmm import LinearMixedModel, intercepts_start
from ..models.results import RandomEffects

STATEFUL = re.compile(r"(?<![\w.])(scale|center|poly|bs|standardize)\(")
# Gram matrices of rows are formed this many rows at a time (n × m² floats per block).
ROWS_PER_BLOCK = 200_000
# Partitions' cell sums are added this many at a time (a tree: memory per task stays a few
# partitions' worth of cells, whatever the number of partitions).
COMBINE_FAN_IN = 4


def is_dask_collection(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


@dataclass(frozen=True)
class Plan:
    """What every partition needs: the formula's parts, the columns, and the global levels."""

    parsed: ParsedFormula
    columns: list[str]
    categories: dict[str, list[Any]]  # categorical/text columns → every level in the data
    term_columns: list[tuple[bool, list[str]]]  # each term's (intercept, numeric columns)
    term_levels: list[pd.Index]  # each term's grouping levels (tuples for a:b)
    x_names: list[str]
    weights: str | None
    offset: str | None


def _term_keys(frame: pd.DataFrame, factors: tuple[str, ...]) -> pd.Index | pd.MultiIndex:
    if len(factors) == 1:
        return pd.Index(frame[factors[0]].to_numpy())
    return pd.MultiIndex.from_frame(frame[list(factors)])


def _prepare(part: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The partition's used, complete rows, categorical columns with the global levels."""
    part = part[plan.columns + [c for c in (plan.weights, plan.offset) if c]].dropna()
    converted = {}
    for column, levels in plan.categories.items():
        values = pd.Categorical(part[column], categories=levels)
        converted[column] = values
    return part.assign(**converted) if converted else part


def _partition_cells(part: pd.DataFrame, plan: Plan, number: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Each cell's level codes (cells × terms) and Gram matrix (cells × m × m) of this partition,
    with Σ log w and the number of rows; a bad partition's error names it."""
    try:
        return _cells(part, plan)
    except (DataError, FormulaError, ValueError, TypeError) as exc:
        raise DataError(f"partition {number} of the data: {exc}") from None


def _cells(part: pd.DataFrame, plan: Plan) -> tuple[np.ndarray, np.ndarray, float, int]:
    frame = _prepare(part, plan)
    n = len(frame)
    m_terms = sum(int(intercept) + len(cols) for intercept, cols in plan.term_columns)
    m = m_terms + len(plan.x_names) + 1
    if n == 0:
        return np.zeros((0, len(plan.term_columns)), dtype=np.int64), np.zeros((0, m, m)), 0.0, 0
    X, _ = evaluate(plan.parsed.fixed, frame, "fixed-effects part")
    if X.names != plan.x_names:
        raise DataError(f"a partition gives fixed-effects columns {X.names}, others {plan.x_names}")
    y = numeric_column(plan.parsed.response, frame, "response")
    if plan.offset:
        y = y - frame[plan.offset].to_numpy(dtype=np.float64)
    for expr in plan.parsed.offsets:
        y = y - numeric_column(expr, frame, "offset")
    w = np.ones(n) if plan.weights is None else frame[plan.weights].to_numpy(dtype=np.float64)
    if np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise DataError(f"weights column '{plan.weights}' must be positive and finite")
    blocks, codes = [], []
    for term, (intercept, cols), levels in zip(plan.parsed.random, plan.term_columns, plan.term_levels):
        if intercept:
            blocks.append(np.ones((n, 1)))
        blocks += [numeric_column(c, frame, f"random-effects term {term}")[:, None] for c in cols]
        codes.append(levels.get_indexer(_term_keys(frame, term.factors)))
    B = np.hstack([*blocks, X.values, y[:, None]]) * np.sqrt(w)[:, None]
    keys = np.column_stack(codes)
    cells, cell_of_row = np.unique(keys, axis=0, return_inverse=True)
    cell_of_row = cell_of_row.ravel()
    grams = np.zeros((len(cells), m * m))
    for start in range(0, n, ROWS_PER_BLOCK):  # Σ over each cell's rows of bᵢbᵢ'
        rows = slice(start, start + ROWS_PER_BLOCK)
        grams += _sum_by(cell_of_row[rows], (B[rows, :, None] * B[rows, None, :]).reshape(-1, m * m), len(cells))
    return cells, grams.reshape(len(cells), m, m), float(np.sum(np.log(w))), n


def _sum_by(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Rows of values summed by group (a sparse membership product: np.add.at is ~10× slower)."""
    membership = sp.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))), shape=(n_groups, len(group)))
    return membership @ values


def _levels(ddf: Any, factors: tuple[str, ...]) -> pd.Index:
    distinct = ddf[list(factors)].dropna().drop_duplicates().compute()
    if len(factors) == 1:
        return pd.Index(sorted(distinct[factors[0]].tolist()))
    return pd.MultiIndex.from_frame(distinct.sort_values(list(factors)).reset_index(drop=True))


def plan_fit(formula: str, ddf: Any, weights: str | None, offset: str | None) -> Plan:
    """Pass 1: check the formula, collect the levels, fix the fixed-effects columns."""
    for name, spec in (("weights", weights), ("offset", offset)):
        if spec is not None and not isinstance(spec, str):
            raise TypeError(f"{name} must be a column name for a Dask DataFrame, got {type(spec).__name__}")
    if formula_is_restricted():  # before anything in the formula is parsed or evaluated
        check_restricted(formula, ddf.columns)
    parsed = parse_formula(formula)
    structured = [str(t) for t in parsed.random if t.structure != "us"]
    if structured:
        raise NotImplementedError(f"covariance structures ({', '.join(structured)}) are not available out of core")
    if parsed.smooths:  # (their bases need all the data's covariate values at once)
        raise NotImplementedError(
            f"smooth terms ({', '.join(s.text for s in parsed.smooths)}) are not available out of core"
        )
    if STATEFUL.search(parsed.fixed):
        raise NotImplementedError(
            "out of core, the fixed effects cannot use data-dependent transforms (scale, center, poly, bs): "
            "their parameters would differ between partitions; add transformed columns first"
        )
    response_variables = {parsed.response} if parsed.response in ddf.columns else set()
    columns = used_columns(parsed, response_variables, ddf.columns)
    missing = [c for c in columns if c not in ddf.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} used in the formula is not in the data; columns are {list(ddf.columns)}")
    term_columns = []
    for term in parsed.random:
        simple = simple_terms(term.expr)
        if simple is None:
            raise NotImplementedError(
                f"out of core, random-effects terms are an intercept and numeric columns; '{term}' is not"
            )
        term_columns.append(simple)
    dtypes = ddf.dtypes
    categorical = [
        c for c in columns
        if not pd.api.types.is_numeric_dtype(dtypes[c]) or pd.api.types.is_bool_dtype(dtypes[c])
    ]  # fmt: skip
    grouping = {f for term in parsed.random for f in term.factors}
    categories = {c: sorted(ddf[c].dropna().unique().compute().tolist()) for c in categorical if c not in grouping}
    term_levels = [_levels(ddf, term.factors) for term in parsed.random]
    head = ddf.head(1000, npartitions=-1)
    plan = Plan(parsed, columns, categories, term_columns, term_levels, [], weights, offset)
    X, _ = evaluate(parsed.fixed, _prepare(head, plan), "fixed-effects part")
    return Plan(parsed, columns, categories, term_columns, term_levels, X.names, weights, offset)


def _combine(results: list[tuple[np.ndarray, np.ndarray, float, int]]) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Reduce: the cells' Gram matrices summed over partitions."""
    keys = np.vstack([r[0] for r in results])
    grams = np.concatenate([r[1] for r in results])
    cells, where = np.unique(keys, axis=0, return_inverse=True)
    total = _sum_by(where.ravel(), grams.reshape(len(grams), -1), len(cells)).reshape((len(cells),) + grams.shape[1:])
    return cells, total, sum(r[2] for r in results), sum(r[3] for r in results)


def pseudo_observations(cells: np.ndarray, grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose cross-products are the cells' Gram matrices: √λⱼ vⱼ' for each eigenpair with
    λⱼ above rounding; returns the rows and each row's cell."""
    values, vectors = np.linalg.eigh(grams)
    keep = values > 1e-13 * np.maximum(values[:, -1:], np.finfo(float).tiny)
    rows = np.sqrt(np.where(keep, values, 0.0))[:, :, None] * np.swapaxes(vectors, 1, 2)  # cells × m × m
    cell = np.repeat(np.arange(len(cells)), keep.sum(axis=1))
    return rows[keep], cell


class _CrossProductModel(LinearMixedModel):
    """The core's model of the pseudo-observations, told the data's n and Σ log w."""

    _data_n: float | None = None
    _data_ldW: float = 0.0

    def _make_core(self):
        core = super()._make_core()
        if self._data_n is not None:
            core.set_observations(self._data_n, self._data_ldW)
        return core

    @property
    def nobs(self) -> int:
        return int(self._data_n) if self._data_n is not None else super().nobs


@dataclass
class OutOfCoreFit:
    """An LMM fitted from a Dask DataFrame's cross-products (see the module's docstring).

    The estimates and their accessors are the in-memory model's (``fixef``, ``stderr``, ``vcov``,
    ``theta``, ``sigma``, ``VarCorr``, ``ranef``, ``loglik``, ``objective``, ``aic``, ``bic``,
    ``nobs``, ``summary()``); ``predict``/``residuals`` take a Dask DataFrame and return Dask
    Series. ``n_pseudo`` is the number of pseudo-observations the core fitted."""

    model: _CrossProductModel
    plan: Plan
    n_pseudo: int

    @property
    def fixef(self) -> pd.Series:
        return self.model.fixef.set_axis(self.plan.x_names)

    @property
    def stderr(self) -> pd.Series:
        return self.model.stderr.set_axis(self.plan.x_names)

    @property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.model.vcov.to_numpy(), index=self.plan.x_names, columns=self.plan.x_names)

    @property
    def VarCorr(self) -> pd.DataFrame:
        table = self.model.VarCorr.copy()
        names = {f"z{t}_{j}": c for t, (i, cols) in enumerate(self.plan.term_columns) for j, c in enumerate((["(Intercept)"] if i else []) + cols)}
        for column in ("var1", "var2"):
            table[column] = table[column].map(lambda v: names.get(v, v))
        return table

    def _modes(self, t: int) -> np.ndarray:
        """Term t's conditional modes, one row per global level code (its columns only: terms with
        one grouping factor share the model's table of that factor)."""
        term = self.plan.parsed.random[t]
        intercept, cols = self.plan.term_columns[t]
        table = self.model.ranef[term.group][[f"z{t}_{j}" for j in range(int(intercept) + len(cols))]]
        modes = np.zeros((len(self.plan.term_levels[t]), table.shape[1]))
        modes[table.index.astype(int)] = table.to_numpy()
        return modes

    @property
    def ranef(self) -> RandomEffects:
        """Grouping factor → conditional modes by level (the factor's terms side by side)."""
        tables: dict[str, pd.DataFrame] = {}
        for t, (term, levels, (intercept, cols)) in enumerate(zip(self.plan.parsed.random, self.plan.term_levels, self.plan.term_columns)):
            labels = levels if levels.nlevels == 1 else pd.Index([":".join(map(str, key)) for key in levels], name=term.group)
            table = pd.DataFrame(self._modes(t), index=labels, columns=(["(Intercept)"] if intercept else []) + cols)
            tables[term.group] = pd.concat([tables[term.group], table], axis=1) if term.group in tables else table
        return RandomEffects(tables, lambda: {})

    def __getattr__(self, name: str) -> Any:
        if name in ("theta", "sigma", "loglik", "objective", "aic", "bic", "nobs", "optsum", "REML", "dof"):
            return getattr(self.model, name)
        raise AttributeError(name)

    def summary(self) -> str:
        m = self.model
        lines = [
            f"Linear mixed model fit by {'REML' if m.REML else 'maximum likelihood'}, out of core "
            f"({self.nobs} observations as {self.n_pseudo} pseudo-observations)",
            f"Formula: {self.plan.parsed.text}",
            f"{'REML criterion' if m.REML else 'deviance'}: {m.objective:.4f}   logLik: {m.loglik:.4f}",
            "",
            "Random effects (SD, correlation):",
            self.VarCorr.to_string(index=False),
            "",
            "Fixed effects:",
            pd.DataFrame({"Estimate": self.fixef, "Std. Error": self.stderr, "t value": self.fixef / self.stderr}).to_string(),
        ]
        return "\n".join(lines)

    def predict(self, ddf: Any, re_form: str | None = None) -> Any:
        """Xβ + Zb (re_form='~0': Xβ) + offset for each row of a Dask DataFrame (a Dask Series);
        levels the fit did not have get no random effect."""
        return ddf.map_partitions(_predict_partition, self._prediction_inputs(re_form), meta=("fitted", "f8"))

    def residuals(self, ddf: Any) -> Any:
        """y − Xβ − Zb for each row of a Dask DataFrame (a Dask Series)."""
        return ddf.map_partitions(_residual_partition, self._prediction_inputs(None), meta=("residual", "f8"))

    def _prediction_inputs(self, re_form: str | None) -> dict:
        modes = []
        if re_form is None:
            modes = [self._modes(t) for t in range(len(self.plan.parsed.random))]
        elif re_form.replace(" ", "") not in ("~0", "NA"):
            raise ValueError("re_form must be None (all random effects) or '~0'")
        return {"plan": self.plan, "beta": self.model.fixef.to_numpy(), "modes": modes}


def _linear_predictor(part: pd.DataFrame, inputs: dict) -> tuple[pd.DataFrame, np.ndarray]:
    plan = inputs["plan"]
    frame = _prepare(part, plan)
    if len(frame) == 0:
        return frame, np.zeros(0)
    X, _ = evaluate(plan.parsed.fixed, frame, "fixed-effects part")
    eta = X.values @ inputs["beta"]
    for term, (intercept, cols), levels, modes in zip(plan.parsed.random, plan.term_columns, plan.term_levels, inputs["modes"]):
        codes = levels.get_indexer(_term_keys(frame, term.factors))
        Z = np.column_stack(([np.ones(len(frame))] if intercept else []) + [numeric_column(c, frame, "term") for c in cols])
        known = codes >= 0
        eta[known] += np.einsum("ij,ij->i", Z[known], modes[codes[known]])
    if plan.offset:
        eta = eta + frame[plan.offset].to_numpy(dtype=np.float64)
    for expr in plan.parsed.offsets:
        eta = eta + numeric_column(expr, frame, "offset")
    return frame, eta


def _predict_partition(part: pd.DataFrame, inputs: dict) -> pd.Series:
    frame, eta = _linear_predictor(part, inputs)
    return pd.Series(eta, index=frame.index, name="fitted")


def _residual_partition(part: pd.DataFrame, inputs: dict) -> pd.Series:
    frame, eta = _linear_predictor(part, inputs)
    y = numeric_column(inputs["plan"].parsed.response, frame, "response") if len(frame) else np.zeros(0)
    return pd.Series(y - eta, index=frame.index, name="residual")


def _data_based_start(cells: np.ndarray, grams: np.ndarray, plan: Plan, n: float) -> np.ndarray | None:
    """lme4's starting θ for all-intercept models with distinct factors (LinearMixedModel's
    _data_based_start) from the cells' sums: counts and response sums per level (the rows are
    not at hand to take the variances in two passes)."""
    if any(cols or not intercept for intercept, cols in plan.term_columns):
        return None
    if len({term.group for term in plan.parsed.random}) != len(plan.parsed.random) or plan.weights:
        return None
    k = len(plan.term_columns)
    count, ysum, yy = grams[:, 0, 0], grams[:, 0, -1], grams[:, -1, -1]
    mean = ysum.sum() / n
    variance_y = (yy.sum() - n * mean**2) / (n - 1)
    group_variances = []
    for t in range(k):
        levels = len(plan.term_levels[t])
        c = np.bincount(cells[:, t], weights=count, minlength=levels)
        s = np.bincount(cells[:, t], weights=ysum, minlength=levels)
        means = np.divide(s, c, out=np.zeros_like(s), where=c > 0)
        group_variances.append((np.sum(c * means**2) - n * mean**2) / (n - 1))
    return intercepts_start(variance_y, group_variances)


def lmer_dask(formula: str, ddf: Any, REML: bool = True, weights: str | None = None, offset: str | None = None) -> OutOfCoreFit:
    """Fit an LMM to a Dask DataFrame from its partitions' cross-products (module docstring)."""
    import dask

    plan = plan_fit(formula, ddf, weights, offset)
    parts = [dask.delayed(_partition_cells)(part, plan, i) for i, part in enumerate(ddf.to_delayed())]
    while len(parts) > 1:  # a tree of sums, COMBINE_FAN_IN at a time: each task holds a few partitions' cells
        parts = [dask.delayed(_combine)(parts[i : i + COMBINE_FAN_IN]) for i in range(0, len(parts), COMBINE_FAN_IN)]
    cells, grams, ldW, n = dask.delayed(_combine)(parts).compute()  # on the active Client's workers, if any
    if n <= len(plan.x_names):
        raise DataError(f"{n} complete rows for {len(plan.x_names)} fixed effects")
    rows, cell = pseudo_observations(cells, grams)
    terms, offset_col = [], 0
    for t, (term, (intercept, cols)) in enumerate(zip(plan.parsed.random, plan.term_columns)):
        width = int(intercept) + len(cols)
        names = [f"z{t}_{j}" for j in range(width)]
        terms.append(ArrayTerm(cells[cell, t], rows[:, offset_col : offset_col + width], correlated=True, group_name=term.group, column_names=names))
        offset_col += width
    p = len(plan.x_names)
    X, y = rows[:, offset_col : offset_col + p], rows[:, -1]
    model = _CrossProductModel._from_arrays(y, X, terms, None, None, None, REML=REML)
    model._data_n, model._data_ldW = float(n), ldW
    model._core.set_observations(float(n), ldW)
    start = _data_based_start(cells, grams, plan, float(n))
    model._restart_optimizer(start if start is not None else model.design.theta0.copy())
    model.fit()
    return OutOfCoreFit(model, plan, len(y))


__all__ = ["OutOfCoreFit", "is_dask_collection", "lmer_dask"]
