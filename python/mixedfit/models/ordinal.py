"""Cumulative link mixed models for ordered responses, as ordinal's ``clmm``.

P(Y ≤ j | u) = F(c_j − η) with η = Xβ + Zu (no intercept: the thresholds c_0 < … < c_{K−2}
take its place), F the logistic, the normal, the Gumbel-minimum (cloglog) or the Gumbel-maximum
(loglog) distribution function. The core fits it
as a GLMM whose family is the cumulative link (cpp/cumulative_link.cpp): the Laplace approximation
with the observed information, and the thresholds join (θ, β) in the outer search with the Laplace
gradient, as a family's own parameters do. This module reads the ordered response, parametrizes
the thresholds so that they stay ordered, and gives clmm's results (thresholds, class
probabilities, its summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._lazy import special
from ..errors import DataError
from .families import Family, GlmResponse
from .glmm import GeneralizedLinearMixedModel
from .optimize import OptSummary
from .results import format_coefficients, format_varcorr
from .synchronization import synchronized

THRESHOLD_KINDS = ("flexible", "equidistant")


def ordered_categories(column: pd.Series, name: str) -> tuple[np.ndarray, list[str]]:
    """Category codes 0, 1, … of an ordered response and the names of its categories: an ordered
    pandas Categorical in its order, or numbers (integers, as ratings are) in increasing order. An
    unordered categorical or text is a DataError: its order is not known."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        if not column.cat.ordered:
            raise DataError(
                f"response '{name}' is an unordered categorical: clmm needs the categories' order; make it ordered "
                f"(pd.Categorical(values, categories=[...], ordered=True)) or give numbers"
            )
        column = column.cat.remove_unused_categories()
        return column.cat.codes.to_numpy(dtype=np.float64), [str(c) for c in column.cat.categories]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise DataError(
            f"response '{name}' holds {column.dtype} values without an order: clmm needs an ordered categorical "
            "or numbers (ratings)"
        )
    values = column.to_numpy(dtype=np.float64)
    levels, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.float64), [f"{v:g}" for v in levels]


@dataclass(frozen=True)
class Thresholds:
    """The K − 1 cut points from free parameters τ that keep them ordered: 'flexible' — c_0 and
    the logs of the K − 2 increments —, or 'equidistant' — c_0 and the log of one spacing
    (ordinal's threshold = "equidistant"). ordinal reports them as 'alpha': the cut points
    themselves, or for equidistant ones the first and the spacing."""

    kind: str
    levels: list[str]

    @property
    def n_cuts(self) -> int:
        return len(self.levels) - 1

    @property
    def n_free(self) -> int:
        return self.n_cuts if self.kind == "flexible" else min(self.n_cuts, 2)

    @property
    def cut_names(self) -> list[str]:
        """ordinal's names of the cut points: '1|2', '2|3', …"""
        return [f"{a}|{b}" for a, b in zip(self.levels[:-1], self.levels[1:])]

    @property
    def alpha_names(self) -> list[str]:
        return self.cut_names if self.kind == "flexible" else ["threshold.1", "spacing"][: self.n_free]

    def cuts(self, tau: np.ndarray) -> np.ndarray:
        if self.kind == "flexible":
            return tau[0] + np.concatenate([[0.0], np.cumsum(np.exp(tau[1:]))])
        spacing = np.exp(tau[1]) if self.n_free > 1 else 0.0
        return tau[0] + spacing * np.arange(self.n_cuts)

    def jacobian(self, tau: np.ndarray) -> np.ndarray:
        """∂c/∂τ: (K − 1) × len(τ)."""
        J = np.zeros((self.n_cuts, self.n_free))
        J[:, 0] = 1.0
        if self.kind == "flexible":
            for j in range(1, self.n_free):
                J[j:, j] = np.exp(tau[j])
        elif self.n_free > 1:
            J[:, 1] = np.exp(tau[1]) * np.arange(self.n_cuts)
        return J

    def alpha(self, tau: np.ndarray) -> np.ndarray:
        """ordinal's reported threshold coefficients."""
        return self.cuts(tau) if self.kind == "flexible" else np.concatenate([tau[:1], np.exp(tau[1:])])

    def alpha_jacobian(self, tau: np.ndarray) -> np.ndarray:
        return self.jacobian(tau) if self.kind == "flexible" else np.diag(np.concatenate([[1.0], np.exp(tau[1:])]))

    def start(self, codes: np.ndarray, weights: np.ndarray, link: str) -> np.ndarray:
        """τ at the marginal cumulative proportions through F⁻¹ (the cut points of a model with
        η = 0), as ordinal starts."""
        shares = np.bincount(codes.astype(np.intp), weights=weights, minlength=len(self.levels))
        cumulative = np.clip(np.cumsum(shares)[:-1] / shares.sum(), 1e-6, 1 - 1e-6)
        cuts = np.asarray(quantile(link, cumulative))
        if self.kind == "flexible":
            return np.concatenate([cuts[:1], np.log(np.maximum(np.diff(cuts), 1e-6))])
        if self.n_free == 1:
            return cuts[:1]
        return np.array([cuts[0], np.log(max((cuts[-1] - cuts[0]) / (self.n_cuts - 1), 1e-6))])


