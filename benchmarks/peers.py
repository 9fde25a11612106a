"""mixedfit beside its peers in one run: lme4 and glmmTMB (R), and the Rust-based Python packages
lme-python and glmm (PyPI; benchmark-only, never dependencies: `pip install lme-python glmm`).
Each package fits each model REPS times from data already in memory (R: read once by the
script, then timed; the Python packages in turns, one fit each per round, a package stopping
after two minutes); the table gives median seconds, each peer's time over mixedfit's, and the
criterion each reports (REML criterion or −2 log L). lme-python's GLMM log-likelihoods leave out
constants (binomial coefficients, log y!), so its −2 log L is not comparable there (marked). A
peer that cannot fit a model has "—". Writes benchmarks/results/peers.md.

Usage (repository root; R with lme4 and glmmTMB: benchmarks/install_r.sh):
    OPENBLAS_NUM_THREADS=1 python benchmarks/peers.py [REPS]
"""

from __future__ import annotations

import datetime
import functools
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd
from glmmtmb import fit_glmmtmb
from r_timing import r_fit_script, timed_r_fit

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "python" / "mixedfit" / "data"
SHARED = HERE.parent.parent / "shared" / "data"

LME4_FIT = r_fit_script(
    "lme4",
    setup="""
for (column in strsplit(args[5], ",")[[1]]) d[[column]] <- factor(d[[column]])
fit <- function() if (args[3] == "gaussian") lmer(as.formula(args[2]), d) else
  glmer(as.formula(args[2]), d, family = get(args[3])())
""",
    fit="suppressMessages(fit())",
    reps="as.integer(args[4])",
    criterion='if (args[3] == "gaussian") REMLcrit(m) else -2 * as.numeric(logLik(m))',
)


@dataclass(frozen=True)
class Case:
    name: str
    csv: Path
    formula: str  # lme4's
    family: str  # "gaussian" (lmer, REML) or a glmer family
    counts: str | None = None  # binomial: "successes,trials", for the peers without cbind(y, n - y)

    def data(self) -> pd.DataFrame:
        data = mixedfit.datasets.read_r_csv(self.csv)
        if self.counts:
            successes, trials = self.counts.split(",")
            data["failures"] = data[trials] - data[successes]
        return data

    def peer_formula(self) -> str:
        """The formula for packages whose cbind() takes two columns."""
        if not self.counts:
            return self.formula
        successes, _ = self.counts.split(",")
        return f"cbind({successes}, failures) ~ " + self.formula.split("~", 1)[1]


