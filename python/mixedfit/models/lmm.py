"""Linear mixed models: lme4's lmer."""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import threads
from .._lazy import stats
from .._native import _core
from ..design.arrays import RandomTerm
from ..design.frame import response_variables
from ..design.matrices import numeric_column
from ..errors import ConvergenceWarning, DataError, FormulaError, warn
from ..inference.condvar import conditional_variances
from ..inference.convergence import (
    GRADIENT_MESSAGE,
    check_convergence,
    convergence_problems,
    gradient_problem,
    newton_point,
)
from ..inference.derivatives import central_gradient
from ..inference.fixed_effects_tests import anova_table, drop1_table
from ..inference.kenward_roger import KenwardRoger, kenward_roger
from ..inference.parameters import sdcor_bounds, sdcor_to_theta, theta_to_sdcor
from ..inference.profile import ProfileProblem, signed_root, standard_errors
from ..inference.ranova import ranova
from ..inference.satterthwaite import Satterthwaite, satterthwaite
from ..progress import Progress
from .control import Control
from .dispersion import DispersionFormula
from .families import cbind_parts
from .marginal import marginal_covariance
from .model import MixedModel
from .optimize import (
    LMER_XTOL_REL,
    NUMERICAL_FAILURE,
    OptSummary,
    bobyqa,
    bobyqa_in_core,
    bobyqa_settings,
    converged_code,
)
from .parallel_rows import rows_on_cores
from .refits import CRITERION_FAILED, EVALUATION_LIMIT
from .residual_structure import ResidualStructure, bind_correlation, check_correlation
from .results import criterion_line, criterion_table
from .smooth_boundary import start_off_boundary
from .structured import ResidualStructureFit
from .synchronization import restored_on_interrupt, synchronized
from .variance import FITTED, VARIANCE_FUNCTIONS

# Work per call into the core when refitting many responses: Ctrl-C is seen between calls.
CHUNK_SECONDS = 0.25


