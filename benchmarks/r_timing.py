"""Running an R timing script from the benchmarks: the script fits a model REPS times and prints
its median time in seconds and the fit's −2 log L."""

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
