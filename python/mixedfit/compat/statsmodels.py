"""A statsmodels-compatible front: ``MixedLM`` with statsmodels' constructor, ``from_formula`` and
results, fitted by mixedfit's core.

statsmodels' model is ``y = Xβ + Z_g b_g + Σ_c Z_gc a_gc + ε`` for groups g: ``exog_re`` gives
correlated effects per group (covariance ``cov_re``, free), each variance component c gives
independent effects within each group, all of one variance. In lme4's terms the first is
``(exog_re | group)`` and a component is a scalar term whose levels are (group, column) pairs;
that is what is fitted here, by the same REML/ML criterion statsmodels maximizes, so the optimum is
the same. Results carry statsmodels' names, parametrization (variance parameters divided by
``scale``), standard errors (the inverse Hessian of its profile likelihood, see ``likelihood``)
and container types (pandas when the model was given pandas or a formula, arrays otherwise).
A variance component's matrix may have at most one non-zero per observation (as the indicator
matrices of ``vc_formula={"c": "0 + C(c)"}`` and single columns do); statsmodels' more general
components share one variance across several effects of one row, which lme4's terms cannot express.
"""

from __future__ import annotations

from typing import Any, Mapping

import formulaic
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..design.arrays import RandomTerm
from ..design.restricted import check_restricted, formula_is_restricted
from ..models.lmm import LinearMixedModel
from .likelihood import GroupedDesign, ProfileLikelihood
from .results import MixedLMResults


def _names(values: Any, default: str, k: int) -> list[str]:
    if isinstance(values, pd.DataFrame):
        return [str(c) for c in values.columns]
    if isinstance(values, pd.Series) and values.name is not None:
        return [str(values.name)]
    return [default] if k == 1 and default == "y" else [f"{default}{j + 1}" for j in range(k)]


def _matrix(values: Any, what: str, n: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"{what} must have {n} rows (one per observation), got shape {array.shape}")
    return array


class _Component:
    """One variance component: its effects' (group, column) codes and the observations' values."""

    def __init__(self, name: str, codes: np.ndarray, values: np.ndarray, labels: list[tuple[int, str]]) -> None:
        self.name, self.codes, self.values, self.labels = name, codes, values, labels

    @classmethod
    def from_group_matrices(
        cls, name: str, matrices: Mapping[Any, Any], group_rows: list[np.ndarray], group_labels: list[Any], n: int
    ) -> _Component:
        """From statsmodels' ``exog_vc[name]``: a matrix per group label (rows in data order).
        Each observation's effect is the (group, column) of its non-zero entry."""
        groups, columns, rows_hit, entries, names = [], [], [], [], {}
        for g, (label, rows) in enumerate(zip(group_labels, group_rows)):
            if label not in matrices:
                continue
            block = matrices[label]
            if isinstance(block, pd.DataFrame):
                names[g] = [str(c) for c in block.columns]
            block = np.asarray(block, dtype=np.float64)
            block = block[:, None] if block.ndim == 1 else block
            if block.shape[0] != len(rows):
                raise ValueError(
                    f"exog_vc['{name}'][{label!r}] has {block.shape[0]} rows; group {label!r} has {len(rows)} observations"
                )
            nonzero = block != 0
            if np.any(nonzero.sum(axis=1) > 1):
                raise NotImplementedError(
                    f"variance component '{name}' has more than one non-zero in a row of group {label!r}: "
                    "mixedfit fits components whose effects are separate columns of one observation each "
                    "(as '0 + C(x)' or a single column)"
                )
            hit = np.flatnonzero(nonzero.any(axis=1))
            j = nonzero[hit].argmax(axis=1)
            groups.append(np.full(len(hit), g))
            columns.append(j)
            rows_hit.append(rows[hit])
            entries.append(block[hit, j])
        codes, values = np.zeros(n, dtype=np.int64), np.zeros(n)
        if not groups:
            return cls(name, codes, values, [])
        g, j = np.concatenate(groups), np.concatenate(columns)
        pairs, key = np.unique(np.column_stack([g, j]), axis=0, return_inverse=True)
        hit_rows = np.concatenate(rows_hit)
        codes[hit_rows], values[hit_rows] = key.ravel(), np.concatenate(entries)
        labels = [(int(a), names[a][b] if a in names else str(b)) for a, b in pairs]
        return cls(name, codes, values, labels)


