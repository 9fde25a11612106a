"""Fit every benchmark model with mixedfit and with lme4 in the same run; report times,
their ratio, the objective difference and peak memory.

Usage (from the repository root, after `pip install ".[bench]"` and benchmarks/install_r.sh):
    OPENBLAS_NUM_THREADS=1 python benchmarks/run.py [--zoo] [--only NAME ...] [--skip-lme4]
(one BLAS thread: otherwise idle OpenBLAS threads spinning on the second core add noise).
Writes benchmarks/results/results.md, results.json and scaling.png; with --zoo the structure
zoo instead, to zoo.md and zoo.json (with the factorization each model chose).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from models import HERE, all_models, zoo_models

RESULTS = HERE / "results"
TIMEOUT = 1800  # seconds per side per model


def run_child(command: list[str]) -> dict:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {TIMEOUT} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def previous_rows(name: str) -> dict[str, dict]:
    """The last run's rows by model name (empty if there is none); rows of runs before rows had
    their own date take the date their table's header gives."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return {}
    header = (RESULTS / f"{name}.md").read_text().split("\n", 1)[0] if (RESULTS / f"{name}.md").exists() else ""
    found = re.search(r"Run on (\d{4}-\d{2}-\d{2})", header)
    rows = json.loads(path.read_text())
    for row in rows:
        row.setdefault("date", found.group(1) if found else "unknown")
    return {row["name"]: row for row in rows}


def fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def markdown(rows: list[dict], zoo: bool = False) -> str:
    lines = [
        "| model | rows | mixedfit (s) | lme4 (s) | speed-up | objective − lme4's | mixedfit peak MB | lme4 peak MB | evaluations (mixedfit / lme4) |"
        + (" factorization |" if zoo else "") + " date |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if zoo else "") + "---|",
    ]
    for r in rows:
        mf, r4 = r["mixedfit"], r["lme4"]
        speedup = r4["seconds"] / mf["seconds"] if "seconds" in mf and "seconds" in r4 else None
        diff = mf["objective"] - r4["objective"] if "objective" in mf and "objective" in r4 else None
        lines.append(
            f"| {r['name']} | {r['rows']:,} | {fmt(mf.get('seconds'), '.3f')} | "
            f"{fmt(r4.get('seconds'), '.3f') if 'error' not in r4 else r4['error']} | {fmt(speedup, '.1f')}× | "
            f"{fmt(diff, '.2e')} | {fmt(mf.get('peak_mb'), '.0f')} | {fmt(r4.get('peak_mb'), '.0f')} | "
            f"{mf.get('feval', '—')} / {r4.get('feval', '—')} |"
            + (f" {mf.get('factorization', mf.get('error', '—'))} |" if zoo else "")
            + f" {r.get('date', 'unknown')} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for series in sorted({r["series"] for r in rows if r["series"]}):
        points = [r for r in rows if r["series"] == series]
        for side, marker in (("mixedfit", "o-"), ("lme4", "s--")):
            xs = [r["rows"] for r in points if "seconds" in r[side]]
            ys = [r[side]["seconds"] for r in points if "seconds" in r[side]]
            if xs:
                ax.plot(xs, ys, marker, label=f"{side}: {series}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds per fit (median)")
    ax.set_title("Two crossed factors: time against rows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "scaling.png", dpi=120)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="model names to run (their rows replace those of the last run)")
    parser.add_argument("--skip-lme4", action="store_true")
    parser.add_argument("--zoo", action="store_true", help="the structure zoo")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    name = "zoo" if args.zoo else "results"
    today = time.strftime("%Y-%m-%d")
    earlier = previous_rows(name) if args.only else {}
    rows = []
    for model in zoo_models() if args.zoo else all_models():
        if args.only and model.name not in args.only and model.name in earlier:
            rows.append(earlier[model.name])
            continue
        if args.only and model.name not in args.only:
            continue
        spec = json.dumps(model.spec())
        mixedfit = run_child([sys.executable, str(HERE / "fit_mixedfit.py"), spec])
        lme4 = {"error": "skipped"} if args.skip_lme4 else run_child(["Rscript", str(HERE / "fit_lme4.R"), spec])
        row = {"name": model.name, "rows": model.rows, "series": model.series, "mixedfit": mixedfit, "lme4": lme4,
               "date": today}
        rows.append(row)
        print(markdown([row], args.zoo).splitlines()[-1], flush=True)
    dates = sorted({row.get("date", "unknown") for row in rows})
    header = (
        f"Run on {' and '.join(dates)} (rows re-run alone with --only: the date column), {platform.machine()}, {cpu_model()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; median wall time of "
        "repeated end-to-end fits (reading the CSV included) in the same run.\n\n"
    )
    if args.zoo:
        header += (
            "Fits per model (both libraries the same): 10 where lme4 takes under 1 s, 5 under 6 s, 3 for "
            "InstEval, 1 for classes in schools and VerbAgg; a process's first fit is slower than the next "
            "(mixedfit: pyarrow's and the core's first use, ~10-50 ms), so single fits would measure that.\n\n"
        )
    (RESULTS / f"{name}.md").write_text(header + markdown(rows, args.zoo) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=1))
    if not args.zoo:
        plot(rows)


if __name__ == "__main__":
    main()
