"""A smooth's variance at zero can be a local optimum only: the restricted likelihood of a smooth's
variance can have two modes, one at zero (the smooth a straight line) and one inside (gamSim's
Poisson data: −2 log L 896.110 at 0, a barrier at 0.015, 896.025 at 0.041). When the search
ends with a smooth's variance at zero, its criterion is scanned along that variance alone; a
better point found there restarts the search."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..design.matrices import Design
from ..design.smooths import SmoothTerm

# The smooth's relative SD tried: a geometric grid wide enough for penalties scaled as mgcv's.
SCANNED_SDS = np.geomspace(1e-3, 10.0, 13)
IMPROVEMENT = 1e-6  # of the criterion, for a restart


def start_off_boundary(
    design: Design, theta: np.ndarray, criterion: Callable[[np.ndarray], float]
) -> np.ndarray | None:
    """θ with a zero smooth SD moved to where the criterion is lowest along it, if that is lower
    than at θ (None otherwise; the criterion is left evaluated at θ)."""
    at_zero = [
        sl for t, sl in zip(design.terms, design.theta_slices()) if isinstance(t.term, SmoothTerm) and theta[sl][0] == 0
    ]
    if not at_zero:
        return None
    best, start = criterion(theta), None
    for sl in at_zero:
        for sd in SCANNED_SDS:
            trial = theta.copy()
            trial[sl] = sd
            value = criterion(trial)
            if value < best - IMPROVEMENT:
                best, start = value, trial
    criterion(theta)
    return start
