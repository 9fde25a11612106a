"""glmmTMB's families, zero-inflation and hurdles: mixedfit against glmmTMB in one run, on simulated
data of 10⁴ rows (500 sites × 20 visits, a covariate, a random intercept per site). Each model
is fitted by both from the same CSV; times are medians over repetitions, and the −2 log L
difference says whether both reached the same optimum. Writes benchmarks/results/families.md.

Usage (repository root; R with glmmTMB, benchmarks/install_r.sh):
    OPENBLAS_NUM_THREADS=1 python benchmarks/families.py [REPS]
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
from glmmtmb import fit_glmmtmb
from report import count, difference, evaluations, seconds, speedup, text, write_report
from timed import median_fit

HERE = Path(__file__).resolve().parent

FORMULA = "y ~ x + (1 | site)"


def simulated(seed: int = 20261207, sites: int = 500, visits: int = 20) -> pd.DataFrame:
    """x ~ N(0, 1), a site effect ~ N(0, 0.5²), η = 0.3 + 0.5 x + site; each response below drawn
    from its family at η (counts at exp(η), proportions at logistic(η), the heavy-tailed response
    10 + 2η plus 0.8 times a t with 4 degrees of freedom, the semicontinuous one a Tweedie's
    compound Poisson–gamma at exp(η) with φ = 1.2 and p = 1.4, the last NB2 counts with
    θ = exp(0.7 − 0.5 x))."""
    rng = np.random.default_rng(seed)
    n = sites * visits
    site = np.repeat(np.arange(sites), visits)
    x = rng.normal(size=n)
    eta = 0.3 + 0.5 * x + rng.normal(0, 0.5, sites)[site]
    mu = np.exp(eta)
    structural = rng.uniform(size=n) < 0.25
    data = pd.DataFrame({"site": [f"s{s}" for s in site], "x": x.round(5)})
    data["counts_nb2"] = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    data["counts_nb1"] = rng.negative_binomial(mu / 1.5, 1 / 2.5)
    data["counts_zip"] = np.where(structural, 0, rng.poisson(mu))
    data["counts_zinb"] = np.where(structural, 0, data["counts_nb2"])
    p = 1 / (1 + np.exp(-(eta - 0.3)))
    data["proportion"] = np.clip(rng.beta(p * 8, (1 - p) * 8), 1e-6, 1 - 1e-6).round(8)
    data["trials"] = rng.integers(1, 30, n)
    data["successes"] = rng.binomial(data["trials"], rng.beta(p * 5, (1 - p) * 5))
    data["heavy_tailed"] = (10 + 2 * eta + 0.8 * rng.standard_t(4, n)).round(6)
    # compound Poisson–gamma (Tweedie φ = 1.2, p = 1.4): N ~ Poisson(λ) gamma amounts
    jumps = rng.poisson(mu**0.6 / (1.2 * 0.6))
    amounts = rng.gamma(np.maximum(jumps, 1) * 0.6 / 0.4, 1.2 * 0.4 * mu**0.4)
    data["semicontinuous"] = np.where(jumps > 0, amounts, 0.0).round(6)
    # NB2 counts whose θ is log-linear in x (a dispersion model), drawn last: the columns above
    # keep the draws of earlier runs
    shape = np.exp(0.7 - 0.5 * x)
    data["counts_nb2_disp"] = rng.negative_binomial(shape, shape / (shape + mu))
    return data


CASES = [  # name, response column, family, ziformula, rows kept
    ("beta", "proportion", "beta", "", None),
    ("beta_binomial", "successes", "beta_binomial", "", None),
    ("nbinom2", "counts_nb2", "nbinom2", "", None),
    ("nbinom1", "counts_nb1", "nbinom1", "", None),
    ("genpois", "counts_nb1", "genpois", "", None),
    ("truncated_poisson", "counts_zip", "truncated_poisson", "", "positive"),
    ("truncated_nbinom2", "counts_nb2", "truncated_nbinom2", "", "positive"),
    ("zero-inflated Poisson", "counts_zip", "poisson", "~1", None),
    ("zero-inflated NB2", "counts_zinb", "nbinom2", "~x", None),
    ("hurdle NB2", "counts_zinb", "truncated_nbinom2", "~x", None),
    ("student_t", "heavy_tailed", "student_t", "", None),
    ("tweedie", "semicontinuous", "tweedie", "", None),
    ("dispersion NB2", "counts_nb2_disp", "nbinom2", "", None),
]
DISPERSION = {"dispersion NB2": "~x"}  # a case's dispformula (else the family's constant parameter)
R_FAMILY = {"beta": "beta_family", "beta_binomial": "betabinomial", "student_t": "t_family"}
# The beta-binomial's response is its successes out of the trials.
FORMULAS = {"beta_binomial": "cbind(y, trials - y) ~ x + (1 | site)"}


def timed_mixedfit(formula: str, frame: pd.DataFrame, family: str, zi: str, disp: str | None, reps: int, threads: int):
    """(median seconds, the last fit) of mixedfit's fit on a number of threads."""
    return median_fit(
        lambda: mixedfit.glmer(
            formula, frame, family=family, ziformula=zi or None, dispformula=disp, n_threads=threads
        ),
        reps,
    )


