"""Smooth terms: mixedfit's lmer/glmer with s(...) against gamm4 (mgcv's bases in lme4) in one
run. mgcv's gamSim(6)-style data — four additive effects f0(x0) = 2 sin(πx0), f1(x1) = e^{2x1},
f2(x2) = 0.2x2¹¹(10(1−x2))⁶ + 10(10x2)³(1−x2)¹⁰ and a random intercept per group — of 400 rows
(the test data) up to 10⁴ rows, Gaussian and Poisson. Each model is fitted by both from the same
CSV; times are medians over repetitions, and the −2 log L difference says whether both reached
the same optimum. Writes benchmarks/results/smooths.md.

Usage (repository root; R with gamm4):
    OPENBLAS_NUM_THREADS=1 python benchmarks/smooths.py [REPS]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd
from r_timing import r_fit_script, timed_r_fit
from report import count, difference, seconds, speedup, text, write_report
from timed import median_fit

HERE = Path(__file__).resolve().parent

R_FIT = r_fit_script(
    "gamm4",
    setup="family <- get(args[4])()",
    fit="gamm4(as.formula(args[2]), random = as.formula(args[3]), data = d, family = family)",
    reps="as.integer(args[5])",
    criterion="-2 * as.numeric(logLik(m$mer))",
)

# (name, rows, mixedfit's formula, gamm4's formula, gamm4's random part, family)
CASES = [
    ("cr, 2 smooths", 400, "y ~ s(x0, bs='cr') + s(x2, bs='cr') + (1 | g)", "y ~ s(x0, bs='cr') + s(x2, bs='cr')", "~(1 | g)", "gaussian"),
    ("tp, 2 smooths", 400, "y ~ s(x0) + s(x2) + (1 | g)", "y ~ s(x0) + s(x2)", "~(1 | g)", "gaussian"),
    ("tp surface, k = 30", 400, "y ~ s(x0, x2) + (1 | g)", "y ~ s(x0, x2)", "~(1 | g)", "gaussian"),
    ("tp, 2 smooths", 2000, "y ~ s(x0) + s(x2) + (1 | g)", "y ~ s(x0) + s(x2)", "~(1 | g)", "gaussian"),
    ("cr, 3 smooths", 10_000, "y ~ s(x0, bs='cr') + s(x1, bs='cr') + s(x2, bs='cr') + (1 | g)",
     "y ~ s(x0, bs='cr') + s(x1, bs='cr') + s(x2, bs='cr')", "~(1 | g)", "gaussian"),
    ("Poisson, cr, 2 smooths", 10_000, "count ~ s(x0, bs='cr') + s(x2, bs='cr') + (1 | g)",
     "count ~ s(x0, bs='cr') + s(x2, bs='cr')", "~(1 | g)", "poisson"),
]  # fmt: skip


def simulated(rows: int, seed: int = 20261207, groups: int = 40) -> pd.DataFrame:
    """gamSim(6)'s additive truth with a random intercept per group, Gaussian noise of SD 2, and
    a Poisson count with a quarter of the same linear predictor."""
    rng = np.random.default_rng(seed + rows)
    x = rng.uniform(size=(rows, 3))
    f = (
        2 * np.sin(np.pi * x[:, 0])
        + np.exp(2 * x[:, 1])
        + 0.2 * x[:, 2] ** 11 * (10 * (1 - x[:, 2])) ** 6
        + 10 * (10 * x[:, 2]) ** 3 * (1 - x[:, 2]) ** 10
    )
    g = rng.integers(groups, size=rows)
    eta = f + rng.normal(0, 2, groups)[g]
    return pd.DataFrame({
        "y": eta + rng.normal(0, 2, rows), "count": rng.poisson(np.exp(0.25 * eta - 1)),
        "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "g": [f"g{k:02d}" for k in g],
    })  # fmt: skip


def timed_mixedfit(formula: str, frame: pd.DataFrame, family: str, reps: int):
    """(median seconds, the last fit)."""
    if family == "gaussian":
        return median_fit(lambda: mixedfit.lmer(formula, frame), reps)
    return median_fit(lambda: mixedfit.glmer(formula, frame, family=family), reps)


def write(rows: list[dict], reps: int) -> str:
    columns = [
        text("model", "model"), text("family", "family"), count("rows", "rows"), seconds("mixedfit", "mixedfit (s)"),
        seconds("gamm4", "gamm4 (s)"), speedup(), difference("deviance_difference", "−2 log L − gamm4's"),
    ]  # fmt: skip
    title = (
        f"Smooth terms: mixedfit against gamm4 0.2-6 / mgcv 1.8-41 (one run, median of {reps}, "
        f"{time.strftime('%Y-%m-%d')})"
    )
    note = (
        "gamSim(6)-style data with a random intercept per group (benchmarks/smooths.py); −2 log L (REML for the "
        "Gaussian fits, Laplace for the Poisson) difference < 0: mixedfit's optimum is higher."
    )
    return write_report("smooths", title, note, columns, rows)


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, n, formula, gamm4_formula, random, family in CASES:
            frame = simulated(n)
            path = Path(folder) / "data.csv"
            frame.to_csv(path, index=False)
            ours, m = timed_mixedfit(formula, frame, family, reps)
            theirs, deviance = timed_r_fit(
                R_FIT, [str(path), gamm4_formula, random, family, str(reps)], f"gamm4 {name}"
            )
            rows.append({
                "model": name, "family": family, "rows": n, "mixedfit": ours, "gamm4": theirs, "speedup": theirs / ours,
                "deviance_difference": -2 * m.loglik - deviance,
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    write(rows, reps)


if __name__ == "__main__":
    main()
