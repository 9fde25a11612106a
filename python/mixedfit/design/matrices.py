"""Model matrices: the fixed-effects X (formulaic), the random-effects Zt and the template of
the relative covariance factor Λt(θ) with lme4's θ parameterization and term order.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from formulaic import model_matrix
from formulaic.errors import DataMismatchWarning
from formulaic.transforms import TRANSFORMS

from .._native import _core
from ..errors import (
    DataError,
    FormulaError,
    RankDeficiencyWarning,
    ResourceError,
    plain_message,
    warn,
)
from ..options import get_options
from .covariance import Covariance, NumFactor, coordinate_values, covariance_of, num_factor_columns
from .formula import AS_FACTOR, ParsedFormula, RandomTerm
from .smooths import Smooth, SmoothRecipe, SmoothTerm, build_smooths, smooth_term

if TYPE_CHECKING:  # frame imports this module
    from .frame import ModelFrame

RANK_TOLERANCE = 1e-7  # lme4's tolerance for detecting aliased fixed-effects columns
MAX_SPARSE_ENTRIES = np.iinfo(np.int32).max  # the core's sparse matrices have 32-bit indices
# Functions R users write in formulas that formulaic's namespace lacks (it has log, log2, log10,
# exp, abs, scale, center, poly, bs, C, I and numpy as np).
_OWN_FUNCTIONS = {"sqrt": np.sqrt, "log1p": np.log1p, "expm1": np.expm1}
# R looks a call's name up among functions only; formulaic looks it up in the data first, so a
# column named like a function (I, log, C, ...) broke the calls of it (offset(log(I/N)) with a
# column I). Such calls are rewritten to this prefix plus the name (_unshadowed_calls), which
# the formulas' context also holds (prediction evaluates the rewritten expression again).
_SHADOWED_CALL = "_function_"
FORMULA_FUNCTIONS = {
    **_OWN_FUNCTIONS,
    # R's factor(x) and as.factor(x) (see formula.r_to_formulaic): formulaic's categorical C
    "factor": TRANSFORMS["C"],
    AS_FACTOR: TRANSFORMS["C"],
    **{_SHADOWED_CALL + name: function for name, function in {**TRANSFORMS, **_OWN_FUNCTIONS}.items()},
}


def r_spelling(name: str) -> str:
    """A column's or term's name with R's spelling of the calls evaluated under other names, and
    without the backticks around names R writes bare (crab.sizeS: see quote_dotted_columns)."""
    name = _SYNTACTIC_QUOTED.sub(r"\1", name)
    return name.replace(AS_FACTOR + "(", "as.factor(").replace(_SHADOWED_CALL, "")


# A backtick-quoted name that R would print without backticks (letters, digits, '.', '_').
_SYNTACTIC_QUOTED = re.compile(r"`((?:[A-Za-z]|\.(?!\d))[\w.]*)`")


def lme4_column_name(name: str) -> str:
    """formulaic's 'Intercept' and 'f[T.b]' become lme4's '(Intercept)' and 'fb'; a whole-number
    level prints as R prints it ('C(Days)[T.1.0]' → 'C(Days)1': formulas see integer columns as
    floating point); an ordered factor's polynomial contrasts are R's 'g.L', 'g.Q', 'g^4'."""
    if name == "Intercept":
        return "(Intercept)"
    name = _LOGICAL_COLUMN.sub(lambda m: m.group(1) + m.group(2).upper(), name)
    name = _POLY_COLUMN.sub(r"\1\2", r_spelling(name))
    return re.sub(r"\[(?:T\.)?([^\]]*)\]", lambda m: re.sub(r"^(-?\d+)\.0$", r"\1", m.group(1)), name)


# A boolean column coded as R codes a logical (see _logical_as_factor), and its columns' names.
_LOGICAL = ", levels=[False, True])"
_LOGICAL_COLUMN = re.compile(r"C\((\w+)" + re.escape(_LOGICAL) + r"\[(?:T\.)?(True|False)\]")
_POLY_COLUMN = re.compile(r"C\(([^(),]+), contr\.poly\)\[([^\]]+)\]")


def _unshadowed_calls(expr: str, columns: pd.Index) -> str:
    """expr with each call of a function whose name is also a data column made under its second
    name (see _SHADOWED_CALL)."""
    for name in columns:
        if isinstance(name, str) and _SHADOWED_CALL + name in FORMULA_FUNCTIONS:
            expr = re.sub(rf"(?<![\w.`]){re.escape(name)}(?=\s*\()", _SHADOWED_CALL + name, expr)
    return expr


def _logical_as_factor(expr: str, frame: pd.DataFrame) -> str:
    """Boolean columns named bare in expr's terms become factors with levels FALSE, TRUE, as R
    codes a logical in a model formula (coefficient wk2TRUE; late:Days without late's main
    effect is two columns, one per level); inside a call (I(2 * late)) a boolean stays a number,
    as R's arithmetic on logicals."""
    logical = [
        name for name, dtype in frame.dtypes.items() if pd.api.types.is_bool_dtype(dtype) and str(name).isidentifier()
    ]
    if not logical:
        return expr
    depth, out, last = 0, [], 0
    for match in re.finditer(r"[()]|(?<![\w.`])(" + "|".join(map(re.escape, logical)) + r")(?![\w.`(])", expr):
        token = match.group(0)
        if token in "()":
            depth += 1 if token == "(" else -1
        elif depth == 0:
            out.append(expr[last : match.start()] + f"C({token}{_LOGICAL}")
            last = match.end()
    return "".join(out) + expr[last:]


