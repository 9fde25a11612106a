"""A field trial with separable AR(1) ⊗ AR(1) residuals: 100 × 100 plots, 200 genotypes (random),
simulated with φ_row = 0.6, φ_col = 0.4 and a genotype SD of 0.5 — complete, and with 200 plots
missing at random; `y ~ 1 + (1 | geno)` with
`corAR1xAR1("row", "col")` by REML, timed end to end (median of REPS; nlme and glmmTMB have no
such structure). Writes benchmarks/results/field_trial.md.

Usage (repository root):
    OPENBLAS_NUM_THREADS=1 python benchmarks/field_trial.py [REPS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def simulated(seed: int = 5, side: int = 100, genotypes: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    lags = np.abs(np.subtract.outer(np.arange(side), np.arange(side)))
    field = np.linalg.cholesky(0.6**lags) @ rng.normal(size=(side, side)) @ np.linalg.cholesky(0.4**lags).T
    geno = rng.integers(0, genotypes, side * side)
    return pd.DataFrame({
        "row": rows.ravel() + 1, "col": cols.ravel() + 1, "geno": [f"g{g}" for g in geno],
        "y": 5 + rng.normal(0, 0.5, genotypes)[geno] + field.ravel(),
    })  # fmt: skip


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    full = simulated()
    incomplete = full.drop(index=np.random.default_rng(6).choice(len(full), 200, replace=False))
    lines = [
        f"# Field trial, AR(1) ⊗ AR(1): 100 × 100 plots, 200 genotypes (median of {reps}, {time.strftime('%Y-%m-%d')})",
        "",
        "| plots | genotypes | seconds (fit, with the convergence check) | evaluations | φ_row, φ_col (simulated 0.6, 0.4) | genotype SD (0.5) |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for data in (full, incomplete):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            m = mixedfit.lmer("y ~ 1 + (1 | geno)", data, correlation=mixedfit.corAR1xAR1("row", "col"))
            times.append(time.perf_counter() - start)
        phi = m.correlation_estimate
        lines.append(
            f"| {len(data):,} | 200 | {np.median(times):.2f} | {m.optsum.feval} | {phi[0]:.3f}, {phi[1]:.3f} | "
            f"{m.VarCorr['sdcor'].iloc[0]:.3f} |"
        )
    (HERE / "results" / "field_trial.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
