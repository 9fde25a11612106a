"""GLMM families: names, links, response checks and starting values (R's family objects).

The per-observation arithmetic (link, variance, deviance) lives in the C++ core; this module
validates the response for a family and prepares what the core needs: y on the family's
scale, prior weights, binomial numbers of trials and R's starting means.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.matrices import numeric_column
from ..errors import DataError, warn

_LINKS = {
    "binomial": ("logit", ("logit", "probit", "cloglog", "cauchit", "log")),
    "poisson": ("log", ("log", "sqrt", "identity")),
    "Gamma": ("inverse", ("inverse", "log", "identity")),
    "inverse_gaussian": ("1/mu^2", ("1/mu^2", "log", "inverse", "identity")),
    "gaussian": ("identity", ("identity", "log", "inverse")),
    "negative_binomial": ("log", ("log", "sqrt", "identity")),
    "nbinom1": ("log", ("log", "sqrt")),
    "beta": ("logit", ("logit", "probit", "cloglog")),
    "truncated_poisson": ("log", ("log", "sqrt")),
    "truncated_nbinom1": ("log", ("log",)),
    "truncated_nbinom2": ("log", ("log",)),
    "genpois": ("log", ("log", "sqrt")),
    "lognormal": ("log", ("log",)),
    "beta_binomial": ("logit", ("logit", "probit", "cloglog")),
    "student_t": ("identity", ("identity",)),
    "tweedie": ("log", ("log",)),
    # an ordered response's cumulative link model (mixedfit.clmm; its link is F's, P(Y ≤ j) = F(c_j − η))
    "ordinal": ("logit", ("logit", "probit", "cloglog", "loglog")),
}
FAMILY_NAMES = tuple(name for name in _LINKS if name != "ordinal")  # every family glmer fits (the command line lists them)
_ALIASES = {
    "gamma": "Gamma", "inverse.gaussian": "inverse_gaussian", "inversegaussian": "inverse_gaussian",
    "nbinom2": "negative_binomial", "negative.binomial": "negative_binomial", "beta_family": "beta",
    "betabinomial": "beta_binomial", "t_family": "student_t", "t": "student_t",
}  # fmt: skip
# The families with a parameter of their own (glmer estimates it unless the family gives it),
# each positive: the negative binomial's shape θ, NB1's dispersion φ, the beta's precision φ, the
# same for the zero-truncated NB2 and NB1, the generalized Poisson's dispersion φ (variance μφ)
# and the lognormal's standard deviation φ on the data scale, the Student t's scale σ (its degrees
# of freedom, a second parameter, are Family's df), the Tweedie's dispersion φ (variance φμ^p; its
# power p, a second parameter, is Family's power).
_SHAPES = {
    "negative_binomial": "shape θ", "nbinom1": "dispersion φ", "beta": "precision φ", "truncated_nbinom2": "shape θ",
    "truncated_nbinom1": "dispersion φ", "genpois": "dispersion φ", "lognormal": "standard deviation φ",
    "beta_binomial": "precision φ", "student_t": "scale σ", "tweedie": "dispersion φ",
}  # fmt: skip


@dataclass(frozen=True)
class SecondParameter:
    """A family's second parameter (the Student t's degrees of freedom ν, the Tweedie's power p):
    the Family field that fixes it, its start and the coordinate the search takes it in (the
    core's Laplace gradient steps in the same one: Family::shape_moved)."""

    field: str  # Family's attribute
    label: str
    start: float
    low: float  # the search's bounds, on the parameter's own scale
    high: float

    def to_search(self, value: float) -> float:
        """ν ↦ log ν; p ↦ logit(p − 1) (glmmTMB's ψ, p = 1 + plogis(ψ))."""
        return float(np.log(value) if self.field == "df" else np.log((value - 1) / (2 - value)))

    def from_search(self, x: float) -> float:
        return float(np.exp(x) if self.field == "df" else 1 + 1 / (1 + np.exp(-x)))

    def slope(self, value: float) -> float:
        """d value / d coordinate at value (the delta method's factor for its standard error)."""
        return value if self.field == "df" else (value - 1) * (2 - value)


# ν from 0.1 to 1e6 (1e6 is the normal for any data this library holds; glmmTMB lets it run to
# 2.8e6 on sleepstudy); p from 1.001 to 1.999, glmmTMB's start p = 1.5 (ψ = 0): beyond, the
# likelihood is flat (Poisson-like and gamma-like ends) and the series' terms peak at index
# y^(2−p)/(φ(2 − p)), which ran to 10⁶ on sleepstudy's reaction times (p → 2, 14 s for the fit).
_SECOND_PARAMETERS = {
    "student_t": SecondParameter("df", "df", 10.0, 0.1, 1e6),
    "tweedie": SecondParameter("power", "power p", 1.5, 1.001, 1.999),
}
_COUNTS = ("poisson", "negative_binomial", "nbinom1", "truncated_poisson", "truncated_nbinom1", "truncated_nbinom2", "genpois")
# glmmTMB's families (not lme4's): a response outside their support is an error naming its rows.
_STRICT_COUNTS = ("truncated_poisson", "truncated_nbinom1", "truncated_nbinom2", "genpois")
_ZERO_TRUNCATED = ("truncated_poisson", "truncated_nbinom1", "truncated_nbinom2")
# The families whose own parameter has the response's units (their start is the data's spread).
_SCALED_PARAMETERS = ("lognormal", "student_t", "tweedie")
_CBIND = re.compile(r"^cbind\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Family:
    """A distribution with a link, e.g. Family('binomial', 'probit').

    The negative binomial (NB2, variance μ + μ²/θ, as glmmTMB's nbinom2 and MASS's
    negative.binomial) has a shape ``theta``; NB1 (variance μ(1 + φ), glmmTMB's nbinom1) a
    dispersion φ and the beta (y in (0, 1), Beta(μφ, (1 − μ)φ), variance μ(1 − μ)/(1 + φ), as
    glmmTMB's beta_family) a precision φ, also given as ``theta``: given, it is fixed; None,
    ``glmer`` estimates it. So do glmmTMB's zero-truncated NB2 and NB1 (``truncated_nbinom2``,
    ``truncated_nbinom1``: counts ≥ 1, μ the mean of the untruncated distribution), the
    generalized Poisson (``genpois``: θ = μ/√φ, λ = 1 − 1/√φ, variance μφ, φ ≥ 1) and the
    lognormal (``lognormal``: mean μ and standard deviation φ on the data scale) and the
    beta-binomial (``beta_binomial``: binomial responses whose success probability is
    Beta(μφ, (1 − μ)φ)); ``truncated_poisson`` has none. The Student t (``student_t``, glmmTMB's
    ``t_family``: location μ, scale σ = ``theta``) also has degrees of freedom ``df``, and the
    Tweedie (``tweedie``: y ≥ 0 with exact zeros, variance φμ^p, dispersion φ = ``theta``) a
    power 1 < ``power`` < 2, each fixed if given, else estimated.
    """

    name: str
    link: str | None = None
    theta: float | None = None
    df: float | None = None
    power: float | None = None

    def __post_init__(self) -> None:
        name = _ALIASES.get(self.name, self.name)
        if name not in _LINKS:
            raise ValueError(f"unknown family '{self.name}'; choose one of {', '.join(_LINKS)}")
        default, allowed = _LINKS[name]
        link = default if self.link is None else self.link
        if link not in allowed:
            raise ValueError(f"link '{link}' is not available for the {name} family; choose one of {', '.join(allowed)}")
        if self.theta is not None:
            if name not in _SHAPES:
                raise ValueError(f"theta is the negative binomial's shape or the beta's precision; the {name} family has none")
            if not (isinstance(self.theta, (int, float, np.number)) and np.isfinite(self.theta) and self.theta > 0):
                raise ValueError(f"the {name} family's theta ({_SHAPES[name]}) must be a positive number, got {self.theta!r}")
            if name == "genpois" and self.theta < 1:
                raise ValueError(
                    f"the generalized Poisson's φ must be >= 1 (variance μφ; φ < 1 is not a distribution for every "
                    f"count), got {self.theta!r}"
                )
            object.__setattr__(self, "theta", float(self.theta))
        if self.df is not None:
            if name != "student_t":
                raise ValueError(f"df is the Student t's degrees of freedom; the {name} family has none")
            if not (isinstance(self.df, (int, float, np.number)) and np.isfinite(self.df) and self.df > 0):
                raise ValueError(f"the Student t's df must be a positive number, got {self.df!r}")
            object.__setattr__(self, "df", float(self.df))
        if self.power is not None:
            if name != "tweedie":
                raise ValueError(f"power is the Tweedie's variance power; the {name} family has none")
            if not (isinstance(self.power, (int, float, np.number)) and 1 < self.power < 2):
                raise ValueError(
                    f"the Tweedie's power must lie strictly between 1 (Poisson) and 2 (gamma), got {self.power!r}"
                )
            object.__setattr__(self, "power", float(self.power))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "link", link)

    @property
    def has_scale(self) -> bool:
        """Whether the family has a dispersion parameter estimated from the data."""
        return self.name in ("Gamma", "inverse_gaussian", "gaussian")

    @property
    def has_shape(self) -> bool:
        """Whether the family has a parameter of its own (NB's θ, beta's φ; see Family)."""
        return self.name in _SHAPES

    @property
    def second_parameter(self) -> SecondParameter | None:
        """The family's second parameter (the Student t's df, the Tweedie's power), if it has one."""
        return _SECOND_PARAMETERS.get(self.name)

    @property
    def shape(self) -> float | None:
        """The second parameter's value if given (fixed), else None."""
        second = self.second_parameter
        return None if second is None else getattr(self, second.field)

    @property
    def counts(self) -> bool:
        """Whether the response is a count (poisson, the negative binomials, genpois)."""
        return self.name in _COUNTS

    @property
    def zero_truncated(self) -> bool:
        """Whether the response is a count ≥ 1 whose μ is the untruncated distribution's mean."""
        return self.name in _ZERO_TRUNCATED

    @property
    def has_deviance_residuals(self) -> bool:
        """Whether the saturated model is in closed form (not so for glmmTMB's truncated counts,
        generalized Poisson and lognormal, whose deviance is their −2 log-likelihood)."""
        return self.name not in _ZERO_TRUNCATED + ("genpois", "lognormal", "beta_binomial", "student_t", "ordinal")

    @property
    def parameter_name(self) -> str:
        """What the family's own parameter is ("shape θ", "dispersion φ", ...; see Family)."""
        return _SHAPES[self.name]

    def log_theta_bounds(self, start: float) -> tuple[float, float]:
        """The interval of log theta when glmer estimates it: 1e-3 to 1e6 (NB2's θ = 1e6 is as good
        as the Poisson for any count this library holds); the generalized Poisson's φ from 1; the
        lognormal's standard deviation, the Student t's scale and the Tweedie's dispersion, which
        have the data's units, 1e-6 to 1e6 times their start."""
        if self.name in _SCALED_PARAMETERS:  # (in the data's units)
            return np.log(start) + np.log(1e-6), np.log(start) + np.log(1e6)
        return (0.0 if self.name == "genpois" else np.log(1e-3)), np.log(1e6)

    def __str__(self) -> str:
        if self.has_shape:
            symbol = _SHAPES[self.name][-1]
            shape = f"{symbol} estimated" if self.theta is None else f"{symbol} = {self.theta:.4g}"
            second = self.second_parameter
            if second is not None:
                value = self.shape
                shape += f", {second.field} estimated" if value is None else f", {second.field} = {value:.4g}"
            return f"{self.name}({self.link}, {shape})"
        return f"{self.name}({self.link})"


def binomial(link: str = "logit") -> Family:
    return Family("binomial", link)


def poisson(link: str = "log") -> Family:
    return Family("poisson", link)


def Gamma(link: str = "inverse") -> Family:
    return Family("Gamma", link)


def inverse_gaussian(link: str = "1/mu^2") -> Family:
    return Family("inverse_gaussian", link)


def gaussian(link: str = "identity") -> Family:
    return Family("gaussian", link)


def negative_binomial(theta: float | None = None, link: str = "log") -> Family:
    """NB2 with shape theta fixed (as MASS's negative.binomial(theta)); None: estimated by glmer."""
    return Family("negative_binomial", link, theta)


def nbinom1(phi: float | None = None, link: str = "log") -> Family:
    """NB1, glmmTMB's nbinom1: counts with variance μ(1 + φ).

    Parameters
    ----------
    phi : float, optional
        The dispersion φ > 0, fixed; None (default): ``glmer`` estimates it.
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("nbinom1", link, phi)


def beta(phi: float | None = None, link: str = "logit") -> Family:
    """The beta family, glmmTMB's beta_family: responses in (0, 1), y ~ Beta(μφ, (1 − μ)φ).

    Parameters
    ----------
    phi : float, optional
        The precision φ > 0 (variance μ(1 − μ)/(1 + φ)), fixed; None (default): ``glmer``
        estimates it.
    link : str, default "logit"
        "logit", "probit" or "cloglog".

    Returns
    -------
    Family
    """
    return Family("beta", link, phi)


def truncated_poisson(link: str = "log") -> Family:
    """glmmTMB's truncated_poisson: counts ≥ 1, P(y) = Poisson(y; μ)/(1 − e^(−μ)) (a hurdle's
    count part); μ = exp(η) is the untruncated mean, ``fitted`` the truncated one.

    Parameters
    ----------
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("truncated_poisson", link)


