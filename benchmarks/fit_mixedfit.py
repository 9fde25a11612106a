"""Fit one benchmark model with mixedfit in this process; print timing and result as JSON.

Usage: python fit_mixedfit.py '<model spec JSON>'. Run as a child of run.py so that peak
memory is this fit's alone.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import mixedfit
import numpy as np
from mixedfit.datasets import read_r_csv


def fit(spec: dict):
    data = read_r_csv(spec["data"])  # end to end: from the file, as lme4's side does
    if spec["family"] is None:
        return mixedfit.lmer(spec["formula"], data, REML=spec["REML"], weights=spec["weights"])
    return mixedfit.glmer(spec["formula"], data, family=spec["family"], nAGQ=spec["nAGQ"], weights=spec["weights"])


def main() -> None:
    spec = json.loads(sys.argv[1])
    warnings.simplefilter("ignore")
    times = []
    for _ in range(spec["reps"]):
        start = time.perf_counter()
        model = fit(spec)
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": float(np.median(times)),
                "objective": model.objective,
                "loglik": model.loglik,
                "feval": model.optsum.feval,
                "peak_mb": peak_mb,
                "factorization": model._core.factorization,
            }
        )
    )


if __name__ == "__main__":
    main()