def _ordered_as_poly(expr: str, frame: pd.DataFrame) -> str:
    """Ordered categorical columns named bare in expr get R's contrasts, contr.poly (lme4 codes
    an ordered factor so; formulaic would use treatment contrasts)."""
    ordered = [
        name for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered and str(name).isidentifier()
    ]  # fmt: skip
    for name in ordered:
        expr = re.sub(rf"(?<![\w.`(])(?<!C\(){re.escape(name)}(?![\w.`(])", f"C({name}, contr.poly)", expr)
    return expr


def simple_terms(expr: str) -> tuple[bool, list[str]] | None:
    """(intercept, column names) when expr is only '1', '0', '-1' and names (plain or backtick-
    quoted) joined by '+'; None for anything formulaic must expand (factors are checked by the
    caller)."""
    intercept, names = True, []
    for i, piece in enumerate(expr.replace("-", "+-").split("+")):
        quoted = piece.strip()
        if len(quoted) > 2 and quoted[0] == quoted[-1] == "`" and "`" not in quoted[1:-1]:
            names.append(quoted[1:-1])
            continue
        token = quoted.replace(" ", "")
        if token in ("", "1"):
            if token == "" and i > 0:
                return None
            continue
        if token in ("0", "-1"):
            intercept = False
        elif token.isidentifier():
            names.append(token)
        else:
            return None
    return intercept, names


@dataclass(frozen=True)
class ModelMatrix:
    """A model matrix's values (n × k float64) and lme4's names of its columns."""

    values: np.ndarray
    names: list[str]

    def select(self, names: list[str]) -> np.ndarray:
        return self.values[:, [self.names.index(name) for name in names]]


# Formulas are evaluated on a model frame (its numeric columns, and its DataFrame only where
# formulaic is needed) or on a pandas DataFrame of new data.
def _columns(frame: ModelFrame | pd.DataFrame) -> Any:
    return frame if isinstance(frame, pd.DataFrame) else frame.numeric_columns


def _dataframe(frame: ModelFrame | pd.DataFrame) -> pd.DataFrame:
    return frame if isinstance(frame, pd.DataFrame) else frame.numeric


def _rows(frame: ModelFrame | pd.DataFrame) -> int:
    return len(frame if isinstance(frame, pd.DataFrame) else frame.data)


def _as_float(values: Any) -> np.ndarray:
    """A column (array or Series) as float64."""
    return values.astype(np.float64, copy=False) if isinstance(values, np.ndarray) else values.to_numpy(dtype=np.float64)


def _simple_columns(expr: str, frame: ModelFrame | pd.DataFrame) -> tuple[bool, dict[str, Any]] | None:
    """(intercept, the named columns once each) when expr is an intercept and columns of frame."""
    simple = simple_terms(expr)
    columns = _columns(frame)
    if simple is None or any(name not in columns for name in simple[1]):
        return None
    return simple[0], {name: columns[name] for name in dict.fromkeys(simple[1])}  # each read once (~10 µs)


def _numeric_fast_path(expr: str, frame: ModelFrame | pd.DataFrame) -> ModelMatrix | None:
    simple = _simple_columns(expr, frame)
    if simple is None or not all(_is_number(c) for c in simple[1].values()):
        return None
    intercept, data = simple
    # Numeric columns and an intercept need no formula machinery (the common random-effects
    # terms): this is a tenth of formulaic's cost for the same matrix.
    names = (["(Intercept)"] if intercept else []) + list(data)
    values = np.empty((_rows(frame), len(names)))
    for j, name in enumerate(names):
        values[:, j] = 1.0 if name == "(Intercept)" else _as_float(data[name])
    return ModelMatrix(values, names)


def _is_number(values: Any) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def _is_factor(values: Any) -> bool:
    """Whether formulaic codes the column as a factor with treatment contrasts: text (object or
    str dtype) or an unordered categorical (an ordered one gets R's polynomial contrasts)."""
    dtype = values.dtype
    return dtype in ("object", "str") or (isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered)