def truncated_nbinom2(theta: float | None = None, link: str = "log") -> Family:
    """glmmTMB's truncated_nbinom2: the NB2 (shape θ, variance μ + μ²/θ) given y ≥ 1.

    Parameters
    ----------
    theta : float, optional
        The shape θ > 0, fixed; None (default): ``glmer`` estimates it.
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("truncated_nbinom2", link, theta)


def truncated_nbinom1(phi: float | None = None, link: str = "log") -> Family:
    """glmmTMB's truncated_nbinom1: the NB1 (variance μ(1 + φ)) given y ≥ 1.

    Parameters
    ----------
    phi : float, optional
        The dispersion φ > 0, fixed; None (default): ``glmer`` estimates it.
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("truncated_nbinom1", link, phi)


def genpois(phi: float | None = None, link: str = "log") -> Family:
    """glmmTMB's genpois, the generalized Poisson: mean μ, variance μφ.

    Parameters
    ----------
    phi : float, optional
        The dispersion φ >= 1 (1: the Poisson), fixed; None (default): ``glmer`` estimates it.
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("genpois", link, phi)


def lognormal(sd: float | None = None, link: str = "log") -> Family:
    """The lognormal as glmmTMB (1.1.8 and later) parametrizes it: mean μ and standard deviation
    φ on the data scale, log y ~ N(log μ − v/2, v) with v = log(1 + φ²/μ²).

    Parameters
    ----------
    sd : float, optional
        The standard deviation φ > 0, fixed; None (default): ``glmer`` estimates it.
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("lognormal", link, sd)


