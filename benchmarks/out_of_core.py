"""An LMM with crossed random effects on up to 10⁸ rows from Parquet, out of core on a local Dask
cluster, against lme4 in memory at the sizes it can fit here — one run.

Design: y = 1 + 0.5 x + s[subject] + i[item] + ε with 2,000 subjects × 100 items, every
subject–item cell observed n / 200,000 times (trials), `y ~ x + (1 | subject) + (1 | item)`.
The Parquet files are generated here (not committed) into --folder, 10⁶ rows per file.

    python benchmarks/out_of_core.py --rows 10000000 100000000 --lme4-rows 1000000 10000000

writes benchmarks/results/out_of_core.md (and .json). lme4's data are drawn in R with the same
design (its time depends on the design and n, not on the draws).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SUBJECTS, ITEMS, ROWS_PER_FILE = 2_000, 100, 1_000_000
R_ADDRESS_SPACE = 20 * 1024**3
FORMULA = "y ~ x + (1 | subject) + (1 | item)"


def generate(folder: Path, rows: int, seed: int = 1) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    s_effect, i_effect = rng.normal(0, 1.0, SUBJECTS), rng.normal(0, 0.5, ITEMS)
    for k, start in enumerate(range(0, rows, ROWS_PER_FILE)):
        n = min(ROWS_PER_FILE, rows - start)
        cell = (start + np.arange(n)) % (SUBJECTS * ITEMS)
        subject, item = (cell // ITEMS).astype(np.int32), (cell % ITEMS).astype(np.int32)
        x = rng.normal(size=n)
        y = 1 + 0.5 * x + s_effect[subject] + i_effect[item] + rng.normal(size=n)
        table = pa.table({"y": y, "x": x, "subject": subject, "item": item})
        pq.write_table(table, folder / f"part-{k:04d}.parquet")


def worker_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_out_of_core(folder: Path, workers: int, memory_limit: str) -> dict:
    import dask.dataframe as dd
    import distributed
    import mixedfit

    with distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        ddf = dd.read_parquet(str(folder))
        start = time.perf_counter()
        fit = mixedfit.lmer(FORMULA, ddf)
        seconds = time.perf_counter() - start
        peaks = client.run(worker_peak_rss_mb)
    return {
        "seconds": seconds, "objective": fit.objective, "n_pseudo": fit.n_pseudo, "nobs": fit.nobs,
        "fixef": fit.fixef.round(6).to_dict(), "sd": fit.VarCorr["sdcor"].round(6).tolist(),
        "worker_peak_mb": max(peaks.values()), "client_peak_mb": worker_peak_rss_mb(),
    }


R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
n <- as.numeric(args[1])
set.seed(1)
cell <- (seq_len(n) - 1) %% (SUBJECTS * ITEMS)
d <- data.frame(subject = factor(cell %/% ITEMS), item = factor(cell %% ITEMS), x = rnorm(n))
d$y <- 1 + 0.5 * d$x + rnorm(SUBJECTS)[as.integer(d$subject)] + rnorm(ITEMS, 0, 0.5)[as.integer(d$item)] + rnorm(n)
t <- system.time(m <- lmer(y ~ x + (1 | subject) + (1 | item), d, REML = TRUE))[["elapsed"]]
cat(sprintf('{"seconds": %.3f, "objective": %.6f, "peak_mb": %.0f}\n', t, REMLcrit(m), sum(gc()[, 6])))
""".replace("SUBJECTS", str(SUBJECTS)).replace("ITEMS", str(ITEMS))


def fit_lme4(rows: int, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(R_SCRIPT)
    try:
        started = time.perf_counter()
        out = subprocess.run(
            # R's address space capped below the machine's 24 GB: past it lme4 fails with "cannot
            # allocate" instead of bringing in the kernel's OOM killer.
            ["prlimit", f"--as={R_ADDRESS_SPACE}", "/usr/bin/time", "-v", "Rscript", handle.name, str(rows)],
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"over {timeout:.0f} s"}
    if out.returncode != 0:
        errors = [line.strip() for line in out.stderr.splitlines() if "Error" in line or "cannot allocate" in line]
        return {"failed": "; ".join(errors) or f"exit {out.returncode}"}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rss = [line for line in out.stderr.splitlines() if "Maximum resident set size" in line]
    result["process_peak_mb"] = int(rss[0].split()[-1]) / 1024 if rss else None
    result["wall_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--lme4-rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "mixedfit-out-of-core")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--lme4-timeout", type=float, default=1800)
    args = parser.parse_args()
    results = {"mixedfit": {}, "lme4": {}}
    for rows in args.rows:
        folder = args.folder / f"rows-{rows}"
        if not folder.exists():
            began = time.perf_counter()
            generate(folder, rows)
            print(f"generated {rows} rows in {time.perf_counter() - began:.1f} s")
        results["mixedfit"][rows] = fit_out_of_core(folder, args.workers, args.memory_limit)
        print(rows, results["mixedfit"][rows], flush=True)
    for rows in args.lme4_rows:
        results["lme4"][rows] = fit_lme4(rows, args.lme4_timeout)
        print("lme4", rows, results["lme4"][rows], flush=True)
    out = HERE / "results"
    (out / "out_of_core.json").write_text(json.dumps(results, indent=2, default=str))
    lines = [
        f"# Out of core: `{FORMULA}`, {SUBJECTS} subjects × {ITEMS} items, Parquet on a local Dask cluster",
        "",
        f"{args.workers} worker processes (1 thread each, memory limit {args.memory_limit}) on this project's 2-core machine; lme4 in memory, one R process.",
        "",
        "| rows | mixedfit out of core (s) | pseudo-observations | worker peak RSS (MB) | client peak RSS (MB) | lme4 (s) | lme4 peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in sorted(set(args.rows) | set(args.lme4_rows)):
        m, r = results["mixedfit"].get(rows, {}), results["lme4"].get(rows, {})
        lme4_time = f"fails: {r['failed']}" if "failed" in r else (f"{r['seconds']:.1f}" if r else "—")
        number = lambda v, digits=0: "—" if v is None else f"{v:.{digits}f}"  # noqa: E731
        lines.append(
            f"| {rows:,} | {number(m.get('seconds'), 1)} | {m.get('n_pseudo', '—')} | {number(m.get('worker_peak_mb'))} | "
            f"{number(m.get('client_peak_mb'))} | {lme4_time} | {number(r.get('process_peak_mb'))} |"
        )
    (out / "out_of_core.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.folder.exists() and args.folder.is_relative_to(Path(tempfile.gettempdir())):
        shutil.rmtree(args.folder, ignore_errors=True)


if __name__ == "__main__":
    main()
