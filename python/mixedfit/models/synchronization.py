"""What every model method shares: the per-model lock (synchronized), the check of count
arguments, and lme4's singularity tolerance."""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

SINGULAR_TOLERANCE = 1e-4  # lme4's isSingular tolerance on θ components bounded at zero


def positive_int(value: Any, name: str) -> int:
    """value as an int ≥ 1, or a ValueError/TypeError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def synchronized(method: Callable) -> Callable:
    """Run the method holding the model's lock. A model owns one mutable compiled core and the
    core releases the GIL while it works: without the lock, two threads using one model (fit and
    confint, two refits, residuals during a profile) would interleave inside it and crash or
    mix their states. Different models never share a lock and still run in parallel."""

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked
