"""nlme's self-starting nonlinear models (R's stats::SSlogis, ...): each model's mean and its
analytic gradient in its parameters, for vectors of covariates and of per-observation
parameters, and a rough starting value for a nonlinear least-squares fit of the pooled data.

Parametrizations are R's (its documentation of each SS function): rates as log rates (``lrc``,
``lKe``), so that every parameter is unconstrained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Arrays = list[np.ndarray]


@dataclass(frozen=True)
class SelfStart:
    """A model: its covariates' and parameters' roles, and mean(covariates, parameters) →
    (values, gradient: one array per parameter)."""

    name: str
    covariates: tuple[str, ...]  # the roles of its covariate arguments
    parameters: tuple[str, ...]  # the roles of its parameter arguments
    mean: Callable[[Arrays, Arrays], tuple[np.ndarray, Arrays]]
    start: Callable[[Arrays, np.ndarray], list[float]]


def _logistic(x: np.ndarray, xmid: np.ndarray, scal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1/(1 + e), its derivative in xmid and in scal, with e = exp((xmid − x)/scal)."""
    e = np.exp((xmid - x) / scal)
    d = 1.0 + e
    return 1.0 / d, -e / (scal * d**2), e * (xmid - x) / (scal**2 * d**2)


def _ss_logis(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (asym, xmid, scal) = cov, par
    g, g_xmid, g_scal = _logistic(x, xmid, scal)
    return asym * g, [g, asym * g_xmid, asym * g_scal]


def _ss_fpl(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (a, b, xmid, scal) = cov, par
    g, g_xmid, g_scal = _logistic(x, xmid, scal)
    return a + (b - a) * g, [1.0 - g, g, (b - a) * g_xmid, (b - a) * g_scal]


def _ss_asymp(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (asym, r0, lrc) = cov, par
    rate = np.exp(lrc)
    q = np.exp(-rate * x)
    return asym + (r0 - asym) * q, [1.0 - q, q, -(r0 - asym) * q * rate * x]


def _ss_asymp_off(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (asym, lrc, c0) = cov, par
    rate = np.exp(lrc)
    q = np.exp(-rate * (x - c0))
    return asym * (1.0 - q), [1.0 - q, asym * q * rate * (x - c0), -asym * q * rate]


def _ss_asymp_orig(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (asym, lrc) = cov, par
    rate = np.exp(lrc)
    q = np.exp(-rate * x)
    return asym * (1.0 - q), [1.0 - q, asym * q * rate * x]


def _ss_micmen(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (vm, k) = cov, par
    return vm * x / (k + x), [x / (k + x), -vm * x / (k + x) ** 2]


def _ss_gompertz(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (asym, b2, b3) = cov, par
    power = b3**x
    g = np.exp(-b2 * power)
    return asym * g, [g, -asym * g * power, -asym * g * b2 * x * b3 ** (x - 1.0)]


def _ss_weibull(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (asym, drop, lrc, pwr) = cov, par
    rate = np.exp(lrc)
    power = x**pwr
    h = np.exp(-rate * power)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
    return asym - drop * h, [np.ones_like(h), -h, drop * h * rate * power, drop * h * rate * power * log_x]


def _ss_biexp(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    (x,), (a1, lrc1, a2, lrc2) = cov, par
    k1, k2 = np.exp(lrc1), np.exp(lrc2)
    q1, q2 = np.exp(-k1 * x), np.exp(-k2 * x)
    return a1 * q1 + a2 * q2, [q1, -a1 * q1 * k1 * x, q2, -a2 * q2 * k2 * x]


def _ss_fol(cov: Arrays, par: Arrays) -> tuple[np.ndarray, Arrays]:
    """First-order compartment model: Dose·ke·ka/(Cl(ka − ke))·(e^{−ke t} − e^{−ka t})."""
    (dose, t), (lke, lka, lcl) = cov, par
    ke, ka = np.exp(lke), np.exp(lka)
    c = dose * np.exp(lke + lka - lcl) / (ka - ke)
    qe, qa = np.exp(-ke * t), np.exp(-ka * t)
    f = c * (qe - qa)
    d_lke = f * (1.0 + ke / (ka - ke)) - c * ke * t * qe
    d_lka = f * (1.0 - ka / (ka - ke)) + c * ka * t * qa
    return f, [d_lke, d_lka, -f]


def _range_start(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """A curve's top, the covariate where it is halfway up, and a quarter of the covariate's range."""
    top = float(np.max(y)) * 1.05
    half = float(x[np.argmin(np.abs(y - top / 2))])
    return top, half, float(np.ptp(x)) / 4 or 1.0


def _log_rate(x: np.ndarray) -> float:
    """A rate whose curve bends over the covariate's range."""
    return float(np.log(3.0 / (np.ptp(x) or 1.0)))


MODELS = {
    m.name: m
    for m in [
        SelfStart("SSlogis", ("input",), ("Asym", "xmid", "scal"), _ss_logis, lambda c, y: list(_range_start(c[0], y))),
        SelfStart(
            "SSfpl", ("input",), ("A", "B", "xmid", "scal"), _ss_fpl,
            lambda c, y: [float(np.min(y)), *_range_start(c[0], y)],
        ),
        SelfStart(
            "SSasymp", ("input",), ("Asym", "R0", "lrc"), _ss_asymp,
            lambda c, y: [float(np.max(y)), float(y[np.argmin(c[0])]), _log_rate(c[0])],
        ),
        SelfStart(
            "SSasympOff", ("input",), ("Asym", "lrc", "c0"), _ss_asymp_off,
            lambda c, y: [float(np.max(y)), _log_rate(c[0]), float(np.min(c[0]))],
        ),
        SelfStart(
            "SSasympOrig", ("input",), ("Asym", "lrc"), _ss_asymp_orig,
            lambda c, y: [float(np.max(y)), _log_rate(c[0])],
        ),
        SelfStart(
            "SSmicmen", ("input",), ("Vm", "K"), _ss_micmen,
            lambda c, y: [float(np.max(y)), float(np.median(c[0]))],
        ),
        SelfStart(
            "SSgompertz", ("x",), ("Asym", "b2", "b3"), _ss_gompertz,
            lambda c, y: [float(np.max(y)) * 1.05, 2.0, 0.5 ** (4.0 / (np.ptp(c[0]) or 1.0))],
        ),
        SelfStart(
            "SSweibull", ("x",), ("Asym", "Drop", "lrc", "pwr"), _ss_weibull,
            lambda c, y: [float(np.max(y)), float(np.ptp(y)), _log_rate(c[0]), 1.0],
        ),
        SelfStart(
            "SSbiexp", ("input",), ("A1", "lrc1", "A2", "lrc2"), _ss_biexp,
            lambda c, y: [float(np.max(y)) / 2, _log_rate(c[0]) + 1.0, float(np.max(y)) / 2, _log_rate(c[0]) - 1.0],
        ),
        SelfStart(
            "SSfol", ("Dose", "input"), ("lKe", "lKa", "lCl"), _ss_fol,
            lambda c, y: [_log_rate(c[1]) - 1.0, _log_rate(c[1]) + 1.0, float(np.log(np.median(c[0]) / (np.sum(y) + 1e-300) * 0.3))],
        ),
    ]
}  # fmt: skip
