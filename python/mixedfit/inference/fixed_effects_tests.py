"""F tests of an LMM's fixed-effects terms, as lmerTest's anova(m): each term's hypothesis matrix,
its F statistic and Satterthwaite's denominator degrees of freedom."""

from __future__ import annotations

import numpy as np
import pandas as pd
from formulaic import model_matrix

from .._lazy import stats
from ..design.matrices import FORMULA_FUNCTIONS, lme4_column_name, r_spelling
from .satterthwaite import Satterthwaite


def term_columns(model) -> dict[str, list[int]]:
    """Each fixed-effects term (intercept excluded) and the positions of its kept columns in β."""
    fixed = model.design.fixed
    spec = fixed.recipe.spec
    if spec is None:  # the numeric fast path: one column per term
        return {name: [j] for j, name in enumerate(fixed.names) if name != "(Intercept)"}
    out: dict[str, list[int]] = {}
    for term, indices in spec.term_indices.items():
        if str(term) == "1":
            continue
        names = [lme4_column_name(spec.column_names[k]) for k in indices]
        kept = [fixed.names.index(name) for name in names if name in fixed.names]
        if kept:
            out[r_spelling(str(term))] = kept
    return out


def _contains(outer: str, inner: str) -> bool:
    """Whether term `outer` contains `inner` (its variables are a proper superset), as lmerTest's
    containment: then type III hypotheses depend on the coding, which is not handled here."""
    a, b = set(outer.split(":")), set(inner.split(":"))
    return b < a


