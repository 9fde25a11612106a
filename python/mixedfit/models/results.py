"""Tables computed from a fitted model: variance components, conditional modes, and the text
of summary(), laid out as lme4 prints them."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..design.matrices import Design
from ..design.smooths import SmoothTerm


def lower_factor(theta: np.ndarray, p: int) -> np.ndarray:
    """The p × p lower-triangular relative covariance factor from its column-major θ elements."""
    T = np.zeros((p, p))
    T[np.triu_indices(p)[::-1]] = theta  # the transpose's upper indices, row-major = T's lower, column-major
    return T


def unique_group_names(design: Design) -> list[str]:
    """Term names as lme4's VarCorr gives them: a repeated grouping factor gets '.1', '.2', ..."""
    seen: dict[str, int] = {}
    names = []
    for t in design.terms:
        k = seen.get(t.name, 0)
        names.append(t.name if k == 0 else f"{t.name}.{k}")
        seen[t.name] = k + 1
    return names


def varcorr_table(
    design: Design, theta: np.ndarray, sigma: float, residual: bool, residual_sd: float | None = None
) -> pd.DataFrame:
    """Variances, SDs, covariances and correlations of each term (lme4's as.data.frame(VarCorr));
    residual_sd: the Residual row's SD where it is not sigma (a variance function's σ in nlme's
    terms)."""
    rows = []
    factor = design.factor(theta)
    for name, t, sl in zip(unique_group_names(design), design.terms, design.factor_slices()):
        T = lower_factor(factor[sl], t.p)
        cov = sigma**2 * T @ T.T
        sd = np.sqrt(np.diag(cov))
        if isinstance(t.term, SmoothTerm):  # iid effects: one variance, the smooth's
            rows.append((name, "(smooth)", "", cov[0, 0], sd[0]))
            continue
        for i in range(t.p):
            rows.append((name, t.columns[i], "", cov[i, i], sd[i]))
        for i in range(t.p):
            for j in range(i + 1, t.p):
                corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                rows.append((name, t.columns[i], t.columns[j], cov[i, j], corr))
    if residual:
        residual_sd = sigma if residual_sd is None else residual_sd
        rows.append(("Residual", "", "", residual_sd**2, residual_sd))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])


class RandomEffects(dict):
    """Grouping factor → DataFrame of conditional modes (levels × columns). Calling it with
    condvar=True gives the same tables with each level's conditional covariance matrix in
    ``table.attrs["condvar"]`` (levels × p × p), as lme4's ranef(condVar = TRUE)."""

    def __init__(self, tables: dict[str, pd.DataFrame], condvar: Callable[[], dict[str, np.ndarray]]) -> None:
        super().__init__(tables)
        self._condvar = condvar

    def __call__(self, condvar: bool = False) -> dict[str, pd.DataFrame]:
        tables = {name: table.copy() for name, table in self.items()}
        if condvar:
            for name, variances in self._condvar().items():
                tables[name].attrs["condvar"] = variances
        return tables


def ranef_tables(design: Design, b: np.ndarray) -> dict[str, pd.DataFrame]:
    """Conditional modes b by grouping factor; terms sharing a factor share one table."""
    tables: dict[str, pd.DataFrame] = {}
    for t, sl in zip(design.terms, design.b_slices()):
        block = pd.DataFrame(b[sl].reshape(t.n_levels, t.p), index=pd.Index(t.levels, name=t.name), columns=t.columns)
        tables[t.name] = pd.concat([tables[t.name], block], axis=1) if t.name in tables else block
    return tables


def _format_number(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}" if np.isfinite(x) else "NaN"


