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


def restored_on_interrupt(method: Callable) -> Callable:
    """Run a method that changes the model (fit); if it is interrupted (Ctrl-C, which the core
    sees between evaluations), put the model back as it was before the call — its attributes,
    a residual structure's parameters and its compiled core at the estimates — and re-raise."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        saved = dict(self.__dict__)
        structure = getattr(self, "_structure", None)
        psi = None if structure is None else structure.psi.copy()
        try:
            return method(self, *args, **kwargs)
        except KeyboardInterrupt:
            self.__dict__.clear()
            self.__dict__.update(saved)
            if psi is not None:
                self._apply_structure(psi)
            if self._fitted:
                self._restore_core()
            raise

    return guarded
