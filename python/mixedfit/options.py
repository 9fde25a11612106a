"""Package-wide settings: mixedfit.set_options(...), mixedfit.get_options() and, for one block of
code (in this thread or task only), mixedfit.option_context(...)."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

# formula_evaluation: "python" evaluates the expressions in a formula as Python (as formulaic
# and patsy do, and as R evaluates lme4's formulas); "restricted" first checks that a formula
# holds only column names, numbers, formula operators and a fixed list of transforms, and
# raises FormulaError before anything in it runs (for services that take formulas from users).
# check_nobs_vs_nRE: lme4's lmerControl(check.nobs.vs.nRE =): "stop" refuses a term with at least
# as many random effects as observations (with a residual variance the two are then probably
# unidentifiable), "ignore" fits it (statsmodels does; its compatible front asks for it).
_CHOICES: dict[str, tuple[Any, ...]] = {
    "formula_evaluation": ("python", "restricted"),
    "check_nobs_vs_nRE": ("stop", "ignore"),
}
_OPTIONS: dict[str, Any] = {"formula_evaluation": "python", "check_nobs_vs_nRE": "stop"}
# Settings of option_context, which win over the package's while its block runs: per thread and
# per asyncio task, so a Dask worker's task can run restricted while other tasks do not.
_CONTEXT: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("mixedfit_options", default={})


def _checked(settings: dict[str, Any]) -> None:
    for name, value in settings.items():
        if name not in _CHOICES:
            raise ValueError(f"unknown option {name!r}; options are {', '.join(_CHOICES)}")
        if value not in _CHOICES[name]:
            raise ValueError(f"option {name!r} must be one of {_CHOICES[name]}, not {value!r}")


def get_options() -> dict[str, Any]:
    """The current settings (option_context's, where one is active), as a new dict."""
    return {**_OPTIONS, **_CONTEXT.get()}


def set_options(**settings: Any) -> dict[str, Any]:
    """Change settings; returns the previous values of those changed (pass them back to restore).

    formula_evaluation : "python" (default) or "restricted"
        In "restricted" mode a formula (and predict's re_form) may contain only column names,
        numbers, formula operators (+ - * / ** ^ : | || ~ %in%, comparisons, parentheses) and
        calls of log, log2, log10, log1p, exp, expm1, sqrt, abs, scale, center, poly, bs, I, C,
        factor, as.factor, offset and cbind (and numpy's np.log, np.exp, np.sqrt, ...), within
        bounds on the formula's length, powers, number of terms and basis sizes; anything else
        is a FormulaError raised before any of the formula is evaluated.
    check_nobs_vs_nRE : "stop" (default) or "ignore"
        As lme4's lmerControl(check.nobs.vs.nRE =): whether a term with at least as many random
        effects as observations is refused (DataError) or fitted.

    Parameters
    ----------
    **settings
        Option names and values (see above).

    Returns
    -------
    dict
        The previous values of the options changed.
    """
    _checked(settings)
    previous = {name: _OPTIONS[name] for name in settings}
    _OPTIONS.update(settings)
    return previous


@contextlib.contextmanager
def option_context(**settings: Any) -> Iterator[None]:
    """Settings for the code inside the ``with`` block only, in this thread (or task) only.

    Parameters
    ----------
    **settings
        Option names and values, as for ``set_options``.

    Examples
    --------
    >>> with mixedfit.option_context(formula_evaluation="restricted"):
    ...     m = mixedfit.lmer(user_formula, data)  # doctest: +SKIP
    """
    _checked(settings)
    token = _CONTEXT.set({**_CONTEXT.get(), **settings})
    try:
        yield
    finally:
        _CONTEXT.reset(token)