def quantile(link: str, p: np.ndarray) -> np.ndarray:
    """F⁻¹ of the cumulative link."""
    if link == "logit":
        return special().logit(p)
    if link == "probit":
        return special().ndtri(p)
    if link == "loglog":  # F(x) = exp(−e⁻ˣ)
        return -np.log(-np.log(p))
    return np.log(-np.log1p(-p))  # cloglog: F(x) = 1 − exp(−eˣ)


def cdf(link: str, x: np.ndarray) -> np.ndarray:
    if link == "logit":
        return special().expit(x)
    if link == "probit":
        return special().ndtr(x)
    if link == "loglog":
        return np.exp(-np.exp(-x))
    return -np.expm1(-np.exp(x))


class CumulativeLinkMixedModel(GeneralizedLinearMixedModel):
    """F⁻¹(P(Y ≤ j | u)) = c_j − (Xβ + Zu), u ~ N(0, ΛΛ'), F given by the link (logit, probit,
    cloglog, loglog), as ordinal's clmm."""

    _fixed_intercept = False

    def __init__(
        self,
        formula: str,
        data: Any,
        link: str = "logit",
        threshold: str = "flexible",
        nAGQ: int = 1,
        weights: Any = None,
        n_threads: int | None = None,
    ) -> None:
        if threshold not in THRESHOLD_KINDS:
            raise ValueError(f"threshold must be one of {', '.join(map(repr, THRESHOLD_KINDS))}, not {threshold!r}")
        self.threshold = threshold
        if isinstance(nAGQ, (int, np.integer)) and not isinstance(nAGQ, bool) and nAGQ == 0:
            raise ValueError("nAGQ=0 is not available for clmm: the thresholds are estimated with the Laplace "
                             "approximation (nAGQ=1) or quadrature (nAGQ > 1)")  # fmt: skip
        super().__init__(formula, data, Family("ordinal", link), nAGQ=nAGQ, weights=weights, n_threads=n_threads)

    def _family_response(self, hurdle: bool) -> GlmResponse:
        name = self.parsed.response
        if name not in self.frame.data.columns:
            raise DataError(f"clmm's response must be a column of the data (an ordered categorical), not '{name}'")
        codes, levels = ordered_categories(self.frame.data[name], name)
        if len(levels) < 2:
            raise DataError(f"response '{name}' has a single category ({levels[0]}): there is nothing to order")
        weights = np.ones(len(codes)) if self.frame.weights is None else self.frame.weights
        self._thresholds = Thresholds(self.threshold, levels)
        self._tau = self._thresholds.start(codes, weights, self.family.link)
        self._tau_covariance = np.full((len(self._tau), len(self._tau)), np.nan)
        return GlmResponse(codes, weights, np.ones(len(codes)), np.zeros(len(codes)))

    def _make_core(self):
        core = super()._make_core()
        core.set_cuts(self._thresholds.cuts(self._tau))
        return core

    def _data_based_start(self) -> np.ndarray:
        return self.design.theta0.copy()  # (the GLMM's moment estimates are the exponential families')

    # The thresholds' τ are the stacked vector's last coordinates: (θ, β, τ).
    def _n_extras(self) -> int:
        return super()._n_extras() + len(self._tau)

    def _extras(self) -> np.ndarray:
        return np.concatenate([super()._extras(), self._tau])

    def _apply_extras(self, core: Any, extras: np.ndarray) -> None:
        m = len(self._tau)
        super()._apply_extras(core, extras[: len(extras) - m])
        core.set_cuts(self._thresholds.cuts(extras[len(extras) - m :]))

    def _objective_of(self, x: np.ndarray) -> float:
        self._tau = np.array(x[len(x) - len(self._tau) :])
        return super()._objective_of(x)

    def _laplace_gradient(self, core: Any) -> np.ndarray:
        g_theta, g_beta, _, _, g_cuts, _, _ = core.laplace_gradient(False, False, True)
        return np.concatenate([g_theta, g_beta, self._thresholds.jacobian(self._tau).T @ np.asarray(g_cuts)])

    def _stage2_optsum(self, theta: np.ndarray, beta: np.ndarray, vcov: np.ndarray, verbose: bool) -> OptSummary:
        summary = super()._stage2_optsum(theta, beta, vcov, verbose)
        m = len(self._tau)
        summary.lower = np.append(summary.lower, np.full(m, -np.inf))
        summary.upper = None if summary.upper is None else np.append(summary.upper, np.full(m, np.inf))
        # c_0 on the latent scale, the increments' logs: steps of a few tenths (their SEs on ordinal's examples)
        summary.initial_step = np.append(summary.initial_step, np.full(m, 0.25))
        return summary

    def _vcov_from_hessian(self, H: np.ndarray) -> np.ndarray:
        vcov = super()._vcov_from_hessian(H)
        m = len(self._tau)
        self._tau_covariance = self._stacked_covariance[-m:, -m:]
        return vcov

    def _record_mode(self, theta: np.ndarray) -> None:
        super()._record_mode(theta)
        self._fitted_values = self._category_probabilities(np.array(self._core.eta))[
            np.arange(len(self._response)), self._response.astype(np.intp)
        ]

    @property
    def dof(self) -> int:
        """Number of parameters: the thresholds', β and θ."""
        return super().dof + len(self._tau)

    # clmm's results
    @property
    def thresholds(self) -> pd.Series:
        """The cut points c_j on the latent scale, named '1|2', '2|3', … (ordinal's Theta)."""
        self._require_fit()
        return pd.Series(self._thresholds.cuts(self._tau), index=self._thresholds.cut_names, name="Estimate")

    @property
    @synchronized
    def threshold_table(self) -> pd.DataFrame:
        """ordinal's "Threshold coefficients": Estimate, Std. Error, z value of its alpha (the cut
        points; for equidistant thresholds the first one and the spacing)."""
        self._require_fit()
        J = self._thresholds.alpha_jacobian(self._tau)
        stderr = np.sqrt(np.diag(J @ self._tau_covariance @ J.T))
        table = pd.DataFrame(
            {"Estimate": self._thresholds.alpha(self._tau), "Std. Error": stderr}, index=self._thresholds.alpha_names
        )
        table["z value"] = table["Estimate"] / table["Std. Error"]
        return table

    @property
    def categories(self) -> list[str]:
        """The response's categories, in their order."""
        return list(self._thresholds.levels)

    def _category_probabilities(self, eta: np.ndarray) -> np.ndarray:
        """P(Y = j) at each η: n × K."""
        bounds = np.concatenate([[-np.inf], self._thresholds.cuts(self._tau), [np.inf]])
        cumulative = cdf(self.family.link, bounds[None, :] - eta[:, None])
        return np.diff(cumulative, axis=1)

    PREDICTION_TYPES = ("prob", "class", "link", "response")

    @synchronized
    def predict(
        self, newdata: Any = None, re_form: str | None = None, allow_new_levels: bool = False, type: str = "prob"
    ) -> pd.DataFrame | pd.Series | np.ndarray:
        """Predictions on the fit's rows or newdata's: type 'prob' (each category's probability, a
        DataFrame with a column per category), 'class' (the most probable category), 'link'
        (η = Xβ + Zu) or 'response' (the expected category code 0, 1, …: the scale of simulate's
        draws); re_form and allow_new_levels as for lme4's predict ('~0': the population level,
        u = 0).

        Parameters
        ----------
        newdata : data frame, optional
        re_form : str, optional
            None (all random effects), '~0' (none) or the terms to keep.
        allow_new_levels : bool, default False
        type : {"prob", "class", "link", "response"}, default "prob"

        Returns
        -------
        DataFrame, Series or ndarray
        """
        if type not in self.PREDICTION_TYPES:
            raise ValueError(f"type must be one of {', '.join(map(repr, self.PREDICTION_TYPES))}, not {type!r}")
        eta = super().predict(newdata, re_form, allow_new_levels, type="link")
        if type == "link":
            return eta
        probabilities = pd.DataFrame(self._category_probabilities(eta), columns=self.categories)
        probabilities[np.isnan(eta)] = np.nan
        if type == "prob":
            return probabilities
        if type == "response":
            return probabilities.to_numpy() @ np.arange(len(self.categories), dtype=np.float64)
        classes = np.array(self.categories, dtype=object)[np.argmax(np.nan_to_num(probabilities.to_numpy()), axis=1)]
        return pd.Series(np.where(np.isnan(eta), None, classes), name="class")

    def _predicted(self, eta: np.ndarray, type: str, newdata: Any) -> np.ndarray:
        return eta

    def _draw_response(self, eta: np.ndarray, rng: np.random.Generator, newdata: pd.DataFrame | None) -> np.ndarray:
        """Category codes 0, 1, … drawn from each row's class probabilities."""
        cumulative = np.cumsum(self._category_probabilities(eta), axis=1)
        return (rng.uniform(size=(len(eta), 1)) > cumulative[:, :-1]).sum(axis=1).astype(np.float64)

    def residuals(self, type: str = "deviance") -> np.ndarray:
        raise NotImplementedError(
            "a cumulative link model has no residuals of lme4's kinds (nor does ordinal's clmm); use "
            "simulated_residuals() for quantile residuals"
        )

    def _set_response(self, new_response) -> None:
        """refit()'s response: an ordered categorical with the fit's categories (matched by name),
        or their codes 0, 1, …, K − 1 (as simulate() draws them). Every category must occur: an
        empty one has no finite threshold (ordinal's clmm would drop it and fit fewer)."""
        categories = list(self._thresholds.levels)
        if isinstance(getattr(new_response, "dtype", None), pd.CategoricalDtype):
            names = pd.Series(new_response).astype(str).to_numpy()
            codes = pd.Index(categories).get_indexer(names).astype(np.float64)
            unknown = sorted(set(names[codes < 0]))
            if unknown:
                raise DataError(f"the new response has categories the fit does not ({unknown}); the fit has {categories}")
        else:
            codes = np.asarray(new_response, dtype=np.float64).ravel()
            if not np.all((codes >= 0) & (codes < len(categories)) & (codes == np.floor(codes))):
                raise DataError(
                    f"a clmm's new response is its categories' codes 0 to {len(categories) - 1} (as simulate() draws "
                    f"them) or an ordered categorical of {categories}"
                )
        if len(codes) != len(self._response):
            raise DataError(f"the new response has {len(codes)} values for the fit's {len(self._response)} rows")
        empty = [categories[j] for j in range(len(categories)) if not np.any(codes == j)]
        if empty:
            raise DataError(f"the new response has no observation of categor{'ies' if len(empty) > 1 else 'y'} {empty}")
        self._response = codes
        self._core.set_response(self._response, self._response.copy())  # (the ordinal family's μ is η: no start)

    def _specified_like(self, data: pd.DataFrame, weights: np.ndarray | None, offset: np.ndarray | None):
        if offset is not None:
            raise ValueError("clmm takes no offset")
        return CumulativeLinkMixedModel(
            self.formula, data, self.family.link, self.threshold, self.nAGQ, weights, self.n_threads
        )

    def _profile_problem(self):
        raise NotImplementedError(
            "profile intervals of a clmm are not available; use Wald intervals (confint(method='Wald'))"
        )

    @synchronized
    def summary(self) -> str:
        """ordinal's summary of a clmm: fit statistics, random effects, coefficients, thresholds."""
        self._require_fit()
        approximation = (
            "the Laplace approximation" if self.nAGQ <= 1 else f"adaptive Gauss-Hermite quadrature (nAGQ = {self.nAGQ})"
        )
        stats_line = pd.DataFrame(
            [[self.family.link, self.threshold, self.nobs, f"{self.loglik:.2f}", f"{self.aic:.2f}", self.optsum.feval]],
            columns=["link", "threshold", "nobs", "logLik", "AIC", "niter"],
        ).to_string(index=False)
        groups = " ".join(f"{t.name} {t.n_levels}" for t in self.design.terms)
        coefs = self.coef_table
        parts = [
            f"Cumulative Link Mixed Model fitted with {approximation}",
            "",
            f"formula: {self.formula}",
            "",
            stats_line,
            "",
            "Random effects:",
            format_varcorr(self.VarCorr),
            f"Number of groups:  {groups}",
            "",
            "Coefficients:",
            format_coefficients(coefs) if len(coefs) else "(none)",
            "",
            "Threshold coefficients:",
            format_coefficients(self.threshold_table),
        ]
        return "\n".join(parts)