def student_t(sigma: float | None = None, df: float | None = None, link: str = "identity") -> Family:
    """glmmTMB's t_family: y = μ + σ ε with ε ~ Student t with ν = df degrees of freedom (variance
    σ²ν/(ν − 2) for ν > 2): a linear mixed model with heavy-tailed residuals, fitted by the
    Laplace approximation (ν → ∞ is the normal).

    Parameters
    ----------
    sigma : float, optional
        The scale σ > 0, fixed; None (default): ``glmer`` estimates it.
    df : float, optional
        The degrees of freedom ν > 0, fixed; None (default): estimated (up to 1e6).
    link : str, default "identity"

    Returns
    -------
    Family
    """
    return Family("student_t", link, sigma, df)


def tweedie(phi: float | None = None, power: float | None = None, link: str = "log") -> Family:
    """glmmTMB's tweedie: y ≥ 0 with exact zeros and a continuous positive part (a Poisson number of
    gamma-distributed amounts: biomass, rainfall, claims), mean μ and variance φμ^p, 1 < p < 2.

    Parameters
    ----------
    phi : float, optional
        The dispersion φ > 0, fixed; None (default): ``glmer`` estimates it.
    power : float, optional
        The power p in (1, 2), fixed; None (default): estimated (from glmmTMB's start, 1.5).
    link : str, default "log"

    Returns
    -------
    Family
    """
    return Family("tweedie", link, phi, power=power)


