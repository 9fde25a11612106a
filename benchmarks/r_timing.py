"""Running an R timing script from the benchmarks: the script fits a model REPS times and prints
its median time in seconds and the fit's −2 log L (or another criterion). r_fit_script writes
such a script around a package's fitting call."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


def timed_r_fit(script: str, args: list[str], what: str) -> tuple[float, float]:
    """(median seconds, −2 log L) printed by the R script run with these arguments; what names the
    fit in the error raised if R fails."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fit.R"
        path.write_text(script)
        out = subprocess.run(["Rscript", str(path), *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed: {out.stderr[-500:]}")
    seconds, deviance = map(float, out.stdout.split())
    return seconds, deviance


def r_fit_script(library: str, setup: str, fit: str, reps: str, criterion: str = "-2 * as.numeric(logLik(m))") -> str:
    """An R script for timed_r_fit: it loads library, reads the CSV named by its first argument
    into d (text columns as factors), runs setup, then times `m <- fit` reps times (reps an R
    expression, such as "as.integer(args[4])") and prints the median seconds and the criterion of
    m."""
    return f"""
suppressMessages(library({library}))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
{setup}
times <- vapply(seq_len({reps}), function(i) system.time(m <<- {fit})[["elapsed"]], 0)
cat(sprintf("%.6f %.10f\\n", median(times), {criterion}))
"""
