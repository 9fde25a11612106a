"""Inference side by side with lme4/lmerTest on the inference test cases: profile intervals,
parametric bootstrap intervals, Satterthwaite tables and conditional variances, timed after the
fit in one run. Writes benchmarks/results/inference.md.

Usage (repository root): OPENBLAS_NUM_THREADS=1 python benchmarks/inference.py [DATA_DIR] [NSIM]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import mixedfit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conftest import load_dataset  # noqa: E402

MODELS = {
    "sleepstudy": lambda: mixedfit.lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy")),
    "penicillin": lambda: mixedfit.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", load_dataset("Penicillin")),
    "cbpp": lambda: mixedfit.glmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial"
    ),
}


def seconds(action, model) -> float:
    start = time.perf_counter()
    action(model)
    return time.perf_counter() - start


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else str(HERE.parent.parent / "shared" / "data")
    nsim = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    r = subprocess.run(
        ["Rscript", str(HERE / "inference_lme4.R"), data_dir, str(nsim)], capture_output=True, text=True, check=True
    )
    lme4 = json.loads(r.stdout)
    rows = ["| model | task | mixedfit (s) | lme4 (s) | speed-up |", "|---|---|---:|---:|---:|"]
    for name, make in MODELS.items():
        model = make()
        tasks = {
            "profile": lambda m: m.confint("profile"),
            "boot": lambda m: m.confint("boot", nsim=nsim, seed=1),
            "condvar": lambda m: m.ranef(condvar=True),
        }
        if isinstance(model, mixedfit.LinearMixedModel):
            tasks["satterthwaite"] = lambda m: m.coef_table
        ours = {task: seconds(action, model) for task, action in tasks.items()}
        for task, value in ours.items():
            theirs = lme4[name][task]
            rows.append(f"| {name} | {task} | {value:.3f} | {theirs:.3f} | {theirs / value:.1f}× |")
    text = f"Inference after the fit, bootstrap with nsim = {nsim} (mixedfit: 2 threads).\n\n" + "\n".join(rows) + "\n"
    (HERE / "results" / "inference.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
