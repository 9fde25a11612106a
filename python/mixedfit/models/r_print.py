"""Numbers and tables laid out as R prints them: format() of a numeric vector, format.pval,
zapsmall, print() of a character matrix or a named vector, and printCoefmat — the pieces lme4's,
lmerTest's and glmmTMB's summaries are made of, so that mixedfit's summary() reads digit for digit
like theirs. The rules are R's (src/main/format.c and the R functions of the same names), in
R's default settings (scipen 0, OutDec ".")."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

# The largest power of ten R's scientific() keeps in its table (KP_MAX in format.c).
_KP_MAX = 22
_TEN = np.longdouble(10)
DOUBLE_EPS = float(np.finfo(float).eps)
SIGNIF_LEGEND = (
    "Signif. codes:  0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 \u2018.\u2019 0.1 \u2018 \u2019 1"
)


def _scientific(x: float, digits: int) -> tuple[bool, int, int, bool]:
    """R's scientific(): whether x < 0, its power of ten after rounding to `digits` significant
    digits, how many of those digits are needed (trailing zeros dropped), and whether fixed
    notation shows it one digit narrower than that power suggests (9996 to 3 digits)."""
    if x == 0:
        return False, 0, 1, False
    r = abs(x)
    kp = math.floor(math.log10(r)) - digits + 1
    # In long double, as R scales it (exact powers of ten below 1e10), so that halves round alike.
    scaled = np.longdouble(r)
    if abs(kp) < 10:
        scaled = scaled / _TEN**kp if kp > 0 else scaled * _TEN ** (-kp)
    else:
        scaled = scaled / _TEN**kp
    if scaled < _TEN ** (digits - 1):  # log10 rounded up across a power of ten
        scaled *= 10
        kp -= 1
    alpha = int(np.rint(scaled))
    nsig = digits
    while nsig > 0 and alpha % 10 == 0:
        alpha //= 10
        nsig -= 1
    if nsig == 0:  # rounded up to the next power of ten
        nsig, kp = 1, kp + 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    widens = 0 < kpower <= _KP_MAX and r < 10.0**kpower - 0.5 / 10.0**rgt
    return x < 0, kpower, nsig, widens


def _non_finite(x: float) -> str:
    return "NaN" if math.isnan(x) else ("Inf" if x > 0 else "-Inf")


def format_real(values: Sequence[float] | np.ndarray, digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's format(x, digits=, nsmall=) of a numeric vector: every element to at least `digits`
    significant digits in one common layout — fixed notation with the decimals the element that
    needs most asks for, unless scientific notation is narrower — right-justified to one width."""
    values = [float(v) for v in np.asarray(values, dtype=float).ravel()]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        texts = [_non_finite(v) for v in values]
        width = max((len(t) for t in texts), default=0)
        return [t.rjust(width) for t in texts]
    neg = False
    rgt = mxl = mxsl = mxns = -(10**9)
    mnl = 10**9
    for v in finite:
        negative, kpower, nsig, widens = _scientific(v, digits)
        left = kpower + 1 - int(widens)
        sleft = int(negative) + (1 if left <= 0 else left)
        neg |= negative
        rgt, mxl, mnl = max(rgt, nsig - left), max(mxl, left), min(mnl, left)
        mxsl, mxns = max(mxsl, sleft), max(mxns, nsig)
    if mxl < 0:
        mxsl = 1 + int(neg)
    rgt = max(rgt, 0)
    fixed_width = mxsl + rgt + (rgt != 0)
    exponent_digits = 2 if (mxl > 100 or mnl <= -99) else 1
    mantissa = mxns - 1
    sci_width = int(neg) + (mantissa > 0) + mantissa + 4 + exponent_digits
    if fixed_width <= sci_width:
        decimals = max(rgt, nsmall)
        texts = [f"{v:.{decimals}f}" if math.isfinite(v) else _non_finite(v) for v in values]
    else:
        texts = [f"{v:.{mantissa}e}" if math.isfinite(v) else _non_finite(v) for v in values]
    width = max(len(t) for t in texts)
    return [t.rjust(width) for t in texts]


def format_pval(pv: Sequence[float] | np.ndarray, digits: int, eps: float = DOUBLE_EPS) -> list[str]:
    """R's format.pval: p-values of 1e-3 and more (1e-4 where digits > 1) in fixed notation, the
    rest in scientific, each group formatted together; below eps, "< eps"."""
    pv = np.asarray(pv, dtype=float)
    out = ["NA"] * len(pv)
    present = ~np.isnan(pv)
    tiny = present & (pv < eps)
    shown = present & ~tiny
    if shown.any():
        p = pv[shown]
        expo = np.floor(np.log10(np.where(p > 0, p, 1e-50)))
        fixed = (expo >= -3) | ((expo == -4) & (digits > 1))
        texts = np.empty(len(p), dtype=object)
        for group in (fixed, ~fixed):
            if group.any():
                texts[group] = format_real(p[group], digits)
        for i, t in zip(np.flatnonzero(shown), texts):
            out[i] = t
    if tiny.any():
        eps_digits = max(1, digits - 2)
        if shown.any():
            nc = max(len(out[i]) for i in np.flatnonzero(shown))
            if eps_digits > 1 and eps_digits + 6 > nc:
                eps_digits = max(1, nc - 7)
            sep = "" if eps_digits == 1 and nc <= 6 else " "
        else:
            sep = "" if eps_digits == 1 else " "
        text = "<" + sep + format_real([eps], eps_digits)[0]
        for i in np.flatnonzero(tiny):
            out[i] = text
    return out


