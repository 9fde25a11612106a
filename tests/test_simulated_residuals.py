"""Simulation-based (quantile) residuals, DHARMa's algorithms: DHARMa's own residuals and tests on
the same simulations (tests/reference/make_dharma_reference.R), the randomized PIT on a hand-made
case, uniformity under correctly specified models, and the dispersion and zero-inflation tests
detecting what they are for."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mixedfit  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import REFERENCE, load_dataset  # noqa: E402
from mixedfit.inference.simulated_residuals import SimulatedResiduals, scaled_residuals  # noqa: E402

DHARMA = json.loads((REFERENCE / "dharma_reference.json").read_text())["cases"]


@pytest.mark.parametrize("name", list(DHARMA))
def test_residuals_and_tests_equal_dharma_on_its_simulations(name):
    """Given DHARMa's simulations of a fit (Dyestuff's LMM, a Poisson GLMM of cbpp): the scaled
    residuals — DHARMa's exactly for a continuous response; for counts DHARMa's randomized ones
    lie in mixedfit's interval [P(sim < y), P(sim ≤ y)] — and, from the same residuals, the
    uniformity (KS), dispersion, outlier (binomial) and zero-inflation tests equal DHARMa's."""
    case = DHARMA[name]
    observed, simulated = np.array(case["observed"], float), np.array(case["simulated"], float)
    theirs = np.array(case["scaled"], float)
    ours = scaled_residuals(observed, simulated, case["integer"], np.random.default_rng(0))
    if case["integer"]:
        below = np.mean(simulated < observed[:, None], axis=1)
        at_most = np.mean(simulated <= observed[:, None], axis=1)
        assert np.all((below <= theirs) & (theirs <= at_most)) and np.all((below <= ours) & (ours <= at_most))
        assert np.any(below < at_most)  # the randomization is exercised
    else:
        np.testing.assert_array_equal(ours, theirs)
    residuals = SimulatedResiduals(theirs, observed, simulated, np.array(case["fitted"], float), case["integer"])
    uniformity = residuals.test_uniformity()
    assert uniformity["statistic"] == pytest.approx(case["uniformity"]["statistic"], rel=1e-10)
    assert uniformity["p_value"] == pytest.approx(case["uniformity"]["p_value"], rel=1e-8)
    for test, reference in [("test_dispersion", "dispersion"), ("test_zero_inflation", "zero_inflation")]:
        result, expected = getattr(residuals, test)(), case[reference]
        if expected["ratio"] == "NaN":
            assert np.isnan(result["ratio"])
        else:
            assert result["ratio"] == pytest.approx(expected["ratio"], rel=1e-10)
        assert result["p_value"] == pytest.approx(expected["p_value"], abs=1e-12)
    outliers = residuals.test_outliers(type="binomial")
    assert outliers["outliers"] == case["outliers"]["outliers"]
    assert outliers["p_value"] == pytest.approx(case["outliers"]["p_value"], rel=1e-10)


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
    assert residuals.test_outliers(seed=4)["p_value"] > 0.05  # DHARMa's default for counts: the bootstrap
    assert residuals.test_outliers(type="binomial")["p_value"] > 0.05
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


def test_conditional_simulations_center_on_the_fitted_values():
    """simulate(re_form=None), lme4's re.form = NULL: noise around the conditional means (the
    mean of 2,000 draws within 4 standard errors of the fitted values, their SD σ); DHARMa's
    default simulations since 0.5.0, simulated_residuals(random_effects="conditional")."""
    m = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    draws = m.simulate(2000, seed=1, re_form=None).to_numpy()
    assert np.all(np.abs(draws.mean(axis=1) - m.fitted) < 4 * m.sigma / np.sqrt(2000))
    assert draws.std(axis=1).mean() == pytest.approx(m.sigma, rel=0.01)
    conditional = m.simulated_residuals(seed=2)
    unconditional = m.simulated_residuals(seed=2, random_effects="unconditional")
    # around the modes the simulations spread less than with new subjects' effects
    assert np.var(conditional.simulated, axis=1).mean() < np.var(unconditional.simulated, axis=1).mean()
    assert conditional.test_uniformity()["p_value"] > 0.01
    with pytest.raises(ValueError, match="random_effects must be 'conditional' or 'unconditional'"):
        m.simulated_residuals(random_effects="marginal")
    with pytest.raises(ValueError, match="simulate's re_form is '~0'"):
        m.simulate(re_form="~(1 | Subject)")


def test_bootstrap_outlier_test_detects_gross_outliers():
    """DHARMa's bootstrapped outlier test (its default for counts up to 500 rows): 20 counts
    multiplied by 30 lie beyond every simulation, far more often than the bootstrap's simulated
    data do; the binomial version agrees."""
    rng = np.random.default_rng(13)
    data = _counts(rng, groups=40)
    data["y"] = rng.poisson(np.exp(data["eta"]))
    data.loc[rng.choice(len(data), 20, replace=False), "y"] *= 30
    residuals = mixedfit.glmer("y ~ x + (1 | g)", data, family="poisson").simulated_residuals(seed=1)
    boot = residuals.test_outliers(seed=2)
    assert boot["outliers"] >= 15 and boot["expected"] < 5 and boot["p_value"] < 0.05
    assert residuals.test_outliers(type="binomial")["p_value"] < 0.05
    with pytest.raises(ValueError, match="type must be 'default', 'binomial' or 'bootstrap'"):
        residuals.test_outliers(type="exact")