def write(rows: list[dict], reps: int) -> str:
    columns = [
        text("model", "model"), count("rows", "rows"), seconds("mixedfit", "mixedfit (s)"),
        seconds("glmmTMB", "glmmTMB (s)"), speedup(), seconds("mixedfit_2", "2 threads: mixedfit (s)"),
        seconds("glmmTMB_2", "glmmTMB (s)"), speedup("speedup_2"), difference("deviance_difference", "−2 log L − glmmTMB's"),
        evaluations("stage-2 evaluations (parameters)"),
    ]  # fmt: skip
    title = (
        f"glmmTMB's families: mixedfit against glmmTMB 1.1.5 (one run, median of {reps}, {time.strftime('%Y-%m-%d')})"
    )
    note = (
        f"`{FORMULA}` (beta-binomial: successes of 1–29 trials) on simulated data (benchmarks/families.py); −2 log L "
        "difference < 0: mixedfit's optimum is higher. One thread each (glmmTMB's default), and two each "
        "(mixedfit's `n_threads=2`; glmmTMB's `glmmTMBControl(parallel = 2)`)."
    )
    return write_report("families", title, note, columns, rows)


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    data = simulated()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, column, family, zi, kept in CASES:
            frame = data.assign(y=data[column])
            if kept == "positive":
                frame = frame[frame["y"] > 0]
            path = Path(folder) / "data.csv"
            frame[["site", "x", "y", "trials"]].to_csv(path, index=False)
            formula = FORMULAS.get(family, FORMULA)
            r_family = R_FAMILY.get(family, family)
            # Like against like: one thread each (glmmTMB's default), then two each (mixedfit's
            # default on this machine; glmmTMB's OpenMP with glmmTMBControl(parallel = 2)).
            disp = DISPERSION.get(name)
            ours, m = timed_mixedfit(formula, frame, family, zi, disp, reps, 1)
            ours2, _ = timed_mixedfit(formula, frame, family, zi, disp, reps, 2)
            tmb_seconds, tmb_deviance = fit_glmmtmb(path, formula, r_family, reps, zi or "~0", 1, disp or "~1")
            tmb2_seconds, _ = fit_glmmtmb(path, formula, r_family, reps, zi or "~0", 2, disp or "~1")
            rows.append({
                "model": name, "rows": len(frame), "mixedfit": ours, "glmmTMB": tmb_seconds,
                "speedup": tmb_seconds / ours, "mixedfit_2": ours2, "glmmTMB_2": tmb2_seconds,
                "speedup_2": tmb2_seconds / ours2, "deviance_difference": -2 * m.loglik - tmb_deviance,
                "evaluations": m.optsum.feval, "parameters": len(m.optsum.initial),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    write(rows, reps)


if __name__ == "__main__":
    main()
