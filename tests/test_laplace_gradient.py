"""The Laplace deviance's gradient (cpp/laplace_gradient.cpp) and the quasi-Newton search it drives
for GLMMs: the gradient equals central differences of the deviance for every kind of family
(canonical and non-canonical links, lme4's expected-information Laplace and the
observed-information families, an estimated family parameter, zero-inflation) and of random
effects (one scalar term, crossed and nested terms, correlated and uncorrelated slopes), and the
search reaches the optimum BOBYQA reaches."""

from __future__ import annotations

import dataclasses
import warnings

import mixedfit
import numpy as np
import pytest
from conftest import HERE, load_dataset
from mixedfit.datasets import read_r_csv

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def salamanders():
    return read_r_csv(HERE / "data" / "Salamanders.csv.gz")


def sleep_binary():
    """sleepstudy's reaction times above 280 ms, for binomial models with random slopes."""
    sleep = load_dataset("sleepstudy")
    return sleep.assign(slow=(sleep.Reaction > 280).astype(float))


CASES = {  # name: (formula, data, family, link, ziformula)
    "binomial logit": (CBPP, lambda: load_dataset("cbpp"), "binomial", None, None),
    "binomial probit (expected information)": (CBPP, lambda: load_dataset("cbpp"), "binomial", "probit", None),
    "poisson sqrt": ("TICKS ~ YEAR + (1 | LOCATION)", lambda: load_dataset("grouseticks"), "poisson", "sqrt", None),
    "negative binomial": ("TICKS ~ YEAR + (1 | LOCATION)", lambda: load_dataset("grouseticks"), "nbinom2", None, None),
    "beta": ("y ~ x + (1 | site)", lambda: read_r_csv(HERE / "data" / "beta_proportions.csv"), "beta", None, None),
    "nbinom1": ("count ~ spp + mined + (1 | site)", salamanders, "nbinom1", None, None),
    "zero-inflated poisson": ("count ~ spp + mined + (1 | site)", salamanders, "poisson", None, "~ mined"),
    "hurdle nbinom2": ("count ~ spp + mined + (1 | site)", salamanders, "truncated_nbinom2", None, "~ mined"),
    "crossed": ("r2 ~ Anger + Gender + btype + (1 | id) + (1 | item)", lambda: load_dataset("VerbAgg"), "binomial",
                None, None),
    "three terms": ("TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
                    lambda: load_dataset("grouseticks"), "poisson", None, None),
    "correlated slopes": ("slow ~ Days + (Days | Subject)", sleep_binary, "binomial", None, None),
    "uncorrelated slopes": ("slow ~ Days + (Days || Subject)", sleep_binary, "binomial", None, None),
    "ar1 structure": ("cbind(incidence, size - incidence) ~ period + ar1(0 + period | herd)",
                      lambda: load_dataset("cbpp"), "binomial", None, None),
    "toeplitz structure": ("cbind(incidence, size - incidence) ~ period + toep(0 + period | herd)",
                           lambda: load_dataset("cbpp"), "binomial", None, None),
}  # fmt: skip


def model(name: str) -> mixedfit.GeneralizedLinearMixedModel:
    formula, data, family, link, zi = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mixedfit.GeneralizedLinearMixedModel(formula, data(), family=family, link=link, ziformula=zi).fit()


@pytest.mark.parametrize("name", CASES)
def test_gradient_equals_central_differences(name):
    m = model(name)
    x0 = m._stacked(m._theta, m._beta)
    # away from the optimum (where the gradient is ~0), θ kept positive
    x = x0 + 0.05 * np.random.default_rng(7).normal(size=len(x0))
    x[0] = abs(x[0])
    _, gradient = m._objective_gradient_of(x)
    h = 1e-5 * np.maximum(1, np.abs(x))
    differences = np.array([(m._objective_of(x + e) - m._objective_of(x - e)) / (2 * e.sum()) for e in np.diag(h)])
    # measured: ≤ 1.2e-7 relative; a missing term (e.g. u's dependence on β in log det) is ≥ 1e-2
    np.testing.assert_allclose(gradient, differences, rtol=1e-5, atol=1e-5 * np.abs(differences).max())
    assert np.abs(gradient).max() > 0.1  # (the comparison is not between two zeros)


@pytest.mark.parametrize(
    "name", ["binomial logit", "negative binomial", "zero-inflated poisson", "crossed", "toeplitz structure"]
)
def test_quasi_newton_reaches_bobyqas_optimum_in_fewer_evaluations(name):
    formula, data, family, link, zi = CASES[name]
    frame = data()
    fits = {}
    for gradient in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[gradient] = mixedfit.GeneralizedLinearMixedModel(
                formula, frame, family=family, link=link, ziformula=zi
            ).fit(control={"gradient": gradient})
    new, old = fits[True], fits[False]
    assert new.optsum.optimizer == "L-BFGS-B" and old.optsum.optimizer == "LN_BOBYQA"
    assert new.objective <= old.objective + 1e-6
    np.testing.assert_allclose(new.fixef, old.fixef, rtol=1e-3, atol=1e-4)
    # (toep's fifth parameter is weakly identified: the two optima differ by 1.8e-4 in it on the
    # baseline build, with −2 log L equal to 1e-8)
    np.testing.assert_allclose(new.theta, old.theta, rtol=1e-3, atol=1e-3)
    # the Hessian from differences of the gradient against one from differences of the deviance
    np.testing.assert_allclose(new.stderr, old.stderr, rtol=2e-3)
    assert new.optsum.feval < old.optsum_stage1.feval + old.optsum.feval


def test_an_sd_stepped_onto_zero_is_left_when_zero_is_not_its_minimum():
    """The deviance is even in Λ's diagonal, so its gradient is 0 at an SD of 0: Salamanders' hurdle
    NB2 search stopped there, 0.022 above the optimum at SD 0.074 (glmmTMB's)."""
    m = model("hurdle nbinom2")
    assert m.VarCorr["sdcor"].iloc[0] == pytest.approx(0.0745, rel=1e-2)
    x = m._stacked(np.zeros(1), m._beta)  # the search's stop on the boundary
    summary = dataclasses.replace(m.optsum, final=x, fmin=m._objective_of(x))
    moved = m._off_the_boundary(x, summary)
    assert moved[0] == pytest.approx(0.0745, rel=1e-2)
    assert m._objective_of(moved) < m._objective_of(x) - 0.01  # (measured: 0.022 lower)


def test_models_without_the_gradient_keep_bobyqa():
    """Quadrature and families with a scale parameter (lme4's Gamma profiles it from the deviance)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quadrature = mixedfit.glmer(CBPP, load_dataset("cbpp"), family="binomial", nAGQ=5)
        gamma = mixedfit.glmer("Reaction ~ Days + (1 | Subject)", sleep_binary(), family="Gamma", link="log")
    for m in (quadrature, gamma):
        assert m.optsum.optimizer == "LN_BOBYQA"


def test_a_gradient_dearer_than_an_evaluation_is_not_taken():
    """InstEval's crossed students and instructors: the selected inverse would gather the dense
    Schur complement entry by entry (seconds per gradient, against milliseconds per evaluation)."""
    inst = load_dataset("InstEval")
    m = mixedfit.GeneralizedLinearMixedModel("I(y > 3) ~ service + (1 | s) + (1 | d)", inst, family="binomial")
    assert not m._has_gradient()
    assert mixedfit.GeneralizedLinearMixedModel(CBPP, load_dataset("cbpp"), family="binomial")._has_gradient()
