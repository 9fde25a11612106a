"""Timing glmmTMB from the benchmarks: one Rscript run fits a model to a CSV REPS times and
reports the median time and −2 log L (R with glmmTMB: benchmarks/install_r.sh)."""

from __future__ import annotations

from pathlib import Path

from r_timing import timed_r_fit

R_FIT = r"""
suppressMessages(library(glmmTMB))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
family <- get(args[3])()
zi <- as.formula(args[4])
reps <- as.integer(args[5])
control <- glmmTMBControl(parallel = as.integer(args[6]))
disp <- as.formula(args[7])
for (column in strsplit(args[8], ",")[[1]]) d[[column]] <- factor(d[[column]])
times <- vapply(seq_len(reps), function(i) system.time(
  m <<- glmmTMB(as.formula(args[2]), d, family = family, ziformula = zi, dispformula = disp,
                control = control))[["elapsed"]], 0)
cat(sprintf("%.6f %.10f\n", median(times), -2 * as.numeric(logLik(m))))
"""


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