def _factor_fast_path(expr: str, frame: ModelFrame | pd.DataFrame) -> ModelMatrix | None:
    """The model matrix of an intercept plus numeric columns and factors, coded exactly as formulaic
    codes them (treatment contrasts against the first level; levels a categorical's own, else
    the sorted values; the same column names), without its machinery: star's four factors cost
    ~9 ms through formulaic and 2.3-3.7 ms here (pandas' factorizing is most of it). None for
    anything else (no intercept, interactions, functions, booleans)."""
    simple = _simple_columns(expr, frame)
    if simple is None or not simple[0]:
        return None
    data = simple[1]
    if not all(_is_number(c) or (_is_factor(c) and name.isidentifier()) for name, c in data.items()):
        return None
    blocks: list[tuple[str, Any]] = [("(Intercept)", None)]
    for name, column in data.items():
        if _is_number(column):
            blocks.append((name, _as_float(column)))
            continue
        # formulaic's own step is pandas.Series(data).astype("category"): a categorical keeps its
        # categories; text gets its sorted values, as pandas' factorize gives them (what
        # astype("category") runs, at half the cost of building the categorical).
        if isinstance(column.dtype, pd.CategoricalDtype):
            categorical = pd.Series(column, copy=False).array
            codes, levels = categorical.codes, categorical.categories
        else:
            codes, levels = pd.factorize(_values(column), sort=True)
        if codes.size and codes.min() < 0:  # a value outside a categorical's categories (or NA): formulaic says so
            return None
        for k, level in enumerate(levels[1:], start=1):
            blocks.append((lme4_column_name(f"{name}[T.{level}]"), (codes, k)))
    values = np.empty((_rows(frame), len(blocks)), order="F")
    for j, (_, source) in enumerate(blocks):
        if source is None:
            values[:, j] = 1.0
        elif isinstance(source, tuple):
            np.equal(source[0], source[1], out=values[:, j], casting="unsafe")
        else:
            values[:, j] = source
    return ModelMatrix(values, [name for name, _ in blocks])


def _formulaic_spec(expr: str, frame: ModelFrame | pd.DataFrame) -> Any:
    """formulaic's model spec of expr on the fit's frame (for a matrix made by a fast path)."""
    return model_matrix(expr, _dataframe(frame), context=FORMULA_FUNCTIONS, na_action="raise", output="numpy").model_spec


@dataclass(frozen=True)
class MatrixRecipe:
    """How a model matrix was built, so that the same columns can be built for new data
    (prediction): the expression and formulaic's model spec (None for the numeric fast path;
    made from the fit's frame when first needed where factors were coded without formulaic)."""

    expr: str
    what: str
    given_spec: Any = None
    make_spec: Callable[[], Any] | None = None

    @cached_property
    def spec(self) -> Any:
        return self.make_spec() if self.make_spec is not None else self.given_spec

    def evaluate(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """The matrix of these columns (names as the fit's) for new data with the fit's coding."""
        return self.matrix_of(frame).select(columns)

    def matrix_of(self, frame: pd.DataFrame) -> ModelMatrix:
        """Every column of the matrix (aliased ones too) for data with the fit's coding."""
        if self.spec is None:
            matrix = _numeric_fast_path(self.expr, frame)
            if matrix is None:  # a column that was numeric in the fit is not numeric here
                raise DataError(f"{self.what} '{self.expr}' needs numeric columns in the new data")
        else:
            try:
                with warnings.catch_warnings():
                    # formulaic would code a factor level the fit has not seen as NaN, with a warning.
                    warnings.simplefilter("error", DataMismatchWarning)
                    mm = self.spec.get_model_matrix(frame, context=FORMULA_FUNCTIONS, na_action="raise")
            except DataMismatchWarning as exc:
                unseen = re.search(r"\{.*\}", str(exc))
                raise DataError(
                    f"new data for {self.what} '{self.expr}' has factor levels the fit has not seen: "
                    f"{unseen.group(0) if unseen else exc}"
                ) from None
            except Exception as exc:
                raise DataError(f"cannot evaluate {self.what} '{self.expr}' on the new data: {plain_message(exc)}") from None
            matrix = _formulaic_matrix(mm)
        return matrix


def _formulaic_matrix(mm: Any) -> ModelMatrix:
    return ModelMatrix(np.asarray(mm, dtype=np.float64), [lme4_column_name(c) for c in mm.model_spec.column_names])


def evaluate(expr: str, frame: ModelFrame | pd.DataFrame, what: str) -> tuple[ModelMatrix, MatrixRecipe]:
    """The model matrix of a formula right-hand side, with errors that name the expression."""
    fast = _numeric_fast_path(expr, frame)
    if fast is not None:
        return fast, MatrixRecipe(expr, what)
    fast = _factor_fast_path(expr, frame)
    if fast is not None:
        return fast, MatrixRecipe(expr, what, make_spec=partial(_formulaic_spec, expr, frame))
    frame = _dataframe(frame)
    expr = _unshadowed_calls(_ordered_as_poly(_logical_as_factor(expr, frame), frame), frame.columns)
    try:
        # numpy output: half the cost of formulaic's pandas output for the same matrix.
        mm = model_matrix(expr, frame, context=FORMULA_FUNCTIONS, na_action="raise", output="numpy")
    except Exception as exc:
        raise FormulaError(f"cannot evaluate {what} '{expr}': {plain_message(exc)}") from None
    return _formulaic_matrix(mm), MatrixRecipe(expr, what, mm.model_spec)


_ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide, ast.Pow: np.power}