def beta_binomial(phi: float | None = None, link: str = "logit") -> Family:
    """glmmTMB's betabinomial: k successes of n trials, k ~ Binomial(n, p), p ~ Beta(μφ, (1 − μ)φ)
    (variance of the proportion μ(1 − μ)/n · (1 + (n − 1)/(φ + 1))); the response as for the
    binomial (``cbind(successes, failures)``, or proportions with weights = trials).

    Parameters
    ----------
    phi : float, optional
        The precision φ > 0, fixed; None (default): ``glmer`` estimates it.
    link : str, default "logit"
        "logit", "probit" or "cloglog".

    Returns
    -------
    Family
    """
    return Family("beta_binomial", link, phi)


def with_parameters(family: Family, theta: np.ndarray) -> Family:
    """family with one parameter per observation (a dispersion model's φᵢ) as its theta, for the
    response's moments and draws (response_mean, truncated_variance, draw_response), whose
    formulas take theta elementwise; not a family to fit with."""
    copy = dataclasses.replace(family, theta=None)
    object.__setattr__(copy, "theta", np.asarray(theta, dtype=np.float64))
    return copy


def as_family(family: str | Family, link: str | None) -> Family:
    if isinstance(family, Family):
        if link is not None and link != family.link:
            return Family(family.name, link)
        return family
    if isinstance(family, str):
        return Family(family, link)
    raise TypeError(f"family must be a name such as 'binomial' or a mixedfit Family, got {type(family).__name__}")


