"""Many responses, one design: mixedfit's fit_many against an lme4 loop (lapply over refit, the
fastest pure-lme4 way) in one run, on sleepstudy-sized responses and on a 2,000-row crossed design.
Writes benchmarks/results/many.md.

Usage (repository root): OPENBLAS_NUM_THREADS=1 python benchmarks/many.py [RESPONSES]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

R_LOOP = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
Y <- as.matrix(read.csv(args[2], header = FALSE))
d$y <- Y[, 1]
m <- lmer(as.formula(args[3]), d)
t <- system.time(fits <- lapply(seq_len(ncol(Y)), function(k) refit(m, Y[, k])))[["elapsed"]]
cat(t, mean(vapply(fits, function(f) fixef(f)[2], 0)), "\n")
"""


def designs(n_responses: int) -> dict[str, tuple[pd.DataFrame, str, np.ndarray]]:
    rng = np.random.default_rng(20261126)
    sleep = mixedfit.datasets.load("sleepstudy")
    sleep_y = sleep["Reaction"].to_numpy()[:, None] + rng.normal(0, 20, (len(sleep), n_responses))
    n = 2000
    crossed = pd.DataFrame({"a": rng.integers(0, 100, n).astype(str), "b": rng.integers(0, 40, n).astype(str)})
    crossed["x"] = rng.normal(size=n)
    effects = rng.normal(size=100)[crossed["a"].astype(int)] + rng.normal(size=40)[crossed["b"].astype(int)]
    crossed_y = (crossed["x"].to_numpy() + effects)[:, None] + rng.normal(size=(n, n_responses))
    return {
        "sleepstudy (180 rows)": (sleep, "y ~ Days + (Days | Subject)", sleep_y),
        "crossed (2,000 rows, 100 × 40)": (crossed, "y ~ x + (1 | a) + (1 | b)", crossed_y),
    }


def main() -> None:
    n_responses = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "loop.R"
        script.write_text(R_LOOP)
        for name, (data, formula, Y) in designs(n_responses).items():
            start = time.perf_counter()
            table = mixedfit.fit_many(formula, data, Y)
            ours = time.perf_counter() - start
            data_path, y_path = Path(folder) / "data.csv", Path(folder) / "y.csv"
            data.to_csv(data_path, index=False)
            np.savetxt(y_path, Y, delimiter=",")
            out = subprocess.run(["Rscript", str(script), str(data_path), str(y_path), formula], capture_output=True, text=True)
            lme4_seconds, lme4_slope = map(float, out.stdout.split())
            slope = table.iloc[:, 1].mean()
            rows.append((name, n_responses, ours, lme4_seconds, lme4_seconds / ours, abs(slope - lme4_slope)))
            print(rows[-1], flush=True)
    lines = [
        f"# fit_many against an lme4 refit loop ({n_responses:,} responses, one run)",
        "",
        "| design | responses | mixedfit fit_many (s) | lme4 lapply(refit) (s) | speed-up | mean slope difference |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {r[0]} | {r[1]:,} | {r[2]:.2f} | {r[3]:.1f} | {r[4]:.0f}× | {r[5]:.1e} |" for r in rows],
    ]
    (HERE / "results" / "many.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
