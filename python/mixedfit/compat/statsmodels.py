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
A variance component whose matrices have several non-zeros in a row (``"0 + x1 + x2"``: effects
of one row sharing one variance) is a term per group with the homdiag structure (one variance,
no correlations). ``fit(free=)`` with cov_re's diagonal alone free gives independent effects, as
lme4's ``(x || g)``; ``random_effects_cov`` holds each group's conditional covariances.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Mapping

import formulaic
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..design.arrays import RandomTerm
from ..design.restricted import check_restricted, formula_is_restricted
from ..errors import SingularFitWarning
from ..inference.derivatives import central_gradient
from ..models.lmm import LinearMixedModel
from ..options import option_context
from ..models.results import lower_factor
from .likelihood import GroupedDesign, ProfileLikelihood
from .params import MixedLMParams
from .results import MixedLMResults


def _names(values: Any, default: str, k: int) -> list[str]:
    if isinstance(values, pd.DataFrame):
        return [str(c) for c in values.columns]
    if isinstance(values, pd.Series) and values.name is not None:
        return [str(values.name)]
    return [default] if k == 1 and default == "y" else [f"{default}{j + 1}" for j in range(k)]


def _exog_names(X: np.ndarray) -> list[str]:
    """statsmodels' names of an array's columns: x1, x2, …, with "const" for a constant column."""
    constant = np.flatnonzero(X.var(axis=0) == 0) if len(X) else np.zeros(0, dtype=int)
    if not len(constant):
        return [f"x{j}" for j in range(1, X.shape[1] + 1)]
    names = [f"x{j}" for j in range(1, X.shape[1])]
    names.insert(int(np.argmin(X.var(axis=0))), "const")
    return names


def _matrix(values: Any, what: str, n: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"{what} must have {n} rows (one per observation), got shape {array.shape}")
    return array


class _Component:
    """One variance component: its effects' (group, column) codes and the observations' values.

    A component whose rows have at most one non-zero is a scalar term with a level per (group,
    column) pair (codes, values). One with several non-zeros in a row (``"0 + x1 + x2"``) is a
    term per group with one column per column of the group's matrix and one variance for all
    (structure homdiag); ``wide`` holds its n × K matrix (a group with fewer than K columns has
    zeros in the rest: effects the data do not touch, at 0, which change nothing) and codes the
    group of each row."""

    def __init__(
        self,
        name: str,
        codes: np.ndarray,
        values: np.ndarray,
        labels: list[tuple[int, str]],
        wide: np.ndarray | None = None,
    ) -> None:
        self.name, self.codes, self.values, self.labels, self.wide = name, codes, values, labels, wide

    @classmethod
    def from_group_matrices(
        cls, name: str, matrices: Mapping[Any, Any], group_rows: list[np.ndarray], group_labels: list[Any], n: int
    ) -> _Component:
        """From statsmodels' ``exog_vc[name]``: a matrix per group label (rows in data order)."""
        blocks, names = {}, {}
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
            blocks[g] = block
        if any(np.any((block != 0).sum(axis=1) > 1) for block in blocks.values()):
            return cls._wide(name, blocks, names, group_rows, n)
        return cls._by_column(name, blocks, names, group_rows, n)

    def matrix(self, n: int) -> sp.csc_matrix:
        """n × (effects): each observation's values on the component's effects, in labels' order."""
        if self.wide is None:
            return sp.csc_matrix((self.values, (np.arange(n), self.codes)), shape=(n, len(self.labels)))
        groups = np.array([g for g, _ in self.labels])
        first = np.full(self.codes.max() + 1, -1)
        width = np.zeros(self.codes.max() + 1, dtype=np.int64)
        present, starts, counts = np.unique(groups, return_index=True, return_counts=True)
        first[present], width[present] = starts, counts
        k = self.wide.shape[1]
        rows, j = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
        g = self.codes[rows]
        valid = j < width[g]
        return sp.csc_matrix(
            (self.wide.ravel()[valid], (rows[valid], first[g[valid]] + j[valid])), shape=(n, len(self.labels))
        )

    def effect_positions(self, design, term_index: int) -> np.ndarray:
        """The position in b of each of the component's effects (labels' order) in a fit's design."""
        term, start = design.terms[term_index], design.b_slices()[term_index].start
        keys = pd.Index(term.keys)
        if self.wide is None:
            return start + keys.get_indexer(np.arange(len(self.labels)))
        groups = np.array([g for g, _ in self.labels])
        within = (
            np.concatenate([np.arange(c) for c in np.unique(groups, return_counts=True)[1]]) if len(groups) else groups
        )
        return start + keys.get_indexer(groups) * term.p + within

    @classmethod
    def _wide(
        cls, name: str, blocks: dict[int, np.ndarray], names: dict[int, list[str]], group_rows: list[np.ndarray], n: int
    ) -> _Component:
        """Several non-zeros in a row: one homdiag term per group (see the class)."""
        width = max(block.shape[1] for block in blocks.values())
        wide, codes = np.zeros((n, width)), np.zeros(n, dtype=np.int64)
        labels = []
        for g, block in blocks.items():
            wide[group_rows[g], : block.shape[1]] = block
            codes[group_rows[g]] = g
            labels.extend((g, names[g][j] if g in names else str(j)) for j in range(block.shape[1]))
        return cls(name, codes, np.zeros(n), labels, wide)

    @classmethod
    def _by_column(
        cls, name: str, blocks: dict[int, np.ndarray], names: dict[int, list[str]], group_rows: list[np.ndarray], n: int
    ) -> _Component:
        """At most one non-zero per row: each observation's effect is the (group, column) of it."""
        groups, columns, rows_hit, entries = [], [], [], []
        for g, block in blocks.items():
            rows = group_rows[g]
            nonzero = block != 0
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


