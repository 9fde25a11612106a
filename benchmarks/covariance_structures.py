"""Covariance structures of random-effects terms: mixedfit against glmmTMB in one run, on simulated
longitudinal data of 10⁴ rows (625 subjects × 8 equally spaced times × 2 replicates, a covariate),
by ML; Gaussian (lmer) and Poisson (glmer) responses. Each model is fitted by both from the same
CSV; times are medians over repetitions, and the −2 log L difference says whether both reached
the same optimum. Writes benchmarks/results/covariance_structures.md.

Usage (repository root; R with glmmTMB, benchmarks/install_r.sh):
    OPENBLAS_NUM_THREADS=1 python benchmarks/covariance_structures.py [REPS]
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd
from glmmtmb import fit_glmmtmb
from report import difference, evaluations, seconds, speedup, text, write_report
from timed import median_fit

HERE = Path(__file__).resolve().parent

TIMES = 8


def simulated(seed: int = 20261207, subjects: int = 625, replicates: int = 2) -> pd.DataFrame:
    """Each subject's effects over the 8 times ~ N(0, Σ), Σ with SDs rising from 0.5 to 0.85 and
    correlation 0.7^|i−j|; η = 1 + 0.3 x + 0.05 time + effect; y = η + N(0, 0.5²), counts
    Poisson at exp(η − 0.5)."""
    rng = np.random.default_rng(seed)
    sds = np.linspace(0.5, 0.85, TIMES)
    lags = np.abs(np.subtract.outer(np.arange(TIMES), np.arange(TIMES)))
    effects = rng.multivariate_normal(np.zeros(TIMES), np.outer(sds, sds) * 0.7**lags, subjects)
    id_, time_ = np.meshgrid(np.arange(subjects), np.repeat(np.arange(TIMES), replicates), indexing="ij")
    id_, time_ = id_.ravel(), time_.ravel()
    x = rng.normal(size=len(id_))
    eta = 1 + 0.3 * x + 0.05 * time_ + effects[id_, time_]
    return pd.DataFrame({
        "id": [f"s{k}" for k in id_], "time": time_ + 1, "x": x.round(5),
        "y": (eta + rng.normal(0, 0.5, len(id_))).round(5), "count": rng.poisson(np.exp(eta - 0.5)),
    })  # fmt: skip


CASES = [  # name, random-effects term, family
    ("us, 1 + time", "(1 + time | id)", "gaussian"),
    ("diag", "diag(0 + factor(time) | id)", "gaussian"),
    ("cs", "cs(0 + factor(time) | id)", "gaussian"),
    ("ar1", "ar1(0 + factor(time) | id)", "gaussian"),
    ("toep", "toep(0 + factor(time) | id)", "gaussian"),
    ("ou", "ou(0 + numFactor(time) | id)", "gaussian"),
    ("exp", "exp(0 + numFactor(time) | id)", "gaussian"),
    ("gau", "gau(0 + numFactor(time) | id)", "gaussian"),
    ("rr, d = 2", "rr(0 + factor(time) | id, d = 2)", "gaussian"),
    ("ar1, Poisson", "ar1(0 + factor(time) | id)", "poisson"),
    ("cs, Poisson", "cs(0 + factor(time) | id)", "poisson"),
]


def fit_mixedfit(formula: str, data: pd.DataFrame, family: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "gaussian":
            return mixedfit.lmer(formula, data, REML=False)
        return mixedfit.glmer(formula, data, family=family)


def write(rows: list[dict], reps: int, n: int) -> str:
    columns = [
        text("model", "structure"), text("family", "family"), seconds("mixedfit", "mixedfit (s)"),
        seconds("glmmTMB", "glmmTMB (s)"), speedup(), difference("deviance_difference", "−2 log L − glmmTMB's"),
        evaluations("final-stage evaluations (parameters)"),
    ]  # fmt: skip
    title = f"Covariance structures: mixedfit against glmmTMB 1.1.5 (one run, median of {reps}, {time.strftime('%Y-%m-%d')})"
    note = (
        f"`y ~ x + time + term` by ML on {n:,} simulated rows (625 subjects × 8 times × 2; "
        "benchmarks/covariance_structures.py); −2 log L difference < 0: mixedfit's optimum is higher."
    )
    return write_report("covariance_structures", title, note, columns, rows)


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    data = simulated()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        data.to_csv(path, index=False)
        for name, term, family in CASES:
            formula = f"{'y' if family == 'gaussian' else 'count'} ~ x + time + {term}"
            ours, m = median_fit(functools.partial(fit_mixedfit, formula, data, family), reps)
            tmb_seconds, tmb_deviance = fit_glmmtmb(path, formula, family, reps)
            rows.append({
                "model": name, "family": family, "mixedfit": ours, "glmmTMB": tmb_seconds, "speedup": tmb_seconds / ours,
                "deviance_difference": -2 * m.loglik - tmb_deviance, "evaluations": m.optsum.feval,
                "parameters": len(m.optsum.initial),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    write(rows, reps, len(data))


if __name__ == "__main__":
    main()
