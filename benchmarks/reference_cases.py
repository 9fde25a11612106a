"""For each lme4 reference case of the test suite: mixedfit's objective (or log-likelihood)
difference from lme4 and its fit time next to lme4's (timed when the reference was made).

Usage (repository root): python benchmarks/reference_cases.py
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import mixedfit
import numpy as np

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))
from conftest import load_dataset  # noqa: E402


def fit_case(case: dict, data):
    if "family" not in case:
        return mixedfit.lmer(case["formula"], data, REML=case["REML"], weights=case["weights"])
    family = case["family"].replace("inverse.gaussian", "inverse_gaussian")
    return mixedfit.glmer(case["formula"], data, family=family, link=case["link"], nAGQ=case["nAGQ"], weights=case["weights"])


def median_seconds(case: dict, data, reps: int) -> tuple[float, object]:
    times, model = [], None
    for _ in range(reps):
        start = time.perf_counter()
        model = fit_case(case, data)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), model


def main() -> None:
    warnings.simplefilter("ignore")
    print("| case | kind | mixedfit − lme4 | mixedfit (s) | lme4 (s) | speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for kind, filename in (("LMM objective", "lmm_reference.json"), ("GLMM −2 log L", "glmm_reference.json")):
        cases = json.loads((TESTS / "reference" / filename).read_text())["cases"]
        for name, case in cases.items():
            data = load_dataset(case["dataset"])
            seconds, model = median_seconds(case, data, reps=1 if case["seconds"] > 10 else 5)
            diff = -2 * (model.loglik - case["loglik"]) if "family" in case else model.objective - case["objective"]
            print(f"| {name} | {kind} | {diff:.2e} | {seconds:.3f} | {case['seconds']:.3f} | {case['seconds'] / seconds:.1f}× |")


if __name__ == "__main__":
    main()