class LinearMixedModel(ResidualStructureFit, MixedModel):
    """y | u ~ N(Xβ + Zu + offset, σ² D C D), u ~ N(0, σ²ΛΛ'), fitted by REML or ML as lme4's lmer;
    D = diag(sᵢ(δ)/√wᵢ) holds the prior weights and a variance function's sᵢ (nlme's varIdent,
    varPower, varExp), C(φ) a within-group correlation (corAR1, corCAR1, corCompSymm), if any."""

    def __init__(
        self,
        formula: str,
        data: Any,
        REML: bool = True,
        weights: Any = None,
        offset: Any = None,
        n_threads: int | None = None,
        variance: Any = None,
        correlation: Any = None,
    ) -> None:
        if not isinstance(REML, (bool, np.bool_)):
            raise TypeError(f"REML must be True or False, got {REML!r}")
        if variance is not None and not isinstance(variance, (*VARIANCE_FUNCTIONS, DispersionFormula)):
            raise TypeError(
                f"variance must be mixedfit.varIdent, varPower or varExp, got {type(variance).__name__}"
            )
        if correlation is not None:
            check_correlation(correlation)
        if FITTED in getattr(variance, "columns", ()) and FITTED not in getattr(data, "columns", ()):
            raise DataError(
                f"{type(variance).__name__}() without a covariate is of the fitted values (nlme's form ~fitted(.)), "
                f"which mixedfit.nlme fits; lmer needs a column: {type(variance).__name__}('x')"
            )
        self._variance_spec, self._correlation_spec = variance, correlation
        super().__init__(formula, data, weights, offset, n_threads)
        self.REML = bool(REML)
        d = self.design
        self._response = numeric_column(self.parsed.response, self.frame, "response")
        n, p = d.fixed.X.shape
        if n <= p:
            raise DataError(
                f"{n} observations for {p} fixed effects ({', '.join(d.fixed.names)}): a linear mixed model "
                "needs more observations than fixed effects to estimate the residual variance"
            )
        self._prior_weights = np.ones(n) if self.frame.weights is None else np.ascontiguousarray(self.frame.weights)
        self._y_minus_offset = np.ascontiguousarray(self._response - d.offset)
        self._structure: ResidualStructure | None = None
        if variance is not None or correlation is not None:
            self._structure = ResidualStructure(
                None if variance is None else variance.bind(self.frame.data),
                None if correlation is None else bind_correlation(correlation, self.frame.data),
                self._prior_weights, d.fixed.X, d.Zt, self._y_minus_offset,
            )  # fmt: skip
        self._weights = self._prior_weights if self._structure is None else self._structure.weights
        self._core = self._new_core()
        self._restart_optimizer(self._data_based_start())

    def _data_based_start(self) -> np.ndarray:
        """lme4's starting θ (mkLmerDevfun): 1 on Λ's diagonal, except for a model whose terms are
        all scalar intercepts, each with its own grouping factor: there θ_k = √(v_k / v_e), v_k the
        variance of y's group means over the observations and v_e = var(y) − Σ v_k, if v_e > 0.
        (InstEval then needs 69 evaluations instead of 111; lme4 68.)"""
        terms = self.design.terms
        factors = {t.term.group for t in terms}
        if any(t.columns != ["(Intercept)"] or t.covariance.kind != "us" for t in terms) or len(factors) != len(terms):
            return self.design.theta0.copy()
        y = self._response
        group_variances = []
        for t in terms:
            means = np.bincount(t.codes, weights=y, minlength=t.n_levels) / np.bincount(t.codes, minlength=t.n_levels)
            group_variances.append(np.var(means[t.codes], ddof=1))
        start = intercepts_start(np.var(y, ddof=1), group_variances)
        return self.design.theta0.copy() if start is None else start

    def _with_values(self, y: np.ndarray, X: np.ndarray, z_values: np.ndarray) -> LinearMixedModel:
        """An unfitted copy of this model (no residual structure, no offset) with other values in
        the same pattern: response y, fixed-effects matrix X, and Z's values observation by
        observation (Zt.data's order). A nonlinear fit's LME steps relinearize the same model
        each iteration: this skips the formula and the model frame (most of a small step's cost)."""
        d = self.design
        Zt = d.Zt.copy()
        Zt.data = np.ascontiguousarray(z_values, dtype=np.float64).ravel()
        twin = copy.copy(self)
        twin.design = dataclasses.replace(d, fixed=dataclasses.replace(d.fixed, X=np.asfortranarray(X)), Zt=Zt)
        twin._response = twin._y_minus_offset = np.ascontiguousarray(y, dtype=np.float64)
        twin._fitted = False
        twin._core = twin._new_core()
        twin._restart_optimizer(self.design.theta0.copy())
        return twin

    def _make_core(self):
        d = self.design
        if self._whitened:
            s = self._structure
            core = _core.LinearMixedModel(s.X, s.Zt, d.Lambdat, d.Lind, d.term_shapes, s.y, np.ones(len(s.y)))
            if len(s.y) != len(self._response):  # whitened rows are a grid's cells, not its plots
                core.set_observations(float(len(self._response)), 0.0)
            return core
        return _core.LinearMixedModel(d.fixed.X, d.Zt, d.Lambdat, d.Lind, d.term_shapes, self._y_minus_offset, self._weights)

    @classmethod
    def from_arrays(
        cls,
        y: Any,
        X: Any,
        terms: Sequence[RandomTerm],
        REML: bool = True,
        weights: Any = None,
        offset: Any = None,
        names: Sequence[str] | None = None,
        n_threads: int | None = None,
    ) -> LinearMixedModel:
        """An (unfitted) linear mixed model from arrays, without a formula.

        Parameters
        ----------
        y : array, length n
            The response.
        X : array, n × p
            The fixed-effects model matrix (include a column of ones for an intercept).
        terms : list of mixedfit.RandomTerm
            The random-effects terms: group codes and model matrices.
        REML, weights, offset, n_threads
            As for ``lmer`` (weights and offset as arrays).
        names : list of str, optional
            Names of X's columns (default x1, x2, …).

        Returns
        -------
        LinearMixedModel
            Call ``.fit()``; new data for ``predict`` are ``mixedfit.ArrayData(X, terms)``.
        """
        return cls._from_arrays(y, X, terms, names, weights, offset, REML=REML, n_threads=n_threads)

    def _first_optsum(self, theta: np.ndarray) -> OptSummary:
        """lmer's stopping rules: nloptwrap's, with nloptr's xtol_rel."""
        return dataclasses.replace(super()._first_optsum(theta), xtol_rel=LMER_XTOL_REL)

    def _restore_core(self) -> None:
        self.objective_at(self._theta)

    def _response_variables(self) -> set[str]:
        if cbind_parts(self.parsed.response) is not None:
            raise FormulaError(
                f"the response '{self.parsed.response}' is a binomial count: fit it with "
                "mixedfit.glmer(..., family='binomial')"
            )
        return response_variables(self.parsed.response)

    @synchronized
    def objective_at(self, theta: np.ndarray) -> float:
        """The REML criterion (or ML deviance) at θ, β and σ profiled out (a residual structure at
        its current parameters).

        Parameters
        ----------
        theta : array
            The relative covariance parameters θ (as ``theta``).

        Returns
        -------
        float
        """
        return self._core.objective(np.ascontiguousarray(theta, dtype=np.float64), self.REML) + self._jacobian()

    @synchronized
    @restored_on_interrupt
    def fit(
        self, check_conv: bool = True, verbose: bool = False, control: Control | Mapping[str, Any] | None = None
    ) -> LinearMixedModel:
        """Optimize the criterion over θ.

        Parameters
        ----------
        check_conv : bool, default True
            lme4's convergence checks (gradient and Hessian of the criterion at the optimum; 2k²
            evaluations for k θ's).
        verbose : bool, default False
            Print each evaluation's objective and θ to standard error.
        control : dict or mixedfit.Control, optional
            The optimizer's controls with lme4's names (maxeval, ftol_abs, xtol_abs, xtol_rel,
            restart, check_conv): see :class:`mixedfit.Control`.

        Returns
        -------
        LinearMixedModel
            This model, fitted.
        """
        start = time.perf_counter()
        self._control = Control.of(control).with_budget_of(self.optsum)
        check_conv = check_conv and self._control.check_conv
        self.optsum = self._control.applied(self.optsum)
        self.optsum.verbose = verbose
        theta = self._optimize()
        restart = None if self._structure is not None else start_off_boundary(
            self.design, theta, lambda th: self._core.objective(th, self.REML)
        )
        if restart is not None:
            first = self.optsum
            self.optsum = self._control.applied(self._first_optsum(restart))
            theta = self._optimize()
            self.optsum.feval += first.feval
        self.optsum.seconds = time.perf_counter() - start
        self._record_factorization()
        self._set_estimates(theta)
        self._coef_table = None  # Satterthwaite table and ML refit belong to the previous fit
        self._kr = None
        self._satterthwaite_pieces = None
        self._ml = None
        self.convergence_problems: list[str] = []
        self._warn_if_singular()
        if check_conv and not self._quiet and not self.is_singular():
            self.convergence_problems = self._check_convergence(verbose)
            self.objective_at(self._theta)  # leave the core at the optimum
        return self

    def _optimize(self) -> np.ndarray:
        """θ̂ by BOBYQA from self.optsum (with a residual structure, θ and ψ jointly)."""
        if self._structure is None and not self.optsum.verbose and self.optsum.trace is None:
            return bobyqa_in_core(lambda x0, settings: self._core.optimize(x0, settings, self.REML), self.optsum)
        if self._structure is None:
            return bobyqa(lambda th: self._core.objective(th, self.REML), self.optsum)
        return self._optimize_with_structure()

    def _check_convergence(self, verbose: bool) -> list[str]:
        """lme4's checks in every optimized parameter (θ, and a residual structure's ψ); where the
        gradient check fails, one restart of BOBYQA from there with steps of a tenth of each
        parameter first (Orthodont's `age * Sex + (age | Subject)`: max|grad| 0.004 after NLopt's
        stop, none after the restart; BodyWeight's θ and continuous-AR φ: 0.003 in θ). Without a
        residual structure the check's derivatives also give one Newton step in θ, kept if it
        lowers the criterion; the gradient is measured again there only where it failed its check
        at BOBYQA's point (else the step, of a quadratic model's size, can only have lowered it:
        the Newton point's gradient is g + H·(−H⁻¹g) = 0 to second order; 2k evaluations saved)."""

        def problems_at_estimates() -> tuple[list[str], np.ndarray]:
            rows = None
            if self._structure is None:
                criterion, x = self.objective_at, self._theta.copy()
                rows = rows_on_cores(
                    self._core, lambda core, thetas: core.objectives(thetas, self.REML),
                    self.n_threads, self.optsum.seconds / max(self.optsum.feval, 1),
                )  # fmt: skip
            else:
                criterion = self._structure_criterion(len(self._theta))
                x = np.concatenate([self._theta, self._structure.psi])
            problems, (gradient, hessian) = check_convergence(
                criterion, x, self._objective, len(x), warn=False, f_rows=rows
            )
            if self._structure is not None:
                self._apply_structure(x[len(self._theta) :])  # the derivatives moved ψ
                return problems, x
            newton = newton_point(x, gradient, hessian, self.optsum.lower, self.optsum.upper)
            if newton is not None and (value := self.objective_at(newton)) < self._objective:
                self._set_estimates(newton, value)  # the core is at the Newton point
                self.optsum.final, self.optsum.fmin, self.optsum.newton_step = newton, self._objective, True
                x = newton.copy()
                if gradient_problem(gradient, hessian):
                    problems = convergence_problems(central_gradient(criterion, x, f_rows=rows), hessian, len(x))
            return problems, x

        problems, x = problems_at_estimates()
        control = self._control
        first = self.optsum
        if (
            any(p.startswith(GRADIENT_MESSAGE) for p in problems) and control.restart
            and first.return_code != "MAXEVAL_REACHED" and not control.exhausted(first.feval)
        ):  # fmt: skip
            self.optsum = control.applied(
                OptSummary(
                    initial=x, lower=first.lower, upper=first.upper, initial_step=np.maximum(0.1 * np.abs(x), 1e-3),
                    verbose=verbose, quiet=self._quiet,
                ),
                spent=first.feval,
            )  # fmt: skip
            self._set_estimates(self._optimize())
            self.optsum.initial, self.optsum.feval = first.initial, first.feval + self.optsum.feval
            problems, _ = problems_at_estimates()
        for message in problems:
            warn(message, ConvergenceWarning)
        return problems

    def _set_response(self, new_response) -> None:
        self._response = self._checked_response(new_response)
        self._y_minus_offset = self._response - self.design.offset
        if self._structure is not None:
            self._structure.set_response(self._y_minus_offset)
        if self._whitened:  # the core reads the structure's whitened response in place
            self._core.values_changed()
        else:
            self._core.set_response(self._y_minus_offset)

    def _fit_responses(
        self, responses: np.ndarray, n_threads: int, start: np.ndarray, progress: Progress | None = None
    ) -> dict[str, np.ndarray]:
        """On C++ threads: each thread has its own compiled model and runs the core's BOBYQA
        without the GIL (with a residual structure, whose ψ the C++ refits would hold fixed, on
        Python threads). The responses go to the core in chunks of about CHUNK_SECONDS of work,
        so that Ctrl-C (KeyboardInterrupt, raised between chunks) stops within a second and
        progress can be reported; every refit starts from start, so the chunking changes nothing
        in the results."""
        d, opt = self.design, self.optsum
        if self._structure is not None or d.structured:  # (the C++ refits know neither)
            return super()._fit_responses(responses, n_threads, start, progress)
        y = np.asfortranarray(responses - d.offset[:, None])
        # The fit's bounds and stopping rules with NLopt's default steps (a restart's steps are for its own start).
        settings = bobyqa_settings(dataclasses.replace(opt, lower=self._lower(), upper=None, initial_step=None))
        parts, done, size = [], 0, n_threads
        while done < y.shape[1]:
            began = time.perf_counter()
            parts.append(
                _core.lmm_refits(
                    d.fixed.X, d.Zt, d.Lambdat, d.Lind, d.term_shapes, self._weights,
                    np.asfortranarray(y[:, done : done + size]), self.REML, np.asarray(start, dtype=np.float64),
                    settings, n_threads,
                )
            )  # fmt: skip
            chunk = min(size, y.shape[1] - done)
            done += chunk
            if progress is not None:
                progress.advance(chunk)
            per_refit = (time.perf_counter() - began) / chunk
            size = max(n_threads, int(CHUNK_SECONDS / max(per_refit, 1e-9)))
        result = {key: np.concatenate([p[key] for p in parts], axis=-1) for key in parts[0]}
        code = result["code"]
        converged = converged_code(code)
        reasons = np.where(converged, "", np.where(code == NUMERICAL_FAILURE, CRITERION_FAILED, EVALUATION_LIMIT)).astype(object)
        kept = {key: result[key] for key in ("theta", "beta", "stderr", "sigma", "objective", "evaluations")}
        return {**kept, "converged": converged, "reasons": reasons}

    def _set_estimates(self, theta: np.ndarray, objective: float | None = None) -> None:
        """The estimates at θ; objective: the criterion there if the core was just evaluated at θ."""
        self._objective = self.objective_at(theta) if objective is None else objective
        self._theta = np.array(theta, dtype=np.float64)
        core = self._core
        self._beta = np.array(core.beta)
        self._b = np.array(core.b)
        self._sigma = core.sigma(self.REML)
        RX_inv = np.linalg.inv(core.RX)  # p × p upper triangular (scipy's solver costs ms here)
        self._vcov = self._sigma**2 * RX_inv @ RX_inv.T
        self._loglik = -0.5 * self._objective
        self._deviance = core.deviance_ml() + self._jacobian()
        d = self.design
        self._fitted_values = d.fixed.X @ self._beta + d.Zt.T @ self._b + d.offset
        self._fitted = True

    @property
    def deviance(self) -> float:
        """−2 log-likelihood at the estimates (for a REML fit: lme4's deviance(m, REML=FALSE))."""
        self._require_fit()
        return self._deviance

    @property
    @synchronized
    def R(self) -> sp.csc_matrix:
        """The residual covariance (n × n, sparse): σ² W⁻¹ for prior weights W, or σ² D C D with a
        residual structure."""
        self._require_fit()
        if self._structure is not None:
            return (self._sigma**2 * self._structure.covariance()).tocsc()
        return sp.diags(self._sigma**2 / self._weights, format="csc")

    @synchronized
    def V(self) -> sp.csc_matrix:
        """The marginal covariance of y, Z G Z' + R (n × n, sparse)."""
        self._require_fit()
        return marginal_covariance(self.Z, self.G, self.R)

    @synchronized
    def fitted_values(self, level: str = "conditional") -> np.ndarray:
        """Fitted values Xβ + Zb + offset ('conditional', as ``fitted``) or Xβ + offset ('marginal').

        Parameters
        ----------
        level : {"conditional", "marginal"}
            With the random effects' predictions or without.

        Returns
        -------
        ndarray
        """
        self._require_fit()
        if level == "conditional":
            return self._fitted_values.copy()
        if level == "marginal":
            return self.design.fixed.X @ self._beta + self.design.offset
        raise ValueError(f"level must be 'conditional' or 'marginal', not {level!r}")

    @synchronized
    def residuals(self, type: str = "response", level: str = "conditional") -> np.ndarray:
        """Residuals y − fitted ('response', 'working') or scaled by the square roots of the prior
        weights ('pearson', 'deviance'), as lme4's residuals() for lmer fits, or divided by their
        estimated SD σ·sᵢ/√wᵢ and, with a correlation structure, whitened by C^{-1/2} ('normalized',
        as nlme's);
        level 'marginal' takes them from Xβ + offset instead of the conditional fitted values.

        Parameters
        ----------
        type : {"response", "working", "pearson", "deviance", "normalized"}
            The kind of residual.
        level : {"conditional", "marginal"}
            From the fitted values with the random effects, or from Xβ + offset.

        Returns
        -------
        ndarray
            One residual per observation.
        """
        self._require_fit()
        raw = self._response - self.fitted_values(level)
        if type in ("response", "working"):
            return raw
        if type in ("pearson", "deviance"):
            return raw * np.sqrt(self._weights)
        if type == "normalized":
            whitened = self._structure.normalize(raw) if self._structure is not None else raw * np.sqrt(self._weights)
            return whitened / self._sigma
        raise ValueError(
            f"residual type must be 'response', 'pearson', 'deviance', 'working' or 'normalized', not {type!r}"
        )

    def _working_weights(self) -> np.ndarray:
        return np.ones(len(self._weights)) if self._whitened else self._weights

    def _conditional_variances(self) -> dict[str, np.ndarray]:
        if not self._whitened:
            return super()._conditional_variances()
        design = dataclasses.replace(self.design, Zt=self._structure.Zt)  # the core's whitened Z
        return conditional_variances(design, self._theta, self._working_weights(), self._sigma)

    def _specified_like(self, data: pd.DataFrame, weights: np.ndarray | None, offset: np.ndarray | None) -> LinearMixedModel:
        return LinearMixedModel(
            self.formula, data, REML=self.REML, weights=weights, offset=offset, n_threads=self.n_threads,
            variance=self._variance_spec, correlation=self._correlation_spec,
        )  # fmt: skip

    def _observation_weights(self) -> np.ndarray:
        if self._structure is not None:
            raise NotImplementedError("hat values of a model with a variance function or correlation structure are not available")
        return self._weights

    def _distribution_variance(self) -> float:
        return self._sigma**2

    def _random_effects_scale(self) -> float:
        return self._sigma

    def _draw_response(self, eta: np.ndarray, rng: np.random.Generator, newdata: pd.DataFrame | None) -> np.ndarray:
        weights = self._weights if newdata is None else self._new_weights(newdata)
        if self._structure is None:
            return eta + self._sigma * rng.standard_normal(len(eta)) / np.sqrt(weights)
        correlation = None
        if self._whitened:
            correlation = self._structure.correlation if newdata is None else bind_correlation(self._correlation_spec, newdata)
        return eta + self._sigma * self._structure.draw(rng, weights, correlation)

    def _new_weights(self, newdata: pd.DataFrame) -> np.ndarray:
        if self._weights_argument is None:
            prior = np.ones(len(newdata))
        elif isinstance(self._weights_argument, str) and self._weights_argument in newdata.columns:
            prior = newdata[self._weights_argument].to_numpy(dtype=np.float64)
        else:
            raise DataError("the model has prior weights: give them as a column of newdata (weights='column')")
        if self._structure is None or self._structure.variance is None:
            return prior
        return prior / self._structure.variance.sd(self._structure.delta, newdata) ** 2

    @property
    @synchronized
    def coef_table(self) -> pd.DataFrame:
        """Estimate, Std. Error, Satterthwaite df, t value and Pr(>|t|) of each fixed effect, as
        lmerTest's summary (computed on first use: about 16k² + 8k evaluations for k = len(θ) + 1)."""
        self._require_fit()
        if self._coef_table is None:
            pieces = self._satterthwaite()
            df = np.array([pieces.df(row) for row in np.eye(len(self._beta))])
            table = self.fixef.to_frame()
            table["Std. Error"] = self.stderr
            table["df"] = df
            table["t value"] = table["Estimate"] / table["Std. Error"]
            table["Pr(>|t|)"] = 2 * stats().t.sf(np.abs(table["t value"]), df)
            self._coef_table = table
        return self._coef_table.copy()

    @synchronized
    def _satterthwaite(self) -> Satterthwaite:
        """Satterthwaite's pieces at the estimates, computed once per fit."""
        if self._satterthwaite_pieces is None:
            self._satterthwaite_pieces = satterthwaite(self._core, self._theta, self._sigma, self._vcov, self.nobs, self.REML)
        return self._satterthwaite_pieces

    @synchronized
    def anova(self, type: str = "III", ddf: str = "Satterthwaite") -> pd.DataFrame:
        """F tests of the fixed-effects terms, as lmerTest's anova(m): Sum Sq, Mean Sq, NumDF,
        DenDF (ddf: "Satterthwaite" or "Kenward-Roger", the latter with its scaled F), F value,
        Pr(>F) per term. Type "III" (each term's coefficients = 0;
        models whose terms contain one another, as with interactions, are not supported yet) or
        "I" (sequential, any model).

        Parameters
        ----------
        type : {"III", "I"}
            Marginal or sequential tests.
        ddf : {"Satterthwaite", "Kenward-Roger"}
            The denominator degrees of freedom.

        Returns
        -------
        DataFrame
            One row per fixed-effects term.
        """
        self._require_fit()
        return anova_table(self, self._denominator_df(ddf), type)

    def _denominator_df(self, ddf: str) -> Satterthwaite | KenwardRoger:
        """The pieces F and t tests take their denominator df from (lmerTest's ddf argument)."""
        if ddf == "Satterthwaite":
            return self._satterthwaite()
        if ddf == "Kenward-Roger":
            return self._kenward_roger()
        raise ValueError(f"ddf must be 'Satterthwaite' or 'Kenward-Roger', not {ddf!r}")

    @synchronized
    def _kenward_roger(self) -> KenwardRoger:
        """Kenward–Roger's pieces at the estimates, computed once per fit (pbkrtest's vcovAdj)."""
        if self._kr is None:
            if not self.REML:
                raise ValueError("Kenward-Roger needs a REML fit, as pbkrtest's: fit with REML=True")
            if self._structure is not None or self.frame.weights is not None or self.design.structured:
                raise NotImplementedError(
                    "Kenward-Roger with prior weights, a residual structure or covariance structures is not available"
                )
            self._kr = kenward_roger(self.design, self.design.fixed.X, self._theta, self._sigma, self._vcov)
        return self._kr

    def _variance_parameter_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        if self._structure is not None:
            raise NotImplementedError("covariance_confint with a residual structure is not available yet")
        return np.concatenate([self._theta, [self._sigma]]), self._satterthwaite().A

    def _coefficients(self, ddf: str | None = "Satterthwaite") -> pd.DataFrame:
        """The coefficient table with t tests on ddf's degrees of freedom: Satterthwaite's
        (``coef_table``) or Kenward–Roger's (with its adjusted standard errors, as lmerTest's
        summary(m, ddf = "Kenward-Roger"))."""
        if ddf != "Kenward-Roger":
            return self.coef_table
        pieces = self._kenward_roger()
        table = self.fixef.to_frame()
        table["Std. Error"] = np.sqrt(np.diag(pieces.vcov))
        table["df"] = [pieces.df(row) for row in np.eye(len(self._beta))]
        table["t value"] = table["Estimate"] / table["Std. Error"]
        table["Pr(>|t|)"] = 2 * stats().t.sf(np.abs(table["t value"]), table["df"])
        return table

    @synchronized
    def drop1(self) -> pd.DataFrame:
        """F tests of the terms that can be dropped while respecting the hierarchy (those no other
        term contains), as lmerTest's drop1(m), with Satterthwaite's denominator df."""
        self._require_fit()
        return drop1_table(self, self._satterthwaite())

    @synchronized
    def ranova(self) -> pd.DataFrame:
        """Likelihood-ratio tests of the random-effects terms, as lmerTest's ranova(m): each term
        reduced in turn (a variable removed; an intercept-only term removed) and refitted by the
        same criterion (REML likelihoods for a REML fit, as lmerTest compares them)."""
        self._require_fit()
        return ranova(self)

    def _ml_fit(self) -> LinearMixedModel:
        """This model if fitted by ML, else its ML refit (what lme4's anova and profile use)."""
        if not self.REML:
            return self
        if self._ml is None:
            offset = self.frame.offset if np.any(self.frame.offset) else None
            ml = LinearMixedModel(
                self.formula, self.frame.data, REML=False, weights=self.frame.weights, offset=offset,
                n_threads=self.n_threads, variance=self._variance_spec, correlation=self._correlation_spec,
            )  # fmt: skip
            ml._quiet, ml._warns_singular = self._quiet, False
            if self._response_replaced:  # a refit's response, not the data's
                ml._set_response(self._response)
                ml._response_replaced = True
            self._ml = ml.fit()
        return self._ml

    def _profile_problem(self) -> ProfileProblem:
        if self._structure is not None:
            # Profiling θ and β with ψ held at its estimate would understate their uncertainty.
            raise NotImplementedError(
                "profile intervals for a model with a variance function or correlation structure are not available "
                "yet: use confint(method='wald') or method='boot' (and structure_confint() for its parameters)"
            )
        ml = self._ml_fit()
        d, core, n = ml.design, ml._core, ml.nobs

        def deviance(v: np.ndarray) -> float:
            sigma = v[-1]
            theta = sdcor_to_theta(d, v[:-1], sigma) if sigma > 0 else None
            if theta is None:
                return np.inf
            core.objective(theta, False)
            return core.ldL2 - core.ldW + core.pwrss / sigma**2 + n * np.log(2 * np.pi * sigma**2)

        variance = np.concatenate([theta_to_sdcor(d, ml._theta, ml._sigma), [ml._sigma]])
        base = ml.deviance
        lower, upper = sdcor_bounds(d)
        k = len(variance)
        estimate = np.concatenate([variance, ml._beta])
        scale = np.concatenate([standard_errors(deviance, variance, base), np.sqrt(np.diag(ml._vcov))])
        separate = {k + j: ml._beta_profile(j, base) for j in range(len(ml._beta))}
        problem = ProfileProblem(
            self.parameter_names(), estimate, np.concatenate([lower, [0.0], np.full(len(ml._beta), -np.inf)]),
            np.concatenate([upper, [np.inf], np.full(len(ml._beta), np.inf)]),
            lambda v: deviance(v[:k]), base, scale, separate,
        )  # fmt: skip
        core.objective(ml._theta, False)
        return problem

    def _beta_profile(self, j: int, base: float):
        """ζ of β_j: its column moves into the offset and θ is re-optimized (ML)."""
        d = self.design
        X_rest = np.asfortranarray(np.delete(d.fixed.X, j, axis=1))
        column = d.fixed.X[:, j]
        response = np.ascontiguousarray(self._y_minus_offset)
        core = _core.LinearMixedModel(X_rest, d.Zt, d.Lambdat, d.Lind, d.term_shapes, response, self._weights)
        core.threads = threads.resolve(self.n_threads)
        estimate = self._beta[j]

        def zeta_at(value: float, start: np.ndarray | None) -> tuple[float, np.ndarray]:
            core.set_response(np.ascontiguousarray(self._y_minus_offset - column * value))
            summary = OptSummary(initial=self._theta.copy() if start is None else start, lower=d.lower.copy(), quiet=True)
            theta = bobyqa(lambda th: core.objective(th, False), summary)
            return signed_root(summary.fmin - base, value, estimate), theta

        return zeta_at

    def _brief_summary(self) -> str:
        return self.summary(ddf=None)

    @synchronized
    def summary(self, ddf: str | None = "Satterthwaite") -> str:
        """lme4's summary text; with ddf='Satterthwaite' the coefficient table has lmerTest's df
        and p-values (ddf=None: estimates, standard errors and t only, as lme4).

        Parameters
        ----------
        ddf : {"Satterthwaite", "Kenward-Roger"} or None
            The coefficient table's degrees of freedom (None: lme4's table without them).

        Returns
        -------
        str
        """
        self._require_fit()
        method = "REML" if self.REML else "maximum likelihood"
        if ddf in ("Satterthwaite", "Kenward-Roger"):
            coefs = self._coefficients(ddf)
        elif ddf is None:
            coefs = self.fixef.to_frame()
            coefs["Std. Error"] = self.stderr
            coefs["t value"] = coefs["Estimate"] / coefs["Std. Error"]
        else:
            raise ValueError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or None, not {ddf!r}")
        scaled = self.residuals("pearson") / self._sigma
        # lmerTest's header says which df its t tests use
        tests = f". t-tests use {ddf}'s method" if ddf is not None else ""
        parts = [
            f"Linear mixed model fit by {method}{tests}",
            f"Formula: {self.formula}",
            "",
            (
                criterion_line(self._objective)
                if self.REML
                else criterion_table(self.aic, self.bic, self.loglik, self.nobs - self.dof)
            ),
            "",
        ]
        body = self._summary_body(scaled, coefs)
        if self._structure is not None:  # nlme's place for it: after the random effects
            at = body.index("Fixed effects:")
            body[at:at] = self._structure.summary_lines()
        return "\n".join(parts + body)

    @property
    def dof(self) -> int:
        """Number of parameters: β, θ, σ and a residual structure's δ and φ."""
        return super().dof + (0 if self._structure is None else self._structure.n_params)