def zapsmall(x: np.ndarray, digits: int) -> np.ndarray:
    """R's zapsmall: round to `digits` significant digits of the largest magnitude (R 4.2's:
    digits − log10(max|x|) decimals, which round() takes to the nearest integer)."""
    x = np.asarray(x, dtype=float)
    finite = x[np.isfinite(x)]
    largest = np.max(np.abs(finite)) if finite.size else 0.0
    decimals = max(0, math.floor(digits - math.log10(largest) + 0.5)) if largest > 0 else digits
    return np.round(x, decimals)


def print_matrix(
    cells: Sequence[Sequence[str]], row_names: Sequence[str], col_names: Sequence[str], right: bool
) -> str:
    """R's print() of a character matrix with quote = FALSE: row names left-justified, each column
    as wide as its widest entry or name, one space before each; cells and names justified right or
    left together. Trailing blanks are dropped."""
    row_width = max((len(n) for n in row_names), default=0)
    widths = [max([len(c)] + [len(row[j]) for row in cells]) for j, c in enumerate(col_names)]

    def line(name: str, entries: Sequence[str]) -> str:
        text = name.ljust(row_width)
        for entry, width in zip(entries, widths):
            text += " " + (entry.rjust(width) if right else entry.ljust(width))
        return text.rstrip()

    return "\n".join([line("", col_names)] + [line(n, row) for n, row in zip(row_names, cells)])


def print_named(entries: Sequence[str], names: Sequence[str]) -> str:
    """R's print() of a named vector (already formatted): names over entries, both right-justified
    to a common width, one space apart."""
    width = max(len(s) for s in list(entries) + list(names))
    return "\n".join(" ".join(s.rjust(width) for s in row).rstrip() for row in (names, entries))


def _stars(p: float) -> str:
    for cut, symbol in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p <= cut:
            return symbol
    return ""


def coefficient_matrix(table: pd.DataFrame, digits: int = 4, signif_stars: bool = True) -> str:
    """R's printCoefmat(table, digits) with its defaults: the columns before the test statistic
    (estimates, standard errors and any df) rounded together to the decimals their magnitudes
    allow, the statistic to dig.tst = digits − 1 decimals, a last column named "Pr(..." as
    p-values with significance stars and their legend when any is below 0.1."""
    x = table.to_numpy(dtype=float)
    nrow, nc = x.shape
    has_p = nc >= 4 and str(table.columns[-1])[:3] in ("Pr(", "p-v")
    k = nc - int(has_p) - 1
    dig_tst = max(1, min(5, digits - 1))
    cells = np.full((nrow, nc), "", dtype=object)
    cs = x[:, :k]
    finite = np.abs(cs[np.isfinite(cs) & (cs != 0)])
    if np.isfinite(cs).any():
        digmin = 1 + (np.floor(np.log10([finite.min(), finite.max()])) if finite.size else np.zeros(2))
        decimals = int(max(1, *(digits - digmin)))
        cells[:, :k] = np.reshape(format_real(np.round(cs, decimals).ravel(), digits), cs.shape)
    cells[:, k] = format_real(np.round(x[:, k], dig_tst), digits)
    # An entry shown as 0 that is not 0, or the reverse, is shown with a digit less instead.
    for i in range(nrow):
        for j in range(k):
            text = cells[i, j]
            if math.isfinite(x[i, j]) and (x[i, j] == 0) != (float(text) == 0):
                cells[i, j] = format_real([x[i, j]], max(1, digits - 1))[0]
    for i, j in zip(*np.nonzero(np.isnan(x[:, : nc - int(has_p)]))):
        cells[i, j] = "NaN"
    names = [str(c) for c in table.columns]
    legend = False
    if has_p:
        p = x[:, -1]
        ok = ~np.isnan(p)
        if ok.any():
            cells[ok, -1] = format_pval(p[ok], dig_tst)
        cells[~ok, -1] = "NA"
        if signif_stars and (p[ok] < 0.1).any():
            stars = [_stars(v) if not np.isnan(v) else "" for v in p]
            width = max(len(s) for s in stars)
            cells = np.column_stack([cells, [s.ljust(width) for s in stars]])
            names.append("")
            legend = True
    text = print_matrix(cells.tolist(), [str(i) for i in table.index], names, right=True)
    return text + ("\n---\n" + SIGNIF_LEGEND if legend else "")
