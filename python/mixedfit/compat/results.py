"""``MixedLMResults``: a mixedfit fit presented with statsmodels' MixedLMResults attributes."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._lazy import stats
from ..inference.condvar import relative_factor
from ..models.lmm import LinearMixedModel
from .likelihood import ProfileLikelihood
from .params import MixedLMParams
from .profile import profile_variance

if TYPE_CHECKING:
    from .statsmodels import MixedLM


class MixedLMResults:
    """The results of ``mixedfit.compat.statsmodels.MixedLM.fit``, as statsmodels' MixedLMResults.

    ``params`` are statsmodels' packed parameters: β, then Ψ = cov_re / scale by rows of its lower
    triangle ("g Var", "g x z Cov", …), then each component's variance / scale ("c Var");
    ``bse``, ``tvalues``, ``pvalues``, ``conf_int()`` and ``cov_params()`` refer to them, from the
    inverse Hessian of statsmodels' profile log-likelihood. ``cov_re``, ``vcomp`` and ``scale``
    are on the data's scale. ``mixedfit_model`` is the underlying mixedfit LinearMixedModel.
    """

    def __init__(self, model: MixedLM, fit: LinearMixedModel, likelihood: ProfileLikelihood) -> None:
        self.model = model
        self.mixedfit_model = fit
        self._likelihood = likelihood
        self.method = "REML" if fit.REML else "ML"
        self.scale = float(fit.sigma**2)
        psi, vc = model._cov_from_theta(fit)
        self.cov_re_unscaled = model._wrap(psi, model.exog_re_names)
        self.cov_re = model._wrap(self.scale * psi, model.exog_re_names)
        self.vcomp = self.scale * vc
        self._beta = fit.fixef.to_numpy()
        self._params = np.concatenate([self._beta, psi[np.tril_indices(model.k_re)], vc])
        self.params = model._wrap(self._params, model.param_names)
        self.params_object = MixedLMParams.from_components(self._beta, cov_re=psi, vcomp=vc)
        self.fe_params = model._wrap(self._beta, model.exog_names)
        self.llf = float(fit.loglik)
        self.converged = not fit.convergence_problems and fit.optsum.return_code not in (
            "MAXEVAL_REACHED",
            "MAXTIME_REACHED",
        )
        self.nobs, self.k_fe, self.k_re, self.k_re2, self.k_vc = (
            model.nobs,
            model.k_fe,
            model.k_re,
            model.k_re2,
            model.k_vc,
        )

    # Inference on the packed parameters.
    @cached_property
    def _pcov(self) -> np.ndarray:
        hessian = self._likelihood.hessian(self._params)
        try:
            return np.linalg.inv(-hessian)
        except np.linalg.LinAlgError:  # a boundary fit: statsmodels reports a pseudo-inverse too
            return np.linalg.pinv(-hessian)

    @property
    def normalized_cov_params(self) -> np.ndarray:
        return self._pcov / self.scale

    def cov_params(self) -> Any:
        """The covariance matrix of ``params`` (statsmodels' inverse negative Hessian)."""
        return self.model._wrap(self._pcov, self.model.param_names)

    @cached_property
    def _bse(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.diag(self._pcov))

    @property
    def bse(self) -> Any:
        return self.model._wrap(self._bse, self.model.param_names)

    @property
    def bse_fe(self) -> Any:
        return self.model._wrap(self._bse[: self.k_fe], self.model.exog_names)

    @property
    def bse_re(self) -> Any:
        """Standard errors of the variance parameters on the data's scale (√scale · bse)."""
        return self.model._wrap(np.sqrt(self.scale) * self._bse[self.k_fe :], self.model.param_names[self.k_fe :])

    @property
    def tvalues(self) -> Any:
        return self.model._wrap(self._params / self._bse, self.model.param_names)

    @property
    def pvalues(self) -> Any:
        return self.model._wrap(2 * stats().norm.sf(np.abs(self._params / self._bse)), self.model.param_names)

    def conf_int(self, alpha: float = 0.05, cols: Any = None) -> Any:
        """Wald intervals ``params ± z_{1-α/2} · bse`` (columns 0 and 1)."""
        z = stats().norm.ppf(1 - alpha / 2)
        bounds = np.column_stack([self._params - z * self._bse, self._params + z * self._bse])
        if cols is not None:
            bounds = bounds[np.asarray(cols)]
        if not self.model._pandas:
            return bounds
        names = np.asarray(self.model.param_names)
        return pd.DataFrame(bounds, index=names if cols is None else names[np.asarray(cols)])

    # Information criteria (statsmodels leaves them undefined for REML).
    @property
    def aic(self) -> float:
        return np.nan if self.method == "REML" else -2 * (self.llf - (len(self._params) + 1))

    @property
    def bic(self) -> float:
        if self.method == "REML":
            return np.nan
        return -2 * self.llf + np.log(self.nobs) * (len(self._params) + 1)

    # Random effects, fitted values and predictions.
    @cached_property
    def random_effects(self) -> dict[Any, pd.Series]:
        """Each group's predicted random effects (conditional modes), keyed by group label."""
        model, fit = self.model, self.mixedfit_model
        ranef = fit.ranef
        keys = {term.name: pd.Index(term.keys) for term in fit.design.terms}

        def modes(term: str, codes: np.ndarray) -> np.ndarray:
            """The term's modes of the levels with these codes (rows follow the term's keys)."""
            return ranef[term].to_numpy()[keys[term].get_indexer(codes)]

        values: list[list[float]] = [[] for _ in model.group_labels]
        names: list[list[str]] = [[] for _ in model.group_labels]
        if model.k_re:
            for g, row in enumerate(modes("group", np.arange(model.n_groups))):
                values[g].extend(row)
                names[g].extend(model.exog_re_names)
        for j, component in enumerate(model._components):
            column_modes = fit._b[component.effect_positions(fit.design, _term_index(fit, f"component{j + 1}"))]
            for (g, column), mode in zip(component.labels, column_modes):
                values[g].append(float(mode))
                names[g].append(f"{component.name}[{column}]")
        return {label: pd.Series(v, index=n, dtype=float) for label, v, n in zip(model.group_labels, values, names)}

    @cached_property
    def random_effects_cov(self) -> dict[Any, pd.DataFrame]:
        """Each group's conditional covariance of its random effects given the data (β at its
        estimate), named as ``random_effects``: σ² Λ_g (Λ_g'Z_g'Z_gΛ_g + I)⁻¹ Λ_g' over the
        group's effects — its random effects and its variance components' effects, which no
        observation shares with another group, so the group's block is exact alone."""
        model, fit = self.model, self.mixedfit_model
        d = fit.design
        Z = d.Zt.T.tocsr()
        Lambda = relative_factor(d, fit.theta).T.tocsr()
        slices = d.b_slices()
        positions: list[list[int]] = [[] for _ in model.group_labels]
        for term, sl in zip(d.terms, slices):
            keys = pd.Index(term.keys)
            if term.name == "group":  # levels are group codes; a split (independent) term adds its column
                for g, level in enumerate(keys.get_indexer(np.arange(model.n_groups))):
                    positions[g].extend(sl.start + level * term.p + np.arange(term.p))
        for j, component in enumerate(model._components):
            at = component.effect_positions(d, _term_index(fit, f"component{j + 1}"))
            for (g, _), position in zip(component.labels, at):
                positions[g].append(position)
        names = {label: effects.index for label, effects in self.random_effects.items()}
        covariances = {}
        for g, label in enumerate(model.group_labels):
            at = np.asarray(positions[g])
            ZL = (Z[model._group_rows[g]][:, at] @ Lambda[at][:, at]).toarray()
            L = Lambda[at][:, at].toarray()
            cov = self.scale * L @ np.linalg.solve(ZL.T @ ZL + np.eye(len(at)), L.T)
            covariances[label] = pd.DataFrame(cov, index=names[label], columns=names[label])
        return covariances

    def _observations(self, values: np.ndarray) -> Any:
        rows = self.model.data.row_labels
        return pd.Series(values, index=rows) if rows is not None else self.model._wrap(values)

    @property
    def fittedvalues(self) -> Any:
        """Xβ + Zb: the fitted values with the predicted random effects."""
        return self._observations(self.mixedfit_model.fitted)

    @property
    def resid(self) -> Any:
        return self._observations(self.model.endog - self.mixedfit_model.fitted)

    def predict(self, exog: Any = None) -> Any:
        """Xβ (statsmodels' predictions leave out the random effects); ``exog`` a data frame for a
        formula model, or a matrix."""
        if exog is None:
            return self.model.exog @ self._beta
        X, index = self.model._fixed_design(exog)
        prediction = X @ self._beta
        return pd.Series(prediction, index=index) if index is not None and self.model._pandas else prediction

    def summary(
        self, yname: str | None = None, xname_fe: list[str] | None = None, xname_re: list[str] | None = None,
        title: str | None = None, alpha: float = 0.05,
    ) -> Any:  # fmt: skip
        """statsmodels' summary: the model block, then coefficients and variance parameters (on
        the data's scale), with statsmodels' arguments. Where statsmodels is installed this is its
        ``summary2.Summary`` (so ``summary_col`` and its output formats work), else this
        package's ``Summary`` with the same text."""
        names = list(self.model.param_names)
        for given, start, stop, what in (
            (xname_fe, 0, self.k_fe, "xname_fe"),
            (xname_re, self.k_fe, len(names), "xname_re"),
        ):
            if given is not None:
                if len(given) != stop - start:
                    raise ValueError(f"{what} should be a list of length {stop - start:d}")
                names[start:stop] = list(given)
        info, table = self._summary_tables(yname or self.model.endog_names, names, alpha)
        title = title or "Mixed Linear Model Regression Results"
        try:
            from statsmodels.iolib import summary2
        except ImportError:
            return Summary(info, table, title)
        summary = summary2.Summary()
        summary.add_dict(info)
        summary.add_title(title)
        summary.add_df(table, align="r")
        return summary

    def _summary_tables(self, yname: str, names: list[str], alpha: float) -> tuple[dict[str, Any], pd.DataFrame]:
        model = self.model
        sizes = np.bincount(model._group_codes)
        info = {
            "Model:": "MixedLM", "No. Observations:": str(self.nobs), "No. Groups:": str(model.n_groups),
            "Min. group size:": f"{sizes.min():.0f}", "Max. group size:": f"{sizes.max():.0f}",
            "Mean group size:": f"{sizes.mean():.1f}", "Dependent Variable:": yname, "Method:": self.method,
            "Scale:": self.scale, "Log-Likelihood:": self.llf, "Converged:": "Yes" if self.converged else "No",
        }  # fmt: skip
        p = self.k_fe
        values = np.full((len(names), 6), np.nan)
        se = self._bse[:p]
        z = self._beta / se
        q = stats().norm.ppf(1 - alpha / 2)
        values[:p] = np.column_stack(
            [self._beta, se, z, 2 * stats().norm.sf(np.abs(z)), self._beta - q * se, self._beta + q * se]
        )
        # variance parameters on the data's scale, as statsmodels prints them
        values[p:, 0] = self.scale * self._params[p:]
        values[p:, 1] = np.sqrt(self.scale) * self._bse[p:]
        columns = ["Coef.", "Std.Err.", "z", "P>|z|", f"[{alpha / 2}", f"{1 - alpha / 2}]"]
        table = pd.DataFrame(values, index=names, columns=columns)
        for column in columns:
            table[column] = [f"{v:.3f}" if np.isfinite(v) else "" for v in table[column]]
        return info, table

    def t_test(self, r_matrix: Any, use_t: bool | None = None) -> ContrastResults:
        """Wald z tests of linear combinations R β of the fixed effects (statsmodels restricts
        MixedLM's t_test to them): R has k_fe columns."""
        R = np.atleast_2d(np.asarray(r_matrix, dtype=np.float64))
        if R.shape[1] != self.k_fe:
            raise ValueError(f"r_matrix for t-test should have {self.k_fe:d} columns")
        effect = R @ self._beta
        sd = np.sqrt(np.einsum("ij,jk,ik->i", R, self._pcov[: self.k_fe, : self.k_fe], R))
        return ContrastResults(effect, sd)

    def profile_re(
        self, re_ix: Any, vtype: str, num_low: int = 5, dist_low: float = 1.0, num_high: int = 5, dist_high: float = 1.0,
        **fit_kwargs: Any,
    ) -> np.ndarray:  # fmt: skip
        """statsmodels' profile likelihood of one variance parameter: random effect ``re_ix``
        (vtype "re") or the component named ``re_ix`` (vtype "vc") held at each point of a grid
        around its estimate, the rest refitted; rows (variance on the data's scale, log-likelihood).
        ``fit_kwargs`` are accepted and ignored (see MixedLM.fit)."""
        return profile_variance(self, re_ix, vtype, num_low, dist_low, num_high, dist_high)

    def remove_data(self) -> None:
        """statsmodels' remove_data: nothing to drop (the results keep what they need)."""


class ContrastResults:
    """Wald z tests of linear combinations: ``effect``, ``sd``, ``tvalue`` (z), ``pvalue`` and
    ``conf_int(alpha)``, as statsmodels' ContrastResults with a normal reference."""

    def __init__(self, effect: np.ndarray, sd: np.ndarray) -> None:
        self.effect, self.sd = effect, sd
        self.tvalue = self.statistic = effect / sd
        self.pvalue = 2 * stats().norm.sf(np.abs(self.tvalue))
        self.distribution = "norm"

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        q = stats().norm.ppf(1 - alpha / 2)
        return np.column_stack([self.effect - q * self.sd, self.effect + q * self.sd])


def _term_index(fit: LinearMixedModel, name: str) -> int:
    return next(i for i, t in enumerate(fit.design.terms) if t.name == name)


class Summary:
    """The text (and HTML) of ``MixedLMResults.summary()`` where statsmodels is not installed;
    ``tables`` holds its two tables."""

    def __init__(self, info: dict[str, Any], table: pd.DataFrame, title: str) -> None:
        self.title = title
        self.info = {k: f"{v:.4f}" if isinstance(v, float) else str(v) for k, v in info.items()}
        self.tables = [pd.DataFrame(list(self.info.items())), table]

    def as_text(self) -> str:
        items = list(self.info.items())
        pairs = [items[i : i + 2] for i in range(0, len(items), 2)]
        key_width = max(len(k) for k, _ in items)
        value_width = max(len(v) for _, v in items)
        lines = ["  ".join(f"{k:<{key_width}} {v:<{value_width}}" for k, v in pair).rstrip() for pair in pairs]
        body = self.tables[1].to_string().splitlines()
        width = max(len(line) for line in lines + body)
        title = self.title.center(width)
        rule = "=" * width
        return "\n".join([title, rule, *lines, "-" * width, *body, rule]) + "\n"

    def as_html(self) -> str:
        return pd.DataFrame(list(self.info.items())).to_html(header=False, index=False) + self.tables[1].to_html()

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__
