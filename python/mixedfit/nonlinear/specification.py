"""nlme's fixed, random, groups and start arguments read into the parameters' design: each model
parameter φ_k = A_k β_k + b_k, A_k the model matrix of its fixed formula (``"Asym ~ Type"`` or
``~ 1``), b_k its random effect per group for the parameters named in ``random``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..design.matrices import MatrixRecipe, evaluate
from ..errors import DataError, FormulaError


@dataclass(frozen=True)
class ParameterDesign:
    """The model parameters' fixed effects (A_k and the names of β) and random effects."""

    parameters: tuple[str, ...]
    matrices: dict[str, np.ndarray]  # A_k, n × p_k
    recipes: dict[str, MatrixRecipe]  # A_k for new data
    columns: dict[str, list[str]]  # A_k's column names
    random: tuple[str, ...]  # the parameters with random effects, in random's order
    groups: tuple[str, ...]  # the grouping columns, outermost first ('Block/Tree': Block, Tree)
    correlated: bool

    @property
    def group(self) -> str:
        """The grouping as nlme writes it: 'Tree', or 'Block/Tree' for nested groups."""
        return "/".join(self.groups)

    @property
    def beta_names(self) -> list[str]:
        """nlme's names: the parameter alone for '~ 1', else 'parameter.column'."""
        return [
            p if self.columns[p] == ["(Intercept)"] else f"{p}.{c}" for p in self.parameters for c in self.columns[p]
        ]

    @property
    def random_names(self) -> list[str]:
        """nlme's names of the random effects: the parameter, or 'parameter.(Intercept)' when its
        fixed formula has covariates."""
        return [p if self.columns[p] == ["(Intercept)"] else f"{p}.(Intercept)" for p in self.random]

    def parameter_values(
        self,
        matrices: dict[str, np.ndarray],
        beta: np.ndarray,
        b: np.ndarray | None = None,
        codes: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """φ per row: A_k β_k (A_k from matrices: the fit's or new data's) plus, given b (groups ×
        random parameters) and each row's group code, the row's group's random effect; with nested
        groups, codes are n × levels (each row's group at each level as a row of b) and the
        levels' effects add up."""
        n = len(next(iter(matrices.values())))
        # (a parameter without covariates is its coefficient: no n × 1 product)
        phi = {
            p: np.full(n, beta[sl.start]) if self.columns[p] == ["(Intercept)"] else matrices[p] @ beta[sl]
            for p, sl in self.slices.items()
        }
        if b is not None:
            for j, p in enumerate(self.random):
                effect = b[codes, j]
                phi[p] = phi[p] + (effect if effect.ndim == 1 else effect.sum(axis=1))
        return phi

    @cached_property
    def slices(self) -> dict[str, slice]:
        bounds = np.cumsum([0] + [len(self.columns[p]) for p in self.parameters])
        return {p: slice(int(a), int(b)) for p, a, b in zip(self.parameters, bounds[:-1], bounds[1:])}


def _split_sides(text: str, what: str) -> tuple[list[str], str]:
    if text.count("~") != 1:
        raise FormulaError(f"{what} '{text}' must be written 'a + b ~ rhs'")
    left, right = text.split("~")
    names = [name.strip() for name in left.split("+")]
    if not all(name.isidentifier() for name in names):
        raise FormulaError(f"{what} '{text}': the left side must name parameters joined by '+'")
    return names, right.strip() or "1"


def fixed_formulas(fixed: str | Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """Each parameter's fixed-effects right-hand side: from 'Asym + xmid ~ 1', a dict
    {'Asym': '~ Diet', ...} or a list of such formulas (R's list(Asym ~ Diet, xmid ~ 1))."""
    if isinstance(fixed, Mapping):
        return {name: str(rhs).lstrip().removeprefix("~").strip() or "1" for name, rhs in fixed.items()}
    formulas: dict[str, str] = {}
    for text in [fixed] if isinstance(fixed, str) else fixed:
        names, rhs = _split_sides(text, "fixed")
        for name in names:
            if name in formulas:
                raise FormulaError(f"parameter '{name}' appears twice in fixed")
            formulas[name] = rhs
    return formulas


def random_parameters(random: str, groups: str | None) -> tuple[list[str], list[str]]:
    """The random part 'Asym + xmid ~ 1 | Tree' (or 'Asym ~ 1' with groups='Tree'): its
    parameters and the grouping columns, outermost first ('| Block/Tree': nested groups, the same
    parameters random at each level)."""
    text = random
    if "|" in random:
        text, group = (part.strip() for part in random.split("|", 1))
        if groups is not None and groups.replace(" ", "") != group.replace(" ", ""):
            raise FormulaError(f"random names the group '{group}' and groups '{groups}'")
    elif groups is None:
        raise FormulaError(f"random '{random}' has no group: write 'Asym ~ 1 | Tree' or pass groups='Tree'")
    else:
        group = groups
    columns = [column.strip() for column in group.split("/")]
    if not all(columns) or any(re.search(r"[:|+*()]", column) for column in columns):
        raise FormulaError(
            f"random '{random}': the grouping is a column or nested columns 'a/b' (outermost first), not '{group}'"
        )
    names, rhs = _split_sides(text, "random")
    if rhs.replace(" ", "") != "1":
        raise FormulaError(
            f"random '{random}': random effects on parameters are '~ 1' (covariates in random are not supported yet)"
        )
    return names, columns


def parameter_design(
    parameters: Sequence[str],
    formulas: dict[str, str],
    random: list[str],
    groups: Sequence[str],
    correlated: bool,
    frame: pd.DataFrame,
) -> ParameterDesign:
    unknown = [p for p in formulas if p not in parameters]
    if unknown:
        raise FormulaError(
            f"fixed names {', '.join(unknown)}, which the model does not use (its parameters: {', '.join(parameters)})"
        )
    missing = [p for p in parameters if p not in formulas]
    if missing:
        several = len(missing) > 1
        raise FormulaError(
            f"the model's parameter{'s' if several else ''} {', '.join(missing)} {'are' if several else 'is'} missing from fixed"
        )
    not_fixed = [p for p in random if p not in parameters]
    if not_fixed:
        raise FormulaError(
            f"random names {', '.join(not_fixed)}, not a parameter of the model ({', '.join(parameters)})"
        )
    matrices, recipes, columns = {}, {}, {}
    for p in parameters:
        matrix, recipe = evaluate(formulas[p], frame, f"fixed formula of {p}")
        matrices[p], recipes[p], columns[p] = matrix.values, recipe, matrix.names
    return ParameterDesign(tuple(parameters), matrices, recipes, columns, tuple(random), tuple(groups), correlated)


def start_vector(start: Any, design: ParameterDesign) -> np.ndarray:
    """β's start from a dict (a number per parameter, or a list with one per column of its fixed
    formula) or a sequence in β's order; refused, naming the parameter, when one is missing."""
    names = design.beta_names
    if isinstance(start, Mapping):
        values = []
        for p in design.parameters:
            if p not in start:
                raise DataError(f"start has no value for parameter '{p}'")
            given = np.atleast_1d(np.asarray(start[p], dtype=np.float64))
            width = len(design.columns[p])
            if len(given) == 1 and width > 1:
                given = np.concatenate([given, np.zeros(width - 1)])  # the other contrasts at 0
            if len(given) != width:
                raise DataError(f"start for '{p}' has {len(given)} values; its fixed formula has {width} columns")
            values.append(given)
        extra = [k for k in start if k not in design.parameters]
        if extra:
            raise DataError(f"start names {', '.join(map(str, extra))}, not a parameter of the model")
        vector = np.concatenate(values)
    else:
        vector = np.asarray(start, dtype=np.float64).ravel()
        if len(vector) != len(names):
            raise DataError(f"start has {len(vector)} values; the fixed effects are {len(names)} ({', '.join(names)})")
    if not np.all(np.isfinite(vector)):
        raise DataError("start has a non-finite value")
    return vector