@dataclass(frozen=True)
class GlmResponse:
    y: np.ndarray  # binomial: proportion of successes
    weights: np.ndarray  # prior weights (binomial: numbers of trials times any user weights)
    n_trials: np.ndarray  # R's n: trials from cbind(), else ones
    mustart: np.ndarray


def cbind_parts(response: str) -> list[str] | None:
    """'cbind(s, f)' -> ['s', 'f'] (split at the top-level comma), else None."""
    match = _CBIND.match(response.strip())
    if not match:
        return None
    inner, depth, parts, start = match.group(1), 0, [], 0
    for i, ch in enumerate(inner):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def _binomial_response(response: str, frame: pd.DataFrame, weights: np.ndarray) -> GlmResponse:
    parts = cbind_parts(response)
    ones = np.ones(len(frame))
    if parts is not None:
        if len(parts) != 2:
            raise DataError(f"binomial response '{response}' must be cbind(successes, failures)")
        successes, failures = (numeric_column(p, frame, "binomial response") for p in parts)
        for values, part in ((successes, parts[0]), (failures, parts[1])):
            if np.any(values < 0) or np.any(np.abs(values - np.round(values)) > 1e-3):
                raise DataError(f"binomial counts '{part}' must be non-negative integers")
        n = successes + failures
        y = np.divide(successes, n, out=np.zeros_like(n), where=n > 0)
        w = weights * n
        return GlmResponse(y, w, n, starting_means("binomial", y, w))
    column = frame[response] if response in frame.columns else None
    if column is not None and not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
        levels = pd.unique(column) if not isinstance(column.dtype, pd.CategoricalDtype) else column.cat.categories
        levels = sorted(levels) if not isinstance(column.dtype, pd.CategoricalDtype) else list(levels)
        if len(levels) != 2 and not pd.api.types.is_bool_dtype(column):
            raise DataError(
                f"binomial response '{response}' is a factor with {len(levels)} levels {list(levels)[:5]}; "
                "it needs exactly 2 (the first is failure, as in R)"
            )
        y = (column != (False if pd.api.types.is_bool_dtype(column) else levels[0])).to_numpy(dtype=np.float64)
    else:
        y = numeric_column(response, frame, "binomial response")
        if np.any((y < 0) | (y > 1)):
            bad = y[(y < 0) | (y > 1)][0]
            raise DataError(
                f"binomial response '{response}' has value {bad} outside [0, 1]; give proportions with weights = "
                "numbers of trials, or cbind(successes, failures)"
            )
        successes = weights * y
        if np.any(np.abs(successes - np.round(successes)) > 1e-3):
            raise DataError(
                f"binomial response '{response}' times the weights is not a whole number of successes; weights "
                "must be the numbers of trials"
            )
    return GlmResponse(y, weights, ones, starting_means("binomial", y, weights))


