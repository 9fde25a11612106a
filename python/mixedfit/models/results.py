"""Tables computed from a fitted model: variance components, conditional modes, and the text
of summary(), laid out as lme4 prints them."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..design.matrices import Design
from ..design.smooths import SmoothTerm
from .r_print import coefficient_matrix, format_real, print_matrix, print_named, zapsmall


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


def format_varcorr(table: pd.DataFrame, digits: int = 4) -> str:
    """The 'Random effects:' block as lme4's formatVC prints it: all variances formatted together
    to `digits` significant digits, all SDs together, each term's correlations rounded to 2
    decimals in its lower triangle; left-justified columns."""
    variances = table[table["var2"] == ""]
    correlations = table[table["var2"] != ""]
    groups = list(dict.fromkeys(variances["grp"]))
    size = {g: int((variances["grp"] == g).sum()) for g in groups}
    corr_columns = max(size.values(), default=1) - 1
    variance_text = format_real(variances["vcov"].to_numpy(), digits)
    sd_text = format_real(variances["sdcor"].to_numpy(), digits)
    cells: list[list[str]] = []
    for g in groups:
        names = variances.loc[variances["grp"] == g, "var1"].tolist()
        corr_text = _correlation_cells(correlations[correlations["grp"] == g], names)
        for i, name in enumerate(names):
            k = len(cells)
            row = [g if i == 0 else "", name, variance_text[k], sd_text[k]]
            cells.append(row + corr_text[i] + [""] * (corr_columns - len(corr_text[i])))
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (corr_columns - 1) if corr_columns else [])
    return print_matrix(cells, [""] * len(cells), header, right=False)


def _correlation_cells(rows: pd.DataFrame, names: list[str]) -> list[list[str]]:
    """One term's correlation matrix as formatVC shows it: format(round(C, 2), nsmall = 2) over the
    whole matrix (so one width), the strictly lower triangle kept."""
    p = len(names)
    C = np.eye(p)
    for _, r in rows.iterrows():
        i, j = names.index(r["var1"]), names.index(r["var2"])
        C[i, j] = C[j, i] = r["sdcor"]
    text = np.reshape(format_real(np.round(C, 2).ravel(), nsmall=2), (p, p))
    return [[text[i, j] for j in range(i)] for i in range(p)]


def format_coefficients(table: pd.DataFrame) -> str:
    """A coefficient table as lme4's summary prints it (printCoefmat with digits 4)."""
    return coefficient_matrix(table, digits=4)


def format_correlation(vcov: pd.DataFrame) -> str:
    """Lower triangle of the fixed-effects correlation matrix, as lme4 prints it: format(round(C,
    3), nsmall = 3), rows named by R's abbreviate(minlength = 11), columns by abbreviate(minlength
    = 6) ("(Intr)", "perid2")."""
    sd = np.sqrt(np.diag(vcov.to_numpy()))
    corr = vcov.to_numpy() / np.outer(sd, sd)
    p = len(sd)
    text = np.reshape(format_real(np.round(corr, 3).ravel(), nsmall=3), (p, p))
    rows, columns = abbreviate(list(vcov.index), 11), abbreviate(list(vcov.index), 6)
    cells = [[text[i, j] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
    return print_matrix(cells, rows[1:], columns[:-1], right=False)


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


def residual_quantiles(scaled: np.ndarray, digits: int = 4) -> str:
    """lme4's 'Scaled residuals:' line: the quartiles zapped to digits + 1, printed to digits."""
    q = zapsmall(np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1.0]), digits + 1)
    return print_named(format_real(q, digits), ["Min", "1Q", "Median", "3Q", "Max"])


def criterion_table(aic: float, bic: float, loglik: float, df_resid: int) -> str:
    """lme4's AIC/BIC/logLik/deviance/df.resid line (.prt.aictab): rounded to one decimal and
    formatted together, df.resid on its own."""
    rounded = np.round([aic, bic, loglik, -2 * loglik, df_resid], 1)
    texts = format_real(rounded)[:4] + format_real(rounded[4:])
    return print_named([t.strip() for t in texts], ["AIC", "BIC", "logLik", "deviance", "df.resid"])


def criterion_line(objective: float) -> str:
    """lme4's 'REML criterion at convergence:' line (rounded to one decimal, printed by cat)."""
    return "REML criterion at convergence: " + format_real([round(objective, 1)])[0]
