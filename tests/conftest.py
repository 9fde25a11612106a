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


def assert_matches_lme(m, ref: dict, se_rtol: float = 1e-4) -> None:
    """What mixedfit and nlme's lme both report, against a reference case of nlme_common.R:
    log-likelihood (1e-8 relative), σ (5e-4: it moves with δ and φ where they are poorly
    determined), β (1e-4) and β's SEs."""
    import numpy as np

    assert m.loglik == pytest.approx(ref["loglik"], rel=1e-8)
    assert m.sigma == pytest.approx(ref["sigma"], rel=5e-4)
    assert len(m.fixef) == len(ref["fixef"])
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-4)
    np.testing.assert_allclose(m.stderr.to_numpy(), list(ref["stderr"].values()), rtol=se_rtol)


def assert_matches_tmb(
    m, ref: dict, loglik_rtol: float = 1e-8, fixef_rtol: float = 2e-4, stderr_rtol: float = 1e-3
) -> None:
    """What mixedfit and glmmTMB both report, against a reference case of a glmmTMB script:
    log-likelihood and AIC, β, β's SEs (1e-3) and the random effects' SDs (1e-4)."""
    import numpy as np

    assert m.loglik == pytest.approx(ref["loglik"], rel=loglik_rtol)
    assert m.aic == pytest.approx(ref["aic"], rel=loglik_rtol)
    names = list(ref["fixef"])
    np.testing.assert_allclose(m.fixef[names], [ref["fixef"][n] for n in names], rtol=fixef_rtol)
    np.testing.assert_allclose(m.stderr[names], [ref["stderr"][n] for n in names], rtol=stderr_rtol)
    sd = m.VarCorr.set_index("grp")["sdcor"]
    np.testing.assert_allclose(sd[list(ref["sd"])], list(ref["sd"].values()), rtol=1e-4)


def assert_gradient_matches_differences(m, x, atol: float = 1e-4) -> None:
    """A GLMM's Laplace gradient in its stacked vector at x equals the objective's central
    differences (step 1e-5) to 1e-5 relative."""
    import numpy as np

    _, gradient = m._objective_gradient_of(x)
    h = 1e-5
    numeric = [(m._objective_of(x + h * e) - m._objective_of(x - h * e)) / (2 * h) for e in np.eye(len(x))]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=atol)
