"""What linear and generalized linear mixed models share: building the design from a formula
and data, and the accessors of a fitted model (lme4's names)."""

from __future__ import annotations

import copy
import html
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import threads
from .._lazy import stats
from ..design.arrays import OFFSET, WEIGHTS, ArrayData, ArrayLayout, RandomTerm
from ..design.formula import ParsedFormula, parse_formula, quote_dotted_columns
from ..design.frame import ModelFrame, as_dataframe, model_frame
from ..design.matrices import Design, build_design
from ..design.newdata import NewDesign, new_design, selected_terms
from ..design.restricted import check_restricted, formula_is_restricted
from ..design.smooths import SmoothTerm
from ..errors import DataError, SingularFitWarning, positive_int, warn
from ..inference.condvar import conditional_variances
from ..inference.influence import Influence, cooks_distance, deletion_diagnostics, hat_values, studentized_residuals
from ..inference.parameters import SINGULAR_TOLERANCE, sdcor_names, theta_to_sdcor
from ..inference.profile import ProfileProblem, normal_quantile, profile_intervals
from ..inference.simulated_residuals import SimulatedResiduals, simulate_residuals
from ..inference.structure_intervals import structure_intervals, structure_values
from ..progress import Progress
from .control import Control
from .marginal import covariance_of_random_effects, intraclass_correlation, nakagawa_r2
from .optimize import OptSummary
from .refits import Refits
from .results import (
    RandomEffects,
    format_coefficients,
    format_correlation,
    format_varcorr,
    lower_factor,
    ranef_tables,
    residual_quantiles,
    varcorr_table,
)
from .smooth_results import SmoothResults
from .synchronization import synchronized

# The most fixed effects whose correlation matrix summary() prints (lme4's lme4.summary.cor.max).
CORRELATION_MAX = 12


