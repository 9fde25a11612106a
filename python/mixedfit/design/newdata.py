"""Model matrices for new data (prediction and simulation): the fixed-effects matrix, each
random-effects term's matrix and level codes, and the offsets, coded exactly as in the fit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, FormulaError
from .formula import parse_formula
from .frame import ColumnKind, as_dataframe, formula_variables, numeric_view
from .matrices import Design, ReTerm, evaluate, level_codes, numeric_column
from .smooths import SmoothTerm


@dataclass(frozen=True)
class NewTerm:
    term: ReTerm
    X: np.ndarray  # rows × p model matrix of the term
    codes: np.ndarray  # the fit's level index of each row, -1 for a level the fit has not seen
    labels: np.ndarray  # the grouping factor's label of each row


@dataclass(frozen=True)
class NewDesign:
    complete: np.ndarray  # rows of the new data with every needed value (others predict NaN)
    X: np.ndarray | None  # None when the fixed part was not asked for
    terms: list[NewTerm]
    offset: np.ndarray


def grouping_labels(term: ReTerm, frame: pd.DataFrame) -> np.ndarray:
    """Each row's level label, written as the fit wrote its labels ('a' or 'a:b')."""
    if not term.term.factors:  # a smooth's single group
        return np.full(len(frame), term.levels[0])
    parts = [np.asarray(pd.Index(frame[f]).astype(str), dtype=object) for f in term.term.factors]
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + ":" + part
    return labels.astype(str)


def selected_terms(design: Design, frame: pd.DataFrame, re_form: str | None) -> dict[int, np.ndarray]:
    """The random-effects terms re_form keeps, each with the mask of its columns kept: None means
    all, '~0' or 'NA' none, and a formula such as '~(1 | plate)' the columns its terms name, by
    grouping factor and column, as lme4 does — a whole fitted term, or part of one
    ('~(1 | Subject)' of a (Days | Subject) fit keeps the intercepts), or several terms of the
    same factor ('~(Days | Subject)' of a (Days || Subject) fit). Smooths are part of the mean
    whatever re_form says (as gamm4's predictions)."""
    smooths = {k: np.ones(t.p, dtype=bool) for k, t in enumerate(design.terms) if isinstance(t.term, SmoothTerm)}
    if re_form is None:
        return {k: np.ones(t.p, dtype=bool) for k, t in enumerate(design.terms)}
    text = re_form.strip()
    if text.replace(" ", "") in ("~0", "~-1", "NA", "0"):
        return smooths
    rhs = text.removeprefix("~")
    if _has_top_level_bar(rhs):  # lme4 reads re.form = ~1 | h/f as ~(1 | h/f)
        rhs = f"({rhs})"
    parsed = parse_formula("y ~" + rhs)
    chosen: dict[int, np.ndarray] = {}
    for term in parsed.random:
        same_factor = [k for k, t in enumerate(design.terms) if t.term.factors == term.factors]
        exact = [k for k in same_factor if design.terms[k].term.expr == term.expr]
        columns = design.terms[exact[0]].columns if exact else _column_names(term.expr, frame)
        masks = {k: np.isin(design.terms[k].columns, columns) for k in same_factor}
        covered = {c for k, mask in masks.items() for c, kept in zip(design.terms[k].columns, mask) if kept}
        if columns is None or not covered or covered != set(columns):
            available = " + ".join(str(t.term) for t in design.terms)
            raise FormulaError(f"re_form term {term} is not (part of) a random-effects term of the model ({available})")
        for k, mask in masks.items():
            if mask.any():
                chosen[k] = chosen[k] | mask if k in chosen else mask
    return dict(sorted({**chosen, **smooths}.items()))


def _has_top_level_bar(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            return True
    return False


def _column_names(expr: str, frame: pd.DataFrame) -> list[str] | None:
    """The model-matrix columns of a random-effects term's left-hand side, or None if the fit's
    data cannot make them."""
    try:
        matrix, _ = evaluate(expr, frame, "re_form term")
    except FormulaError:
        return None
    return matrix.names


def new_design(
    design: Design,
    kinds: dict[str, ColumnKind],
    fixed_formula_offsets: tuple[str, ...],
    offset_argument: Any,
    newdata: Any,
    term_indices: list[int],
    allow_new_levels: bool,
) -> NewDesign:
    """Build what a prediction on newdata needs; rows with a missing needed value are left out."""
    frame = as_dataframe(newdata).reset_index(drop=True)
    needed = set(formula_variables(design.fixed.recipe.expr, "fixed-effects part", kinds))
    for k in term_indices:
        t = design.terms[k]
        needed |= formula_variables(t.term.expr, f"random-effects term {t.term}", kinds) | set(t.term.factors)
    for expr in fixed_formula_offsets:
        needed |= formula_variables(f"I({expr})", "offset", kinds)
    if isinstance(offset_argument, str):
        needed.add(offset_argument)
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise DataError(f"newdata lacks column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    complete = frame[sorted(needed)].notna().all(axis=1).to_numpy() if needed else np.ones(len(frame), bool)
    # The needed columns read as the fit read them (or a DataError), then the numeric view that
    # formulas are evaluated on, as for the fit.
    rows = pd.DataFrame(
        {
            name: kinds[name].conform(name, frame[name].loc[complete].reset_index(drop=True))
            if name in kinds
            else frame[name].loc[complete].reset_index(drop=True)
            for name in sorted(needed)
        },
        index=pd.RangeIndex(int(complete.sum())),
    )
    numeric = numeric_view(rows)
    X = design.fixed.recipe.evaluate(numeric, design.fixed.names)
    terms = []
    for k in term_indices:
        t = design.terms[k]
        labels = grouping_labels(t, rows)
        codes = level_codes(t, rows)
        unseen = codes < 0
        if unseen.any() and not allow_new_levels:
            raise DataError(
                f"newdata has level{'s' if len(set(labels[unseen])) > 1 else ''} "
                f"{', '.join(repr(str(v)) for v in sorted(set(labels[unseen]))[:5])} of grouping factor '{t.name}' "
                f"(term {t.term}) that the fit has not seen; pass allow_new_levels=True to predict them at the "
                "population level for this term"
            )
        terms.append(NewTerm(t, t.recipe.evaluate(numeric, t.columns), codes, labels))
    offset = np.zeros(len(rows))
    for expr in fixed_formula_offsets:
        offset += numeric_column(expr, numeric, "offset")
    if isinstance(offset_argument, str):
        offset += numeric_column(offset_argument, numeric, "offset")
    elif offset_argument is not None:
        raise DataError(
            "the model's offset was given as values, which do not extend to newdata; give it as a column name "
            "(offset='column') or as offset(column) in the formula to predict on new data"
        )
    return NewDesign(complete, X, terms, offset)
