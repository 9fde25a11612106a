"""Smooth terms ``s(x, bs="cr", k=10, by=f)`` in lmer/glmer formulas, represented as gamm4 does.

A smooth's basis (design/spline_bases.py) and penalty are put into mixed-model form as mgcv's
smoothCon and smooth2random do: the penalty is scaled to the basis' size, the basis is
constrained to sum to zero over the data (so that the intercept stays identifiable), and the
penalty's eigenvectors split the coefficients into the unpenalized part — fixed-effects columns
named ``s(x)Fx1``, ... — and the penalized part, iid random effects whose variance is the smooth's
(its smoothing parameter is σ² over it). A ``by`` factor makes one smooth per level (each centred
over all the data, as mgcv's); a numeric ``by`` multiplies the basis and leaves it uncentred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, FormulaError
from .formula import RandomTerm
from .smooth_spec import SmoothSpec
from .spline_bases import DEFAULT_K, TP_EXTRA_K, CubicRegressionSpline, PSpline, ThinPlateSpline, tp_null_dim


@dataclass(frozen=True)
class Smooth:
    """One smooth (one level of a by factor) in mixed-model form: ``columns(frame)`` gives its
    penalized columns (the random effects' model matrix) then its unpenalized ones (fixed
    effects); ``transform`` maps their coefficients back to the basis' coefficients."""

    spec: SmoothSpec
    label: str
    basis: CubicRegressionSpline | ThinPlateSpline | PSpline
    transform: np.ndarray  # k × k': basis coefficients of the mixed-model coefficients
    rank: int  # penalized columns (the first ``rank``)
    by_level: Any = None  # the by factor's level of this smooth (None: no by, or a numeric by)

    @property
    def fixed_names(self) -> list[str]:
        return [f"{self.label}Fx{j + 1}" for j in range(self.transform.shape[1] - self.rank)]

    @property
    def random_names(self) -> list[str]:
        return [f"{self.label}.{j + 1}" for j in range(self.rank)]

    def columns(self, frame: Any) -> np.ndarray:
        """The mixed-model columns at frame's rows (penalized, then unpenalized)."""
        return self.columns_of(_basis_matrix(self.basis, _covariates(frame, self.spec)), frame)

    def columns_of(self, X: np.ndarray, frame: Any) -> np.ndarray:
        """The columns from the basis' matrix X at frame's rows: times the by variable (or its
        level's indicator), then the transform."""
        if self.spec.by is not None:
            by = np.asarray(frame[self.spec.by])
            multiplier = by == self.by_level if self.by_level is not None else by
            X = X * np.asarray(multiplier, dtype=np.float64)[:, None]
        return X @ self.transform


def _basis_matrix(basis: CubicRegressionSpline | ThinPlateSpline | PSpline, x: np.ndarray) -> np.ndarray:
    return basis.matrix(x if isinstance(basis, ThinPlateSpline) else x[:, 0])


def _covariates(frame: Any, spec: SmoothSpec) -> np.ndarray:
    out = []
    for name in spec.variables:
        if name not in frame:
            raise DataError(f"smooth term {spec.text}: column '{name}' is not in the data")
        values = frame[name]
        if not pd.api.types.is_numeric_dtype(np.asarray(values).dtype) or pd.api.types.is_bool_dtype(
            np.asarray(values).dtype
        ):
            raise DataError(
                f"smooth term {spec.text}: covariate '{name}' must be numeric, not {np.asarray(values).dtype}"
            )
        values = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise DataError(
                f"smooth term {spec.text}: covariate '{name}' has a non-finite value at row "
                f"{int(np.flatnonzero(~np.isfinite(values))[0])}"
            )
        out.append(values)
    return np.column_stack(out)