def _singular_warning() -> type[Warning]:
    """statsmodels' SingularMatrixWarning where statsmodels is installed (code written against it
    catches that class), else mixedfit's SingularFitWarning."""
    try:
        from statsmodels.tools.sm_exceptions import SingularMatrixWarning
    except ImportError:
        return SingularFitWarning
    return SingularMatrixWarning


class _Distribution:
    """Draws of y = Xβ + Z_re u + Σ_c Z_c a_c + ε with u_g ~ N(0, scale Ψ) per group, a_c's
    effects ~ N(0, scale vc_c) and ε ~ N(0, scale): statsmodels' ``_mixedlm_distribution``."""

    def __init__(self, model: MixedLM, params: Any, scale: float, exog: Any) -> None:
        point = MixedLMParams.from_packed(params, model.k_fe, model.k_re, use_sqrt=False, has_fe=True)
        self.model, self.scale = model, float(scale)
        self.exog = model.exog if exog is None else _matrix(exog, "exog", model.nobs)
        self.fe_params, self.cov_re, self.vcomp = point.fe_params, self.scale * point.cov_re, self.scale * point.vcomp
        self._design = model._grouped_design()

    def rvs(self, n: Any = None, rng: Any = None) -> np.ndarray:
        """One simulated response (n is ignored, as statsmodels'). The normal draws come in
        statsmodels' order (the groups' effects, each component's effects group by group, the
        residuals), so a seeded RandomState or Generator gives statsmodels' draw."""
        rng = rng if hasattr(rng, "normal") else np.random.default_rng(rng)
        d, model = self._design, self.model
        y = self.exog @ self.fe_params
        if model.k_re:
            u = rng.normal(size=(model.n_groups, model.k_re)) @ np.linalg.cholesky(self.cov_re).T
            y = y + d.Z_re @ u.ravel()
        for variance, Z in zip(self.vcomp, d.Z_vc):
            # statsmodels draws each group's effects in turn: the effects' columns are in group order
            y = y + np.sqrt(variance) * (Z @ rng.normal(size=Z.shape[1]))
        return y + np.sqrt(self.scale) * rng.normal(size=model.nobs)


# The optimizer settings statsmodels' fit accepts (and this one ignores: BOBYQA on Λ's parameters).
_OPTIMIZER_ARGUMENTS = frozenset({"gtol", "maxiter", "eps", "maxcor", "ftol", "tol", "disp", "maxls"})