class MixedLM:
    """statsmodels' ``MixedLM`` (same arguments and results), fitted by mixedfit.

    Parameters
    ----------
    endog : array, length n
        The response.
    exog : array, n × p
        The fixed-effects design (include a constant column for an intercept).
    groups : array, length n
        Each observation's group label.
    exog_re : array, n × k, optional
        The random-effects design within groups (None: a random intercept, unless ``exog_vc``).
    exog_vc : dict, optional
        ``{component: {group label: matrix}}`` as statsmodels'; each row at most one non-zero.
    use_sqrt : bool
        Accepted for compatibility (mixedfit's optimizer works on Λ, not Ψ).
    missing : {"none", "drop", "raise"}
        "drop" drops observations with a missing value; otherwise they raise.
    """

    def __init__(
        self, endog: Any, exog: Any, groups: Any, exog_re: Any = None, exog_vc: Any = None,
        use_sqrt: bool = True, missing: str = "none", **kwargs: Any,
    ) -> None:  # fmt: skip
        self._pandas = any(isinstance(v, (pd.Series, pd.DataFrame)) for v in (endog, exog))
        self.endog_names = kwargs.pop("endog_names", None) or _names(endog, "y", 1)[0]
        exog_frame = exog if isinstance(exog, pd.DataFrame) else None
        y = np.asarray(endog, dtype=np.float64).ravel()
        n = len(y)
        X = _matrix(exog, "exog", n)
        self.exog_names = kwargs.pop("exog_names", None) or (_names(exog_frame, "", 0) if exog_frame is not None else ["const", *[f"x{j}" for j in range(1, X.shape[1])]])
        self._formula_spec = kwargs.pop("formula_spec", None)
        group_name = kwargs.pop("group_name", "Group")
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must have {n} entries (one per observation), got shape {groups.shape}")
        if exog_re is None and exog_vc is None:
            exog_re, re_names = np.ones((n, 1)), [group_name]
        elif exog_re is None:
            re_names = []
        else:
            re_names = (
                _names(exog_re, "", 0) if isinstance(exog_re, pd.DataFrame)
                else [f"x_re{j + 1}" for j in range(_matrix(exog_re, "exog_re", n).shape[1])]
            )  # fmt: skip
        Z = _matrix(exog_re, "exog_re", n) if exog_re is not None else np.zeros((n, 0))
        keep = self._complete_rows(missing, y, X, Z, groups)
        if exog_vc is not None and not np.all(keep):
            raise NotImplementedError("missing='drop' with exog_vc: drop the rows before building exog_vc")
        self.endog, self.exog, self.exog_re = y[keep], X[keep], Z[keep]
        self.groups = groups[keep]
        self.exog_re_names = re_names
        codes, labels = pd.factorize(pd.Series(self.groups), sort=True)
        self.group_labels = list(labels)
        self._group_codes = codes.astype(np.int64)
        self._group_rows = [np.flatnonzero(codes == g) for g in range(len(labels))]
        self.n_groups = len(self.group_labels)
        self.nobs = self.n_totobs = len(self.endog)
        self._components = [
            _Component.from_group_matrices(name, matrices, self._group_rows, self.group_labels, self.nobs)
            for name, matrices in (exog_vc or {}).items()
        ]
        self.k_fe, self.k_re, self.k_vc = self.exog.shape[1], self.exog_re.shape[1], len(self._components)
        self.k_re2 = self.k_re * (self.k_re + 1) // 2
        self.exog_vc_names = [c.name for c in self._components]

    @staticmethod
    def _complete_rows(missing: str, y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray) -> np.ndarray:
        if missing not in ("none", "drop", "raise"):
            raise ValueError(f"missing must be 'none', 'drop' or 'raise', got {missing!r}")
        complete = np.isfinite(y) & np.all(np.isfinite(X), axis=1) & np.all(np.isfinite(Z), axis=1) & ~pd.isna(groups)
        if missing != "drop" and not np.all(complete):
            first = int(np.flatnonzero(~complete)[0])
            raise ValueError(f"observation {first} has a missing or non-finite value (use missing='drop' to drop such rows)")
        return complete

    @classmethod
    def from_formula(
        cls, formula: str, data: pd.DataFrame, re_formula: str | None = None, vc_formula: Mapping[str, str] | None = None,
        subset: Any = None, use_sparse: bool = False, missing: str = "none", *args: Any, **kwargs: Any,
    ) -> MixedLM:  # fmt: skip
        """statsmodels' ``MixedLM.from_formula``: ``groups`` (a column name or an array) is
        required; ``re_formula`` gives the correlated effects (default a random intercept unless
        ``vc_formula`` is given), ``vc_formula`` maps component names to formulas whose columns
        are that component's effects within each group. A missing value in a variable the
        formulas use raises, unless ``missing="drop"`` (then its row is dropped)."""
        if "groups" not in kwargs:
            raise TypeError("from_formula needs groups= (a column name of data, or an array)")
        groups = kwargs.pop("groups")
        if args or kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        if subset is not None:
            data = data.loc[subset]
        group_name = groups if isinstance(groups, str) else "Group"
        group_values = data[groups] if isinstance(groups, str) else pd.Series(np.asarray(groups), index=data.index)
        formulas = [formula, *([re_formula] if re_formula else []), *(vc_formula or {}).values()]
        if formula_is_restricted():  # before formulaic parses (and so evaluates) any of them
            for text in formulas:
                check_restricted(text, data.columns, data=data)
        used = set().union(*(formulaic.Formula(f).required_variables for f in formulas)) & set(data.columns)
        missing_values = data[sorted(used)].isna().assign(**{"groups": group_values.isna()})
        if missing not in ("none", "drop", "raise"):
            raise ValueError(f"missing must be 'none', 'drop' or 'raise', got {missing!r}")
        if missing != "drop" and missing_values.to_numpy().any():
            column = missing_values.columns[missing_values.any().to_numpy()][0]
            raise ValueError(f"column '{column}' has a missing value (use missing='drop' to drop such rows)")
        complete = ~missing_values.any(axis=1)
        data, group_values = data.loc[complete], group_values.loc[complete]
        matrices = formulaic.model_matrix(formula, data, na_action="raise")
        y, X = matrices.lhs, matrices.rhs
        exog_re = None
        if re_formula:
            exog_re = formulaic.model_matrix(re_formula, data, na_action="raise")
            exog_re = exog_re.rename(columns={"Intercept": group_name})
        elif not vc_formula:
            exog_re = pd.DataFrame({group_name: np.ones(len(data))}, index=data.index)
        exog_vc = None
        if vc_formula:
            exog_vc = {}
            for name, vc in vc_formula.items():
                whole = formulaic.model_matrix(vc, data, na_action="raise")
                exog_vc[name] = {
                    label: whole.loc[rows] for label, rows in group_values.groupby(group_values, sort=True).groups.items()
                }
        model = cls(
            y.iloc[:, 0], X, group_values.to_numpy(), exog_re=exog_re, exog_vc=exog_vc, missing=missing,
            endog_names=str(y.columns[0]), exog_names=[str(c) for c in X.columns], formula_spec=X.model_spec,
            group_name=group_name,
        )  # fmt: skip
        model.formula, model.data = formula, data
        return model

    def _grouped_design(self) -> GroupedDesign:
        n, k = self.nobs, self.k_re
        rows = np.repeat(np.arange(n), k)
        columns = (self._group_codes[:, None] * k + np.arange(k)).ravel()
        Z_re = sp.csc_matrix((self.exog_re.ravel(), (rows, columns)), shape=(n, self.n_groups * k))
        Z_vc = tuple(
            sp.csc_matrix((c.values, (np.arange(n), c.codes)), shape=(n, len(c.labels))) for c in self._components
        )
        return GroupedDesign(Z_re, k, self.n_groups, Z_vc)

    def _terms(self) -> list[RandomTerm]:
        terms = []
        if self.k_re:
            terms.append(RandomTerm(self._group_codes, self.exog_re, correlated=True, group_name="group"))
        for j, c in enumerate(self._components):
            terms.append(RandomTerm(c.codes, c.values, group_name=f"component{j + 1}"))
        return terms

    def fit(
        self, start_params: Any = None, reml: bool = True, niter_sa: int = 0, do_cg: bool = True,
        fe_pen: Any = None, cov_pen: Any = None, free: Any = None, full_output: bool = False,
        method: Any = None, **fit_kwargs: Any,
    ) -> MixedLMResults:  # fmt: skip
        """Fit by REML (``reml=True``) or ML. ``start_params``, ``niter_sa``, ``do_cg``,
        ``full_output`` and ``method`` are accepted and ignored (mixedfit's optimizer is BOBYQA on
        Λ's parameters); penalties and ``free`` (constrained covariances) are not supported."""
        if fe_pen is not None or cov_pen is not None or free is not None:
            raise NotImplementedError("fe_pen, cov_pen and free are not supported by mixedfit's MixedLM")
        core = LinearMixedModel.from_arrays(self.endog, self.exog, self._terms(), REML=bool(reml)).fit()
        likelihood = ProfileLikelihood(self.endog, self.exog, self._grouped_design(), bool(reml))
        return MixedLMResults(self, core, likelihood)

    def loglike(self, params: Any, reml: bool = True) -> float:
        """statsmodels' profile log-likelihood at packed ``[β, Ψ, vc]`` (Ψ = cov_re / scale)."""
        likelihood = ProfileLikelihood(self.endog, self.exog, self._grouped_design(), reml)
        return likelihood(np.asarray(params, dtype=np.float64))

    def _cov_from_theta(self, fit: LinearMixedModel) -> tuple[np.ndarray, np.ndarray]:
        """Ψ and the components' variances (both / scale) from a fit's θ (whose terms are in
        lme4's order, by decreasing number of levels)."""
        k = self.k_re
        psi, vc = np.zeros((k, k)), np.zeros(self.k_vc)
        start = 0
        for term in fit.design.terms:
            theta = fit.theta[start : start + term.n_theta]
            start += term.n_theta
            if term.name == "group":
                L = np.zeros((k, k))
                upper = np.triu_indices(k)
                L[upper[1], upper[0]] = theta  # θ fills Λ's lower triangle by columns
                psi = L @ L.T
            else:
                vc[int(term.name.removeprefix("component")) - 1] = theta[0] ** 2
        return psi, vc

    @property
    def param_names(self) -> list[str]:
        names = list(self.exog_names)
        for i, j in zip(*np.tril_indices(self.k_re)):
            a, b = self.exog_re_names[j], self.exog_re_names[i]
            names.append(f"{a} Var" if i == j else f"{a} x {b} Cov")
        return names + [f"{name} Var" for name in self.exog_vc_names]

    def _wrap(self, values: np.ndarray, index: list[str] | None = None) -> Any:
        if not self._pandas:
            return values
        if values.ndim == 2:
            return pd.DataFrame(values, index=index, columns=index)
        return pd.Series(values, index=index)

    def _fixed_design(self, exog: Any) -> tuple[np.ndarray, Any]:
        """A new fixed-effects design: the formula applied to a data frame, or a matrix."""
        if self._formula_spec is not None and isinstance(exog, pd.DataFrame):
            return np.asarray(self._formula_spec.get_model_matrix(exog, na_action="ignore"), dtype=np.float64), exog.index
        return _matrix(exog, "exog", len(exog)), getattr(exog, "index", None)


__all__ = ["MixedLM", "MixedLMResults"]
