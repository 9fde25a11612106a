"""How many threads the compiled core and the bootstrap use: mixedfit.set_threads(n) and
mixedfit.get_threads().

Unless set, the default is, in order: the environment variable MIXEDFIT_NUM_THREADS; then
OMP_NUM_THREADS, which process pools (joblib's loky, Dask's nanny) set in their workers to their
share of the CPUs; then 1 in a multiprocessing child process (its siblings share the CPUs);
else the CPUs this process may run on (its affinity, not the machine's count), at most
MAX_DEFAULT_THREADS (more only add start-up cost for the matrices one fit factors).
"""

from __future__ import annotations

import multiprocessing
import os

from .errors import positive_int, warn

MAX_DEFAULT_THREADS = 8
# More threads than this are capped (with a warning): the core splits work into at most that many
# parts and counts them in C ints; no machine this runs on has more cores.
MAX_THREADS = 1024

_setting: int | None = None


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def _from_environment(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        count = int(value.split(",")[0])  # OMP_NUM_THREADS may list counts per nesting level
    except ValueError:
        return None
    if count < 1:
        return None
    if count > MAX_THREADS and (name, value) in _WARNED:  # read at every fit: warned once
        return MAX_THREADS
    _WARNED.add((name, value))
    return _capped(count, f"{name}={value}")


_WARNED: set[tuple[str, str]] = set()


def _capped(count: int, what: str) -> int:
    if count > MAX_THREADS:
        warn(f"{what} is more threads than mixedfit uses; using {MAX_THREADS}", UserWarning)
        return MAX_THREADS
    return count


def default_threads() -> int:
    for name in ("MIXEDFIT_NUM_THREADS", "OMP_NUM_THREADS"):
        count = _from_environment(name)
        if count is not None:
            return count
    if multiprocessing.parent_process() is not None:
        return 1
    return min(available_cpus(), MAX_DEFAULT_THREADS)


def get_threads() -> int:
    """The number of threads new fits and bootstraps use (set_threads's value, else the default)."""
    return _setting if _setting is not None else default_threads()


def set_threads(n: int | None) -> int | None:
    """Use n threads in the core (one factorization) and in bootstraps from now on; None restores
    the default. Returns the previous setting (None if it was the default).

    Parameters
    ----------
    n : int or None
        Threads, or None for the default.

    Returns
    -------
    int or None
        The previous setting.
    """
    global _setting
    count = positive_int(n, "the number of threads", allow_none=True)
    previous, _setting = _setting, None if count is None else _capped(count, f"set_threads({n})")
    return previous


def resolve(n_threads: int | None) -> int:
    """A call's thread count: its own argument, else the package setting."""
    if n_threads is None:
        return get_threads()
    return _capped(positive_int(n_threads, "n_threads", allow_none=True), f"n_threads={n_threads}")