class _ModelData:
    """statsmodels' ``model.data``: the names of the response, the fixed effects, the random
    effects (``exog_re_names``, with the covariances' ``exog_re_names_full``) and of all
    parameters, the data frame of a formula model (``frame``, else None) and the row labels."""

    def __init__(self, model: MixedLM, frame: pd.DataFrame | None) -> None:
        self.ynames, self.xnames = model.endog_names, list(model.exog_names)
        self.exog_re_names = list(model.exog_re_names)
        self.exog_re_names_full = model.param_names[model.k_fe : model.k_fe + model.k_re2]
        self.param_names = model.param_names
        self.frame = frame
        self.row_labels = frame.index if frame is not None else None


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
        self.exog_names = kwargs.pop("exog_names", None) or (
            _names(exog_frame, "", 0) if exog_frame is not None else _exog_names(X)
        )
        self._formula_spec = kwargs.pop("formula_spec", None)
        group_name = kwargs.pop("group_name", "Group")
        from_formula = kwargs.pop("vc_from_formula", False)
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
        # statsmodels' own warning for a user's dict of dicts (its VCSpec is the newer form; its
        # from_formula builds one, so no warning from there)
        if isinstance(exog_vc, dict) and not from_formula:
            warnings.warn("Using deprecated variance components format", FutureWarning, stacklevel=2)
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
        self.row_indices = {label: rows for label, rows in zip(self.group_labels, self._group_rows)}
        self.use_sqrt, self.reml = bool(use_sqrt), True
        self.data = _ModelData(self, None)

    @staticmethod
    def _complete_rows(missing: str, y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray) -> np.ndarray:
        if missing not in ("none", "drop", "raise"):
            raise ValueError(f"missing must be 'none', 'drop' or 'raise', got {missing!r}")
        complete = np.isfinite(y) & np.all(np.isfinite(X), axis=1) & np.all(np.isfinite(Z), axis=1) & ~pd.isna(groups)
        if missing != "drop" and not np.all(complete):
            first = int(np.flatnonzero(~complete)[0])
            raise ValueError(
                f"observation {first} has a missing or non-finite value (use missing='drop' to drop such rows)"
            )
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
        # As statsmodels (patsy's eval_env): names in the formulas that are not columns are looked
        # up where from_formula was called (a function defined there, a module imported there).
        caller = sys._getframe(1)
        namespace = {**caller.f_globals, **caller.f_locals}
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
        matrices = formulaic.model_matrix(formula, data, na_action="raise", context=namespace)
        y, X = matrices.lhs, matrices.rhs
        exog_re = None
        if re_formula:
            exog_re = formulaic.model_matrix(re_formula, data, na_action="raise", context=namespace)
            exog_re = exog_re.rename(columns={"Intercept": group_name})
        elif not vc_formula:
            exog_re = pd.DataFrame({group_name: np.ones(len(data))}, index=data.index)
        exog_vc = None
        if vc_formula:
            exog_vc = {}
            for name, vc in vc_formula.items():
                whole = formulaic.model_matrix(vc, data, na_action="raise", context=namespace)
                exog_vc[name] = {
                    label: whole.loc[rows]
                    for label, rows in group_values.groupby(group_values, sort=True).groups.items()
                }
        model = cls(
            y.iloc[:, 0], X, group_values.to_numpy(), exog_re=exog_re, exog_vc=exog_vc, missing=missing,
            endog_names=str(y.columns[0]), exog_names=[str(c) for c in X.columns], formula_spec=X.model_spec,
            group_name=group_name, vc_from_formula=True,
        )  # fmt: skip
        model.formula, model.data = formula, _ModelData(model, data)
        return model

    def _grouped_design(self) -> GroupedDesign:
        n, k = self.nobs, self.k_re
        rows = np.repeat(np.arange(n), k)
        columns = (self._group_codes[:, None] * k + np.arange(k)).ravel()
        Z_re = sp.csc_matrix((self.exog_re.ravel(), (rows, columns)), shape=(n, self.n_groups * k))
        Z_vc = tuple(c.matrix(n) for c in self._components)
        return GroupedDesign(Z_re, k, self.n_groups, Z_vc)

    def _terms(self, correlated: bool = True, exog_re: np.ndarray | None = None) -> list[RandomTerm]:
        """The lme4 terms of this model (exog_re: its random effects' columns in another order)."""
        terms = []
        if self.k_re:
            columns = [f"re{j}" for j in range(self.k_re)]  # _cov_from_theta reads the positions back
            exog_re = self.exog_re if exog_re is None else exog_re
            terms.append(RandomTerm(self._group_codes, exog_re, correlated, group_name="group", column_names=columns))
        for j, c in enumerate(self._components):
            if c.wide is None:
                terms.append(RandomTerm(c.codes, c.values, group_name=f"component{j + 1}"))
            else:
                columns = [f"vc{j + 1}_{i}" for i in range(c.wide.shape[1])]  # names unique across terms
                terms.append(
                    RandomTerm(
                        c.codes, c.wide, group_name=f"component{j + 1}", column_names=columns, structure="homdiag"
                    )
                )
        return terms

    def fit(
        self, start_params: Any = None, reml: bool = True, niter_sa: int = 0, do_cg: bool = True,
        fe_pen: Any = None, cov_pen: Any = None, free: Any = None, full_output: bool = False,
        method: Any = None, **fit_kwargs: Any,
    ) -> MixedLMResults:  # fmt: skip
        """Fit by REML (``reml=True``) or ML. ``start_params``, ``niter_sa``, ``do_cg`` and
        ``method`` are accepted and ignored (mixedfit's optimizer is BOBYQA on Λ's parameters);
        ``full_output=True`` records its evaluations in the results' ``hist`` (θ and criterion). ``free`` (a MixedLMParams of 0/1 marking the free parameters) may mark
        every β and variance component free and cov_re's diagonal only: independent random
        effects, as lme4's ``(x || g)``; other patterns and the penalties are not supported."""
        if fe_pen is not None or cov_pen is not None:
            raise NotImplementedError("fe_pen and cov_pen (penalized fits) are not supported by mixedfit's MixedLM")
        unused = sorted(set(fit_kwargs) - _OPTIMIZER_ARGUMENTS)
        if unused:  # statsmodels' own warning, word for word
            warnings.warn(
                f"Argument{'s' if len(unused) > 1 else ''} {', '.join(unused)} not used by MixedLM.fit. Future versions "
                "will raise on these arguments.",
                FutureWarning,
                stacklevel=2,
            )
        self.reml = bool(reml)
        correlated = free is None or not self._diagonal_pattern(free)
        with option_context(check_nobs_vs_nRE="ignore"):  # statsmodels fits more effects than observations
            core = LinearMixedModel.from_arrays(self.endog, self.exog, self._terms(correlated), REML=bool(reml))
        core._warns_singular = False  # statsmodels' own warning instead, below
        if full_output:
            core.optsum.trace = []
        core.fit()
        if core.is_singular():
            warnings.warn("The random effects covariance matrix is singular.", _singular_warning(), stacklevel=2)
        results = MixedLMResults(self, core, self._likelihood(reml))
        if full_output:  # the optimizer's path: mixedfit's θ (Λ's parameters) and criterion per evaluation
            results.hist = [{"params": theta, "objective": value} for theta, value in core.optsum.trace]
        return results

    def get_distribution(self, params: Any, scale: float, exog: Any = None) -> _Distribution:
        """statsmodels' simulator of the model at packed ``params`` ([β, Ψ by rows of its lower
        triangle, vc], both relative to ``scale``) with fixed-effects design ``exog`` (None: the
        model's): its ``rvs(n, rng)`` draws a response."""
        return _Distribution(self, params, scale, exog)

    def fit_regularized(self, *args: Any, **kwargs: Any) -> Any:
        """statsmodels' L1-penalized fit: not available in mixedfit."""
        raise NotImplementedError("fit_regularized (L1-penalized fixed effects) is not supported by mixedfit's MixedLM")

    def _diagonal_pattern(self, free: Any) -> bool:
        """Whether free marks independent random effects (cov_re's off-diagonal fixed at 0, the
        rest free); a pattern mixedfit cannot fit raises NotImplementedError."""
        if not all(hasattr(free, name) for name in ("fe_params", "cov_re", "vcomp")):
            raise TypeError(
                f"free must be a MixedLMParams (fe_params, cov_re, vcomp of 0/1), got {type(free).__name__}"
            )
        fe, cov, vc = (np.asarray(getattr(free, name), dtype=float) for name in ("fe_params", "cov_re", "vcomp"))
        if fe.shape != (self.k_fe,) or cov.shape != (self.k_re, self.k_re) or vc.shape != (self.k_vc,):
            raise ValueError(
                f"free must be a MixedLMParams({self.k_fe}, {self.k_re}, {self.k_vc}) (fixed effects, random effects, "
                "variance components)"
            )
        off_diagonal = cov[~np.eye(self.k_re, dtype=bool)]
        if np.all(fe != 0) and np.all(vc != 0) and np.all(np.diag(cov) != 0) and np.all(off_diagonal == 0):
            return True
        if np.all(fe != 0) and np.all(vc != 0) and np.all(cov != 0):
            return False  # everything free: the default fit
        raise NotImplementedError(
            "free may fix only cov_re's off-diagonal at 0 (independent random effects); mixedfit cannot hold other "
            "parameters fixed"
        )

    def _params_object(self, params: Any, has_fe: bool) -> MixedLMParams:
        """A MixedLMParams (statsmodels' or this package's) as it is, or a packed vector read as
        statsmodels reads it (with this model's use_sqrt)."""
        if all(hasattr(params, name) for name in ("fe_params", "cov_re", "vcomp")):
            return params
        return MixedLMParams.from_packed(params, self.k_fe, self.k_re, self.use_sqrt, has_fe=has_fe)

    def loglike(self, params: Any, profile_fe: bool = True) -> float:
        """statsmodels' log-likelihood (REML if the last fit was, as ``self.reml``) with the
        scale profiled out, at a MixedLMParams or a packed vector of the covariance parameters
        alone; ``profile_fe`` replaces β by its GLS estimate at those covariances."""
        point = self._params_object(params, has_fe=False)
        psi = np.asarray(point.cov_re, dtype=np.float64)[np.tril_indices(self.k_re)]
        beta = None if profile_fe else np.asarray(point.fe_params, dtype=np.float64)
        return self._likelihood(self.reml).at(beta, psi, np.asarray(point.vcomp, dtype=np.float64))

    def _likelihood(self, reml: bool) -> ProfileLikelihood:
        """statsmodels' log-likelihood of this model's data (REML or ML), built once for each:
        score's differences evaluate it 2k times."""
        cache = self.__dict__.setdefault("_likelihoods", {})
        if bool(reml) not in cache:
            cache[bool(reml)] = ProfileLikelihood(self.endog, self.exog, self._grouped_design(), bool(reml))
        return cache[bool(reml)]

    def score(self, params: Any, profile_fe: bool = True) -> np.ndarray:
        """The gradient of ``loglike`` in statsmodels' packing with this model's use_sqrt: the
        covariance parameters (and β first unless profile_fe), by central differences (step
        ε^⅓·max(abs(x), 1)) of the log-likelihood, where statsmodels has closed forms."""
        point = self._params_object(params, has_fe=False)
        x = point.get_packed(use_sqrt=self.use_sqrt, has_fe=not profile_fe)

        def loglike(packed: np.ndarray) -> float:
            at = MixedLMParams.from_packed(packed, self.k_fe, self.k_re, self.use_sqrt, has_fe=not profile_fe)
            if profile_fe:
                at.fe_params = np.asarray(point.fe_params, dtype=np.float64)
            return self.loglike(at, profile_fe=profile_fe)

        return central_gradient(loglike, x, np.finfo(float).eps ** (1 / 3) * np.maximum(np.abs(x), 1.0))

    def hessian(self, params: Any) -> tuple[np.ndarray, bool]:
        """statsmodels' hessian: the log-likelihood's Hessian in [β, Ψ (lower triangle by rows),
        vc] (not square roots), and whether Ψ is singular."""
        point = self._params_object(params, has_fe=True)
        cov = np.asarray(point.cov_re, dtype=np.float64)
        packed = np.concatenate([point.fe_params, cov[np.tril_indices(self.k_re)], point.vcomp])
        singular = bool(self.k_re) and np.linalg.eigvalsh(cov).min() <= 0
        return self._likelihood(self.reml).hessian(packed), singular

    def predict(self, params: Any, exog: Any = None) -> np.ndarray:
        """Xβ for the fixed effects in params (a MixedLMParams, or a vector starting with β),
        on this model's exog or the given one (statsmodels' model-level predict)."""
        beta = np.asarray(
            params.fe_params if hasattr(params, "fe_params") else np.asarray(params)[: self.k_fe], dtype=np.float64
        )
        X = self.exog if exog is None else self._fixed_design(exog)[0]
        return X @ beta

    def _cov_from_theta(self, fit: LinearMixedModel) -> tuple[np.ndarray, np.ndarray]:
        """Ψ and the components' variances (both / scale) from a fit's relative covariance
        factors (its terms are in lme4's order, by decreasing number of levels)."""
        k, d = self.k_re, fit.design
        psi, vc = np.zeros((k, k)), np.zeros(self.k_vc)
        factor = d.factor(fit.theta)
        for term, sl in zip(d.terms, d.factor_slices()):
            T = lower_factor(factor[sl], term.p)
            if term.name == "group":  # the correlated effects, or one of them if independent (free=)
                at = [int(c.removeprefix("re")) for c in term.columns]
                psi[np.ix_(at, at)] = T @ T.T
            else:  # a component: one variance (a homdiag term's diagonal is that variance throughout)
                vc[int(term.name.removeprefix("component")) - 1] = T[0, 0] ** 2
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
            return np.asarray(
                self._formula_spec.get_model_matrix(exog, na_action="ignore"), dtype=np.float64
            ), exog.index
        return _matrix(exog, "exog", len(exog)), getattr(exog, "index", None)


__all__ = ["MixedLM", "MixedLMResults"]
