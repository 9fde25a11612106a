"""Package-wide settings: mixedfit.set_options(...) and mixedfit.get_options()."""

from __future__ import annotations

from typing import Any

# formula_evaluation: "python" evaluates the expressions in a formula as Python (as formulaic
# and patsy do, and as R evaluates lme4's formulas); "restricted" first checks that a formula
# holds only column names, numbers, formula operators and a fixed list of transforms, and
# raises FormulaError before anything in it runs (for services that take formulas from users).
_CHOICES: dict[str, tuple[Any, ...]] = {"formula_evaluation": ("python", "restricted")}
_OPTIONS: dict[str, Any] = {"formula_evaluation": "python"}


def get_options() -> dict[str, Any]:
    """The current settings, as a new dict."""
    return dict(_OPTIONS)


def set_options(**settings: Any) -> dict[str, Any]:
    """Change settings; returns the previous values of those changed (pass them back to restore).

    formula_evaluation : "python" (default) or "restricted"
        In "restricted" mode a formula (and predict's re_form) may contain only column names,
        numbers, formula operators (+ - * / ** ^ : | || ~ %in%, comparisons, parentheses) and
        calls of log, log2, log10, log1p, exp, expm1, sqrt, abs, scale, center, poly, bs, I, C,
        factor, as.factor, offset and cbind (and numpy's np.log, np.exp, np.sqrt, ...); anything
        else is a FormulaError raised before any of the formula is evaluated.
    """
    for name, value in settings.items():
        if name not in _CHOICES:
            raise ValueError(f"unknown option {name!r}; options are {', '.join(_CHOICES)}")
        if value not in _CHOICES[name]:
            raise ValueError(f"option {name!r} must be one of {_CHOICES[name]}, not {value!r}")
    previous = {name: _OPTIONS[name] for name in settings}
    _OPTIONS.update(settings)
    return previous
