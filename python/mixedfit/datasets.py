"""Bundled example data sets (exported from R's lme4), loaded with factors as strings."""

from __future__ import annotations

import csv
import gzip
from importlib import resources
from pathlib import Path

import pandas as pd

_DATA = resources.files("mixedfit") / "data"


def names() -> list[str]:
    return sorted(Path(str(p)).stem for p in _DATA.iterdir() if str(p).endswith(".csv"))


def read_r_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally .gz) written by R's write.csv: quoted columns are factors (kept as strings)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        first_row = handle.readline()
    # csv.reader drops the quotes, so look at the raw first data row.
    quoted = [field.strip().startswith('"') for field in first_row.rstrip("\r\n").split(",")]
    dtypes = {name: str for name, q in zip(header, quoted) if q}
    return pd.read_csv(path, dtype=dtypes)


def load(name: str) -> pd.DataFrame:
    """One of the bundled data sets by name, e.g. load('sleepstudy')."""
    available = names()
    if name not in available:
        raise ValueError(f"no bundled data set '{name}'; available: {', '.join(available)}")
    return read_r_csv(str(_DATA / f"{name}.csv"))
