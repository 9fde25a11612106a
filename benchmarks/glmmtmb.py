"""Timing glmmTMB from the benchmarks: one Rscript run fits a model to a CSV REPS times and
reports the median time and −2 log L (R with glmmTMB: benchmarks/install_r.sh)."""

from __future__ import annotations

from pathlib import Path

from r_timing import r_fit_script, timed_r_fit

R_FIT = r_fit_script(
    "glmmTMB",
    setup="""
family <- get(args[3])()
control <- glmmTMBControl(parallel = as.integer(args[6]))
for (column in strsplit(args[8], ",")[[1]]) d[[column]] <- factor(d[[column]])
""",
    fit="glmmTMB(as.formula(args[2]), d, family = family, ziformula = as.formula(args[4]), "
    "dispformula = as.formula(args[7]), control = control)",
    reps="as.integer(args[5])",
)


def fit_glmmtmb(
    csv: Path,
    formula: str,
    family: str,
    reps: int,
    ziformula: str = "~0",
    threads: int = 1,
    dispformula: str = "~1",
    factors: tuple[str, ...] = (),
) -> tuple[float, float]:
    """(median seconds, −2 log L) of glmmTMB's fit of formula to the CSV (text columns as
    factors, and the columns named in factors, whose values look like numbers); family: the name
    of glmmTMB's family function; threads: its OpenMP threads (glmmTMBControl(parallel =); 1 is
    its default)."""
    arguments = [str(csv), formula, family, ziformula, str(reps), str(threads), dispformula, ",".join(factors)]
    return timed_r_fit(R_FIT, arguments, f"glmmTMB on {formula}")
