"""Simulation-based (quantile) residuals and their tests, following DHARMa's algorithms
(Hartig's R package; its documentation describes each step): responses are simulated from the
fitted model around its conditional modes (DHARMa's default since 0.5.0, lme4's re.form = NULL)
or with new random effects (re.form = NA, DHARMa's earlier default), and each
observation's scaled residual is where it falls among its simulations — for integer responses a
randomized probability integral transform, uniform between P(sim < y) and P(sim ≤ y). Under a
correct model the scaled residuals are uniform on (0, 1) whatever the family.

Tested against DHARMa's own residuals and tests on the same simulations
(tests/reference/make_dharma_reference.R), and on the algorithm's properties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._lazy import stats
from ..errors import positive_int


@dataclass
class SimulatedResiduals:
    """The scaled residuals of a fit and what they were computed from.

    Attributes
    ----------
    scaled : ndarray
        One residual per observation, in [0, 1].
    observed : ndarray
        The response (binomial: the proportion of trials).
    simulated : ndarray
        n × nsim simulated responses.
    fitted : ndarray
        The population-level mean response (DHARMa's fittedPredictedResponse: without the
        random effects, as the simulations draw new ones).
    integer : bool
        Whether the randomized transform for integer responses was used.
    """

    scaled: np.ndarray
    observed: np.ndarray
    simulated: np.ndarray
    fitted: np.ndarray
    integer: bool

    def test_uniformity(self) -> pd.Series:
        """Kolmogorov–Smirnov test of the scaled residuals against U(0, 1) (DHARMa's
        testUniformity): statistic D and two-sided p-value, exact below 100 residuals without
        ties and from Kolmogorov's limiting distribution otherwise, as R's ks.test."""
        n = len(self.scaled)
        exact = n < 100 and len(np.unique(self.scaled)) == n
        result = stats().kstest(self.scaled, "uniform", method="exact" if exact else "asymp")
        return pd.Series({"statistic": float(result.statistic), "p_value": float(result.pvalue)}, name="uniformity")

    def test_dispersion(self) -> pd.Series:
        """DHARMa's default dispersion test: the variance of the observed residuals y − fitted over
        the mean of the same for each simulated response (the ratio; > 1 overdispersion), with a
        two-sided p-value from where the observed variance falls among the simulated ones."""
        observed = np.var(self.observed - self.fitted, ddof=1)
        simulated = np.var(self.simulated - self.fitted[:, None], axis=0, ddof=1)
        return _simulation_test(observed, simulated, "dispersion")

    def test_zero_inflation(self) -> pd.Series:
        """DHARMa's testZeroInflation: the observed number of zeros over its mean among the
        simulations (> 1: more zeros than the model expects), with a two-sided simulation p-value."""
        observed = float(np.sum(self.observed == 0))
        simulated = np.sum(self.simulated == 0, axis=0).astype(float)
        return _simulation_test(observed, simulated, "zero_inflation")

    def test_outliers(self, type: str = "default", n_boot: int = 100, seed: int | None = None) -> pd.Series:
        """DHARMa's testOutliers (two-sided, both margins).

        Parameters
        ----------
        type : {"default", "binomial", "bootstrap"}
            "binomial": observations outside the simulations (scaled residual below 1/(nsim + 1)
            or above 1 − 1/(nsim + 1)) against the binomial expectation of 2/(nsim + 1) per
            observation, exact binomial p-value. "bootstrap": the frequency of residuals exactly
            0 or 1 against its distribution when each of n_boot simulations is taken as the data
            and placed among nsim resampled others (exact for integer responses, where the
            binomial expectation is not). "default": DHARMa's choice, the bootstrap for integer
            responses up to 500 observations, else binomial.
        n_boot : int, default 100
            Bootstrap replicates (at most nsim).
        seed : int, optional
            For a reproducible bootstrap.

        Returns
        -------
        Series
            ``outliers`` (count), ``expected`` (count under the model) and ``p_value``.
        """
        n_boot = positive_int(n_boot, "n_boot")
        if type == "default":
            type = "bootstrap" if self.integer and len(self.scaled) <= 500 else "binomial"
        if type == "binomial":
            margin = 1 / (self.simulated.shape[1] + 1)
            outside = int(np.sum((self.scaled < margin) | (self.scaled > 1 - margin)))
            rate = 2 * margin
            result = stats().binomtest(outside, len(self.scaled), rate)
            expected, p_value = rate * len(self.scaled), float(result.pvalue)
        elif type == "bootstrap":
            outside = int(np.sum((self.scaled == 0) | (self.scaled == 1)))
            frequencies = self._bootstrap_outlier_frequencies(n_boot, np.random.default_rng(seed))
            observed = outside / len(self.scaled)
            p_value = float(min(1.0, 2 * min(np.mean(frequencies <= observed), np.mean(frequencies >= observed))))
            expected = float(np.mean(frequencies)) * len(self.scaled)
        else:
            raise ValueError(f"type must be 'default', 'binomial' or 'bootstrap', not {type!r}")
        return pd.Series({"outliers": outside, "expected": expected, "p_value": p_value}, name="outliers")

    def _bootstrap_outlier_frequencies(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """DHARMa's bootstrap: simulation i as the data among nsim draws (with replacement) from
        the other simulations; the frequency of its residuals at exactly 0 or 1."""
        nsim = self.simulated.shape[1]
        frequencies = np.empty(min(n_boot, nsim))
        for i in range(len(frequencies)):
            others = rng.choice(np.delete(np.arange(nsim), i), size=nsim, replace=True)
            residuals = scaled_residuals(self.simulated[:, i], self.simulated[:, others], self.integer, rng)
            frequencies[i] = np.mean((residuals == 0) | (residuals == 1))
        return frequencies

    def plot(self) -> object:
        """DHARMa's plot: a QQ plot of the scaled residuals against U(0, 1) with the KS test's
        p-value, and the residuals against the (rank-transformed) fitted values with their 0.25,
        0.5 and 0.75 quantiles in bins. Returns the matplotlib Figure."""
        from ..plotting import _pyplot

        plt = _pyplot()
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
        n = len(self.scaled)
        expected = (np.arange(1, n + 1) - 0.5) / n
        left.scatter(expected, np.sort(self.scaled), s=6, alpha=0.6)
        left.plot([0, 1], [0, 1], color="C3", linewidth=0.8)
        left.set(title=f"QQ plot of the scaled residuals (KS p = {self.test_uniformity()['p_value']:.3g})",
                 xlabel="expected (uniform)", ylabel="observed")  # fmt: skip
        rank = stats().rankdata(self.fitted) / n
        right.scatter(rank, self.scaled, s=6, alpha=0.6)
        order = np.argsort(rank)
        bins = [b for b in np.array_split(order, min(10, n)) if len(b)]
        for q in (0.25, 0.5, 0.75):
            right.axhline(q, color="0.6", linewidth=0.6, linestyle="--")
            right.plot([rank[b].mean() for b in bins], [np.quantile(self.scaled[b], q) for b in bins], color="C1")
        right.set(title="Residuals against predicted (quantiles per bin)", xlabel="fitted (rank transformed)",
                  ylabel="scaled residual", ylim=(0, 1))  # fmt: skip
        fig.tight_layout()
        return fig


def _simulation_test(observed: float, simulated: np.ndarray, name: str) -> pd.Series:
    """The ratio of observed to mean simulated, and DHARMa's two-sided simulation p-value:
    2·min(P(sim ≥ obs), P(sim ≤ obs)), at most 1."""
    greater, less = np.mean(simulated >= observed), np.mean(simulated <= observed)
    mean = float(np.mean(simulated))
    ratio = observed / mean if mean > 0 else np.inf if observed > 0 else np.nan
    return pd.Series({"ratio": ratio, "p_value": float(min(1.0, 2 * min(greater, less)))}, name=name)


def scaled_residuals(observed: np.ndarray, simulated: np.ndarray, integer: bool, rng: np.random.Generator) -> np.ndarray:
    """Each observation's position among its simulations: the fraction below it, and for integer
    responses a uniform draw between P(sim < y) and P(sim ≤ y) (DHARMa's "PIT" method)."""
    below = np.mean(simulated < observed[:, None], axis=1)
    if not integer:
        return below
    at_most = np.mean(simulated <= observed[:, None], axis=1)
    return below + rng.uniform(size=len(observed)) * (at_most - below)


def simulate_residuals(model, nsim: int, seed: int | None, integer: bool | None, conditional: bool) -> SimulatedResiduals:
    """See MixedModel.simulated_residuals."""
    rng = np.random.default_rng(seed)
    simulated = model.simulate(nsim, seed=rng, re_form=None if conditional else "~0").to_numpy()
    observed = np.asarray(model._response, dtype=float)
    if integer is None:  # counts, and binomial successes (their proportions times the trials)
        integer = bool(np.all(observed == np.round(observed))) and hasattr(model, "family")
    fitted = model.predict(re_form="~0", type="response")
    if hasattr(model, "family") and model.family.name in ("binomial", "beta_binomial"):
        trials = model._glm.n_trials
        observed, simulated, fitted = observed * trials, simulated * trials[:, None], fitted * trials
        integer = True
    return SimulatedResiduals(scaled_residuals(observed, simulated, integer, rng), observed, simulated, fitted, integer)
