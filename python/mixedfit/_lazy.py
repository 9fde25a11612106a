"""Modules imported on first use rather than with mixedfit: scipy.stats alone took half of
`import mixedfit`'s 1.0 s (0.55 s), and a fit needs it only for p-values and intervals."""

from __future__ import annotations

from types import ModuleType


def stats() -> ModuleType:
    """scipy.stats (the import system's lock makes a first use from several threads safe)."""
    import scipy.stats

    return scipy.stats


def optimize() -> ModuleType:
    """scipy.optimize (0.27 s to import; the profile's root finding, all_fit, ranova and the
    family parameter's 1-D search use it)."""
    import scipy.optimize

    return scipy.optimize


def special() -> ModuleType:
    """scipy.special (zero models' logistic functions, draws' log-gamma)."""
    import scipy.special

    return scipy.special


def interpolate() -> ModuleType:
    """scipy.interpolate (it imports scipy.optimize; P-spline bases use its B-splines)."""
    import scipy.interpolate

    return scipy.interpolate


def integrate() -> ModuleType:
    """scipy.integrate (it imports scipy.optimize; smooth terms' tests integrate a characteristic
    function)."""
    import scipy.integrate

    return scipy.integrate


def spatial() -> ModuleType:
    """scipy.spatial (it imports scipy.special; thin plate splines' distances use its cdist)."""
    import scipy.spatial

    return scipy.spatial