def format_varcorr(table: pd.DataFrame) -> str:
    """The 'Random effects:' block of lme4's summary."""
    lines = []
    variances = table[table["var2"] == ""]
    header = f" {'Groups':<10} {'Name':<12} {'Variance':>10} {'Std.Dev.':>9}"
    has_corr = (table["var2"] != "").any()
    lines.append(header + ("  Corr" if has_corr else ""))
    for grp, block in variances.groupby("grp", sort=False):
        corr = table[(table["grp"] == grp) & (table["var2"] != "")]
        for k, (_, row) in enumerate(block.iterrows()):
            text = f" {grp if k == 0 else '':<10} {row['var1']:<12} {_format_number(row['vcov']):>10} {_format_number(row['sdcor']):>9}"
            cells = corr[corr["var2"] == row["var1"]]["sdcor"].tolist() if k else []
            if cells:
                text += "  " + " ".join(f"{c:5.2f}" for c in cells)
            lines.append(text)
    return "\n".join(lines)


def format_coefficients(table: pd.DataFrame) -> str:
    return table.to_string(float_format=lambda x: f"{x:.4g}")


def format_correlation(vcov: pd.DataFrame) -> str:
    """Lower triangle of the fixed-effects correlation matrix, as lme4 prints it: rows named by
    R's abbreviate(minlength = 11), columns by abbreviate(minlength = 6) ("(Intr)", "perid2")."""
    sd = np.sqrt(np.diag(vcov.to_numpy()))
    corr = vcov.to_numpy() / np.outer(sd, sd)
    rows, columns = abbreviate(list(vcov.index), 11), abbreviate(list(vcov.index), 6)
    width = max(len(n) for n in rows[1:])
    column_width = max(6, *(len(c) for c in columns[:-1]))
    lines = [" " * (width + 1) + " ".join(f"{c:>{column_width}}" for c in columns[:-1])]
    for i in range(1, len(rows)):
        lines.append(f"{rows[i]:<{width}} " + " ".join(f"{corr[i, j]:{column_width}.3f}" for j in range(i)))
    return "\n".join(lines)


_VOWELS = set("aeiou")


def _abbreviate_one(name: str, minlength: int) -> str:
    """R's abbreviate() of one name (its C routine's steps, strict = FALSE): past minlength
    characters, drop from the right lower-case vowels that end a word, then other lower-case
    vowels, then lower-case letters that end a word, then other lower-case letters, then any
    character — never a word's first."""
    chars = list(name.strip())
    if len(chars) <= minlength:
        return "".join(chars)

    def first(i: int) -> bool:
        return chars[i - 1].isspace()

    def last(i: int) -> bool:
        return not chars[i - 1].isspace() and (i + 1 == len(chars) or chars[i + 1].isspace())

    rules = (
        lambda i: chars[i] in _VOWELS and last(i),
        lambda i: chars[i] in _VOWELS and not first(i),
        lambda i: chars[i].islower() and last(i),
        lambda i: chars[i].islower() and not first(i),
        lambda i: not first(i) and not chars[i].isspace(),
    )
    for rule in rules:
        i = len(chars) - 1
        while i > 0:
            if rule(i):
                del chars[i]
                if len(chars) - sum(c.isspace() for c in chars) <= minlength:
                    return "".join(c for c in chars if not c.isspace())
            i = min(i - 1, len(chars) - 1)
    return "".join(c for c in chars if not c.isspace())


def abbreviate(names: list[str], minlength: int) -> list[str]:
    """R's abbreviate(names, minlength): each name shortened to minlength where it can be; a name
    whose abbreviation repeats an earlier one is abbreviated again, one character longer each
    time, until none repeats (R's duplicated(): the first of equal ones is kept)."""
    out = [_abbreviate_one(n, minlength) for n in names]
    length = minlength
    while length < max(len(n) for n in names):
        repeated = [k for k in range(len(out)) if out[k] in out[:k]]
        if not repeated:
            break
        length += 1
        for k in repeated:
            out[k] = _abbreviate_one(names[k], length)
    return out


def residual_quantiles(scaled: np.ndarray) -> str:
    q = np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1.0])
    labels = ["Min", "1Q", "Median", "3Q", "Max"]
    return " ".join(f"{label:>8}" for label in labels) + "\n" + " ".join(f"{v:8.4f}" for v in q)