def doolittle_lower(XtX: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The unit lower-triangular L of Doolittle's X'X = L U (lmerTest's doolittle, with its
    zeroing of entries below eps): type I hypotheses are the rows of L' by term."""
    n = XtX.shape[0]
    L, U = np.eye(n), np.zeros((n, n))
    for i in range(n):
        U[i, :] = XtX[i, :] - L[i, :i] @ U[:i, :]
        for j in range(i + 1, n):
            value = XtX[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else value / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def drop1_table(model, pieces: Satterthwaite) -> pd.DataFrame:
    """lmerTest's drop1(m): F tests of the marginal terms (those no other term contains), each
    term's coefficients = 0, which for such a term does not depend on the coding."""
    terms = term_columns(model)
    marginal = {name: columns for name, columns in terms.items() if not any(_contains(other, name) for other in terms)}
    return _f_table(model, pieces, np.eye(len(model._beta)), marginal)


def _f_table(model, pieces: Satterthwaite, hypotheses: np.ndarray, terms: dict[str, list[int]]) -> pd.DataFrame:
    return _f_rows(model, pieces, {name: hypotheses[columns] for name, columns in terms.items()})


def _f_rows(model, pieces: Satterthwaite, hypotheses: dict[str, np.ndarray]) -> pd.DataFrame:
    """One F test per term of its hypothesis matrix (rows: contrasts of β)."""
    rows = []
    for L in hypotheses.values():
        F, q, ddf = pieces.f_test(L, model._beta)
        mean_sq = F * model._sigma**2
        rows.append((mean_sq * q, mean_sq, q, ddf, F, stats().f.sf(F, q, ddf)))
    return pd.DataFrame(rows, index=list(hypotheses), columns=["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"])


def _zapsmall(values: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's zapsmall: entries below 10^-digits of the largest set to 0."""
    largest = np.max(np.abs(values)) if values.size else 0.0
    return np.where(np.abs(values) < largest * 10.0**-digits, 0.0, values)


def _type3_hypotheses(model, terms: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """lmerTest's type III contrasts (extract_contrasts_type3, for treatment coding): the
    over-parametrized design (every level of every factor) expressed in β's coordinates,
    L = (X⁺ X_full)', each term's columns made orthogonal to those of the terms containing it
    (SAS's containment), highest-order terms first; a term's hypotheses are its columns of L."""
    fixed = model.design.fixed
    if fixed.recipe.spec is None:
        raise ValueError("type III tests with interactions need the fixed effects' formula recipe")
    ordered = [c for c, kind in model.frame.kinds.items() if isinstance(kind.dtype, pd.CategoricalDtype) and kind.dtype.ordered]
    if ordered:
        raise ValueError(
            f"type III tests with interactions of ordered factors ({', '.join(ordered)}: polynomial contrasts) are "
            "not available yet; use type='II' or 'I'"
        )
    try:
        full = model_matrix(fixed.recipe.expr, model.frame.numeric, ensure_full_rank=False, context=FORMULA_FUNCTIONS)
    except Exception as exc:
        raise ValueError(f"cannot form the over-parametrized design for type III tests: {exc}") from None
    names = [lme4_column_name(c) for c in full.columns]
    X = fixed.X
    L = _zapsmall((np.linalg.pinv(X) @ np.asarray(full, dtype=np.float64)).T)  # full columns × β
    for name in sorted(terms, key=lambda t: t.count(":"), reverse=True):
        containing = [j for other, cols in terms.items() if _sas_contains(model, other, name) for j in cols]
        if containing:
            C, Y = L[:, containing], L[:, terms[name]]
            L[:, terms[name]] = _zapsmall(Y - C @ np.linalg.lstsq(C, Y, rcond=None)[0])
    L = L[[names.index(n) for n in fixed.names]]  # rows of β's own columns: p × p
    out = {}
    for name, columns in terms.items():
        H = L[:, columns].T
        out[name] = H[np.abs(H).sum(axis=1) > 1e-8]
    return out


_CLASS_CALL = ("factor(", "as.factor(", "ordered(", "C(")


def _sas_contains(model, outer: str, inner: str) -> bool:
    """SAS's containment, which lmerTest's type II uses: `outer` contains `inner` when both
    involve the same continuous variables and `outer`'s classification (factor) variables are a
    proper superset of `inner`'s. So age:Sex contains age but not Sex."""
    kinds = model.frame.kinds

    def split(term: str) -> tuple[set[str], list[str]]:
        classes, continuous = set(), []
        for variable in term.split(":"):
            kind = kinds.get(variable)
            if variable.startswith(_CLASS_CALL) or (kind is not None and kind.kind in ("text", "category", "boolean")):
                classes.add(variable)
            else:
                continuous.append(variable)
        return classes, sorted(continuous)

    outer_classes, outer_continuous = split(outer)
    inner_classes, inner_continuous = split(inner)
    return outer_continuous == inner_continuous and inner_classes < outer_classes


def _type2_table(model, pieces: Satterthwaite, terms: dict[str, list[int]]) -> pd.DataFrame:
    """lmerTest's type II: each term tested after every term that does not contain it (SAS's
    containment) and before those that do — the sequential (Doolittle) hypotheses of X'X with
    the columns reordered as [the others, the term, the terms containing it], mapped back."""
    X = model.design.fixed.X
    p = X.shape[1]
    hypotheses = np.zeros((p, p))
    for name, columns in terms.items():
        last = list(columns) + [j for other, cols in terms.items() if _sas_contains(model, other, name) for j in cols]
        order = [j for j in range(p) if j not in last] + last
        sequential = doolittle_lower(X[:, order].T @ X[:, order]).T  # rows and columns in `order`
        rows = [order.index(j) for j in columns]
        hypotheses[columns] = sequential[rows][:, np.argsort(order)]
    return _f_table(model, pieces, hypotheses, terms)


def anova_table(model, pieces: Satterthwaite, type: str) -> pd.DataFrame:
    """lmerTest's anova(m) table: type "I" (sequential: rows of the Doolittle factor of X'X by
    term), "II" (each term after those that do not contain it) or "III" (lmerTest's: each term's
    coefficients = 0 where no term contains another, else its contrasts made orthogonal to the
    terms containing it)."""
    terms = term_columns(model)
    p = len(model._beta)
    if type in ("I", "1", 1):
        X = model.design.fixed.X
        hypotheses = doolittle_lower(X.T @ X).T if p > 1 else np.eye(p)
    elif type in ("II", "2", 2):
        if p <= 1 or len(terms) <= 1:  # as lmerTest: then type II is type I
            return anova_table(model, pieces, "I")
        return _type2_table(model, pieces, terms)
    elif type in ("III", "3", 3):
        if p <= 1 or len(terms) <= 1:  # as lmerTest: then type III is type I
            return anova_table(model, pieces, "I")
        if any(_sas_contains(model, a, b) for a in terms for b in terms):
            return _f_rows(model, pieces, _type3_hypotheses(model, terms))
        hypotheses = np.eye(p)
    else:
        raise ValueError(f"type must be 'I', 'II' or 'III', not {type!r}")
    return _f_table(model, pieces, hypotheses, terms)