def intercepts_start(variance_y: float, group_variances: Sequence[float]) -> np.ndarray | None:
    """lme4's data-based θ for intercept-only terms: √(v_k / v_e) with v_e = var(y) − Σ v_k, v_k
    the variance of y's group means over the observations; None where v_e ≤ 0."""
    residual_variance = variance_y - sum(group_variances)
    if not residual_variance > 0:
        return None
    return np.sqrt(np.array(group_variances) / residual_variance)


def lmer(
    formula: str,
    data: Any,
    REML: bool = True,
    weights: Any = None,
    offset: Any = None,
    n_threads: int | None = None,
    variance: Any = None,
    correlation: Any = None,
    dispformula: str | None = None,
) -> LinearMixedModel:
    """Fit a linear mixed model given in lme4's formula syntax, as lme4's lmer.

    Parameters
    ----------
    formula : str
        lme4's formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas DataFrame, polars/pyarrow table, dict of columns, or a Dask DataFrame
        A Dask DataFrame is fitted out of core from its partitions' cross-products
        (``mixedfit.scale.out_of_core``; weights and offset as column names).
    REML : bool
        REML (default, as lme4) or maximum likelihood.
    weights, offset : str or array, optional
        Column names or one value per row of data: prior weights and an offset.
    n_threads : int, optional
        Threads for the core's factorization (default: mixedfit.get_threads()).
    variance : mixedfit.varIdent, varPower or varExp, optional
        A residual variance function (nlme's): Var(εᵢ) = σ² sᵢ(δ)² / wᵢ, δ estimated with θ.
    correlation : correlation structure, optional
        Residual correlation, its parameters estimated with θ: nlme's mixedfit.corAR1, corCAR1,
        corCompSymm, corExp, corGaus, corSpher, corLin, corRatio, or a field grid's separable
        mixedfit.corAR1xAR1.
    dispformula : str, optional
        glmmTMB's dispersion formula, e.g. ``"~ x"``: log σᵢ² linear in the covariates (their
        coefficients in ``fixef_disp``); the formula form of a variance function (not with one).

    Returns
    -------
    LinearMixedModel
        The fitted model.
    """
    from ..scale.out_of_core import (  # (scale builds on models)
        is_dask_collection,
        lmer_dask,
    )

    if dispformula is not None:
        if variance is not None:
            raise ValueError("give either a variance function or dispformula: both model the residual variance")
        variance = DispersionFormula(dispformula)
    if is_dask_collection(data):
        if variance is not None or correlation is not None:
            raise NotImplementedError("variance functions and correlation structures are not available out of core")
        return lmer_dask(formula, data, REML=REML, weights=weights, offset=offset)
    model = LinearMixedModel(
        formula, data, REML=REML, weights=weights, offset=offset, n_threads=n_threads, variance=variance,
        correlation=correlation,
    )  # fmt: skip
    return model.fit()