def glm_response(
    family: Family, response: str, frame: pd.DataFrame, weights: np.ndarray | None, hurdle: bool = False
) -> GlmResponse:
    """Check the response for the family and compute R's starting means. A constant response is
    an error, as in lme4 (check.response.not.const): an all-zero count has no finite intercept."""
    checked = _family_response(family, response, frame, weights, hurdle)
    values = checked.y if cbind_parts(response) is None else np.column_stack([checked.y, checked.n_trials])
    if len(values) and np.all(values == values[0]):
        shown = values[0] if np.ndim(values[0]) == 0 else tuple(values[0])
        raise DataError(f"response '{response}' is constant (every value is {shown}); a GLMM cannot be fitted to it")
    return checked


def _family_response(
    family: Family, response: str, frame: pd.DataFrame, weights: np.ndarray | None, hurdle: bool
) -> GlmResponse:
    """hurdle: the family has a zero model (a zero-truncated family's zeros are all the zero
    model's; a zero-inflated binomial's likelihood is the whole binomial's, as the beta-binomial's)."""
    w = np.ones(len(frame)) if weights is None else weights
    if family.name == "binomial" and not hurdle:
        return _binomial_response(response, frame, w)
    if family.name in ("binomial", "beta_binomial"):
        # The beta-binomial's likelihood is not n times a proportion's: the trials are its n, and
        # the prior weights are the weights given with cbind() (a proportion's weights are its trials).
        binomial = _binomial_response(response, frame, w)
        if cbind_parts(response) is not None:
            return GlmResponse(binomial.y, w, binomial.n_trials, binomial.mustart)
        return GlmResponse(binomial.y, np.ones(len(frame)), binomial.weights, binomial.mustart)
    y = numeric_column(response, frame, "response")
    ones = np.ones(len(frame))
    if family.counts:
        _require(family, response, y, y >= 0, "counts must be >= 0")
        whole = np.abs(y - np.round(y)) <= 1e-3
        if family.name in _STRICT_COUNTS:
            _require(family, response, y, whole, "counts must be whole numbers")
        elif not np.all(whole):
            warn(
                f"{family.name} response '{response}' has non-integer values; the likelihood treats them as counts",
                UserWarning,
            )
        if family.zero_truncated and not hurdle:
            _require(
                family, response, y, y >= 1,
                "a zero-truncated family's counts must be >= 1 (add a zero model, ziformula='~ 1', for a hurdle model)",
            )  # fmt: skip
        return GlmResponse(y, w, ones, starting_means(family.name, y, w))
    if family.name == "beta":
        _require(family, response, y, (y > 0) & (y < 1), "it must be strictly between 0 and 1")
    if family.name == "lognormal":
        _require(family, response, y, y > 0, "it must be > 0")
    if family.name == "tweedie":
        _require(family, response, y, y >= 0, "it must be >= 0")
    if family.name in ("Gamma", "inverse_gaussian") and np.any(y <= 0):
        raise DataError(f"{family.name} response '{response}' has a non-positive value ({y[y <= 0][0]}); it must be > 0")
    if family.name == "gaussian" and family.link in ("log", "inverse") and np.any(y <= 0):
        raise DataError(f"gaussian response '{response}' must be > 0 for the {family.link} link (starting values)")
    return GlmResponse(y, w, ones, starting_means(family.name, y, w))


