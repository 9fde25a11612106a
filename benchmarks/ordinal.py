"""Cumulative link mixed models: mixedfit.clmm against ordinal's clmm in one run, on ordinal's wine
and soup data and on simulated ratings of 10⁴ rows (500 raters × 20 items, 5 categories).
Each model is fitted by both from the same CSV; times are medians over repetitions, and the
−2 log L difference says whether both reached the same optimum. Writes
benchmarks/results/ordinal.md.

Usage (repository root; R with ordinal, benchmarks/install_r.sh):
    OPENBLAS_NUM_THREADS=1 python benchmarks/ordinal.py [REPS]
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
from report import Column, count, difference, evaluations, seconds, speedup, text, write_report
from timed import median_fit

HERE = Path(__file__).resolve().parent
TESTS_DATA = HERE.parent / "tests" / "data"

R_FIT = r_fit_script(
    "ordinal",
    setup="""
for (column in strsplit(args[5], ",")[[1]]) d[[column]] <- factor(d[[column]])
d$y <- factor(d$y, ordered = TRUE)
""",
    fit="clmm(as.formula(args[2]), data = d, link = args[3])",
    reps="as.integer(args[4])",
)


def fit_ordinal(csv: Path, formula: str, link: str, reps: int, factors: list[str]) -> tuple[float, float]:
    """(median seconds, −2 log L) of ordinal's clmm on the CSV (y: the ordered response)."""
    return timed_r_fit(R_FIT, [str(csv), formula, link, str(reps), ",".join(factors)], f"clmm on {formula}")


def simulated(seed: int = 20261207, raters: int = 500, items: int = 20) -> pd.DataFrame:
    """A latent logistic variable 0.8 x + 0.5 (group B) + rater effect ~ N(0, 1), cut at
    −1.5, −0.3, 0.6, 1.8 into ratings 1–5."""
    rng = np.random.default_rng(seed)
    n = raters * items
    rater = np.repeat(np.arange(raters), items)
    x = rng.normal(size=n)
    group = rng.choice(["A", "B"], size=n)
    latent = 0.8 * x + 0.5 * (group == "B") + rng.normal(0, 1, raters)[rater] + rng.logistic(size=n)
    y = 1 + np.searchsorted([-1.5, -0.3, 0.6, 1.8], latent)
    return pd.DataFrame({"y": y, "x": x.round(5), "group": group, "rater": [f"r{r}" for r in rater]})


def wine() -> pd.DataFrame:
    data = read_r_csv(TESTS_DATA / "wine.csv")
    return data.assign(y=data["rating"].astype(int))


def soup() -> pd.DataFrame:
    data = read_r_csv(TESTS_DATA / "soup.csv.gz")
    return data.assign(y=data["SURENESS"].astype(int))


CASES = [  # name, data, formula, link, columns R must read as factors
    ("wine", wine, "y ~ temp + contact + (1 | judge)", "logit", ["judge"]),
    ("wine, crossed", wine, "y ~ temp + contact + (1 | judge) + (1 | bottle)", "logit", ["judge", "bottle"]),
    ("soup, nested, probit", soup, "y ~ PROD + (1 | RESP) + (1 | RESP:PROD)", "probit", ["RESP"]),
    ("soup", soup, "y ~ PROD + DAY + GENDER + (1 | RESP)", "logit", ["RESP", "DAY"]),
    ("simulated", simulated, "y ~ x + group + (1 | rater)", "logit", []),
    ("simulated, probit", simulated, "y ~ x + group + (1 | rater)", "probit", []),
]


def write(rows: list[dict], reps: int) -> str:
    columns = [
        text("model", "model"), Column("formula", lambda r: f"`{r['formula']}`", left=True), text("link", "link"),
        count("rows", "rows"), seconds("mixedfit", "mixedfit (s)"), seconds("ordinal", "ordinal (s)"), speedup(),
        difference("deviance_difference", "−2 log L − ordinal's"), evaluations("evaluations (parameters)"),
    ]  # fmt: skip
    title = (
        f"Cumulative link mixed models: mixedfit.clmm against ordinal 2022.11's clmm (one run, median of {reps}, "
        f"{time.strftime('%Y-%m-%d')})"
    )
    note = "benchmarks/ordinal.py; the Laplace approximation in both; −2 log L difference < 0: mixedfit's optimum is higher."
    return write_report("ordinal", title, note, columns, rows)


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, make, formula, link, factors in CASES:
            frame = make()
            path = Path(folder) / "data.csv"
            frame.to_csv(path, index=False)
            ours, m = median_fit(functools.partial(mixedfit.clmm, formula, frame, link=link), reps)
            r_seconds, r_deviance = fit_ordinal(path, formula, link, reps, factors)
            rows.append({
                "model": name, "formula": formula, "link": link, "rows": len(frame), "mixedfit": ours,
                "ordinal": r_seconds, "speedup": r_seconds / ours, "deviance_difference": -2 * m.loglik - r_deviance,
                "evaluations": m.optsum.feval, "parameters": len(m.optsum.initial),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    write(rows, reps)


if __name__ == "__main__":
    main()
