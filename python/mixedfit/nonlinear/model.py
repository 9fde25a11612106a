"""Nonlinear mixed-effects models: ``mixedfit.nlme``, nlme's nlme() (Lindstrom–Bates, ML or REML)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._lazy import optimize, stats
from ..design.frame import as_dataframe
from ..errors import DataError, FormulaError, SingularFitWarning, warn
from ..models.residual_structure import check_correlation
from ..models.separable import corAR1xAR1
from ..models.variance import FITTED, VARIANCE_FUNCTIONS
from .group_levels import GroupLevels
from .laplace import LaplaceFit, laplace_fit, random_blocks
from .lindstrom_bates import LindstromBatesFit, NonlinearProblem, level_names, lindstrom_bates, pnls
from .mean_function import MeanFunction, parse_mean
from .specification import ParameterDesign, fixed_formulas, parameter_design, random_parameters, start_vector


class NonlinearMixedModel:
    """A fitted nonlinear mixed-effects model (see :func:`mixedfit.nlme` and :func:`mixedfit.nlmer`)."""

    def __init__(
        self, mean: MeanFunction, design: ParameterDesign, frame: pd.DataFrame, levels: GroupLevels, codes: np.ndarray,
        fit: LindstromBatesFit | LaplaceFit, method: str,
    ) -> None:  # fmt: skip
        self.mean, self.design, self.frame, self.method = mean, design, frame, method
        self._levels, self._codes = levels, codes  # each row's group at each level, as b's rows (n × levels)
        self._fit = fit
        self.iterations, self.converged = fit.iterations, fit.converged
        if fit.singular:
            warn(
                "boundary (singular) fit: a random effect's variance is (nearly) zero or a correlation ±1",
                SingularFitWarning,
            )

    # Estimates
    @property
    def fixef(self) -> pd.Series:
        """The fixed effects β, with nlme's names ('Asym', or 'Asym.Type2' for a covariate)."""
        return pd.Series(self._fit.beta, index=self.design.beta_names, name="Estimate")

    @property
    def ranef(self) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """The random effects b, groups × random parameters; with nested groups a dict of them by
        level, outermost first (nlme's list), the inner groups labelled 'B1/T3'."""
        levels = self._levels
        bounds = np.cumsum([0, *levels.sizes])
        tables = {
            column: pd.DataFrame(
                self._fit.b[bounds[level] : bounds[level + 1]], index=levels.labels(level),
                columns=self.design.random_names,
            )
            for level, column in enumerate(levels.columns)
        }  # fmt: skip
        return tables if len(tables) > 1 else next(iter(tables.values()))

    def coef(self) -> pd.DataFrame:
        """Each (innermost) group's coefficients: the fixed effects plus its random effects at
        every level (nlme's coef)."""
        inner = self._levels.labels(len(self._levels.columns) - 1)
        table = pd.DataFrame(np.tile(self._fit.beta, (len(inner), 1)), index=inner, columns=self.design.beta_names)
        first_rows = np.unique(self._codes[:, -1], return_index=True)[1]  # a row of each inner group, in their order
        effects = self._fit.b[self._codes[first_rows]].sum(axis=1)
        slices = self.design.slices
        for j, p in enumerate(self.design.random):
            table.iloc[:, slices[p].start] += effects[:, j]
        return table

    @property
    def vcov(self) -> pd.DataFrame:
        """The fixed effects' covariance: σ²(X'V⁻¹X)⁻¹ of the final linearized model (nlme's vcov;
        nlmer's from RX, as lme4's)."""
        return pd.DataFrame(self._fit.vcov, index=self.design.beta_names, columns=self.design.beta_names)

    @property
    def stderr(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.design.beta_names, name="Std.Error")

    @property
    def sigma(self) -> float:
        return self._fit.sigma

    @property
    def VarCorr(self) -> pd.DataFrame:
        """SDs of the random effects (and their correlations) and the residual SD, as lme4's layout."""
        return self._fit.varcorr

    @property
    def loglik(self) -> float:
        """nlme's: the (restricted for REML) log-likelihood of the final linearized model; nlmer's:
        the Laplace approximation's."""
        return self._fit.loglik

    @property
    def dof(self) -> int:
        """Parameters: fixed effects, the random effects' covariance and σ."""
        return len(self.design.beta_names) + self._fit.n_theta + 1

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.dof

    @property
    def bic(self) -> float:
        return -2 * self.loglik + np.log(self.nobs) * self.dof

    @property
    def nobs(self) -> int:
        return len(self.frame)

    # Predictions
    def predict(self, newdata: Any = None, level: int | None = None) -> np.ndarray:
        """The mean at the population level (level=0: random effects 0) or the groups' (level=k:
        each row's groups' random effects at the k outermost levels, nlme's level; a group the fit
        has not seen gets 0).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows with the model's covariates (and the group columns down to level); default the fit's.
        level : int, optional
            0 to the number of grouping levels (the default: the innermost, every level's effects).

        Returns
        -------
        ndarray
        """
        deepest = len(self._levels.columns)
        level = deepest if level is None else level
        if level not in range(deepest + 1):
            raise ValueError(f"level must be 0 (population) to {deepest} (the innermost groups), not {level!r}")
        frame = self.frame if newdata is None else as_dataframe(newdata).reset_index(drop=True)
        design = self.design
        data = _covariate_arrays(frame, self.mean)
        matrices = {p: design.recipes[p].evaluate(frame, design.columns[p]) for p in design.parameters}
        b = codes = None
        if level > 0 and design.random:
            codes = self._levels.rows_of(frame, level)
            b = np.vstack([self._fit.b, np.zeros((1, len(design.random)))])  # (row −1: no effect)
        value, _ = self.mean.evaluate(data, design.parameter_values(matrices, self._fit.beta, b, codes))
        return value

    @property
    def fitted(self) -> np.ndarray:
        return self.predict()

    def residuals(self, level: int | None = None) -> np.ndarray:
        return self.frame[self.mean.response].to_numpy(dtype=np.float64) - self.predict(level=level)

    def anova(self, other: NonlinearMixedModel) -> pd.DataFrame:
        """nlme's anova(m0, m1) of two nested fits to the same data: df, AIC, BIC, logLik and the
        likelihood-ratio test (ML fits; REML fits only when their fixed effects are the same)."""
        models = sorted([self, other], key=lambda m: m.dof)
        if models[0].nobs != models[1].nobs:
            raise ValueError("the models were fitted to different numbers of observations")
        ratio = 2 * (models[1].loglik - models[0].loglik)
        df = models[1].dof - models[0].dof
        table = pd.DataFrame(
            {"df": [m.dof for m in models], "AIC": [m.aic for m in models], "BIC": [m.bic for m in models],
             "logLik": [m.loglik for m in models]},
            index=["model1", "model2"],
        )  # fmt: skip
        table["L.Ratio"] = [np.nan, ratio]
        table["p-value"] = [np.nan, float(stats().chi2.sf(ratio, df)) if df > 0 else np.nan]
        return table

    def summary(self) -> str:
        """nlme's summary layout: the model, fit statistics, random effects, fixed effects."""
        coefficients = pd.DataFrame({"Value": self.fixef, "Std.Error": self.stderr})
        inner = self._levels.sizes[-1]
        df = self.nobs - len(self.design.beta_names) - (inner - 1)  # nlme's DF (Orange 28, CO2 67, nested 238)
        coefficients["DF"] = df
        coefficients["t-value"] = coefficients["Value"] / coefficients["Std.Error"]
        coefficients["p-value"] = 2 * stats().t.sf(np.abs(coefficients["t-value"]), df)
        names = level_names(self._levels.columns)
        nested = len(names) > 1
        vc = self.VarCorr
        vc = vc.iloc[np.argsort([names.index(g) if g in names else len(names) for g in vc["grp"]], kind="stable")]
        random = "\n".join(
            f" {(row.grp + ': ' if nested and row.var1 else '') + (row.var1 or 'Residual'):<14} {row.sdcor:10.6g}"
            for row in vc.itertuples() if row.var2 == ""
        )  # (outermost level first, as nlme prints them)  # fmt: skip
        groups = ", ".join(f"{size} groups of {name}" for size, name in zip(self._levels.sizes, names))
        lines = [
            "Nonlinear mixed-effects model fit by "
            + {"REML": "REML", "ML": "maximum likelihood", "Laplace": "maximum likelihood (Laplace approximation)"}[
                self.method
            ],
            f"  Model: {self.mean.text}",
            f"  Data: {self.nobs} observations, {groups}",
            f"       AIC      BIC    logLik\n  {self.aic:8.6g} {self.bic:8.6g} {self.loglik:9.6g}",
            "",
            f"Random effects (formula: {' + '.join(self.design.random)} ~ 1 | {self.design.group}), standard deviations:",
            random,
            "",
            *self._fit.structure_lines,
            "Fixed effects:",
            coefficients.to_string(float_format=lambda v: f"{v:.6g}"),
            "",
            f"Number of iterations: {self.iterations}" + ("" if self.converged else " (not converged)"),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"NonlinearMixedModel('{self.mean.text}', nobs={self.nobs}, logLik={self.loglik:.6g})"


def _covariate_arrays(frame: pd.DataFrame, mean: MeanFunction) -> dict[str, np.ndarray]:
    data = {}
    for column in mean.covariates:
        if column not in frame:
            raise DataError(f"the data lack the model's covariate '{column}'")
        data[column] = frame[column].to_numpy(dtype=np.float64)
    return data


def nlme(
    model: str | Callable[..., Any],
    data: Any,
    fixed: str | Mapping[str, str] | Sequence[str],
    random: str,
    start: Mapping[str, Any] | Sequence[float] | None = None,
    method: str = "ML",
    covariance: str | None = None,
    groups: str | None = None,
    response: str | None = None,
    variance: Any = None,
    correlation: Any = None,
    max_iter: int = 50,
    tolerance: float = 1e-5,
) -> NonlinearMixedModel:
    """Fit a nonlinear mixed-effects model as nlme's ``nlme()``.

    Parameters
    ----------
    model : str or callable
        ``"y ~ SSlogis(age, Asym, xmid, scal)"`` (one of nlme's self-starting models: SSlogis,
        SSfpl, SSasymp, SSasympOff, SSasympOrig, SSmicmen, SSgompertz, SSweibull, SSbiexp, SSfol)
        or an expression in the parameters and columns (``"y ~ Asym / (1 + exp((xmid - age) / scal))"``),
        or a callable ``f(params, data)`` returning the mean (or the mean and a dict of its
        derivatives in each parameter) with ``response`` naming the response column.
    data : DataFrame
    fixed : str, dict or list of str
        The parameters' fixed effects: ``"Asym + xmid + scal ~ 1"``, or per parameter
        ``{"Asym": "~ Diet", "xmid": "~ 1", "scal": "~ 1"}``.
    random : str
        The parameters with random effects and their group: ``"Asym ~ 1 | Tree"``, or nested
        groups, outermost first: ``"Asym ~ 1 | Block/Tree"`` (the parameters random at each level,
        each level's covariance its own).
    start : dict or sequence, optional
        Starting fixed effects (a number per parameter, or one per column of its fixed formula);
        a self-starting model's come from a nonlinear least-squares fit of the pooled data.
    method : {"ML", "REML"}
    covariance : {None, "diag"}
        The random effects' covariance: general (nlme's pdSymm) or diagonal (pdDiag).
    groups : str, optional
        The group column (or nested ``"Block/Tree"``) when ``random`` has none.
    response : str, optional
        The response column of a callable model.
    variance : mixedfit.varIdent, varPower or varExp, optional
        nlme's ``weights=``: the residual SD's variance function (of a column, or without one of
        the fitted values as nlme's default ``varPower()``, updated before each LME step; ML fits).
    correlation : mixedfit.corAR1, corCAR1, corCompSymm, corExp, corGaus, corSpher, corLin or corRatio, optional
        nlme's ``correlation=``: the residuals' correlation within groups, whose column
        ``group`` is the random effects' group (or nested in it); ML fits.
    max_iter, tolerance
        The alternating algorithm's iterations and relative-change tolerance.

    Returns
    -------
    NonlinearMixedModel
    """
    if method not in ("ML", "REML"):
        raise ValueError(f"method must be 'ML' or 'REML', not {method!r}")
    if covariance not in (None, "diag"):
        raise ValueError(f"covariance must be None (general) or 'diag', not {covariance!r}")
    if variance is not None and not isinstance(variance, VARIANCE_FUNCTIONS):
        raise TypeError(f"variance must be mixedfit.varIdent, varPower or varExp, got {type(variance).__name__}")
    if correlation is not None:
        check_correlation(correlation)
    if method == "REML" and (variance is not None or correlation is not None):
        # nlme's REML fit of a nonlinear model stops where no REML criterion is optimal (see
        # lindstrom_bates._reported): with a residual structure its δ is neither the ML nor the
        # REML fixed point's (Loblolly's varPower: −0.16785; ML −0.16351, REML −0.16790), so no
        # answer here could be called nlme's
        raise NotImplementedError(
            "a variance function or correlation structure with method='REML' is not available: use method='ML'"
        )
    frame = as_dataframe(data)
    formulas = fixed_formulas(fixed)
    random_names, group_columns = random_parameters(random, groups)
    mean = parse_mean(model, list(formulas), set(frame.columns), response)
    structure_columns = [
        c for spec in (variance, correlation) if spec is not None for c in spec.columns if c != FITTED
    ]  # (the fitted values are the LME steps' own)
    needed = [mean.response, *mean.covariates, *group_columns, *structure_columns]
    missing = [c for c in dict.fromkeys(needed) if c not in frame]
    if missing:
        raise DataError(f"the data lack column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    frame = frame.dropna(subset=list(dict.fromkeys(needed))).reset_index(drop=True)
    design = parameter_design(mean.parameters, formulas, random_names, group_columns, covariance is None, frame)
    y = frame[mean.response].to_numpy(dtype=np.float64)
    levels, codes = GroupLevels.of(frame, design.groups)
    structure_frame = None
    if variance is not None or correlation is not None:
        structure_frame = frame[list(dict.fromkeys(structure_columns))].copy()
    if correlation is not None:
        _group_within_inner_groups(structure_frame, correlation, levels, codes)
        _check_correlation_groups(correlation, structure_frame, codes[:, -1], design.group)
    problem = NonlinearProblem(
        y, _covariate_arrays(frame, mean), mean, design, codes[:, 0] if codes.shape[1] == 1 else codes,
        sum(levels.sizes), variance, correlation, structure_frame, level_sizes=levels.sizes,
    )  # fmt: skip
    beta = start_vector(start, design) if start is not None else _self_start(problem)
    _check_start(problem, beta)
    fit = lindstrom_bates(problem, beta, method == "REML", max_iter, tolerance)
    return NonlinearMixedModel(mean, design, frame, levels, codes, fit, method)


def nlmer(formula: str, data: Any, start: Mapping[str, float]) -> NonlinearMixedModel:
    """Fit a nonlinear mixed model by the Laplace approximation, as lme4's ``nlmer()``.

    Parameters
    ----------
    formula : str
        Response, model and random effects in lme4's three-part form:
        ``"circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree"``, or
        ``"conc ~ SSfol(Dose, Time, lKe, lKa, lCl) ~ (lKa | Subject) + (0 + lCl | Subject)"``
        (parameters in a term together are correlated; one grouping factor). The model is one of
        nlme's self-starting models or an expression in the parameters named in ``start``.
    data : DataFrame
    start : dict
        The fixed effects' start, one per parameter (lme4 requires it).

    Returns
    -------
    NonlinearMixedModel
        ``iterations`` counts the deviance's evaluations (both stages).
    """
    parts = [part.strip() for part in formula.split("~")]
    if len(parts) != 3:
        raise FormulaError(f"nlmer's formula has three parts, 'y ~ model ~ Asym | group': got '{formula}'")
    if not isinstance(start, Mapping):
        raise DataError("nlmer needs start: a dict with one value per parameter, as lme4's")
    frame = as_dataframe(data)
    mean = parse_mean(f"{parts[0]} ~ {parts[1]}", list(start), set(frame.columns), None)
    names, blocks, group = random_blocks(parts[2], mean.parameters)
    needed = list(dict.fromkeys([mean.response, *mean.covariates, group]))
    missing = [c for c in needed if c not in frame]
    if missing:
        raise DataError(f"the data lack column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    frame = frame.dropna(subset=needed).reset_index(drop=True)
    design = parameter_design(mean.parameters, dict.fromkeys(mean.parameters, "1"), names, (group,), True, frame)
    y = frame[mean.response].to_numpy(dtype=np.float64)
    levels, codes = GroupLevels.of(frame, design.groups)
    problem = NonlinearProblem(y, _covariate_arrays(frame, mean), mean, design, codes[:, 0], levels.sizes[0])
    beta = start_vector(start, design)
    _check_start(problem, beta)
    fit = laplace_fit(problem, blocks, beta, design.random_names, group)
    return NonlinearMixedModel(mean, design, frame, levels, codes, fit, "Laplace")


def _group_within_inner_groups(
    structure_frame: pd.DataFrame, correlation: Any, levels: GroupLevels, codes: np.ndarray
) -> None:
    """With nested groups, a correlation grouped by the innermost column ('Tree' of Block/Tree)
    is within each inner group, as nlme's default: its column becomes the inner groups' labels."""
    inner = levels.columns[-1]
    if len(levels.columns) > 1 and getattr(correlation, "group", None) == inner:
        local = codes[:, -1] - sum(levels.sizes[:-1])
        structure_frame[inner] = levels.labels(len(levels.columns) - 1).to_numpy()[local]


def _check_correlation_groups(correlation: Any, frame: pd.DataFrame, codes: np.ndarray, group: str) -> None:
    """A FormulaError unless the correlation's groups lie within the random effects' groups (PNLS
    whitens within them) and are given (a structure across all rows, or a field grid, couples them)."""
    column = getattr(correlation, "group", None)
    if isinstance(correlation, corAR1xAR1) or column is None:
        raise FormulaError(
            f"nlme's correlation= needs a structure within groups (the column group= set to '{group}' or a group "
            f"nested in it), not {type(correlation).__name__}" + ("" if column else " across all rows")
        )
    inner = pd.factorize(frame[column])[0]
    spans = pd.DataFrame({"inner": inner, "outer": codes}).groupby("inner")["outer"].nunique()
    if (spans > 1).any():
        raise FormulaError(
            f"the correlation's groups ('{column}') must lie within the random effects' groups ('{group}'): "
            f"{int((spans > 1).sum())} of them span several"
        )


def _check_start(problem: NonlinearProblem, beta: np.ndarray) -> None:
    """The mean and its gradient finite at the start (random effects 0), or a DataError naming
    the first row and parameter at fault."""
    value, X, _ = problem.linearized(beta, np.zeros((problem.n_groups, problem.q)))  # (b = 0)
    bad = ~np.isfinite(value) | ~np.all(np.isfinite(X), axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        columns = [name for name, v in zip(problem.design.beta_names, X[row]) if not np.isfinite(v)]
        what = f"its derivative in {', '.join(columns)}" if np.isfinite(value[row]) else "the mean"
        start = ", ".join(f"{n} = {v:g}" for n, v in zip(problem.design.beta_names, beta))
        raise DataError(f"the model is not finite at the start ({start}): {what} at row {row} ({int(bad.sum())} rows)")


def _self_start(problem: NonlinearProblem) -> np.ndarray:
    """A self-starting model's start: its rough values, polished by a nonlinear least-squares fit
    of the pooled data (the random effects at 0), as nlme's getInitial."""
    mean, design = problem.mean, problem.design
    if mean.selfstart is None:
        raise DataError("start is needed: only nlme's self-starting models (SSlogis, ...) find their own")
    rough = mean.selfstart.start([problem.data[c] for c in mean.covariates], problem.y)
    beta = np.concatenate([[value] + [0.0] * (len(design.columns[p]) - 1) for p, value in zip(mean.parameters, rough)])
    no_random = np.zeros((problem.n_groups, problem.q))

    def residuals(b: np.ndarray) -> np.ndarray:
        value, _ = mean.evaluate(problem.data, problem.parameters(b, no_random))
        return np.where(np.isfinite(value), problem.y - value, 1e10)

    beta = optimize().least_squares(residuals, beta, method="lm").x
    beta, _ = pnls(problem, beta, np.zeros((problem.n_groups, problem.q)), problem.zero_factor())
    return beta
