"""Bundled example data sets (exported from R's lme4), loaded with factors as strings."""

from __future__ import annotations

import csv
import gzip
import os
from importlib import resources
from pathlib import Path

import pandas as pd

_DATA = resources.files("mixedfit") / "data"


def names() -> list[str]:
    return sorted(Path(str(p)).stem for p in _DATA.iterdir() if str(p).endswith(".csv"))


# From this size on read_r_csv uses pyarrow's CSV reader (measured, pyarrow against pandas' own:
# 3 kB 0.47 against 0.39 ms; 324 kB 1.3 against 3.1 ms; 1.05 MB 3.5 against 14 ms).
PYARROW_MIN_BYTES = 50_000


def read_r_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally .gz) written by R's write.csv: quoted columns are factors (kept as
    strings). Plain files from PYARROW_MIN_BYTES on are parsed by pyarrow's CSV reader where
    pyarrow backs pandas' strings (pandas 3 with pyarrow): the same frame as pandas' own reader
    on every data set this project ships, benchmarks or tests with, NA included, in half to a
    third of its time; otherwise, and where pyarrow refuses a file, by pandas' own.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    DataFrame
    """
    compressed = str(path).endswith(".gz")
    opener = gzip.open if compressed else open
    with opener(path, "rt", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        first_row = handle.readline()
    # csv.reader drops the quotes, so look at the raw first data row.
    quoted = [field.strip().startswith('"') for field in first_row.rstrip("\r\n").split(",")]
    dtypes = {name: str for name, q in zip(header, quoted) if q}
    if not compressed and os.path.getsize(path) >= PYARROW_MIN_BYTES:
        frame = _read_by_pyarrow(path, list(dtypes))
        if frame is not None:
            return frame
    return pd.read_csv(path, dtype=dtypes)


def _read_by_pyarrow(path: str | Path, strings: list[str]) -> pd.DataFrame | None:
    """The file by pyarrow's reader, the given columns as strings, all strings in pandas' own
    string dtype (pyarrow-backed: no copy); None where pandas' strings are not pyarrow's or
    pyarrow refuses the file. (pandas' pyarrow engine takes twice as long, converting the
    strings through Python objects, and cannot cast an integer column with NA.)"""
    string = pd.Series([], dtype=str).dtype
    if getattr(string, "storage", None) != "pyarrow":
        return None
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    options = pa_csv.ConvertOptions(column_types={name: pa.string() for name in strings}, strings_can_be_null=True)
    try:
        table = pa_csv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid:
        return None
    return table.to_pandas(types_mapper={pa.string(): string, pa.large_string(): string}.get)


def load(name: str) -> pd.DataFrame:
    """One of the bundled data sets by name, e.g. load('sleepstudy').

    Parameters
    ----------
    name : str
        One of ``names()``.

    Returns
    -------
    DataFrame
    """
    available = names()
    if name not in available:
        raise ValueError(f"no bundled data set '{name}'; available: {', '.join(available)}")
    return read_r_csv(str(_DATA / f"{name}.csv"))
