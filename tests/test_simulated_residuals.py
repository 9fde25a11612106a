"""Simulation-based (quantile) residuals, DHARMa's algorithms: the randomized PIT on a hand-made
case, uniformity under correctly specified models, and the dispersion and zero-inflation tests
detecting what they are for (DHARMa itself is not installable here: see the module's note)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mixedfit  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import load_dataset  # noqa: E402
from mixedfit.inference.simulated_residuals import scaled_residuals  # noqa: E402


def test_randomized_pit_lies_between_the_two_fractions():
    simulated = np.array([[0, 1, 2, 2, 3], [0, 1, 2, 2, 3]], dtype=float)
    observed = np.array([2.0, 2.5])
    rng = np.random.default_rng(0)
    integer = scaled_residuals(observed, simulated, True, rng)
    assert 0.4 <= integer[0] <= 0.8 and integer[1] == pytest.approx(0.8)  # P(sim < y) = 2/5, P(sim ≤ y) = 4/5
    np.testing.assert_allclose(scaled_residuals(observed, simulated, False, rng), [0.4, 0.8])


def _counts(rng: np.random.Generator, groups: int = 60, size: int = 10) -> pd.DataFrame:
    g = np.repeat(np.arange(groups), size)
    data = pd.DataFrame({"g": g.astype(str), "x": rng.normal(size=groups * size)})
    data["eta"] = 0.5 + 0.4 * data["x"] + rng.normal(0, 0.5, groups)[g]
    return data


def test_correct_models_give_uniform_residuals_and_quiet_tests():
    rng = np.random.default_rng(11)
    data = _counts(rng)
    data["y"] = rng.poisson(np.exp(data["eta"]))
    residuals = mixedfit.glmer("y ~ x + (1 | g)", data, family="poisson").simulated_residuals(seed=1)
    assert residuals.integer and residuals.scaled.shape == (600,)
    assert residuals.test_uniformity()["p_value"] > 0.05
    assert residuals.test_dispersion()["p_value"] > 0.05
    assert residuals.test_zero_inflation()["p_value"] > 0.05
    assert residuals.test_outliers()["p_value"] > 0.05
    lmm = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy")).simulated_residuals(seed=2)
    assert not lmm.integer and lmm.test_uniformity()["p_value"] > 0.01
    binomial = mixedfit.glmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial"
    ).simulated_residuals(seed=3)
    assert binomial.integer and np.all(binomial.observed == load_dataset("cbpp")["incidence"].to_numpy())
    figure = binomial.plot()
    assert len(figure.axes) == 2
    plt.close(figure)


def test_overdispersion_and_excess_zeros_are_detected():
    rng = np.random.default_rng(12)
    data = _counts(rng)
    data["over"] = rng.negative_binomial(0.5, 0.5 / (0.5 + np.exp(data["eta"])))
    over = mixedfit.glmer("over ~ x + (1 | g)", data, family="poisson").simulated_residuals(seed=1)
    dispersion = over.test_dispersion()
    assert dispersion["ratio"] > 2 and dispersion["p_value"] < 0.05  # (ratio 3.1, p 0.008 here)
    data["zeros"] = np.where(rng.uniform(size=len(data)) < 0.3, 0, rng.poisson(np.exp(data["eta"])))
    zeros = mixedfit.glmer("zeros ~ x + (1 | g)", data, family="poisson").simulated_residuals(seed=1)
    inflation = zeros.test_zero_inflation()
    assert inflation["ratio"] > 1.2 and inflation["p_value"] < 0.01