def _require(family: Family, response: str, y: np.ndarray, valid: np.ndarray, what: str) -> None:
    """A DataError naming the response column, what its values must be and the first rows that are not."""
    if np.all(valid):
        return
    rows = np.flatnonzero(~valid)
    shown = ", ".join(f"{y[r]:g} (row {r})" for r in rows[:5]) + (f", … ({len(rows)} values)" if len(rows) > 5 else "")
    raise DataError(f"{family.name} response '{response}': {what}; it has {shown}")


def starting_means(family: str, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """R's family$initialize: μ to start PIRLS from."""
    if family in ("binomial", "beta_binomial"):
        return (weights * y + 0.5) / (weights + 1)
    if family == "poisson":
        return y + 0.1
    if family in ("negative_binomial", "nbinom1", "genpois") or family in _ZERO_TRUNCATED:
        return y + (y == 0) / 6  # MASS's negative.binomial()$initialize (a hurdle's zeros too)
    if family == "tweedie":  # statmod's tweedie()$initialize, y + 0.1 at zeros, in the data's units
        return y + (y == 0) * 0.1 * max(float(np.mean(y)), np.finfo(float).tiny)
    return y.copy()


def initial_theta(family: Family, y: np.ndarray) -> float:
    """The family's own parameter that stage 1 holds fixed (stage 2 estimates it): the given one,
    else 1 (NB's and the beta's scale-free parameters; genpois: the Poisson) or, for the
    lognormal's standard deviation and the Student t's scale, the response's; for the Tweedie's φ
    the moment estimate var(y)/mean(y)^1.5 (at the start p = 1.5)."""
    if family.theta is not None:
        return family.theta
    if family.name in ("lognormal", "student_t"):
        sd = float(np.std(y))
        return sd if sd > 0 else 1.0
    if family.name == "tweedie":
        mean, variance = float(np.mean(y)), float(np.var(y))
        return variance / mean**1.5 if variance > 0 and mean > 0 else 1.0
    return 1.0


def _zero_probability(family: Family, mu: np.ndarray) -> np.ndarray:
    """P(Y = 0) of the untruncated distribution behind a zero-truncated family, at its mean μ."""
    if family.name == "truncated_poisson":
        return np.exp(-mu)
    if family.name == "truncated_nbinom2":
        return np.exp(-family.theta * np.log1p(mu / family.theta))
    return np.exp(-mu / family.theta * np.log1p(family.theta))  # truncated_nbinom1


def response_mean(family: Family, mu: np.ndarray) -> np.ndarray:
    """E[y] at the family's μ: μ itself, or for a zero-truncated family μ/(1 − P(Y = 0)), the mean
    of the truncated distribution (glmmTMB's predict(type = "response"))."""
    if not family.zero_truncated:
        return mu
    return mu / -np.expm1(np.log(_zero_probability(family, mu)))


def truncated_variance(family: Family, mu: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Var[y | y ≥ 1] from the untruncated mean μ and variance: E[y²]/(1 − p₀) − E[y | y ≥ 1]²."""
    p0 = _zero_probability(family, mu)
    return (variance + mu**2) / (1 - p0) - (mu / (1 - p0)) ** 2
