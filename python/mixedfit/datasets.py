"""Bundled example data sets (exported from R's lme4), loaded with factors as strings."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import os
from importlib import resources
from pathlib import Path

import pandas as pd

_DATA = resources.files("mixedfit") / "data"


def names() -> list[str]:
    return sorted(Path(str(p)).stem for p in _DATA.iterdir() if str(p).endswith(".csv"))


# From this size on read_r_csv uses pyarrow's CSV engine (measured: 3 kB 0.4 ms pandas' own
# against 1.7 ms; 0.5 MB 2.6 against 3.1 ms; 1.05 MB 13.4 against 4.6 ms).
PYARROW_MIN_BYTES = 1_000_000


def read_r_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally .gz) written by R's write.csv: quoted columns are factors (kept as
    strings). Plain files from 1 MB on are parsed by pyarrow's reader where pyarrow is installed
    (pandas' optional engine: a third to 60 % of the time of pandas' own at 1–3 MB, the same
    frame on every data set this project ships or tests with, NA included; below ~1 MB its fixed
    ~1.5 ms costs more than it saves), except where pandas cannot cast its result (an integer
    column with NA, given the factors' dtypes): there by pandas' own."""
    compressed = str(path).endswith(".gz")
    opener = gzip.open if compressed else open
    with opener(path, "rt", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        first_row = handle.readline()
    # csv.reader drops the quotes, so look at the raw first data row.
    quoted = [field.strip().startswith('"') for field in first_row.rstrip("\r\n").split(",")]
    dtypes = {name: str for name, q in zip(header, quoted) if q}
    large = not compressed and os.path.getsize(path) >= PYARROW_MIN_BYTES
    if large and importlib.util.find_spec("pyarrow") is not None:
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
