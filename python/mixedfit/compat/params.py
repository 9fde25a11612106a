"""``MixedLMParams``: statsmodels' container of a MixedLM parameter point (fixed effects, the random
effects' covariance Ψ and the variance components, both relative to the scale), with its
packings: β, then Ψ's lower triangle by rows (or, with ``use_sqrt``, its Cholesky factor's),
then the components (or their square roots)."""

from __future__ import annotations

from typing import Any

import numpy as np


class MixedLMParams:
    """A parameter point of a MixedLM with k_fe fixed effects, k_re correlated random effects and
    k_vc variance components; its attributes ``fe_params``, ``cov_re`` and ``vcomp`` are set
    directly or through ``from_components`` / ``from_packed``."""

    def __init__(self, k_fe: int, k_re: int, k_vc: int) -> None:
        self.k_fe, self.k_re, self.k_vc = int(k_fe), int(k_re), int(k_vc)
        self.k_re2 = self.k_re * (self.k_re + 1) // 2
        self.k_tot = self.k_fe + self.k_re2 + self.k_vc
        self._ix = np.tril_indices(self.k_re)
        self.fe_params = np.zeros(self.k_fe)
        self.cov_re = np.zeros((self.k_re, self.k_re))
        self.vcomp = np.zeros(self.k_vc)

    @classmethod
    def from_components(
        cls, fe_params: Any = None, cov_re: Any = None, cov_re_sqrt: Any = None, vcomp: Any = None
    ) -> MixedLMParams:
        """From β, Ψ (or a square root L of it, Ψ = LL') and the components' variances."""
        fe = np.zeros(0) if fe_params is None else np.asarray(fe_params, dtype=np.float64)
        if cov_re is None and cov_re_sqrt is not None:
            root = np.asarray(cov_re_sqrt, dtype=np.float64)
            cov_re = root @ root.T
        cov = np.zeros((0, 0)) if cov_re is None else np.atleast_2d(np.asarray(cov_re, dtype=np.float64))
        vc = np.zeros(0) if vcomp is None else np.asarray(vcomp, dtype=np.float64)
        params = cls(len(fe), cov.shape[0], len(vc))
        params.fe_params, params.cov_re, params.vcomp = fe, cov, vc
        return params

    @classmethod
    def from_packed(cls, params: Any, k_fe: int, k_re: int, use_sqrt: bool, has_fe: bool = True) -> MixedLMParams:
        """From a packed vector (see the module); without β when has_fe is False."""
        values = np.asarray(params, dtype=np.float64)
        k_re2 = k_re * (k_re + 1) // 2
        fe = values[:k_fe] if has_fe else np.zeros(k_fe)
        rest = values[k_fe:] if has_fe else values
        triangle = np.zeros((k_re, k_re))
        triangle[np.tril_indices(k_re)] = rest[:k_re2]
        if use_sqrt:
            cov, vcomp = triangle @ triangle.T, rest[k_re2:] ** 2
        else:
            cov, vcomp = triangle + np.tril(triangle, -1).T, rest[k_re2:]
        return cls.from_components(fe, cov_re=cov, vcomp=vcomp)

    def get_packed(self, use_sqrt: bool, has_fe: bool = False) -> np.ndarray:
        """The packed vector (see the module); a Ψ that has no Cholesky factor packs the square
        roots of its diagonal, as statsmodels does."""
        if self.k_re:
            if use_sqrt:
                try:
                    root = np.linalg.cholesky(self.cov_re)
                except np.linalg.LinAlgError:
                    root = np.diag(np.sqrt(np.diag(self.cov_re)))
                triangle = root[self._ix]
            else:
                triangle = self.cov_re[self._ix]
        else:
            triangle = np.zeros(0)
        vcomp = np.sqrt(self.vcomp) if use_sqrt else self.vcomp
        return np.concatenate([self.fe_params, triangle, vcomp] if has_fe else [triangle, vcomp])

    def copy(self) -> MixedLMParams:
        return MixedLMParams.from_components(self.fe_params.copy(), cov_re=self.cov_re.copy(), vcomp=self.vcomp.copy())