CASES = [
    Case("sleepstudy", DATA / "sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "gaussian"),
    Case("Penicillin (crossed)", DATA / "Penicillin.csv", "diameter ~ 1 + (1 | plate) + (1 | sample)", "gaussian"),
    Case(
        "cbpp (binomial)",
        DATA / "cbpp.csv",
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        "binomial",
        counts="incidence,size",
    ),
    Case(
        "grouseticks (Poisson, 3 crossed)",
        DATA / "grouseticks.csv",
        "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
        "poisson",
    ),
    Case(
        "VerbAgg (binomial, crossed)",
        SHARED / "VerbAgg.csv",
        "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
        "binomial",
    ),
]


def interleaved_times(fits: dict[str, object], reps: int, limit: float) -> dict[str, tuple[float, object]]:
    """Median seconds of reps fits of each package (after one warm-up each), and its last fit;
    the packages take turns, one fit each per round, so that the machine's slow spells (these
    millisecond fits vary by 2× between runs here) fall on all of them alike. A package stops
    once it has spent limit seconds."""
    times: dict[str, list[float]] = {name: [] for name in fits}
    last = {name: fit() for name, fit in fits.items()}
    for _ in range(reps):
        for name, fit in fits.items():
            if sum(times[name]) > limit:
                continue
            start = time.perf_counter()
            last[name] = fit()
            times[name].append(time.perf_counter() - start)
    return {name: (float(np.median(times[name])), last[name]) for name in fits}


def mixedfit_fit(case: Case, data: pd.DataFrame):
    if case.family == "gaussian":
        return lambda: mixedfit.lmer(case.formula, data)
    return lambda: mixedfit.glmer(case.formula, data, family=case.family)


def mixedfit_criterion(model) -> float:
    return float(model.objective if getattr(model, "REML", False) else -2 * model.loglik)


def response_as_numbers(case: Case, data: pd.DataFrame) -> pd.DataFrame:
    """VerbAgg's r2 is "N"/"Y": the peers take 0/1."""
    response = case.formula.split("~")[0].strip()
    if response in data and not pd.api.types.is_numeric_dtype(data[response]):
        data = data.assign(**{response: (data[response] == max(data[response].unique())).astype(float)})
    return data


def lme_python_fit(case: Case, data: pd.DataFrame):
    import lme_python

    if case.family == "gaussian":
        return lambda: lme_python.lmer(case.formula, data)
    if case.counts:
        successes, trials = case.counts.split(",")
        shares = data.assign(share=data[successes] / data[trials])
        weights = [float(w) for w in data[trials]]
        rhs = case.formula.split("~", 1)[1]
        return lambda: lme_python.glmer_weighted("share ~" + rhs, shares, case.family, 1, weights)
    numeric = response_as_numbers(case, data)
    return lambda: lme_python.glmer(case.formula, numeric, case.family)


def lme_python_criterion(case: Case, fit) -> tuple[float, bool]:
    """(criterion, comparable): its REML criterion, or −2 log L (whose GLMM log-likelihoods
    leave out constants: the binomial coefficients, log y! of Poisson counts)."""
    if case.family == "gaussian":
        return float(fit.reml_criterion), True
    return float(-2 * fit.log_likelihood), False


def glmm_fit(case: Case, data: pd.DataFrame):
    import glmm

    numeric = response_as_numbers(case, data)
    return lambda: glmm.fit(numeric, case.peer_formula(), family=case.family)


def glmm_criterion(case: Case, fit) -> float:
    """−2 times its log-likelihood, the restricted one of a REML fit."""
    return float(-2 * fit.loglik)


def python_packages(case: Case, data: pd.DataFrame, reps: int) -> dict[str, tuple[float, float, bool] | None]:
    """(median seconds, criterion, comparable) of mixedfit, lme-python and glmm, timed in turns;
    None for a package that cannot fit the model (the reason printed)."""
    packages = {
        "mixedfit": (mixedfit_fit, lambda f: (mixedfit_criterion(f), True)),
        "lme-python": (lme_python_fit, functools.partial(lme_python_criterion, case)),
        "glmm": (glmm_fit, lambda f: (glmm_criterion(case, f), True)),
    }
    fits, results = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (make, _) in packages.items():
            try:
                fit = make(case, data)
                fit()  # fails here if it cannot fit the model
                fits[name] = fit
            except Exception as exc:  # noqa: BLE001 - a package that cannot fit a model gets "—" and the reason
                print(f"  {name}: {type(exc).__name__}: {str(exc)[:160]}", file=sys.stderr)
                results[name] = None
        for name, (seconds, fit) in interleaved_times(fits, reps, limit=120).items():
            results[name] = (seconds, *packages[name][1](fit))
    return results


def r_csv(case: Case, data: pd.DataFrame, folder: Path) -> Path:
    """The case's data as R reads it (with the failures column where the peers need it)."""
    path = folder / (case.csv.stem + ".csv")
    data.to_csv(path, index=False)
    return path


def cell(result: tuple[float, float, bool] | None, base: tuple[float, float, bool]) -> list[str]:
    if result is None:
        return ["—", "—", "—"]
    seconds, criterion, comparable = result
    shown = f"{criterion:.4f}" + ("" if comparable else " (†)")
    return [f"{seconds:.4f}", f"{seconds / base[0]:.1f}×", shown]


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    header = ["model", "rows", "mixedfit (s)", "mixedfit criterion"]
    peers = ["lme4", "glmmTMB", "lme-python", "glmm"]
    for peer in peers:
        header += [f"{peer} (s)", f"{peer} ÷ mixedfit", f"{peer} criterion"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            print(case.name, file=sys.stderr)
            data = case.data()
            python = python_packages(case, data, reps)
            base = python["mixedfit"]
            assert base is not None, case.name
            csv = r_csv(case, data, Path(folder))
            family = case.family
            factors = tuple(c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c]))
            arguments = [str(csv), case.formula, family, str(reps), ",".join(factors)]
            lme4 = timed_r_fit(LME4_FIT, arguments, f"lme4 on {case.name}")
            try:
                tmb = fit_glmmtmb(csv, case.formula, family, reps, factors=factors)
            except RuntimeError as exc:
                print(f"  glmmTMB: {str(exc)[:160]}", file=sys.stderr)
                tmb = None
            results = {
                "lme4": (*lme4, True),
                "glmmTMB": None if tmb is None else (*tmb, family != "gaussian"),
                "lme-python": python["lme-python"],
                "glmm": python["glmm"],
            }
            row = [case.name, f"{len(data):,}", f"{base[0]:.4f}", f"{base[1]:.4f}"]
            for peer in peers:
                row += cell(results[peer], base)
            rows.append(row)
    note = (
        f"Run on {datetime.date.today()} ({os.uname().machine}, OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}), {reps} fits per package and model (median; "
        "data in memory, R's read once; the Python packages timed in turns). Criterion: the REML criterion of the LMMs, −2 log L of the GLMMs; "
        "glmmTMB fits the LMMs by ML (its criterion there is −2 log L, marked †), lme-python's GLMM "
        "log-likelihoods leave out constants (binomial coefficients, log y!; †). Ratios: the peer's time over "
        "mixedfit's (> 1: mixedfit faster)."
    )
    lines = [
        note,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if k == 0 else "---:" for k in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    out = HERE / "results" / "peers.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
