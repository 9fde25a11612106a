"""Shared fixtures: lme4 reference values and the data sets they were computed on."""

from __future__ import annotations

import json
from pathlib import Path

import mixedfit
import pandas as pd
import pytest
from mixedfit.datasets import read_r_csv

HERE = Path(__file__).parent
REFERENCE = HERE / "reference"


def load_dataset(name: str) -> pd.DataFrame:
    """Bundled data sets first, then the larger ones kept (gzipped) under tests/data."""
    if name in mixedfit.datasets.names():
        return mixedfit.datasets.load(name)
    return read_r_csv(HERE / "data" / f"{name}.csv.gz")


def load_reference(filename: str) -> dict:
    with open(REFERENCE / filename) as handle:
        return json.load(handle)["cases"]


@pytest.fixture(scope="session")
def lmm_reference() -> dict:
    return load_reference("lmm_reference.json")


@pytest.fixture
def sleep() -> pd.DataFrame:
    """sleepstudy, a fresh copy per test (tests may modify it)."""
    return mixedfit.datasets.load("sleepstudy")


@pytest.fixture
def cbpp() -> pd.DataFrame:
    return mixedfit.datasets.load("cbpp")