class MixedModel(Refits, SmoothResults):
    """Base class: holds the parsed formula, model frame, design and the fitted quantities."""

    _has_residual = True
    _fixed_intercept = True  # False: X loses its "(Intercept)" column (a cumulative link model's thresholds)
    # Bootstrap replicates refit quietly: no warnings (not thread-safe) and no derivative checks.
    _quiet = False
    # A refit made for the user's fit (its ML twin, for anova and profiles) does not warn again
    # of the boundary the user's fit already warned of, as lme4's refitML.
    _warns_singular = True
    # Whether refit gave the model a response other than its data's (its ML twin must take it).
    _response_replaced = False
    # The optimizer's controls of the last fit() (fit(control=...)).
    _control = Control()
    # How a model built by from_arrays lays arrays out as a data frame (None: a formula model).
    _array_layout: ArrayLayout | None = None

    @classmethod
    def _from_arrays(
        cls, y: Any, X: Any, terms: Sequence[RandomTerm], names: Sequence[str] | None, weights: Any, offset: Any,
        **options: Any,
    ) -> Any:
        """The model of the formula equivalent to these arrays (see mixedfit.arrays)."""
        X = np.asarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
        layout = ArrayLayout.of(X, terms, names, weights, offset)
        frame = layout.frame(y, X, terms, weights, offset)
        model = cls(
            layout.formula(), frame, weights=WEIGHTS if weights is not None else None,
            offset=OFFSET if offset is not None else None, **options,
        )  # fmt: skip
        model._array_layout = layout
        return model

    def _as_newdata(self, newdata: Any) -> Any:
        """New data as a data frame: an ArrayData is laid out as the fit's arrays were."""
        if not isinstance(newdata, ArrayData):
            return newdata
        if self._array_layout is None:
            raise TypeError("ArrayData is new data for a model built by from_arrays; give this model a data frame")
        return self._array_layout.frame(None, newdata.X, newdata.terms, offset=newdata.offset)

    def __init__(
        self, formula: str, data: Any, weights: Any = None, offset: Any = None, n_threads: int | None = None
    ) -> None:
        self._lock = threading.RLock()  # re-entrant: locked methods call each other
        # checked (and capped) now; None stays None: the package's setting is read when a core is made
        self.n_threads = None if n_threads is None else threads.resolve(n_threads)
        self.formula = formula
        self._weights_argument = weights
        self._offset_argument = offset
        data = as_dataframe(data)
        if formula_is_restricted():
            if not isinstance(formula, str):
                raise TypeError(f"formula must be a string such as 'y ~ x + (1 | g)', got {type(formula).__name__}")
            check_restricted(formula, data.columns, data=data)  # before anything in it is parsed or evaluated
        self.parsed: ParsedFormula = parse_formula(quote_dotted_columns(formula, data.columns))
        self.frame: ModelFrame = model_frame(
            self.parsed, data, self._response_variables() | self._structure_variables(), weights, offset
        )
        self.design: Design = build_design(self.parsed, self.frame, self._has_residual, self._fixed_intercept)
        self.optsum = self._first_optsum(self._initial())
        self._fitted = False

    # Subclasses say which variables the response uses and how θ (and β) start.
    def _response_variables(self) -> set[str]:
        raise NotImplementedError

    def _structure_variables(self) -> set[str]:
        """Columns a residual structure (a variance function) reads: kept in the model frame."""
        return set()

    def _initial(self) -> np.ndarray:
        return self.design.theta0.copy()

    def _lower(self) -> np.ndarray:
        return self.design.lower.copy()

    def _upper(self) -> np.ndarray | None:
        """θ's upper bounds: None (unbounded) unless a covariance structure bounds a correlation."""
        return self.design.upper.copy() if self.design.structured else None

    def _require_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call .fit() first")

    # Quantities set by a subclass's fit().
    _theta: np.ndarray
    _beta: np.ndarray
    _b: np.ndarray
    _sigma: float
    _vcov: np.ndarray
    _loglik: float
    _objective: float
    _fitted_values: np.ndarray
    _response: np.ndarray

    @property
    def nobs(self) -> int:
        return len(self.frame.data)

    @property
    def theta(self) -> np.ndarray:
        self._require_fit()
        return self._theta.copy()

    @property
    def fixef(self) -> pd.Series:
        self._require_fit()
        return pd.Series(self._beta, index=self.design.fixed.names, name="Estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        self._require_fit()
        names = self.design.fixed.names
        return pd.DataFrame(self._vcov, index=names, columns=names)

    @property
    def stderr(self) -> pd.Series:
        self._require_fit()
        return pd.Series(np.sqrt(np.diag(self._vcov)), index=self.design.fixed.names, name="Std. Error")

    @property
    def sigma(self) -> float:
        self._require_fit()
        return self._reported_sigma()

    @property
    def objective(self) -> float:
        """The criterion the fit minimized: the REML criterion of a REML fit, else −2 log L
        (for GLMMs the Laplace or adaptive Gauss–Hermite approximation)."""
        self._require_fit()
        return self._objective

    @property
    def loglik(self) -> float:
        self._require_fit()
        return self._loglik

    @property
    def dof(self) -> int:
        """Number of parameters: fixed effects, θ, and the scale if the family has one."""
        return len(self._beta) + len(self._theta) + int(self._has_residual)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.dof

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.dof * np.log(self.nobs)

    @property
    @synchronized
    def ranef(self) -> RandomEffects:
        """Grouping factor → DataFrame of conditional modes; ``m.ranef(condvar=True)`` adds each
        level's conditional covariance in ``table.attrs["condvar"]`` (levels × p × p)."""
        self._require_fit()
        return RandomEffects(ranef_tables(self.design, self._b), self._conditional_variances)

    @synchronized
    def _conditional_variances(self) -> dict[str, np.ndarray]:
        return conditional_variances(self.design, self._theta, self._working_weights(), self._sigma)

    # The marginal view (lme4's getME names where they exist).
    @property
    def X(self) -> np.ndarray:
        """The fixed-effects model matrix (n × p)."""
        return self.design.fixed.X.copy()

    @property
    def Z(self) -> sp.csc_matrix:
        """The random-effects model matrix (n × q, sparse), columns in b's order."""
        return self.design.Zt.T.tocsc()

    @property
    @synchronized
    def G(self) -> sp.csc_matrix:
        """The covariance of the random effects b (q × q, sparse): σ²ΛΛ' (ΛΛ' for a GLMM)."""
        self._require_fit()
        return covariance_of_random_effects(self.design, self._theta, self._random_effects_scale())

    @synchronized
    def r2(self) -> pd.Series:
        """Nakagawa's conditional and marginal R² as R's performance::r2_nakagawa (0.10.2):
        (σ²_f + σ²_r) / (σ²_f + σ²_r + σ²_ε) and σ²_f / (…), with σ²_f the variance of Xβ, σ²_r
        the random effects' mean variance over the observations and σ²_ε the residual variance:
        σ² for an LMM; for a GLMM the distribution-specific variance (a binomial's latent π²/3 for
        logit; for Poisson, negative binomial and beta the lognormal approximation at the
        intercept-only null model's mean, which this fits) plus observation-level terms' variance.
        See mixedfit.models.marginal.distribution_variance for the families."""
        self._require_fit()
        return nakagawa_r2(self)

    @synchronized
    def hatvalues(self) -> np.ndarray:
        """The diagonal of the hat matrix of the conditional fitted values, as lme4's hatvalues
        (for a GLMM lme4's too: the fit's working weights in the penalized system, the prior
        weights on the observations)."""
        self._require_fit()
        return hat_values(self)

    @synchronized
    def cooks_distance(self) -> np.ndarray:
        """Cook's distance of each observation from the hat values and Pearson residuals, as
        lme4's cooks.distance of a fitted model."""
        self._require_fit()
        return cooks_distance(self)

    @synchronized
    def rstudent(self) -> np.ndarray:
        """Studentized residuals, as lme4's rstudent of a fitted model.

        Returns
        -------
        ndarray
            Each observation's Pearson residual over σ√(1 − hᵢ), hᵢ its hat value
            (:meth:`hatvalues`); NaN where hᵢ = 1.
        """
        self._require_fit()
        return studentized_residuals(self)

    @synchronized
    def simulated_residuals(
        self,
        n: int = 250,
        seed: int | None = None,
        integer: bool | None = None,
        random_effects: str = "conditional",
    ) -> SimulatedResiduals:
        """Simulation-based (quantile) residuals as DHARMa's simulateResiduals: n responses
        simulated from the fit, each observation's scaled residual its position among its
        simulations (randomized for integer responses), uniform under a correct model for every
        family.

        Parameters
        ----------
        n : int, default 250
            Simulations (DHARMa's default).
        seed : int, optional
            For reproducible residuals.
        integer : bool, optional
            Use the randomized transform for integer responses (default: GLMMs with whole-number
            responses, and binomial successes).
        random_effects : {"conditional", "unconditional"}, default "conditional"
            Simulate around the fitted random effects (DHARMa's simulateREs default since 0.5.0)
            or with new ones (its earlier default).

        Returns
        -------
        SimulatedResiduals
            ``scaled``, and ``test_uniformity()``, ``test_dispersion()``, ``test_outliers()``,
            ``test_zero_inflation()``, ``plot()``.
        """
        self._require_fit()
        if random_effects not in ("conditional", "unconditional"):
            raise ValueError(f"random_effects must be 'conditional' or 'unconditional', not {random_effects!r}")
        return simulate_residuals(self, positive_int(n, "n"), seed, integer, conditional=random_effects == "conditional")

    def influence(self, groups: str | None = None, maxfun: int = 1000) -> Influence:
        """Deletion diagnostics as lme4's influence(): refit without each observation, or each
        level of the column ``groups``, from this fit's estimates.

        Parameters
        ----------
        groups : str, optional
            A column of the model's data whose levels are deleted one at a time (default: each
            observation).
        maxfun : int, default 1000
            Evaluations each refit may spend.

        Returns
        -------
        Influence
            The refits' estimates, with ``dfbeta()``, ``dfbetas()`` and ``cooks_distance()``.
        """
        self._require_fit()
        if isinstance(maxfun, bool) or not isinstance(maxfun, (int, np.integer)) or maxfun < 1:
            raise ValueError(f"maxfun must be a positive integer, got {maxfun!r}")
        return deletion_diagnostics(self, groups, int(maxfun))

    def _without_rows(self, keep: np.ndarray, maxfun: int) -> MixedModel:
        """The same model fitted to the rows keep of its data, from this fit's θ, quietly (its
        warnings are not the user's model's) and without the convergence checks."""
        frame = self.frame
        reduced = self._specified_like(
            frame.data[keep], None if frame.weights is None else frame.weights[keep],
            frame.offset[keep] if np.any(frame.offset) else None,
        )  # fmt: skip
        reduced._quiet = True
        if self._response_replaced:  # a refit's response, not the data's
            reduced._set_response(self._response[keep])
            reduced._response_replaced = True
        reduced._restart_optimizer(self._theta)
        return reduced.fit(check_conv=False, control={"maxeval": maxfun})

    def _specified_like(self, data: pd.DataFrame, weights: np.ndarray | None, offset: np.ndarray | None) -> MixedModel:
        """An unfitted model of this one's specification on other data."""
        raise NotImplementedError

    def _observation_weights(self) -> np.ndarray:
        """The prior weights of the observations (binomial: trials times the user's weights)."""
        raise NotImplementedError

    @synchronized
    def icc(self) -> pd.Series:
        """The intraclass correlation as R's performance::icc: adjusted σ²_r / (σ²_r + σ²_ε) and
        unadjusted σ²_r / (σ²_f + σ²_r + σ²_ε) (see r2 for the components)."""
        self._require_fit()
        return intraclass_correlation(self)

    @property
    @synchronized
    def VarCorr(self) -> pd.DataFrame:
        self._require_fit()
        return varcorr_table(self.design, self._theta, self._sigma, self._has_residual, self._reported_sigma())

    @property
    def fitted(self) -> np.ndarray:
        self._require_fit()
        return self._fitted_values.copy()

    def residuals(self, type: str = "response") -> np.ndarray:
        """Residuals of the given type (as lme4's residuals()); subclasses say which types exist."""
        raise NotImplementedError

    # What a model kind supplies for prediction, simulation and intervals.
    def _working_weights(self) -> np.ndarray:
        """The weights of the penalized least-squares problem at the fit."""
        raise NotImplementedError

    def _link_inverse(self, eta: np.ndarray) -> np.ndarray:
        return eta

    # predict()'s types: the linear predictor and the response's mean.
    PREDICTION_TYPES: tuple[str, ...] = ("link", "response")

    def _predicted(self, eta: np.ndarray, type: str, newdata: Any) -> np.ndarray:
        """predict()'s values of a type at the linear predictor η (of newdata's rows, or the fit's
        if None): η itself, or E[y] (the inverse link's μ)."""
        return self._link_inverse(eta) if type == "response" else eta

    # insight's rule for a term with a level per observation: its variance is residual
    # (dispersion) in a GLMM; an LMM's is left out of R² and the ICC.
    _OBSERVATION_TERMS_ARE_DISPERSION = False

    def _distribution_variance(self) -> float:
        """The distribution-specific variance of Nakagawa's R² and the ICC (σ² for an LMM)."""
        raise NotImplementedError

    def _random_effects_scale(self) -> float:
        """b = scale · Λu with u ~ N(0, I): σ for an LMM, 1 for a GLMM."""
        raise NotImplementedError

    def _draw_response(self, eta: np.ndarray, rng: np.random.Generator, newdata: pd.DataFrame | None) -> np.ndarray:
        raise NotImplementedError

    def _new_design(self, newdata: Any, terms: list[int], allow_new_levels: bool) -> NewDesign:
        return new_design(
            self.design, self.frame.kinds, self.parsed.offsets, self._offset_argument, newdata, terms, allow_new_levels
        )

    @synchronized
    def predict(
        self, newdata: Any = None, re_form: str | None = None, allow_new_levels: bool = False, type: str = "link"
    ) -> np.ndarray:
        """Predictions as lme4's predict(): on the fit's data or newdata; re_form None (all random
        effects), '~0' (population level) or a formula naming the terms to keep, or part of one
        ('~(1 | Subject)' of a (Days | Subject) fit: the intercepts' effects only); new levels of a
        grouping factor are an error unless allow_new_levels (then their effects are 0); type
        'link' (the linear predictor) or 'response' (the mean). Rows of newdata with a missing
        needed value predict NaN.

        Parameters
        ----------
        newdata : data frame, optional
            Rows to predict (default: the fit's own rows).
        re_form : str, optional
            None (all random effects), '~0' or 'NA' (none), or a formula naming the terms or columns to keep.
        allow_new_levels : bool, default False
            Predict levels the fit has not seen at the population level (their effects 0) instead of raising.
        type : {"link", "response"} (GLMMs also "conditional", "zprob")
            The linear predictor or the mean (see the model class).

        Returns
        -------
        ndarray
            One prediction per row (NaN where a needed value is missing).
        """
        self._require_fit()
        if type not in self.PREDICTION_TYPES:
            raise ValueError(f"type must be one of {', '.join(map(repr, self.PREDICTION_TYPES))}, not {type!r}")
        if re_form is not None and not isinstance(re_form, str):
            raise TypeError(f"re_form must be None, '~0' or a formula string such as '~(1 | g)', not {re_form!r}")
        if re_form is not None and formula_is_restricted():
            check_restricted(re_form, self.frame.data.columns, "re_form")
        # Each kept term's effects, levels × columns, with the columns re_form leaves out at 0.
        kept = selected_terms(self.design, self.frame.data, re_form)
        slices = self.design.b_slices()
        effects = {
            k: self._b[slices[k]].reshape(self.design.terms[k].n_levels, -1) * columns for k, columns in kept.items()
        }  # fmt: skip
        newdata = self._as_newdata(newdata)
        if newdata is None:
            d = self.design
            eta = d.fixed.X @ self._beta + d.offset
            for k, b in effects.items():
                eta = eta + d.Zt[slices[k]].T @ b.ravel()
        else:
            nd = self._new_design(newdata, list(kept), allow_new_levels)
            rows = nd.X @ self._beta + nd.offset
            for b, new in zip(effects.values(), nd.terms):
                b = np.vstack([b, np.zeros((1, new.term.p))])
                rows = rows + np.sum(new.X * b[new.codes], axis=1)  # code -1: the zero row
            eta = np.full(len(nd.complete), np.nan)
            eta[nd.complete] = rows
        return self._predicted(eta, type, newdata)

    @synchronized
    def simulate(
        self,
        nsim: int = 1,
        seed: int | np.random.Generator | None = None,
        newdata: Any = None,
        progress: bool = False,
        re_form: str | None = "~0",
    ) -> pd.DataFrame:
        """nsim responses drawn from the fitted model with new random effects (or around the fitted
        ones: re_form=None) and new noise (lme4's simulate()), one column per simulation; binomial
        responses as proportions of the trials.
        progress=True reports the simulations done.

        Parameters
        ----------
        nsim : int, default 1
            Number of simulated responses.
        seed : int or numpy Generator, optional
            For reproducible draws.
        newdata : data frame, optional
            Simulate for these rows (new levels get their own draws) instead of the fit's.
        progress : bool, default False
            Report the simulations done.
        re_form : "~0" or None, default "~0"
            "~0" (lme4's re.form = NA): new random effects in every simulation; None (lme4's
            re.form = NULL, use.u = TRUE): new noise around the fitted conditional means, the
            conditional modes held (levels new in newdata at 0, as predict's).

        Returns
        -------
        DataFrame
            One column per simulation (sim_1, …), one row per observation.
        """
        self._require_fit()
        nsim = positive_int(nsim, "nsim")
        rng = np.random.default_rng(seed)
        if re_form is None:
            return self._simulate_conditional(nsim, rng, newdata, progress)
        if not isinstance(re_form, str) or re_form.replace(" ", "") not in ("~0", "NA", "~-1"):
            raise ValueError(f"simulate's re_form is '~0' (new random effects) or None (the fitted ones), not {re_form!r}")
        all_terms = list(range(len(self.design.terms)))
        if newdata is None:
            X, offset, frame = self.design.fixed.X, self.design.offset, None
            term_data = [(t, t.X, t.codes, t.n_levels) for t in self.design.terms]
        else:
            frame = as_dataframe(self._as_newdata(newdata))
            nd = self._new_design(frame, all_terms, allow_new_levels=True)
            if not nd.complete.all():
                raise ValueError("newdata for simulate() must have no missing values in the columns the model uses")
            X, offset = nd.X, nd.offset
            term_data = []
            for new in nd.terms:
                codes, levels = pd.factorize(new.labels)  # new levels get their own draws too
                term_data.append((new.term, new.X, codes, len(levels)))
        scale = self._random_effects_scale()
        factor = self.design.factor(self._theta)
        factors = [lower_factor(factor[sl], t.p) for t, sl in zip(self.design.terms, self.design.factor_slices())]

        def linear_predictor() -> np.ndarray:  # with new random effects
            eta = X @ self._beta + offset
            for (term, Xt, codes, n_levels), T in zip(term_data, factors):
                effects = scale * rng.standard_normal((n_levels, term.p)) @ T.T
                eta = eta + np.sum(Xt * effects[codes], axis=1)
            return eta

        return self._simulations(nsim, progress, lambda: self._draw_response(linear_predictor(), rng, frame))

    def _simulate_conditional(
        self, nsim: int, rng: np.random.Generator, newdata: Any, progress: bool
    ) -> pd.DataFrame:
        """simulate(re_form=None): the response drawn nsim times around the conditional means."""
        frame = None if newdata is None else as_dataframe(self._as_newdata(newdata))
        eta = self.predict(frame, re_form=None, allow_new_levels=True, type="link")
        return self._simulations(nsim, progress, lambda: self._draw_response(eta, rng, frame))

    @staticmethod
    def _simulations(nsim: int, progress: bool, draw: Callable[[], np.ndarray]) -> pd.DataFrame:
        """nsim draws as simulate() returns them (columns sim_1, …), progress reported."""
        counter = Progress(nsim, "simulate", progress)
        columns = []
        for _ in range(nsim):
            columns.append(draw())
            counter.advance()
        counter.close()
        return pd.DataFrame(np.column_stack(columns), columns=[f"sim_{k + 1}" for k in range(nsim)])

    @synchronized
    def refit(self, new_response: Any, inplace: bool = False) -> MixedModel:
        """Fit again to a new response, starting from the current θ, as lme4's ``refit``.

        Parameters
        ----------
        new_response : array-like
            One value per row of the fit (binomial: proportions of the same trials).
        inplace : bool, default False
            False (lme4's refit): return a new fitted model and leave this one as it is (its
            design and data are shared, not copied). True (MixedModels.jl's ``refit!``): refit
            this model itself, reusing its compiled core and symbolic factorization; it then
            describes the new response.

        Returns
        -------
        MixedModel
            The refitted model (this one if inplace).
        """
        self._require_fit()
        if not isinstance(inplace, bool):
            raise TypeError(f"inplace must be True or False, got {inplace!r}")
        target = self if inplace else self._twin()
        response, optsum, replaced = target._response, target.optsum, target._response_replaced
        target._set_response(new_response)
        target._restart_optimizer(self._theta)
        target._response_replaced = True
        try:
            return target.fit()
        except KeyboardInterrupt:  # fit put the rest back; the response is refit's own change
            target._set_response(response)
            target.optsum, target._response_replaced = optsum, replaced
            target._restore_core()
            raise

    def _twin(self) -> MixedModel:
        """An independent copy of this fitted model (its own compiled core, rebuilt at the
        estimates, and its own mutable state) sharing the frame and design, which nothing changes."""
        shared = {id(self.frame): self.frame, id(self.design): self.design}
        shared[id(getattr(self, "_ml", None))] = None  # an ML twin belongs to the fit it was made for
        with self._lock:
            return copy.deepcopy(self, memo=shared)

    def _set_response(self, new_response: Any) -> None:
        """Give the compiled model a new response (each model kind knows what else it needs)."""
        raise NotImplementedError

    def _checked_response(self, new_response: Any) -> np.ndarray:
        # The model's own copy: the compiled core reads the response in place, so a later write to
        # the caller's array must not reach the fitted model.
        y = np.array(new_response, dtype=np.float64).ravel()
        if y.shape != self._response.shape or not np.all(np.isfinite(y)):
            raise DataError(f"new_response must be {len(self._response)} finite values, one per row of the fit")
        return y

    def _restart_optimizer(self, theta: np.ndarray) -> None:
        """The next fit() starts from θ (a GLMM: its first stage)."""
        self.optsum = self._first_optsum(theta.copy())

    def _first_optsum(self, theta: np.ndarray) -> OptSummary:
        """The optimizer's settings for θ from this start (a GLMM's: its first stage's)."""
        return OptSummary(initial=theta, lower=self._lower(), upper=self._upper(), quiet=self._quiet)

    def _ml_fit(self) -> MixedModel:
        """The fit likelihood-ratio tests and profiles use: this one, unless an LMM fitted by REML."""
        return self

    # Parameters on lme4's profile scale: SDs and correlations, σ, then β.
    def parameter_names(self) -> list[str]:
        return sdcor_names(self.design, self._has_residual) + list(self.design.fixed.names)

    def _parameter_vector(self) -> np.ndarray:
        sigma = [self._reported_sigma()] if self._has_residual else []
        return np.concatenate([theta_to_sdcor(self.design, self._theta, self._sigma), sigma, self._beta])

    def _sigma_scale(self) -> float:
        """The core's σ over the σ reported (a variance function's reference, see variance)."""
        return 1.0

    def _reported_sigma(self) -> float:
        """σ as the user sees it (sigma, VarCorr, the profile scale): the core's over _sigma_scale."""
        return self._sigma / self._sigma_scale()

    def _profile_problem(self) -> ProfileProblem:
        raise NotImplementedError

    @synchronized
    def confint(
        self,
        method: str = "profile",
        level: float = 0.95,
        nsim: int = 500,
        seed: int | None = None,
        parm: str | int | Sequence[str | int] | None = None,
        progress: bool = False,
    ) -> pd.DataFrame:
        """Confidence intervals as lme4's confint().

        Parameters
        ----------
        method : {"profile", "wald", "boot"}
            Likelihood profile (an LMM fitted by REML is profiled on its ML refit, as in lme4),
            β ± z·SE (NaN for the variance parameters), or percentiles of a parametric bootstrap
            of nsim replicates (seed for reproducibility).
        level : float
            Coverage, between 0 and 1.
        parm : name, index or list of them, optional
            The parameters (as ``parameter_names()``, e.g. ``".sig01"``, ``"Days"``, and a GLMM's
            zero and dispersion models' ``"zi.x"``, ``"disp.x"``) to give intervals for; profiles
            are computed for these only. Default: all.
        progress : bool
            Report the parameters profiled (or the bootstrap's refits) as they are done.

        Returns
        -------
        DataFrame
            One row per parameter, the lower and upper ends in columns named as lme4's.
        """
        self._require_fit()
        try:
            return self._intervals(method, level, nsim, seed, parm, progress)
        finally:
            self._restore_core()  # profiles move the core away from the estimates

    def _intervals(
        self, method: str, level: float, nsim: int, seed: int | None, parm: Any, progress: bool
    ) -> pd.DataFrame:
        names = self.parameter_names()
        tail = (1 - level) / 2
        columns = [f"{100 * tail:.3g} %", f"{100 * (1 - tail):.3g} %"]
        if method != "profile":
            rows = self._parameter_rows(parm, names)
        if method == "wald":
            z = normal_quantile(level)
            se = np.sqrt(np.diag(self._vcov))
            k = len(names) - len(self._beta)
            bounds = np.full((len(names), 2), np.nan)
            bounds[k:, 0], bounds[k:, 1] = self._beta - z * se, self._beta + z * se
            bounds = bounds[rows]
            if parm is None:  # the other linear predictors' rows, named as glmmTMB's confint names them
                other, estimates, errors = self._other_predictors()
                names, rows = names + other, rows + list(range(len(names), len(names) + len(other)))
                bounds = np.vstack([bounds, np.column_stack([estimates - z * errors, estimates + z * errors])])
        elif method == "profile":
            problem = self._profile()
            names, rows = problem.names, self._profiled_rows(problem, parm)
            counter = Progress(len(rows), "profile", progress)
            try:
                bounds = profile_intervals(problem, level, rows, progress=counter)
            finally:
                counter.close()
        elif method == "boot":
            replicates = self.bootstrap(nsim, seed, progress=progress)
            bounds = np.nanquantile(replicates.to_numpy()[:, rows], [tail, 1 - tail], axis=0).T
        else:
            raise ValueError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")
        return pd.DataFrame(bounds, index=[names[r] for r in rows], columns=columns)

    @synchronized
    def profile(self, parm: str | int | Sequence[str | int] | None = None, level: float = 0.95) -> dict[str, pd.DataFrame]:
        """The likelihood profiles behind confint(method="profile"), as lme4's profile(): for each
        parameter, a table of values and ζ (the signed square root of the deviance increase, 0 at
        the estimate) out to where the absolute ζ passes the level's normal quantile.

        Parameters
        ----------
        parm : str, int or sequence of them, optional
            The parameters to profile, by name or position in ``parameter_names()`` or, for a GLMM
            with zero or dispersion models, their coefficients ``"zi.x"``, ``"disp.x"`` (default: all).
        level : float, default 0.95
            How far out the profiles go.

        Returns
        -------
        dict of DataFrame
            Parameter name → its profile (the parameter's values and ζ).
        """
        self._require_fit()
        traces: list[np.ndarray] = []
        try:
            problem = self._profile()
            rows = self._profiled_rows(problem, parm)
            profile_intervals(problem, level, rows, traces)
        finally:
            self._restore_core()
        return {problem.names[r]: pd.DataFrame(points, columns=["value", "zeta"]) for r, points in zip(rows, traces)}

    def _profiled_rows(self, problem: Any, parm: Any) -> list[int]:
        """The rows of a profiling problem that parm names (default: those it reports)."""
        if parm is None and problem.reported is not None:
            return list(problem.reported)
        return self._parameter_rows(parm, problem.names)

    def _profile(self) -> Any:
        """The profiling problem (ProfileProblem) of the subclass; its SD/correlation scale does
        not parametrize a covariance structure's terms."""
        if self.design.structured:
            raise NotImplementedError(
                "profile intervals for a model with covariance structures (cs, ar1, ...) are not available yet: "
                "use confint(method='boot')"
            )
        return self._profile_problem()

    def _other_predictors(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Names, estimates and SEs of coefficients outside (θ, β) — a GLMM's zero and dispersion
        models' —, which Wald intervals also cover; none here."""
        return [], np.zeros(0), np.zeros(0)

    @staticmethod
    def _parameter_rows(parm: Any, names: list[str]) -> list[int]:
        if parm is None:
            return list(range(len(names)))
        rows = []
        for item in [parm] if isinstance(parm, (str, int, np.integer)) else list(parm):
            if isinstance(item, str):
                if item not in names:
                    raise ValueError(f"parm {item!r} is not a parameter; parameters are {names}")
                rows.append(names.index(item))
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= item < len(names):
                rows.append(int(item))
            else:
                raise ValueError(f"parm must name parameters ({names}) or index them (0 to {len(names) - 1}), got {item!r}")
        return rows

    def _make_core(self) -> Any:
        raise NotImplementedError

    def _new_core(self) -> Any:
        """A compiled core for this model, using the model's (or the package's) number of threads."""
        core = self._make_core()
        self.design.set_structures(core)
        core.threads = threads.resolve(self.n_threads)
        return core

    def _restore_core(self) -> None:
        """Leave the core where the fit left it (at the estimates)."""
        raise NotImplementedError

    def _record_factorization(self) -> None:
        self.optsum.factorization = self._core.factorization
        self.optsum.factorization_costs = dict(self._core.factorization_costs)

    # Pickling and copy.deepcopy carry the data, design and estimates, never the compiled core
    # (nor the lock): it is rebuilt on load and put back at the estimates.
    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            return {name: value for name, value in self.__dict__.items() if name not in ("_core", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._core = self._new_core()
        if self._fitted:
            self._restore_core()

    def is_singular(self, tol: float = SINGULAR_TOLERANCE) -> bool:
        """True when some θ component bounded at zero is within tol of it (lme4's isSingular), or a
        covariance structure's correlation is within tol of its bound.

        Parameters
        ----------
        tol : float, default 1e-4
            Distance from the bound that counts as on it (lme4's default).

        Returns
        -------
        bool
        """
        self._require_fit()
        return self.design.at_boundary(self._theta, tol)

    def _warn_if_singular(self) -> None:
        if not self._quiet and self._warns_singular and self.is_singular():
            warn(
                "boundary (singular) fit: a variance component is (nearly) zero or a correlation is ±1; "
                "see mixedfit's is_singular()",
                SingularFitWarning,
            )

    def _groups_line(self) -> str:
        groups = {t.name: t.n_levels for t in self.design.terms if not isinstance(t.term, SmoothTerm)}
        if not groups:  # only smooths
            return f"Number of obs: {self.nobs}"
        return f"Number of obs: {self.nobs}, groups:  " + "; ".join(f"{g}, {n}" for g, n in groups.items())

    def _dropped_line(self) -> str:
        n = self.frame.n_dropped
        return f"({n} observation{'s' if n != 1 else ''} deleted due to missingness)\n" if n else ""

    def _summary_body(self, scaled_residuals: np.ndarray, coefficients: pd.DataFrame) -> list[str]:
        """The part of summary() both model kinds share: residuals, random and fixed effects."""
        parts = [
            "Scaled residuals:",
            residual_quantiles(scaled_residuals),
            "",
            "Random effects:",
            format_varcorr(self.VarCorr),
            self._dropped_line() + self._groups_line(),
            "",
            *self._structure_lines(),
            "Fixed effects:",
            format_coefficients(coefficients),
        ]
        p = len(self._beta)
        if 1 < p <= CORRELATION_MAX:
            parts += ["", "Correlation of Fixed Effects:", format_correlation(self.vcov)]
        elif p > CORRELATION_MAX:  # lme4's option lme4.summary.cor.max
            parts += ["", f"Correlation matrix not shown by default, as p = {p} > {CORRELATION_MAX}: see vcov."]
        return parts

    def _structure_lines(self) -> list[str]:
        """The covariance structures' parameters, one line per structured term (none without)."""
        d = self.design
        if not d.structured:
            return []
        by_term: dict[tuple[str, str], list[str]] = {}
        for group, kind, label, value in structure_values(d, self._theta, self._random_effects_scale()):
            by_term.setdefault((group, kind), []).append(f"{label} {value:.4g}")
        if not by_term:  # only smooths, whose SDs VarCorr shows
            return []
        return ["Covariance structures:"] + [f" {g} {k}: " + ", ".join(v) for (g, k), v in by_term.items()] + [""]

    @synchronized
    def covariance_confint(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals for the covariance structures' parameters as summary() reports them
        (SDs on the response's scale, correlations, ranges, decay rates, loadings), symmetric on
        the log scale (SDs, ranges, rates), atanh scale (correlations) or as they are (loadings);
        standard errors by the delta method from the covariance of the variance parameters (an
        LMM's: Satterthwaite's 2H⁻¹ in (θ, σ), computed once per fit; a GLMM's: its Hessian in
        (θ, β)).

        Parameters
        ----------
        level : float, default 0.95
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Indexed by (group, parameter): structure, lower, est., upper.
        """
        self._require_fit()
        if not self.design.structured:
            raise ValueError("the model has no covariance structure (cs, ar1, ...) on a random-effects term")
        varpar, covariance = self._variance_parameter_covariance()
        return structure_intervals(self.design, varpar, covariance, self._has_residual, level)

    def _variance_parameter_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """The variance parameters (θ, then σ where the model has one) and their covariance."""
        raise NotImplementedError

    @synchronized
    def __repr__(self) -> str:
        """One line, computed from the estimates alone (no inference): print(model) or summary()
        give the tables."""
        if not self._fitted:
            return f"{type(self).__name__}('{self.formula}', not fitted)"
        return f"{type(self).__name__}('{self.formula}', nobs={self.nobs}, logLik={self._loglik:.6g})"

    def __str__(self) -> str:
        return self._brief_summary() if self._fitted else repr(self)

    def _repr_html_(self) -> str:
        """Notebooks show the summary (without the costlier inference) as preformatted text."""
        return f"<pre>{html.escape(str(self))}</pre>"

    def _brief_summary(self) -> str:
        """summary() without anything that costs more than the fit itself."""
        return self.summary()

    @synchronized
    def coef(self) -> dict[str, pd.DataFrame]:
        """Each grouping factor's coefficients per level, as lme4's coef(): the random effects plus
        the fixed effects of the same name (columns: the factor's random-effects columns, then the
        other fixed effects, which are the same for every level)."""
        self._require_fit()
        fixef = self.fixef
        tables = {}
        for name, table in ranef_tables(self.design, self._b).items():
            out = table.copy()
            for column in out.columns:
                if column in fixef.index:
                    out[column] = out[column] + fixef[column]
            for column in fixef.index:
                if column not in out.columns:
                    out[column] = fixef[column]
            tables[name] = out
        return tables

    @synchronized
    def fixef_table(self, level: float = 0.95, ddf: str = "Satterthwaite") -> pd.DataFrame:
        """The fixed effects as a tidy table (one row per term, snake_case columns, as broom.mixed's
        tidy(effects = "fixed", conf.int = TRUE)): term, estimate, std_error, statistic (t or z),
        df (an LMM's Satterthwaite or, with ddf="Kenward-Roger", Kenward–Roger df and adjusted
        standard errors; absent for a GLMM), p_value, conf_low, conf_high (estimate ± quantile ×
        std_error with the t quantile on df for an LMM, the normal one for a GLMM).

        Parameters
        ----------
        level : float, default 0.95
            Confidence level of the intervals.
        ddf : {"Satterthwaite", "Kenward-Roger"}
            An LMM's denominator degrees of freedom.

        Returns
        -------
        DataFrame
            One row per fixed effect.
        """
        self._require_fit()
        if not 0 < level < 1:
            raise ValueError(f"level must be between 0 and 1, got {level}")
        table = self._coefficients(ddf)
        tidy = pd.DataFrame({"term": table.index, "estimate": table["Estimate"].to_numpy(), "std_error": table["Std. Error"].to_numpy()})
        tidy["statistic"] = table.iloc[:, 3 if "df" in table.columns else 2].to_numpy()
        if "df" in table.columns:
            tidy["df"] = table["df"].to_numpy()
            quantile = stats().t.ppf(0.5 + level / 2, tidy["df"].to_numpy())
        else:
            quantile = normal_quantile(level)
        tidy["p_value"] = table.iloc[:, -1].to_numpy()
        tidy["conf_low"] = tidy["estimate"] - quantile * tidy["std_error"]
        tidy["conf_high"] = tidy["estimate"] + quantile * tidy["std_error"]
        return tidy

    def _coefficients(self, ddf: str) -> pd.DataFrame:
        """The coefficient table a tidy table is made from (an LMM's depends on ddf)."""
        return self.coef_table

    def summary(self) -> str:
        raise NotImplementedError
