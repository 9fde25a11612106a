"""Exceptions and warnings raised by mixedfit.

Bad input raises a subclass of ValueError or TypeError whose message names the column, term or
value at fault; numerical trouble inside the core raises NumericalError; boundary fits and
convergence trouble are warnings, as in lme4.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Any

import numpy as np

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*m|[⧛⧚]")


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """warnings.warn at the first frame outside mixedfit: the user's line that called into it,
    however deep inside the package the warning arises (a fixed stacklevel named mixedfit's own
    files from some paths, e.g. through the model lock's wrapper)."""
    frame, level = sys._getframe(1), 2  # stacklevel 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def positive_int(value: Any, name: str, allow_none: bool = False) -> int | None:
    """value as an int ≥ 1 (or None where allowed), else a TypeError or ValueError naming the argument."""
    if value is None and allow_none:
        return None
    wanted = "a positive integer or None" if allow_none else "a positive integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return int(value)


def plain_message(exc: BaseException) -> str:
    """An exception's message without the terminal colour codes and markers formulaic adds."""
    return _TERMINAL_CODES.sub("", str(exc))


class MixedFitError(Exception):
    """Base class of every error mixedfit raises itself."""


class FormulaError(MixedFitError, ValueError):
    """The model formula cannot be parsed or does not describe a mixed model."""


class DataError(MixedFitError, ValueError):
    """The data do not fit the model: a missing column, a bad response, bad weights, ..."""


class NumericalError(MixedFitError, ArithmeticError):
    """The compiled core met a numerical failure (raised from C++ with the numbers involved)."""


class SingularFitWarning(UserWarning):
    """The fit is on the boundary of the parameter space (a variance at zero or a correlation at ±1)."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped without meeting its convergence criteria."""


class RankDeficiencyWarning(UserWarning):
    """The fixed-effects model matrix is rank deficient; aliased columns were dropped."""



class ResourceError(MixedFitError, MemoryError):
    """The problem is too large for the core's index types or for the machine (memory, threads)."""
