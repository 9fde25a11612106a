"""The part of a linear mixed model's fit that belongs to its residual structure (variance
functions and correlation structures, ``residual_structure``): ψ = (δ, φ) set in the core, the
criterion in (θ, ψ) and its joint optimization, convergence checks and Wald intervals for ψ.
A mixin of LinearMixedModel, which holds ``_structure`` (None without one) and the core."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._lazy import stats
from ..errors import NumericalError
from ..inference.derivatives import central_derivatives, relative_steps
from .dispersion import BoundDispersion
from .optimize import OptSummary, bobyqa
from .synchronization import synchronized


class ResidualStructureFit:
    _structure: Any
    _core: Any
    _variance_spec: Any
    _correlation_spec: Any

    def _structure_variables(self) -> set[str]:
        specs = [spec for spec in (self._variance_spec, self._correlation_spec) if spec is not None]
        return {column for spec in specs for column in spec.columns}

    @property
    def _whitened(self) -> bool:
        """Whether the core holds the data whitened for a residual correlation."""
        return self._structure is not None and self._structure.whitens

    def _sigma_scale(self) -> float:
        return 1.0 if self._structure is None else self._structure.sigma_scale

    def _apply_structure(self, psi: np.ndarray) -> None:
        """The residual structure at ψ = (δ, φ): the core gets the new weights, or the whitened data
        refilled in place."""
        self._structure.set(psi)
        self._weights = self._structure.weights
        if self._whitened:
            self._core.values_changed()
        else:
            self._core.set_weights(self._weights)

    def _jacobian(self) -> float:
        return 0.0 if self._structure is None else self._structure.jacobian

    def _structure_criterion(self, k: int):
        """The criterion as a function of x = (θ, ψ): ψ set, then the core at θ."""

        def criterion(x: np.ndarray) -> float:
            self._apply_structure(x[k:])
            return self._core.objective(np.ascontiguousarray(x[:k]), self.REML) + self._jacobian()

        return criterion

    def _optimize_with_structure(self) -> np.ndarray:
        """θ and the residual structure's ψ = (δ, φ) jointly by BOBYQA (δ unbounded, φ inside its
        range), ψ starting where it is; leaves the core at ψ̂ and returns θ̂."""
        k, s = len(self.design.theta0), self._structure
        opt = self.optsum
        criterion = self._structure_criterion(k)
        other_starts: list[np.ndarray] = []
        if len(opt.initial) == k:  # a fresh start for θ: ψ starts where it is (or at its best candidates)
            lower, upper = s.bounds()
            psi = np.clip(s.psi, lower, upper)
            if s.whitens:
                starts = self._ranked_starts(criterion, opt, s)
                psi, other_starts = starts[0], starts[1 : s.correlation.restarts]
            opt.initial = np.concatenate([opt.initial, psi])
            opt.lower = np.concatenate([opt.lower, lower])
            opt.upper = np.concatenate([np.full(k, np.inf) if opt.upper is None else opt.upper, upper])
        x = bobyqa(criterion, opt)
        for psi in other_starts:  # kinds with local optima: BOBYQA from the next best starts too
            trial = self._control.applied(
                OptSummary(initial=np.concatenate([opt.initial[:k], psi]), lower=opt.lower, upper=opt.upper,
                           quiet=opt.quiet, verbose=opt.verbose),
                spent=opt.feval,
            )  # fmt: skip
            y = bobyqa(criterion, trial)
            opt.feval += trial.feval
            if trial.fmin < opt.fmin:
                x, opt.final, opt.fmin, opt.return_code = y, trial.final, trial.fmin, trial.return_code
        # A second pass from there with steps of a twentieth of each parameter: the joint criterion
        # has flat ridges along which BOBYQA's first stop is up to 1e-8 (relative) short in the
        # criterion and 2e-4 in θ (Orthodont's slopes with varIdent, BodyWeight's continuous AR(1);
        # each on one of the two builds' rounding). The pass starts at the stop, so it cannot end
        # higher; it costs ~30 evaluations.
        control = self._control
        if opt.return_code == "MAXEVAL_REACHED" or control.exhausted(opt.feval):
            self._apply_structure(x[k:])  # the user's budget is spent: no second pass
            return x[:k]
        polish = control.applied(
            OptSummary(
                initial=x.copy(), lower=opt.lower, upper=opt.upper, initial_step=np.maximum(0.05 * np.abs(x), 1e-4),
                quiet=opt.quiet, verbose=opt.verbose,
            ),
            spent=opt.feval,
        )  # fmt: skip
        x = bobyqa(criterion, polish)
        opt.final, opt.fmin, opt.return_code = polish.final, polish.fmin, polish.return_code
        opt.feval += polish.feval
        self._apply_structure(x[k:])
        return x[:k]

    @staticmethod
    def _ranked_starts(criterion, opt: OptSummary, s: Any) -> list[np.ndarray]:
        """ψ = (δ, φ) for each of the correlation's candidate φ, best criterion at θ's start first
        (a φ at which the correlation matrix is singular last)."""

        def at_start(psi: np.ndarray) -> float:
            try:
                return criterion(np.concatenate([opt.initial, psi]))
            except NumericalError:
                return np.inf

        candidates = [np.concatenate([s.delta, phi]) for phi in s.correlation.candidate_starts()]
        values = [at_start(psi) for psi in candidates]
        return [candidates[j] for j in np.argsort(values, kind="stable") if np.isfinite(values[j]) or j == 0]

    @synchronized
    def structure_confint(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals for the residual structure's parameters on nlme's scale (as nlme's
        intervals(m)'s varStruct and corStruct): from the Hessian of the criterion in (θ, ψ) at
        the optimum — for varIdent on the log-ratios, then exponentiated to ratios; for φ on nlme's
        unconstrained scale (see BoundCorrelation.unconstrained), then transformed back.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level.

        Returns
        -------
        DataFrame
            One row per parameter: estimate and the interval's ends.
        """
        self._require_fit()
        if self._structure is None:
            raise ValueError("the model has no variance function or correlation structure")
        s = self._structure
        k, psi = len(self._theta), s.psi.copy()
        x0 = np.concatenate([self._theta, psi])
        try:
            _, hessian = central_derivatives(self._structure_criterion(k), x0, self._objective, relative_steps(x0))
        finally:
            self._apply_structure(psi)
            self.objective_at(self._theta)
        covariance = 2 * np.linalg.inv(hessian)[k:, k:]
        z = stats().norm.ppf(0.5 + level / 2)
        rows, names = [], []
        if s.variance is not None:
            m = len(s.delta)
            se = np.sqrt(np.diag(covariance)[:m])
            bounds = np.column_stack([s.delta - z * se, s.delta, s.delta + z * se])
            labels = list(s.variance.estimates(s.delta).index)
            if m < len(labels):  # varIdent: ratios to the reference stratum
                bounds, labels = np.exp(bounds), labels[1:]
            else:
                bounds = s.variance.nlme_delta(bounds)
            rows.append(bounds)
            names += labels
        if s.whitens:  # symmetric on nlme's unconstrained scale u(φ); SEs by the delta method
            c, step, m = s.correlation, 1e-6, len(s.delta)
            phi = np.atleast_1d(s.phi)
            u = c.unconstrained(phi)
            for j, name in enumerate(c.names):
                shift = np.eye(len(phi))[j] * step
                slope = (c.unconstrained(phi + shift)[j] - c.unconstrained(phi - shift)[j]) / (2 * step)
                se = np.sqrt(covariance[m + j, m + j]) * abs(slope)
                points = np.tile(u, (3, 1))
                points[:, j] += [-z * se, 0.0, z * se]
                rows.append(c.constrained(points)[:, j][None, :])
                names.append(name)
        return pd.DataFrame(np.vstack(rows), index=names, columns=["lower", "est.", "upper"])

    @property
    def variance_estimates(self) -> pd.Series | None:
        """The variance function's estimates as nlme prints them (varIdent: SD ratios)."""
        self._require_fit()
        s = self._structure
        return None if s is None or s.variance is None else s.variance.estimates(s.delta)

    @property
    def fixef_disp(self) -> pd.Series | None:
        """The dispersion formula's coefficients on glmmTMB 1.1.5's scale, log σᵢ² = x_dᵢ'β_d
        (``lmer(..., dispformula=)``; None without one)."""
        self._require_fit()
        s = self._structure
        if s is None or not isinstance(s.variance, BoundDispersion):
            return None
        intercept = pd.Series([2 * np.log(self.sigma)], index=["(Intercept)"])
        return pd.concat([intercept, s.variance.estimates(s.delta)]).rename("Estimate")

    @property
    def correlation_estimate(self) -> float | np.ndarray | None:
        """The correlation structure's φ (ρ for compound symmetry; a spatial one's range and nugget)."""
        self._require_fit()
        return self._structure.phi if self._whitened else None