def _basis_of(spec: SmoothSpec, x: np.ndarray) -> tuple[CubicRegressionSpline | ThinPlateSpline | PSpline, np.ndarray]:
    """The smooth's basis on the fit's covariates x and its matrix at them."""
    distinct = len(np.unique(x, axis=0))
    if spec.basis == "tp":
        d = x.shape[1]
        M = tp_null_dim(d)
        k = spec.k if spec.k is not None else M + TP_EXTRA_K[min(d, len(TP_EXTRA_K)) - 1]
        minimum = M + 1
    else:
        k = spec.k if spec.k is not None else DEFAULT_K[spec.basis]
        minimum = 3 if spec.basis == "cr" else 4
    if k < minimum:
        raise FormulaError(
            f"smooth term {spec.text}: k = {k} is below the smallest basis of bs='{spec.basis}' ({minimum})"
        )
    if k > distinct:
        raise DataError(
            f"smooth term {spec.text}: {'+'.join(spec.variables)} has {distinct} distinct values, too few for a basis "
            f"of dimension k = {k}: reduce k"
        )
    try:
        if spec.basis == "cr":
            return CubicRegressionSpline.of(x[:, 0], k)
        if spec.basis == "ps":
            return PSpline.of(x[:, 0], k)
        return ThinPlateSpline.of(x, k)
    except ValueError as exc:
        raise DataError(f"smooth term {spec.text}: {exc}") from None


def build_smooths(spec: SmoothSpec, frame: Any) -> list[tuple[Smooth, np.ndarray]]:
    """The smooth(s) of an ``s(...)`` on the fit's data, in mixed-model form, each with its
    columns at the fit's rows."""
    x = _covariates(frame, spec)
    basis, X = _basis_of(spec, x)
    # mgcv's smoothCon: the penalty scaled so that its size matches the basis' (‖S‖₁ / ‖X‖∞²).
    scale = np.max(np.sum(np.abs(basis.penalty), axis=0)) / np.max(np.sum(np.abs(X), axis=1)) ** 2
    S = basis.penalty / scale
    levels: list[Any] = [None]
    centred = True
    if spec.by is not None:
        if spec.by not in frame:
            raise DataError(f"smooth term {spec.text}: by variable '{spec.by}' is not in the data")
        by = frame[spec.by]
        if pd.api.types.is_numeric_dtype(np.asarray(by).dtype) and not pd.api.types.is_bool_dtype(np.asarray(by).dtype):
            values = np.asarray(by, dtype=np.float64)
            # mgcv leaves a numeric by's smooth uncentred unless the by variable is constant.
            centred = bool(np.std(values) <= np.mean(values) * np.finfo(float).eps * 1000)
        else:
            levels = list(pd.Index(pd.unique(np.asarray(by))).sort_values())
    null_dim = basis.null_dim
    Z = np.eye(X.shape[1])
    if centred:
        # The sum-to-zero constraint absorbed: Z spans the coefficients with X's column means' product 0.
        Q, _ = np.linalg.qr(X.mean(axis=0)[:, None], mode="complete")
        Z = Q[:, 1:]
        null_dim -= 1
    values, vectors = np.linalg.eigh(Z.T @ S @ Z)
    order = np.argsort(-values, kind="stable")
    values, vectors = values[order], vectors[:, order]
    rank = Z.shape[1] - null_dim
    D = 1.0 / np.sqrt(np.concatenate([values[:rank], np.ones(null_dim)]))
    transform = Z @ (vectors * D)
    # An eigenvector's sign is arbitrary: each unpenalized column is made to rise with the
    # (first) covariate, so that its coefficient reads as a trend and does not depend on LAPACK.
    trend = (X @ transform[:, rank:]).T @ (x[:, 0] - x[:, 0].mean())
    transform[:, rank:] *= np.where(trend < 0, -1.0, 1.0)
    smooths = [
        Smooth(spec, spec.label if level is None else f"{spec.label}{level}", basis, transform, rank, level)
        for level in levels
    ]
    return [(smooth, smooth.columns_of(X, frame)) for smooth in smooths]


@dataclass(frozen=True)
class SmoothTerm(RandomTerm):
    """A smooth's penalized part as a random-effects term: iid effects (glmmTMB's homdiag) of a
    single group, named by the smooth's label."""

    smooth: Smooth | None = field(default=None, compare=False)

    @property
    def group(self) -> str:
        return self.smooth.label

    def __str__(self) -> str:
        return self.smooth.label


def smooth_term(smooth: Smooth) -> SmoothTerm:
    return SmoothTerm(" + ".join(smooth.spec.columns), (), "homdiag", 0, smooth)


@dataclass(frozen=True)
class SmoothRecipe:
    """A smooth's penalized columns for new data (prediction)."""

    smooth: Smooth
    expr: str

    def evaluate(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        return self.smooth.columns(frame)[:, : self.smooth.rank]