def clmm(
    formula: str,
    data: Any,
    link: str = "logit",
    threshold: str = "flexible",
    nAGQ: int = 1,
    weights: Any = None,
    n_threads: int | None = None,
) -> CumulativeLinkMixedModel:
    """Fit a cumulative link mixed model to an ordered response, as ordinal's ``clmm``.

    P(Y ≤ j | u) = F(c_j − η), η = Xβ + Zu: ``fixef`` holds β under R's names (no intercept:
    the thresholds take its place; a positive β moves the response up), ``thresholds`` the cut
    points c_j, ``VarCorr`` and ``ranef`` the random effects, ``predict`` class probabilities.

    Parameters
    ----------
    formula : str
        lme4's formula, e.g. ``"rating ~ temp + contact + (1 | judge)"``; the response is an ordered
        pandas Categorical (its order) or numbers (increasing).
    data : data frame
    link : {"logit", "probit", "cloglog", "loglog"}, default "logit"
        The latent variable's distribution function F: logistic, normal, 1 − exp(−eˣ), exp(−e⁻ˣ).
    threshold : {"flexible", "equidistant"}, default "flexible"
        Free cut points, or equally spaced ones (the first and the spacing estimated).
    nAGQ : int, default 1
        1 (Laplace) or more (adaptive Gauss–Hermite, one scalar random-effects term only).
    weights : column name or array, optional
        Case weights.
    n_threads : int, optional
        Threads of the core.

    Returns
    -------
    CumulativeLinkMixedModel
        Fitted.

    Examples
    --------
    >>> import mixedfit
    >>> m = mixedfit.clmm("rating ~ temp + contact + (1 | judge)", wine)  # doctest: +SKIP
    >>> m.thresholds  # doctest: +SKIP
    """
    return CumulativeLinkMixedModel(formula, data, link, threshold, nAGQ, weights, n_threads).fit()
