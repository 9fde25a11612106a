"""The per-model lock every method that touches the compiled core holds (synchronized)."""

from __future__ import annotations

import functools
from typing import Any, Callable


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
