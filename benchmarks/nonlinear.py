"""Nonlinear mixed models: mixedfit.nlme against nlme's nlme() in one run, on Theoph, Soybean and a
simulated logistic growth curve of 10 visits per subject for 10³ and 10⁴ subjects (10⁴ and 10⁵
rows; random asymptote and midpoint). Each model is fitted by both from the same CSV; times are
medians over repetitions, and the log-likelihood difference says whether both reached the same
optimum. Writes benchmarks/results/nonlinear.md.

Usage (repository root; R with nlme):
    OPENBLAS_NUM_THREADS=1 python benchmarks/nonlinear.py [REPS]
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
import time
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd
from mixedfit.datasets import read_r_csv
from r_timing import r_fit_script, timed_r_fit
from report import Column, count, difference, seconds, speedup, text, write_report
from timed import median_fit

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"

R_FIT = r_fit_script(
    "nlme",
    setup="""
start <- eval(parse(text = args[5]))
random <- eval(parse(text = args[4]))
""",
    fit="nlme(as.formula(args[2]), data = d, fixed = as.formula(args[3]), random = random, start = start)",
    reps="as.integer(args[6])",
)

GROWTH = ("y ~ SSlogis(t, Asym, xmid, scal)", "Asym + xmid + scal ~ 1", "Asym + xmid ~ 1 | id")
# (name, data, mixedfit's (model, fixed, random, covariance), R's random, start)
CASES = [
    ("Theoph, SSfol, pdDiag", "Theoph", ("conc ~ SSfol(Dose, Time, lKe, lKa, lCl)", "lKe + lKa + lCl ~ 1", "lKa + lCl ~ 1 | Subject", "diag"),
     "list(Subject = pdDiag(lKa + lCl ~ 1))", {"lKe": -2.4, "lKa": 0.45, "lCl": -3.2}),
    ("Soybean, SSlogis, 3 × 3", "Soybean", ("weight ~ SSlogis(Time, Asym, xmid, scal)", "Asym + xmid + scal ~ 1", "Asym + xmid + scal ~ 1 | Plot", None),
     "Asym + xmid + scal ~ 1 | Plot", {"Asym": 17, "xmid": 52, "scal": 7.5}),
    ("growth, 10³ subjects", 1_000, (*GROWTH, None), "Asym + xmid ~ 1 | id", {"Asym": 90, "xmid": 5, "scal": 1.5}),
    ("growth, 10⁴ subjects", 10_000, (*GROWTH, None), "Asym + xmid ~ 1 | id", {"Asym": 90, "xmid": 5, "scal": 1.5}),
]  # fmt: skip


def growth(subjects: int, seed: int = 20261207) -> pd.DataFrame:
    """Ten visits t = 0.5, 1.5, ..., 9.5 per subject of a logistic curve with asymptote 100 + N(0, 10²),
    midpoint 5 + N(0, 0.5²), scale 1.5, and noise N(0, 2²)."""
    rng = np.random.default_rng(seed)
    t = np.tile(np.arange(10) + 0.5, subjects)
    id_ = np.repeat(np.arange(subjects), 10)
    asym = 100 + rng.normal(0, 10, subjects)[id_]
    xmid = 5 + rng.normal(0, 0.5, subjects)[id_]
    y = asym / (1 + np.exp((xmid - t) / 1.5)) + rng.normal(0, 2, len(t))
    return pd.DataFrame({"id": [f"s{k:05d}" for k in id_], "t": t, "y": y})


def r_start(start: dict) -> str:
    return "c(" + ", ".join(f"{k} = {v}" for k, v in start.items()) + ")"


def write(rows: list[dict], reps: int) -> str:
    columns = [
        text("model", "model"), count("rows", "rows"), seconds("mixedfit", "mixedfit (s)"), seconds("nlme", "nlme (s)"),
        speedup(), difference("loglik_difference", "log L − nlme's"), Column("iterations", lambda r: str(r["iterations"])),
    ]  # fmt: skip
    title = f"Nonlinear mixed models: mixedfit.nlme against nlme 3.1 (one run, median of {reps}, {time.strftime('%Y-%m-%d')})"
    note = "ML fits (benchmarks/nonlinear.py); log L difference > 0: mixedfit's is higher."
    return write_report("nonlinear", title, note, columns, rows)


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, data, (model, fixed, random, covariance), r_random, start in CASES:
            frame = growth(data) if isinstance(data, int) else read_r_csv(DATA / f"{data}.csv")
            path = Path(folder) / "data.csv"
            frame.to_csv(path, index=False)
            nlme_fit = functools.partial(mixedfit.nlme, model, frame, fixed, random, start=start, covariance=covariance)
            ours, m = median_fit(nlme_fit, reps)
            theirs, deviance = timed_r_fit(
                R_FIT, [str(path), model, fixed, r_random, r_start(start), str(reps)], f"nlme {name}"
            )
            rows.append({
                "model": name, "rows": len(frame), "mixedfit": ours, "nlme": theirs, "speedup": theirs / ours,
                "loglik_difference": m.loglik + deviance / 2, "iterations": m.iterations,
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    write(rows, reps)


if __name__ == "__main__":
    main()
