"""Bundled example data sets (exported from R's lme4), loaded with factors as strings."""

from __future__ import annotations

import csv
import gzip
import importlib.util
from importlib import resources
from pathlib import Path

import pandas as pd

_DATA = resources.files("mixedfit") / "data"


def names() -> list[str]:
    return sorted(Path(str(p)).stem for p in _DATA.iterdir() if str(p).endswith(".csv"))


def read_r_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally .gz) written by R's write.csv: quoted columns are factors (kept as
    strings). Plain files are parsed by pyarrow's reader where pyarrow is installed (pandas'
    optional engine: half the time of pandas' own at 5·10⁴ rows, the same frame on every data
    set this project ships or tests with, NA included), except where pandas cannot cast its
    result (an integer column with NA, given the factors' dtypes): there by pandas' own."""
    compressed = str(path).endswith(".gz")
    opener = gzip.open if compressed else open
    with opener(path, "rt", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        first_row = handle.readline()
    # csv.reader drops the quotes, so look at the raw first data row.
    quoted = [field.strip().startswith('"') for field in first_row.rstrip("\r\n").split(",")]
    dtypes = {name: str for name, q in zip(header, quoted) if q}
    if not compressed and importlib.util.find_spec("pyarrow") is not None:
        try:
            return pd.read_csv(path, dtype=dtypes, engine="pyarrow")
        except ValueError:  # "cannot convert NA to integer: Error while type casting for column …"
            pass
    return pd.read_csv(path, dtype=dtypes)


def load(name: str) -> pd.DataFrame:
    """One of the bundled data sets by name, e.g. load('sleepstudy')."""
    available = names()
    if name not in available:
        raise ValueError(f"no bundled data set '{name}'; available: {', '.join(available)}")
    return read_r_csv(str(_DATA / f"{name}.csv"))
