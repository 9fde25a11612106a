"""Timing mixedfit's side of a benchmark: the median wall time of repeated fits."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TypeVar

import numpy as np

Fit = TypeVar("Fit")


def median_fit(fit: Callable[[], Fit], reps: int) -> tuple[float, Fit]:
    """(median seconds of reps calls of fit, the last call's result); warnings are silenced (the
    reference package's are too)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result