def arithmetic_names(expr: str) -> set[str] | None:
    """The names in expr if it is arithmetic (+ − × ÷ ** and signs) of names and numbers, such
    as cbind's 'size - incidence'; None for anything else (calls, quoted names, ...)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            stack += [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            stack.append(node.operand)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif not (isinstance(node, ast.Constant) and type(node.value) in (int, float)):
            return None
    return names


def _arithmetic(node: ast.AST, columns: Any) -> Any:
    """The value of an arithmetic tree (see arithmetic_names) on float columns."""
    if isinstance(node, ast.BinOp):
        return _ARITHMETIC[type(node.op)](_arithmetic(node.left, columns), _arithmetic(node.right, columns))
    if isinstance(node, ast.UnaryOp):
        value = _arithmetic(node.operand, columns)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name):
        return _as_float(columns[node.id])
    return float(node.value)


def numeric_column(expr: str, frame: ModelFrame | pd.DataFrame, what: str) -> np.ndarray:
    """A single numeric vector: a column or an expression of columns (log(y), I(a/b), ...).
    Arithmetic of numeric columns is computed directly (formulaic's I() cost 1.4 ms of a 4.7 ms
    binomial fit with cbind(y, n - y))."""
    columns = _columns(frame)
    if expr.startswith("`") and expr.endswith("`") and expr[1:-1] in columns:
        expr = expr[1:-1]
    names = None if expr in columns else arithmetic_names(expr)
    if expr in columns:
        column = columns[expr]
        if not (pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)):
            raise DataError(f"{what} '{expr}' must be numeric, got dtype {column.dtype}")
        values = _as_float(column)
    elif names and all(n in columns and _is_number(columns[n]) for n in names):
        with np.errstate(all="ignore"):  # a non-finite result is reported below, with its row
            values = np.broadcast_to(_arithmetic(ast.parse(expr.strip(), mode="eval").body, columns), (_rows(frame),))
        values = np.array(values, dtype=np.float64)
    else:
        matrix, _ = evaluate(f"0 + I({expr})", frame, what)  # I(): arithmetic, not formula operators
        if matrix.values.shape[1] != 1:
            raise DataError(f"{what} '{expr}' must be one numeric column, got {matrix.values.shape[1]} columns")
        values = matrix.values[:, 0]
    if not np.all(np.isfinite(values)):
        bad = np.flatnonzero(~np.isfinite(values))[0]
        raise DataError(f"{what} '{expr}' has a non-finite value ({values[bad]}) in row {bad}")
    return values


# Rows per block of the blocked QR below: a block of a few dozen columns stays in cache.
QR_BLOCK_ROWS = 512


def r_factor(X: np.ndarray) -> np.ndarray:
    """The R of X = QR (up to the signs of its rows), by blocks of rows (TSQR): each block's R,
    then the R of their stack. Householder QR of a tall matrix with few columns reads all of it
    once per column; by cache-sized blocks it costs a quarter (star's 24,578 × 12: 0.74 ms
    against 2.8), and it is as stable."""
    n, p = X.shape
    blocks = n // QR_BLOCK_ROWS
    if blocks < 2 or not 0 < p <= QR_BLOCK_ROWS // 4:
        return np.linalg.qr(X, mode="r")
    split = blocks * QR_BLOCK_ROWS
    R = np.linalg.qr(X[:split].reshape(blocks, QR_BLOCK_ROWS, p), mode="r")
    return np.linalg.qr(np.concatenate([R.reshape(-1, p), X[split:]]), mode="r")


def drop_aliased_columns(X: ModelMatrix) -> tuple[ModelMatrix, list[str]]:
    """Keep columns left to right while each adds a direction, as R's QR (dqrdc2, which lme4
    uses with tol = 1e-7): a column whose part orthogonal to the kept columns before it is below
    tol times its norm is aliased. The QR is redone without it until no column is aliased, on R's
    columns (X = QR with Q orthonormal: any columns of X and of R have the same R factor and
    norms)."""
    kept = list(range(X.values.shape[1]))
    full = r_factor(X.values)
    norms = np.linalg.norm(full, axis=0)
    while kept:
        R = full if len(kept) == full.shape[1] else np.linalg.qr(full[:, kept], mode="r")
        residual = np.abs(np.diag(R))
        aliased = np.flatnonzero(~(residual > RANK_TOLERANCE * np.maximum(norms[kept], 1e-300)))
        if len(aliased) == 0:
            break
        del kept[aliased[0]]
    dropped = [c for j, c in enumerate(X.names) if j not in kept]
    if not dropped:
        return X, []
    return ModelMatrix(X.values[:, kept], [X.names[j] for j in kept]), dropped


@dataclass(frozen=True)
class ReTerm:
    """A random-effects term built from the data."""

    term: RandomTerm
    columns: list[str]  # names of the term's model-matrix columns
    levels: list[str]  # labels of the grouping factor's levels (for display)
    keys: pd.Index  # the levels' values (a MultiIndex for a:b): new data are matched by value
    codes: np.ndarray  # level index of each observation
    X: np.ndarray  # n × p model matrix of the term
    recipe: MatrixRecipe | NumFactorRecipe | SmoothRecipe
    covariance: Covariance

    @property
    def name(self) -> str:
        return self.term.group

    @property
    def p(self) -> int:
        return len(self.columns)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_theta(self) -> int:
        """Parameters of the term's covariance (T's elements for an unstructured term)."""
        return self.covariance.n_params

    @property
    def n_factor(self) -> int:
        """Elements of the term's lower-triangular relative factor T."""
        return self.p * (self.p + 1) // 2


def _values(column: Any) -> Any:
    """A column's numpy array (factorizing it costs half what factorizing the Series does), or
    its extension array (categorical, arrow strings, nullable integers) as it is; a model frame's
    columns are already one or the other."""
    if not isinstance(column, pd.Series):
        return column
    return column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array


def _labels(keys: pd.Index) -> list[str]:
    """The levels' printed labels, as Index.astype(str) writes them (dates as '2024-01-01'); for
    integer and string levels str() of each Python value gives the same for a tenth of the time
    (iterating the Index itself costs 0.5 µs per level for arrow strings: 5 ms for 10⁴ levels)."""
    if keys.dtype.kind in "iu" or pd.api.types.is_string_dtype(keys.dtype):
        return list(map(str, keys.tolist()))
    return keys.astype(str).tolist()


def _factorize_sorted(values: Any) -> tuple[np.ndarray, Any]:
    """pd.factorize(values, sort=True); for arrow-backed strings without missing values by
    Arrow's dictionary encoding, whose few levels are then sorted (a tenth of pandas' 160 µs on
    sleepstudy's 180 rows, most of a small model's grouping-factor cost)."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and not values.isna().any():
        import pyarrow as pa

        encoded = pa.array(values).dictionary_encode()
        levels = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        order = np.argsort(levels, kind="stable")
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        codes = rank[encoded.indices.to_numpy()]
        return codes, pd.array(levels[order], dtype=dtype)
    return pd.factorize(values, sort=True)


def _grouping_factor(frame: Any, term: RandomTerm) -> tuple[list[str], pd.Index, np.ndarray]:
    """Labels, values and each observation's code of the levels of a (possibly interacted)
    grouping factor, in sorted order of the values as R's factor(); frame: a DataFrame or a model
    frame's columns by name."""
    per_factor = [_factorize_sorted(_values(frame[f])) for f in term.factors]
    if len(per_factor) == 1:
        codes, uniques = per_factor[0]
        keys = pd.Index(uniques)
        return _labels(keys), keys, codes
    # Fold the factors in one at a time: the observed combinations so far (their codes sort as
    # the combinations do) times the next factor's levels plus its code, factorized in sorted
    # order, gives the combinations' lexicographic order — as np.unique over rows would, but by
    # hashing integers instead of sorting rows (27 ms against 1 ms at 5·10⁴ rows).
    codes, first_levels = per_factor[0]
    combos = np.arange(len(first_levels))[:, None]  # each combination's code in every factor so far
    for next_codes, next_levels in per_factor[1:]:
        combined = codes.astype(np.int64) * len(next_levels) + next_codes
        codes, observed = pd.factorize(combined, sort=True)
        combos = np.column_stack([combos[observed // len(next_levels)], observed % len(next_levels)])
    keys = pd.MultiIndex.from_arrays([pd.Index(uniques)[combos[:, k]] for k, (_, uniques) in enumerate(per_factor)])
    # Labels 'a:b' of the observed combinations, joined as arrays (one entry per level).
    parts = [np.asarray(level.astype(str)) for level in (keys.get_level_values(k) for k in range(keys.nlevels))]
    labels = parts[0].astype(object)
    for part in parts[1:]:
        labels = labels + ":" + part.astype(object)
    return labels.tolist(), keys, codes


def level_codes(term: ReTerm, frame: pd.DataFrame) -> np.ndarray:
    """The fit's level index of each row of frame (whose columns have the fit's kinds), -1 for a
    level the fit has not seen: matched by value, never by printed label."""
    if not term.term.factors:  # a smooth's single group
        return np.zeros(len(frame), dtype=np.intp)
    if len(term.term.factors) == 1:
        return term.keys.get_indexer(frame[term.term.factors[0]])
    return term.keys.get_indexer(pd.MultiIndex.from_arrays([frame[f] for f in term.term.factors]))


@dataclass(frozen=True)
class NumFactorRecipe:
    """A numFactor term's model matrix for new data: indicators of the fit's coordinates."""

    expr: str
    levels: NumFactor
    what: str

    def evaluate(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        return self.levels.indicators(frame, self.what)


def _term_matrix(frame: ModelFrame, term: RandomTerm) -> tuple[ModelMatrix, MatrixRecipe | NumFactorRecipe, np.ndarray | None]:
    """The term's model matrix, how to rebuild it for new data, and for a numFactor term the
    distances between its levels."""
    what = f"random-effects term {term}"
    coordinates = num_factor_columns(term.expr)
    if coordinates is None:
        return *evaluate(term.expr, frame, what), None
    values = coordinate_values(_dataframe(frame), coordinates, what)
    levels = NumFactor.of(coordinates, values)
    matrix = ModelMatrix(levels.indicators_of(values, what), levels.names)
    return matrix, NumFactorRecipe(term.expr, levels, what), levels.distances()


def build_re_term(frame: ModelFrame, term: RandomTerm, has_residual: bool) -> ReTerm:
    matrix, recipe, distances = _term_matrix(frame, term)
    if not matrix.names:
        raise FormulaError(f"random-effects term {term} has no columns")
    _require_finite(matrix, frame, f"random-effects term {term}")
    levels, keys, codes = _grouping_factor(frame.columns, term)
    n = len(frame.data)
    if len(levels) < 2:
        raise DataError(
            f"grouping factor '{term.group}' in {term} has {len(levels)} level; a random effect needs at least 2"
        )
    if has_residual and len(levels) >= n:
        raise DataError(
            f"grouping factor '{term.group}' has {len(levels)} levels for {n} observations: the number of levels "
            "of each grouping factor must be < number of observations, or its variance cannot be told apart from "
            "the residual variance"
        )
    # A correlation structure (ar1, toep, ou, ...) with one effect per observation is glmmTMB's way
    # of correlating the residuals: its correlations tell it apart from the residual variance.
    told_apart_by_correlation = term.structure not in ("us", "diag", "homdiag")
    checked = get_options()["check_nobs_vs_nRE"] == "stop"
    if has_residual and checked and not told_apart_by_correlation and len(levels) * len(matrix.names) >= n:
        raise DataError(
            f"number of observations ({n}) <= number of random effects ({len(levels) * len(matrix.names)}) for "
            f"term {term}; the random-effects parameters and the residual variance are probably unidentifiable"
        )
    covariance = covariance_of(term, matrix.values, matrix.names, distances)
    return ReTerm(term, matrix.names, levels, keys, codes, matrix.values, recipe, covariance)


def random_effects_matrix(terms: list[ReTerm], n: int) -> sp.csc_matrix:
    """Zt (q × n): term after term, level-major within a term, as lme4 lays it out. Every
    observation has one entry per column of every term (zeros kept, so the pattern does not
    depend on the values), in increasing row order: the CSC arrays are written directly."""
    rows, vals, offset = [], [], 0
    for t in terms:
        for c in range(t.p):
            rows.append(offset + t.codes * t.p + c)
            vals.append(t.X[:, c])
        offset += t.n_levels * t.p
    k = len(rows)
    if k * n > MAX_SPARSE_ENTRIES:
        raise ResourceError(
            f"the random-effects model matrix would hold {k * n} values ({k} per observation), more than the "
            f"core's sparse matrices index with 32 bits ({MAX_SPARSE_ENTRIES})"
        )
    indices = np.column_stack(rows).astype(np.int32).ravel()  # observation-major: one CSC column each
    data = np.column_stack(vals).astype(np.float64).ravel()
    indptr = np.arange(0, k * n + 1, k, dtype=np.int32)
    return sp.csc_matrix((data, indices, indptr), shape=(offset, n))


def lambda_template(terms: list[ReTerm]) -> tuple[sp.csc_matrix, np.ndarray]:
    """Λt's pattern (valued at T = I) and Lind (index of each stored value among the terms'
    factor elements).

    Each term contributes one p × p upper-triangular block per level: the transpose of the
    lower-triangular factor T whose elements, column-major, are the term's θ (lme4's order) when
    it is unstructured, and which the core computes from the term's parameters otherwise.
    The CSC arrays are written directly: column i of a block holds rows 0 … i.
    """
    indices, lind, counts, diagonal = [], [], [], []
    offset, theta_offset = 0, 0
    for t in terms:
        p = t.p
        theta_index = {}  # of T[i, j], i ≥ j, in θ's (column-major) order
        for j in range(p):
            for i in range(j, p):
                theta_index[i, j] = theta_offset + len(theta_index)
                diagonal.append(i == j)
        block_rows = np.array([j for i in range(p) for j in range(i + 1)])  # Λt[j, i] = T[i, j]
        block_lind = np.array([theta_index[i, j] for i in range(p) for j in range(i + 1)])
        starts = offset + np.arange(t.n_levels) * p
        indices.append((starts[:, None] + block_rows[None, :]).ravel())
        lind.append(np.tile(block_lind, t.n_levels))
        counts.append(np.tile(np.arange(1, p + 1), t.n_levels))
        offset += t.n_levels * p
        theta_offset += t.n_factor
    Lind = np.concatenate(lind).astype(np.int32)
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int32)
    identity = np.array(diagonal, dtype=np.float64)
    Lambdat = sp.csc_matrix((identity[Lind], np.concatenate(indices).astype(np.int32), indptr), shape=(offset, offset))
    return Lambdat, Lind


@dataclass(frozen=True)
class SmoothedFixedRecipe:
    """The fixed-effects columns of a model with smooths: the parametric part's, then each
    smooth's unpenalized columns (for new data as for the fit's)."""

    parametric: MatrixRecipe
    smooths: tuple[Smooth, ...]

    @property
    def expr(self) -> str:
        """The parametric part and the smooths' variables (what new data must hold)."""
        return " + ".join([self.parametric.expr, *(c for s in self.smooths for c in s.spec.columns)])

    @property
    def spec(self) -> Any:
        return self.parametric.spec

    def matrix_of(self, frame: Any) -> ModelMatrix:
        parametric = self.parametric.matrix_of(frame)
        parts = [parametric.values, *(s.columns(frame)[:, s.rank :] for s in self.smooths)]
        return ModelMatrix(np.hstack(parts), parametric.names + [n for s in self.smooths for n in s.fixed_names])

    def evaluate(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        return self.matrix_of(frame).select(columns)


@dataclass(frozen=True)
class FixedEffects:
    X: np.ndarray  # n × p, Fortran-ordered float64
    names: list[str]
    dropped: list[str]  # aliased columns removed
    recipe: MatrixRecipe | SmoothedFixedRecipe


def _require_finite(matrix: ModelMatrix, frame: ModelFrame | pd.DataFrame, what: str) -> None:
    """A transform that makes an infinite or NaN value (log(Days) at Days = 0) is refused, as lme4
    refuses it ("NA/NaN/Inf in 'x'"): dropped as an aliased column, or fitted, it is a wrong answer."""
    bad = ~np.isfinite(matrix.values)
    if bad.any():
        row, column = (int(k[0]) for k in np.nonzero(bad))
        rows = getattr(frame, "rows", None)
        position = f"row {int(rows[row])} of the data" if rows is not None else f"row {row}"
        raise DataError(
            f"{what}: column '{matrix.names[column]}' has a non-finite value ({matrix.values[row, column]}) at "
            f"{position} ({int(bad[:, column].sum())} such rows); transform or drop those rows first"
        )


def fixed_effects_matrix(rhs: str, frame: ModelFrame | pd.DataFrame) -> FixedEffects:
    X, recipe = evaluate(rhs, frame, "fixed-effects part")
    _require_finite(X, frame, "fixed-effects part")
    X, dropped = drop_aliased_columns(X)
    if dropped:
        warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} column"
            f"{'s' if len(dropped) > 1 else ''} / coefficient{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}",
            RankDeficiencyWarning,
        )
    return FixedEffects(np.asfortranarray(X.values), X.names, dropped, recipe)


@dataclass(frozen=True)
class Design:
    """Everything the core needs about a model's structure, in lme4's term order."""

    fixed: FixedEffects
    terms: list[ReTerm]  # sorted by decreasing number of levels, as lme4 orders them
    Zt: sp.csc_matrix
    Lambdat: sp.csc_matrix
    Lind: np.ndarray
    theta0: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    offset: np.ndarray  # formula offsets plus the offset argument

    @property
    def term_shapes(self) -> np.ndarray:
        """(columns, levels) of each term, flattened: the core derives Λ's block layout from it."""
        return np.array([(t.p, t.n_levels) for t in self.terms], dtype=np.int32).ravel()

    def theta_slices(self) -> list[slice]:
        """Each term's parameters in θ."""
        return _consecutive_slices([t.n_theta for t in self.terms])

    def factor_slices(self) -> list[slice]:
        """Each term's elements of T in the factor vector (``factor``)."""
        return _consecutive_slices([t.n_factor for t in self.terms])

    @property
    def structured(self) -> bool:
        """Whether some term has a covariance structure other than unstructured."""
        return any(t.covariance.kind != "us" for t in self.terms)

    @property
    def structure_kinds(self) -> np.ndarray:
        """(kind code, rank) per term, as the core's set_covariance takes them."""
        return np.array([(t.covariance.code, t.covariance.rank) for t in self.terms], dtype=np.int32).ravel()

    @property
    def structure_distances(self) -> np.ndarray:
        """The distance-based terms' p × p distances, one after another (column-major)."""
        parts = [t.covariance.distances.ravel(order="F") for t in self.terms if t.covariance.distances is not None]
        return np.concatenate(parts) if parts else np.zeros(0)

    def factor(self, theta: np.ndarray) -> np.ndarray:
        """The terms' relative factors T (lme4's θ: each lower triangle by column) at θ."""
        theta = np.asarray(theta, dtype=np.float64)
        if not self.structured:
            return theta
        return np.asarray(
            _core.covariance_factor(self.structure_kinds, self.term_shapes, self.structure_distances, theta)
        )

    def factors(self, thetas: np.ndarray) -> np.ndarray:
        """``factor`` of each column of thetas (parameters × fits)."""
        if not self.structured:
            return thetas
        return np.column_stack([self.factor(thetas[:, k]) for k in range(thetas.shape[1])])

    def at_boundary(self, theta: np.ndarray, tol: float) -> bool | np.ndarray:
        """Whether some term's covariance is on its boundary at θ (a singular fit); θ may be a
        parameters × fits matrix (then one answer per fit)."""
        answers = [t.covariance.at_boundary(theta[sl], tol) for t, sl in zip(self.terms, self.theta_slices())]
        singular = np.any(answers, axis=0)
        return bool(singular) if np.ndim(singular) == 0 else singular

    def set_structures(self, core: Any) -> None:
        """Give a compiled core the terms' structures (nothing to do when all are unstructured)."""
        if self.structured:
            core.set_covariance(self.structure_kinds, self.term_shapes, self.structure_distances)

    def b_slices(self) -> list[slice]:
        return _consecutive_slices([t.n_levels * t.p for t in self.terms])

    @property
    def smooths(self) -> list[Smooth]:
        """The formula's smooths (one per level of a by factor), in the terms' order."""
        return [t.term.smooth for t in self.terms if isinstance(t.term, SmoothTerm)]


def _consecutive_slices(sizes: list[int]) -> list[slice]:
    """Slices of consecutive blocks of these sizes."""
    bounds = np.cumsum([0] + sizes)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _with_smooths(parsed: ParsedFormula, frame: ModelFrame, fixed: FixedEffects) -> tuple[FixedEffects, list[ReTerm]]:
    """The fixed effects with the smooths' unpenalized columns after the parametric ones, and each
    smooth's penalized part as a term of iid random effects (gamm4's representation)."""
    built = [pair for spec in parsed.smooths for pair in build_smooths(spec, frame.columns)]
    smooths, columns = [s for s, _ in built], [c for _, c in built]
    names = fixed.names + [n for s in smooths for n in s.fixed_names]
    X = np.hstack([fixed.X, *(c[:, s.rank :] for s, c in zip(smooths, columns))])
    _, aliased = drop_aliased_columns(ModelMatrix(X, names))
    if aliased:
        raise FormulaError(
            f"the unpenalized part of a smooth ({', '.join(aliased)}) repeats columns of the fixed effects: drop "
            "the linear term of the smooth's covariate from the fixed part (the smooth contains it)"
        )
    n = len(frame.data)
    terms = [
        ReTerm(
            smooth_term(s), s.random_names, ["1"], pd.Index(["1"]), np.zeros(n, dtype=np.intp), c[:, : s.rank],
            SmoothRecipe(s, s.label), Covariance("homdiag", s.rank),
        )
        for s, c in zip(smooths, columns)
    ]  # fmt: skip
    recipe = SmoothedFixedRecipe(fixed.recipe, tuple(smooths))
    return FixedEffects(np.asfortranarray(X), names, fixed.dropped, recipe), terms


def build_design(parsed: ParsedFormula, frame: ModelFrame, has_residual: bool, intercept: bool = True) -> Design:
    """The model's matrices and θ's start and bounds; intercept False drops the fixed effects'
    "(Intercept)" column after coding (a cumulative link model's thresholds take its place, and
    the other columns keep the contrasts the intercept gave them, as ordinal's clmm)."""
    if not parsed.random and not parsed.smooths:
        raise FormulaError(
            f"formula '{parsed.text}' has no random-effects term such as (1 | group); for a model without random "
            "effects use a (generalized) linear model library such as statsmodels"
        )
    fixed = fixed_effects_matrix(parsed.fixed, frame)
    if not intercept and "(Intercept)" in fixed.names:
        keep = [k for k, name in enumerate(fixed.names) if name != "(Intercept)"]
        fixed = FixedEffects(np.asfortranarray(fixed.X[:, keep]), [fixed.names[k] for k in keep], fixed.dropped, fixed.recipe)
    built = [build_re_term(frame, term, has_residual) for term in parsed.random]
    terms = sorted(built, key=lambda t: -t.n_levels)  # stable: ties keep formula order, as in lme4
    if parsed.smooths:
        fixed, smooth_terms = _with_smooths(parsed, frame, fixed)
        terms += smooth_terms
    Lambdat, Lind = lambda_template(terms)
    theta0 = np.concatenate([t.covariance.start() for t in terms])
    lower, upper = (np.concatenate(b) for b in zip(*(t.covariance.bounds() for t in terms)))
    total_offset = frame.offset.copy()
    for expr in parsed.offsets:
        total_offset += numeric_column(expr, frame, "offset")
    Zt = random_effects_matrix(terms, len(frame.data))
    return Design(fixed, terms, Zt, Lambdat, Lind, theta0, lower, upper, total_offset)
