"""The convergence checks' central differences (2k² evaluations for k parameters) on the CPU's
cores: the points are split between the model's own compiled core and copies of it, one per
extra thread, each part evaluated in its own thread (the core releases the GIL while it works)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from .. import threads

# A batch expected to save less than this on more cores is evaluated on one: a thread pool and a
# copy's bookkeeping cost about as much. Making a new copy (its cross-products and its factor's
# analysis copied) is counted as one more evaluation (measured: star 0.3-0.6 ms against 1.1 ms per
# evaluation, InstEval 4.5-9 ms against 7-9).
MIN_PARALLEL_SECONDS = 0.002

Evaluate = Callable[[Any, np.ndarray], np.ndarray]  # (core, points) -> the objective at each point


def rows_on_cores(
    own_core: Any, evaluate: Evaluate, n_threads: int | None, seconds_per_point: float | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """f_rows for central_derivatives: the objective at each row of a matrix of points. With one
    thread, or where the time the other cores would save on a batch (from seconds_per_point; None:
    always parallel) is under MIN_PARALLEL_SECONDS (plus one evaluation where a copy is still to be
    made), all on own_core; otherwise in as many parts as threads, the first on
    own_core and each other on a copy of it (made at the first parallel batch, kept for the next:
    the cross-products and the factorization's choice and analysis copied, not computed again),
    every core factorizing on one thread meanwhile."""  # fmt: skip
    count = threads.resolve(n_threads)
    helpers: list[Any] = []

    def rows(points: np.ndarray) -> np.ndarray:
        parts = min(count, len(points))
        if seconds_per_point is not None:
            saved = len(points) * seconds_per_point * (1 - 1 / max(parts, 1))
            if saved < MIN_PARALLEL_SECONDS + (seconds_per_point if len(helpers) < parts - 1 else 0.0):
                parts = 1
        if parts <= 1:
            return np.asarray(evaluate(own_core, points), dtype=np.float64)
        while len(helpers) < parts - 1:
            helper = own_core._copy()
            helper.threads = 1
            helpers.append(helper)
        bounds = np.linspace(0, len(points), parts + 1).round().astype(int)
        own_threads, own_core.threads = own_core.threads, 1
        try:
            with ThreadPoolExecutor(max_workers=parts - 1) as pool:
                others = [
                    pool.submit(evaluate, helper, points[bounds[k + 1] : bounds[k + 2]])
                    for k, helper in enumerate(helpers[: parts - 1])
                ]
                first = evaluate(own_core, points[: bounds[1]])
                return np.concatenate([np.asarray(first, dtype=np.float64)] + [np.asarray(f.result()) for f in others])
        finally:
            own_core.threads = own_threads

    return rows
