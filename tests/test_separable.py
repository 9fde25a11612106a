"""Separable AR(1) ⊗ AR(1) residual correlation on field grids (corAR1xAR1), which nlme lacks:
the whitened criterion against the dense likelihood computed here, by ML and REML, on two
shuffled 8 × 6 fields with crossed genotypes; the whitening operator against the dense matrix;
and the refusals."""

from __future__ import annotations

import pickle

import mixedfit
import numpy as np
import pandas as pd
import pytest
from mixedfit.errors import DataError
from mixedfit.models.separable import BoundAR1xAR1


@pytest.fixture(scope="module")
def fields() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows, cols = np.meshgrid(np.arange(8), np.arange(6), indexing="ij")
    data = pd.DataFrame({
        "row": np.tile(rows.ravel(), 2) + 1, "col": np.tile(cols.ravel(), 2) + 3, "field": np.repeat(["f1", "f2"], 48),
        "geno": rng.integers(0, 12, 96).astype(str),
    })  # fmt: skip
    data["y"] = rng.normal(size=96) + 0.8 * np.sin(data["row"] / 2) + 0.3 * data["col"]
    return data.sample(frac=1, random_state=1).reset_index(drop=True)


def dense_criterion(m, data, REML: bool) -> float:
    """−2 log L (or the REML criterion) from V = ZGZ' + σ²C at the fit's estimates."""
    C = m._structure.correlation.matrix(m.correlation_estimate).toarray()
    V = m.Z @ m.G @ m.Z.T + m.sigma**2 * C
    r = data["y"].to_numpy() - m.X @ m.fixef.to_numpy()
    n, p = m.X.shape
    value = n * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r @ np.linalg.solve(V, r)
    if REML:
        value += np.linalg.slogdet(m.X.T @ np.linalg.solve(V, m.X))[1] - p * np.log(2 * np.pi)
    return value


@pytest.mark.parametrize("REML", [False, True])
def test_missing_plots_are_integrated_out(fields, REML):
    """Eight plots dropped (corners, edges, inside, two adjacent; in both fields): the likelihood
    of the observed plots, whose correlation is no Kronecker product, against the dense one."""
    position = list(zip(fields["field"], fields["row"], fields["col"]))
    dropped = {
        ("f1", 1, 3),
        ("f1", 8, 8),
        ("f1", 4, 5),
        ("f1", 4, 6),
        ("f2", 1, 8),
        ("f2", 5, 3),
        ("f2", 6, 6),
        ("f2", 7, 6),
    }
    data = fields[[p not in dropped for p in position]].reset_index(drop=True)
    assert len(data) == len(fields) - len(dropped)
    m = mixedfit.lmer(
        "y ~ field + col + (1 | geno)", data, REML=REML, correlation=mixedfit.corAR1xAR1("row", "col", "field")
    )
    assert m.objective == pytest.approx(dense_criterion(m, data, REML), rel=1e-10)
    bound = m._structure.correlation
    phi = np.array([0.5, -0.4])
    C = bound.matrix(phi).toarray()
    W = bound.whiten(phi, np.eye(len(data)))
    np.testing.assert_allclose(W.T @ W, np.linalg.inv(C), atol=1e-10)
    assert bound.log_det(phi) == pytest.approx(np.linalg.slogdet(C)[1], rel=1e-12)
    L = np.column_stack([bound.color(phi, z[:, None])[:, 0] for z in np.eye(bound.n_latent)])
    np.testing.assert_allclose(L @ L.T, C, atol=1e-12)  # the observed rows of the full grid's colouring
    assert np.all(np.isfinite(m.simulate(nsim=2, seed=1).to_numpy()))
    with pytest.raises(NotImplementedError, match="normalized residuals of a grid with missing plots"):
        m.residuals(type="normalized")


@pytest.mark.parametrize("REML", [False, True])
def test_equals_the_dense_likelihood(fields, REML):
    m = mixedfit.lmer(
        "y ~ field + col + (1 | geno)", fields, REML=REML, correlation=mixedfit.corAR1xAR1("row", "col", "field")
    )
    assert m.objective == pytest.approx(dense_criterion(m, fields, REML), rel=1e-10)
    # the estimates are the optimum: the criterion rises in each of φ's directions
    criterion = m._structure_criterion(len(m.theta))
    x = np.concatenate([m.theta, m._structure.psi])
    for k in range(len(x) - 2, len(x)):
        for step in (-1e-3, 1e-3):
            y = x.copy()
            y[k] += step
            assert criterion(y) > m.objective - 1e-9
    m._apply_structure(x[len(m.theta) :])


def test_whitening_inverts_the_correlation(fields):
    bound = BoundAR1xAR1.bind(mixedfit.corAR1xAR1("row", "col", "field"), fields)
    phi = np.array([0.6, -0.3])
    C = bound.matrix(phi).toarray()
    rows, cols = fields["row"].to_numpy(), fields["col"].to_numpy()
    same = fields["field"].to_numpy()[:, None] == fields["field"].to_numpy()[None, :]
    expected = np.where(same, 0.6 ** np.abs(rows[:, None] - rows) * (-0.3) ** np.abs(cols[:, None] - cols), 0)
    np.testing.assert_allclose(C, expected, atol=1e-15)
    T = bound.whiten(phi, np.eye(96))
    np.testing.assert_allclose(T @ C @ T.T, np.eye(96), atol=1e-12)
    L = bound.color(phi, np.eye(96))
    np.testing.assert_allclose(L @ L.T, C, atol=1e-12)
    assert bound.log_det(phi) == pytest.approx(np.linalg.slogdet(C)[1], rel=1e-12)


def test_summary_predict_pickle(fields):
    m = mixedfit.lmer("y ~ field + (1 | geno)", fields, correlation=mixedfit.corAR1xAR1("row", "col", "field"))
    text = m.summary()
    assert "Correlation structure: AR(1) x AR(1)" in text and "Phi_row" in text
    again = pickle.loads(pickle.dumps(m))
    assert again.objective == m.objective
    np.testing.assert_allclose(again.predict(fields), m.fitted, rtol=1e-10)
    assert set(m.structure_confint().index) == {"Phi_row", "Phi_col"}


def test_bad_grids_are_refused(fields):
    structure = mixedfit.corAR1xAR1("row", "col", "field")
    doubled = fields.copy()
    doubled.loc[0, ["row", "col"]] = doubled.loc[1, ["row", "col"]].to_numpy()
    doubled.loc[0, "field"] = doubled.loc[1, "field"]
    with pytest.raises(DataError, match="share row .* and column .*; each position holds one plot"):
        mixedfit.lmer("y ~ field + (1 | geno)", doubled, correlation=structure)
    halves = fields.assign(row=fields["row"] + 0.5)
    with pytest.raises(DataError, match=r"'row' must hold integer positions, got \d+\.5 at row"):
        mixedfit.lmer("y ~ field + (1 | geno)", halves, correlation=structure)
