"""statsmodels' own MixedLM test suite (statsmodels 0.15.0, regression/tests/test_lme.py), run
against mixedfit's statsmodels-compatible front: a copy of statsmodels' file with its import of
MixedLM and MixedLMParams changed to mixedfit.compat's (statsmodels' private helpers it also tests,
_smw_logdet and _smw_solver, its Summary class and its numerical-differentiation tools still come
from statsmodels, a test dependency), its result files in results/ and lme_r_results.py next to
it. Other changes: statsmodels' own markers "smoke" and "high_memory", which this project does not
register, are removed; the module ignores incidental warnings (pytest.warns still sees those its
tests check), as statsmodels' own configuration does; the tests mixedfit does not pass are marked
xfail(strict=True) with the reason.

statsmodels' licence (BSD-3-Clause), as its copyright notice requires:

    Copyright (C) 2006, Jonathan E. Taylor
    All rights reserved.

    Copyright (c) 2006-2008 Scipy Developers.
    All rights reserved.

    Copyright (c) 2009-2018 statsmodels Developers.
    All rights reserved.


    Redistribution and use in source and binary forms, with or without
    modification, are permitted provided that the following conditions are met:

      a. Redistributions of source code must retain the above copyright notice,
         this list of conditions and the following disclaimer.
      b. Redistributions in binary form must reproduce the above copyright
         notice, this list of conditions and the following disclaimer in the
         documentation and/or other materials provided with the distribution.
      c. Neither the name of statsmodels nor the names of its contributors
         may be used to endorse or promote products derived from this software
         without specific prior written permission.


    THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
    AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
    IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
    ARE DISCLAIMED. IN NO EVENT SHALL STATSMODELS OR CONTRIBUTORS BE LIABLE FOR
    ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
    DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
    SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
    CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT
    LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY
    OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH
    DAMAGE.
"""
from statsmodels.compat.platform import PLATFORM_OSX

import csv
from pathlib import Path
import warnings

import numpy as np
from numpy.testing import (
    assert_,
    assert_allclose,
    assert_almost_equal,
    assert_equal,
)
import pandas as pd
import pytest
from scipy import sparse

from statsmodels.base import _penalties as penalties
from statsmodels.iolib.summary2 import Summary
from statsmodels.regression.mixed_linear_model import (
    _smw_logdet,
    _smw_solver,
)
import statsmodels.tools.numdiff as nd
from statsmodels.tools.sm_exceptions import SingularMatrixWarning

import lme_r_results  # (next to this file)

from mixedfit.compat.params import MixedLMParams  # the swap
from mixedfit.compat.statsmodels import MixedLM  # the swap

pytestmark = pytest.mark.filterwarnings("ignore")

FIT_REGULARIZED = pytest.mark.xfail(
    raises=NotImplementedError, strict=True,
    reason="fit_regularized (L1-penalized fixed effects) is not supported: it raises NotImplementedError",
)

# TODO: add tests with unequal group sizes


class R_Results:
    """
    A class for holding various results obtained from fitting one data
    set using lmer in R.

    Parameters
    ----------
    meth : str
        Either "ml" or "reml".
    irfs : str
        Either "irf", for independent random effects, or "drf" for
        dependent random effects.
    ds_ix : int
        The number of the data set

    """

    def __init__(self, meth, irfs, ds_ix):

        bname = f"_{meth}_{irfs}_{ds_ix:d}"

        self.coef = getattr(lme_r_results, "coef" + bname)
        self.vcov_r = getattr(lme_r_results, "vcov" + bname)
        self.cov_re_r = getattr(lme_r_results, "cov_re" + bname)
        self.scale_r = getattr(lme_r_results, "scale" + bname)
        self.loglike = getattr(lme_r_results, "loglike" + bname)

        if hasattr(lme_r_results, "ranef_mean" + bname):
            self.ranef_postmean = getattr(lme_r_results, "ranef_mean" + bname)
            self.ranef_condvar = getattr(lme_r_results, "ranef_condvar" + bname)
            self.ranef_condvar = np.atleast_2d(self.ranef_condvar)

        # Load the data file
        cur_dir = Path(__file__).resolve().parent
        rdir = Path(cur_dir).joinpath("results")
        fname = Path(rdir).joinpath(f"lme{ds_ix:02d}.csv")
        with Path(fname).open(encoding="utf-8") as fid:
            rdr = csv.reader(fid)
            header = next(rdr)
            data = [[float(x) for x in line] for line in rdr]
        data = np.asarray(data)

        # Split into exog, endog, etc.
        self.endog = data[:, header.index("endog")]
        self.groups = data[:, header.index("groups")]
        ii = [i for i, x in enumerate(header) if x.startswith("exog_fe")]
        self.exog_fe = data[:, ii]
        ii = [i for i, x in enumerate(header) if x.startswith("exog_re")]
        self.exog_re = data[:, ii]


def loglike_function(model, profile_fe, has_fe):
    # Returns a function that evaluates the negative log-likelihood for
    # the given model.

    def f(x):
        params = MixedLMParams.from_packed(
            x, model.k_fe, model.k_re, model.use_sqrt, has_fe=has_fe
        )
        return -model.loglike(params, profile_fe=profile_fe)

    return f


class TestMixedLM:

    # Test analytic scores and Hessian using numeric differentiation
    @pytest.mark.slow
    @pytest.mark.parametrize("use_sqrt", [False, True])
    @pytest.mark.parametrize("reml", [False, True])
    @pytest.mark.parametrize("profile_fe", [False, True])
    def test_compare_numdiff(self, use_sqrt, reml, profile_fe):

        n_grp = 200
        grpsize = 5
        k_fe = 3
        k_re = 2

        rs = np.random.RandomState(3558)
        exog_fe = rs.normal(size=(n_grp * grpsize, k_fe))
        exog_re = rs.normal(size=(n_grp * grpsize, k_re))
        exog_re[:, 0] = 1
        exog_vc = rs.normal(size=(n_grp * grpsize, 3))
        slopes = rs.normal(size=(n_grp, k_re))
        slopes[:, -1] *= 2
        slopes = np.kron(slopes, np.ones((grpsize, 1)))
        slopes_vc = rs.normal(size=(n_grp, 3))
        slopes_vc = np.kron(slopes_vc, np.ones((grpsize, 1)))
        slopes_vc[:, -1] *= 2
        re_values = (slopes * exog_re).sum(1)
        vc_values = (slopes_vc * exog_vc).sum(1)
        err = rs.normal(size=n_grp * grpsize)
        endog = exog_fe.sum(1) + re_values + vc_values + err
        groups = np.kron(range(n_grp), np.ones(grpsize))

        vc = {"a": {}, "b": {}}
        for i in range(n_grp):
            ix = np.flatnonzero(groups == i)
            vc["a"][i] = exog_vc[ix, 0:2]
            vc["b"][i] = exog_vc[ix, 2:3]

        with pytest.warns(FutureWarning, match="Using deprecated variance"):
            model = MixedLM(
                endog, exog_fe, groups, exog_re, exog_vc=vc, use_sqrt=use_sqrt
            )
        rslt = model.fit(reml=reml)

        loglike = loglike_function(model, profile_fe=profile_fe, has_fe=not profile_fe)

        try:
            # Test the score at several points.
            for _ in range(5):
                fe_params = rs.normal(size=k_fe)
                cov_re = rs.normal(size=(k_re, k_re))
                cov_re = np.dot(cov_re.T, cov_re)
                vcomp = rs.normal(size=2) ** 2
                params = MixedLMParams.from_components(
                    fe_params, cov_re=cov_re, vcomp=vcomp
                )
                params_vec = params.get_packed(has_fe=not profile_fe, use_sqrt=use_sqrt)

                # Check scores
                gr = -model.score(params, profile_fe=profile_fe)
                ngr = nd.approx_fprime(params_vec, loglike)
                assert_allclose(gr, ngr, rtol=1e-3)

            # Check Hessian matrices at the MLE (we do not have
            # the profile Hessian matrix and we do not care
            # about the Hessian for the square root
            # transformed parameter).
            if (profile_fe is False) and (use_sqrt is False):
                hess, sing = model.hessian(rslt.params_object)
                if sing:
                    pytest.fail("hessian should not be singular")
                hess *= -1
                params_vec = rslt.params_object.get_packed(use_sqrt=False, has_fe=True)
                loglike_h = loglike_function(model, profile_fe=False, has_fe=True)
                nhess = nd.approx_hess(params_vec, loglike_h)
                assert_allclose(hess, nhess, rtol=1e-3)
        except AssertionError:
            # See GH#5628; because this test fails unpredictably but only on
            #  OSX, we only xfail it there.
            if PLATFORM_OSX:
                pytest.xfail("fails on OSX due to unresolved numerical differences")
            else:
                raise

    def test_default_re(self):

        rs = np.random.RandomState(3235)
        exog = rs.normal(size=(300, 4))
        groups = np.kron(np.arange(100), [1, 1, 1])
        g_errors = np.kron(rs.normal(size=100), [1, 1, 1])
        endog = exog.sum(1) + g_errors + rs.normal(size=300)
        mdf1 = MixedLM(endog, exog, groups).fit()
        mdf2 = MixedLM(endog, exog, groups, np.ones(300)).fit()
        assert_almost_equal(mdf1.params, mdf2.params, decimal=8)

    def test_history(self):

        rs = np.random.RandomState(3235)
        exog = rs.normal(size=(300, 4))
        groups = np.kron(np.arange(100), [1, 1, 1])
        g_errors = np.kron(rs.normal(size=100), [1, 1, 1])
        endog = exog.sum(1) + g_errors + rs.normal(size=300)
        mod = MixedLM(endog, exog, groups)
        rslt = mod.fit(full_output=True)
        assert_equal(hasattr(rslt, "hist"), True)

    @pytest.mark.slow
    def test_profile_inference(self):
        rs = np.random.RandomState(9814)
        k_fe = 2
        gsize = 3
        n_grp = 100
        exog = rs.normal(size=(n_grp * gsize, k_fe))
        exog_re = np.ones((n_grp * gsize, 1))
        groups = np.kron(np.arange(n_grp), np.ones(gsize))
        vca = rs.normal(size=n_grp * gsize)
        vcb = rs.normal(size=n_grp * gsize)
        errors = 0
        g_errors = np.kron(rs.normal(size=100), np.ones(gsize))
        errors += g_errors + exog_re[:, 0]
        rc = rs.normal(size=n_grp)
        errors += np.kron(rc, np.ones(gsize)) * vca
        rc = rs.normal(size=n_grp)
        errors += np.kron(rc, np.ones(gsize)) * vcb
        errors += rs.normal(size=n_grp * gsize)

        endog = exog.sum(1) + errors
        vc = {"a": {}, "b": {}}
        for k in range(n_grp):
            ii = np.flatnonzero(groups == k)
            vc["a"][k] = vca[ii][:, None]
            vc["b"][k] = vcb[ii][:, None]
        with pytest.warns(FutureWarning, match="Using deprecated variance"):
            rslt = MixedLM(
                endog, exog, groups=groups, exog_re=exog_re, exog_vc=vc
            ).fit()
        rslt.profile_re(0, vtype="re", dist_low=1, num_low=3, dist_high=1, num_high=3)
        rslt.profile_re(
            "b", vtype="vc", dist_low=0.5, num_low=3, dist_high=0.5, num_high=3
        )
        with pytest.raises(ValueError, match="vtype"):
            rslt.profile_re(0, vtype="not-a-vtype")

    def test_vcomp_1(self):
        # Fit the same model using constrained random effects and
        # variance components.

        rs = np.random.RandomState(4279)
        exog = rs.normal(size=(400, 1))
        exog_re = rs.normal(size=(400, 2))
        groups = np.kron(np.arange(100), np.ones(4))
        slopes = rs.normal(size=(100, 2))
        slopes[:, 1] *= 2
        slopes = np.kron(slopes, np.ones((4, 1))) * exog_re
        errors = slopes.sum(1) + rs.normal(size=400)
        endog = exog.sum(1) + errors

        free = MixedLMParams(1, 2, 0)
        free.fe_params = np.ones(1)
        free.cov_re = np.eye(2)
        free.vcomp = np.zeros(0)

        model1 = MixedLM(endog, exog, groups, exog_re=exog_re)
        result1 = model1.fit(free=free)

        exog_vc = {"a": {}, "b": {}}
        for _, group in enumerate(model1.group_labels):
            ix = model1.row_indices[group]
            exog_vc["a"][group] = exog_re[ix, 0:1]
            exog_vc["b"][group] = exog_re[ix, 1:2]
        with pytest.warns(FutureWarning, match="Using deprecated variance"):
            model2 = MixedLM(endog, exog, groups, exog_vc=exog_vc)
        result2 = model2.fit()
        result2.summary()

        assert_allclose(result1.fe_params, result2.fe_params, atol=1e-4)
        assert_allclose(np.diag(result1.cov_re), result2.vcomp, atol=1e-2, rtol=1e-4)
        assert_allclose(result1.bse[[0, 1, 3]], result2.bse, atol=1e-2, rtol=1e-2)

    def test_vcomp_2(self):
        # Simulated data comparison to R

        rs = np.random.RandomState(6241)
        n = 1600
        exog = rs.normal(size=(n, 2))
        groups = np.kron(np.arange(n / 16), np.ones(16))

        # Build up the random error vector
        errors = 0

        # The random effects
        exog_re = rs.normal(size=(n, 2))
        slopes = rs.normal(size=(n // 16, 2))
        slopes = np.kron(slopes, np.ones((16, 1))) * exog_re
        errors += slopes.sum(1)

        # First variance component
        subgroups1 = np.kron(np.arange(n / 4), np.ones(4))
        errors += np.kron(2 * rs.normal(size=n // 4), np.ones(4))

        # Second variance component
        subgroups2 = np.kron(np.arange(n / 2), np.ones(2))
        errors += np.kron(2 * rs.normal(size=n // 2), np.ones(2))

        # iid errors
        errors += rs.normal(size=n)

        endog = exog.sum(1) + errors

        df = pd.DataFrame(index=range(n))
        df["y"] = endog
        df["groups"] = groups
        df["x1"] = exog[:, 0]
        df["x2"] = exog[:, 1]
        df["z1"] = exog_re[:, 0]
        df["z2"] = exog_re[:, 1]
        df["v1"] = subgroups1
        df["v2"] = subgroups2

        # Equivalent model in R:
        # df.to_csv("tst.csv")
        # model = lmer(y ~ x1 + x2 + (0 + z1 + z2 | groups) + (1 | v1) + (1 |
        # v2), df)

        vcf = {"a": "0 + C(v1)", "b": "0 + C(v2)"}
        model1 = MixedLM.from_formula(
            "y ~ x1 + x2", groups=groups, re_formula="0+z1+z2", vc_formula=vcf, data=df
        )
        result1 = model1.fit()

        def times_two(x):
            return 2 * x

        model1_env = MixedLM.from_formula(
            "y ~ times_two(x1) + x2",
            groups=groups,
            re_formula="0+z1+z2",
            vc_formula=vcf,
            data=df,
        )
        result1_env = model1_env.fit()
        # Loose check that the evan env has worked
        assert "times_two(x1)" in result1_env.model.exog_names
        assert_allclose(
            result1.params["x1"], 2 * result1_env.params["times_two(x1)"], rtol=1e-3
        )

        # Compare to R
        assert_allclose(result1.fe_params, [0.16527, 0.99911, 0.96217], rtol=1e-4)
        assert_allclose(result1.cov_re, [[1.244, 0.146], [0.146, 1.371]], rtol=1e-3)
        assert_allclose(result1.vcomp, [4.024, 3.997], rtol=1e-3)
        assert_allclose(result1.bse.iloc[0:3], [0.12610, 0.03938, 0.03848], rtol=1e-3)

    def test_vcomp_3(self):
        # Test a model with vcomp but no other random effects, using formulas.

        rs = np.random.RandomState(4279)
        x1 = rs.normal(size=400)
        groups = np.kron(np.arange(100), np.ones(4))
        slopes = rs.normal(size=100)
        slopes = np.kron(slopes, np.ones(4)) * x1
        y = slopes + rs.normal(size=400)
        vc_fml = {"a": "0 + x1"}
        df = pd.DataFrame({"y": y, "x1": x1, "groups": groups})

        model = MixedLM.from_formula(
            "y ~ 1", groups="groups", vc_formula=vc_fml, data=df
        )
        result = model.fit()
        result.summary()

        assert_allclose(
            result.resid.iloc[0:4],
            np.r_[-1.180753, 0.279966, 0.578576, -0.667916],
            rtol=1e-3,
        )
        assert_allclose(
            result.fittedvalues.iloc[0:4],
            np.r_[-0.101549, 0.028613, -0.224621, -0.126295],
            rtol=1e-3,
        )

    def test_sparse(self):

        cur_dir = Path(__file__).resolve().parent
        rdir = Path(cur_dir).joinpath("results")
        fname = Path(rdir).joinpath("pastes.csv")

        # Dense
        data = pd.read_csv(fname)
        vcf = {"cask": "0 + cask"}
        model = MixedLM.from_formula(
            "strength ~ 1", groups="batch", re_formula="1", vc_formula=vcf, data=data
        )
        result = model.fit()

        # Sparse
        model2 = MixedLM.from_formula(
            "strength ~ 1",
            groups="batch",
            re_formula="1",
            vc_formula=vcf,
            use_sparse=True,
            data=data,
        )
        result2 = model2.fit()

        assert_allclose(result.params, result2.params)
        assert_allclose(result.bse, result2.bse)

    def test_dietox(self):
        # dietox data from geepack using random intercepts
        #
        # Fit in R using
        #
        # library(geepack)
        # rm = lmer(Weight ~ Time + (1 | Pig), data=dietox)
        # rm = lmer(Weight ~ Time + (1 | Pig), REML=FALSE, data=dietox)
        #
        # Comments below are R code used to extract the numbers used
        # for comparison.

        cur_dir = Path(__file__).resolve().parent
        rdir = Path(cur_dir).joinpath("results")
        fname = Path(rdir).joinpath("dietox.csv")

        # REML
        data = pd.read_csv(fname)
        model = MixedLM.from_formula("Weight ~ Time", groups="Pig", data=data)
        result = model.fit()

        # fixef(rm)
        assert_allclose(result.fe_params, np.r_[15.723523, 6.942505], rtol=1e-5)

        # sqrt(diag(vcov(rm)))
        assert_allclose(result.bse[0:2], np.r_[0.78805374, 0.03338727], rtol=1e-5)

        # attr(VarCorr(rm), "sc")^2
        assert_allclose(result.scale, 11.36692, rtol=1e-5)

        # VarCorr(rm)[[1]][[1]]
        assert_allclose(result.cov_re, 40.39395, rtol=1e-5)

        # logLik(rm)
        assert_allclose(model.loglike(result.params_object), -2404.775, rtol=1e-5)

        # ML
        data = pd.read_csv(fname)
        model = MixedLM.from_formula("Weight ~ Time", groups="Pig", data=data)
        result = model.fit(reml=False)

        # fixef(rm)
        assert_allclose(result.fe_params, np.r_[15.723517, 6.942506], rtol=1e-5)

        # sqrt(diag(vcov(rm)))
        assert_allclose(result.bse[0:2], np.r_[0.7829397, 0.0333661], rtol=1e-5)

        # attr(VarCorr(rm), "sc")^2
        assert_allclose(result.scale, 11.35251, rtol=1e-5)

        # VarCorr(rm)[[1]][[1]]
        assert_allclose(result.cov_re, 39.82097, rtol=1e-5)

        # logLik(rm)
        assert_allclose(model.loglike(result.params_object), -2402.932, rtol=1e-5)

    def test_dietox_slopes(self):
        # dietox data from geepack using random intercepts
        #
        # Fit in R using
        #
        # library(geepack)
        # r = lmer(Weight ~ Time + (1 + Time | Pig), data=dietox)
        # r = lmer(Weight ~ Time + (1 + Time | Pig), REML=FALSE, data=dietox)
        #
        # Comments below are the R code used to extract the constants
        # for comparison.

        cur_dir = Path(__file__).resolve().parent
        rdir = Path(cur_dir).joinpath("results")
        fname = Path(rdir).joinpath("dietox.csv")

        # REML
        data = pd.read_csv(fname)
        model = MixedLM.from_formula(
            "Weight ~ Time", groups="Pig", re_formula="1 + Time", data=data
        )
        result = model.fit(method="cg")

        # fixef(r)
        assert_allclose(result.fe_params, np.r_[15.738650, 6.939014], rtol=1e-5)

        # sqrt(diag(vcov(r)))
        assert_allclose(result.bse[0:2], np.r_[0.5501253, 0.0798254], rtol=1e-3)

        # attr(VarCorr(r), "sc")^2
        assert_allclose(result.scale, 6.03745, rtol=1e-3)

        # as.numeric(VarCorr(r)[[1]])
        assert_allclose(
            result.cov_re.values.ravel(),
            np.r_[19.4934552, 0.2938323, 0.2938323, 0.4160620],
            rtol=1e-1,
        )

        # logLik(r)
        assert_allclose(model.loglike(result.params_object), -2217.047, rtol=1e-5)

        # ML
        data = pd.read_csv(fname)
        model = MixedLM.from_formula(
            "Weight ~ Time", groups="Pig", re_formula="1 + Time", data=data
        )
        result = model.fit(method="cg", reml=False)

        # fixef(r)
        assert_allclose(result.fe_params, np.r_[15.73863, 6.93902], rtol=1e-5)

        # sqrt(diag(vcov(r)))
        assert_allclose(result.bse[0:2], np.r_[0.54629282, 0.07926954], rtol=1e-3)

        # attr(VarCorr(r), "sc")^2
        assert_allclose(result.scale, 6.037441, rtol=1e-3)

        #  as.numeric(VarCorr(r)[[1]])
        assert_allclose(
            result.cov_re.values.ravel(),
            np.r_[19.190922, 0.293568, 0.293568, 0.409695],
            rtol=1e-2,
        )

        # logLik(r)
        assert_allclose(model.loglike(result.params_object), -2215.753, rtol=1e-5)

    def test_pastes_vcomp(self):
        # pastes data from lme4
        #
        # Fit in R using:
        #
        # r = lmer(strength ~ (1|batch) + (1|batch:cask), data=data)
        # r = lmer(strength ~ (1|batch) + (1|batch:cask), data=data,
        #          reml=FALSE)

        cur_dir = Path(__file__).resolve().parent
        rdir = Path(cur_dir).joinpath("results")
        fname = Path(rdir).joinpath("pastes.csv")
        data = pd.read_csv(fname)
        vcf = {"cask": "0 + cask"}

        # REML
        model = MixedLM.from_formula(
            "strength ~ 1", groups="batch", re_formula="1", vc_formula=vcf, data=data
        )
        result = model.fit()

        # fixef(r)
        assert_allclose(result.fe_params.iloc[0], 60.0533, rtol=1e-3)

        # sqrt(diag(vcov(r)))
        assert_allclose(result.bse.iloc[0], 0.6769, rtol=1e-3)

        # VarCorr(r)$batch[[1]]
        assert_allclose(result.cov_re.iloc[0, 0], 1.657, rtol=1e-3)

        # attr(VarCorr(r), "sc")^2
        assert_allclose(result.scale, 0.678, rtol=1e-3)

        # logLik(r)
        assert_allclose(result.llf, -123.49, rtol=1e-1)

        # do not provide aic/bic with REML
        assert_equal(result.aic, np.nan)
        assert_equal(result.bic, np.nan)

        # resid(r)[1:5]
        resid = np.r_[0.17133538, -0.02866462, -1.08662875, 1.11337125, -0.12093607]
        assert_allclose(result.resid[0:5], resid, rtol=1e-3)

        # predict(r)[1:5]
        fit = np.r_[62.62866, 62.62866, 61.18663, 61.18663, 62.82094]
        assert_allclose(result.fittedvalues[0:5], fit, rtol=1e-4)

        # ML
        model = MixedLM.from_formula(
            "strength ~ 1", groups="batch", re_formula="1", vc_formula=vcf, data=data
        )
        result = model.fit(reml=False)

        # fixef(r)
        assert_allclose(result.fe_params.iloc[0], 60.0533, rtol=1e-3)

        # sqrt(diag(vcov(r)))
        assert_allclose(result.bse.iloc[0], 0.642, rtol=1e-3)

        # VarCorr(r)$batch[[1]]
        assert_allclose(result.cov_re.iloc[0, 0], 1.199, rtol=1e-3)

        # attr(VarCorr(r), "sc")^2
        assert_allclose(result.scale, 0.67799, rtol=1e-3)

        # logLik(r)
        assert_allclose(result.llf, -123.997, rtol=1e-1)

        # AIC(r)
        assert_allclose(result.aic, 255.9944, rtol=1e-3)

        # BIC(r)
        assert_allclose(result.bic, 264.3718, rtol=1e-3)

    @pytest.mark.slow
    def test_vcomp_formula(self):

        rs = np.random.RandomState(6241)
        n = 800
        exog = rs.normal(size=(n, 2))
        exog[:, 0] = 1
        ex_vc = []
        groups = np.kron(np.arange(n / 4), np.ones(4))
        errors = 0
        exog_re = rs.normal(size=(n, 2))
        slopes = rs.normal(size=(n // 4, 2))
        slopes = np.kron(slopes, np.ones((4, 1))) * exog_re
        errors += slopes.sum(1)
        ex_vc = rs.normal(size=(n, 4))
        slopes = rs.normal(size=(n // 4, 4))
        slopes[:, 2:] *= 2
        slopes = np.kron(slopes, np.ones((4, 1))) * ex_vc
        errors += slopes.sum(1)
        errors += rs.normal(size=n)
        endog = exog.sum(1) + errors

        exog_vc = {"a": {}, "b": {}}
        for _, group in enumerate(range(int(n / 4))):
            ix = np.flatnonzero(groups == group)
            exog_vc["a"][group] = ex_vc[ix, 0:2]
            exog_vc["b"][group] = ex_vc[ix, 2:]
        with pytest.warns(FutureWarning, match="Using deprecated variance"):
            model1 = MixedLM(endog, exog, groups, exog_re=exog_re, exog_vc=exog_vc)
        result1 = model1.fit()

        df = pd.DataFrame(exog[:, 1:], columns=["x1"])
        df["y"] = endog
        df["re1"] = exog_re[:, 0]
        df["re2"] = exog_re[:, 1]
        df["vc1"] = ex_vc[:, 0]
        df["vc2"] = ex_vc[:, 1]
        df["vc3"] = ex_vc[:, 2]
        df["vc4"] = ex_vc[:, 3]
        vc_formula = {"a": "0 + vc1 + vc2", "b": "0 + vc3 + vc4"}
        model2 = MixedLM.from_formula(
            "y ~ x1",
            groups=groups,
            re_formula="0 + re1 + re2",
            vc_formula=vc_formula,
            data=df,
        )
        result2 = model2.fit()

        assert_allclose(result1.fe_params, result2.fe_params, rtol=1e-8)
        assert_allclose(result1.cov_re, result2.cov_re, rtol=1e-8)
        assert_allclose(result1.vcomp, result2.vcomp, rtol=1e-8)
        assert_allclose(result1.params, result2.params, rtol=1e-8)
        assert_allclose(result1.bse, result2.bse, rtol=1e-8)

    def test_formulas(self):
        rs = np.random.RandomState(2410)
        exog = rs.normal(size=(300, 4))
        exog_re = rs.normal(size=300)
        groups = np.kron(np.arange(100), [1, 1, 1])
        g_errors = exog_re * np.kron(rs.normal(size=100), [1, 1, 1])
        endog = exog.sum(1) + g_errors + rs.normal(size=300)

        mod1 = MixedLM(endog, exog, groups, exog_re)
        # test the names
        assert_(mod1.data.xnames == ["x1", "x2", "x3", "x4"])
        assert_(mod1.data.exog_re_names == ["x_re1"])
        assert_(mod1.data.exog_re_names_full == ["x_re1 Var"])
        rslt1 = mod1.fit()

        # Fit with a formula, passing groups as the actual values.
        df = pd.DataFrame({"endog": endog})
        for k in range(exog.shape[1]):
            df[f"exog{k:d}"] = exog[:, k]
        df["exog_re"] = exog_re
        fml = "endog ~ 0 + exog0 + exog1 + exog2 + exog3"
        re_fml = "0 + exog_re"
        mod2 = MixedLM.from_formula(fml, df, re_formula=re_fml, groups=groups)

        assert_(mod2.data.xnames == ["exog0", "exog1", "exog2", "exog3"])
        assert_(mod2.data.exog_re_names == ["exog_re"])
        assert_(mod2.data.exog_re_names_full == ["exog_re Var"])

        rslt2 = mod2.fit()
        assert_almost_equal(rslt1.params, rslt2.params)

        # Fit with a formula, passing groups as the variable name.
        df["groups"] = groups
        mod3 = MixedLM.from_formula(fml, df, re_formula=re_fml, groups="groups")
        assert_(mod3.data.xnames == ["exog0", "exog1", "exog2", "exog3"])
        assert_(mod3.data.exog_re_names == ["exog_re"])
        assert_(mod3.data.exog_re_names_full == ["exog_re Var"])

        rslt3 = mod3.fit(start_params=rslt2.params)
        assert_allclose(rslt1.params, rslt3.params, rtol=1e-4)

        # Check default variance structure with non-formula model
        # creation, also use different exog_re that produces a zero
        # estimated variance parameter.
        exog_re = np.ones(len(endog), dtype=np.float64)
        mod4 = MixedLM(endog, exog, groups, exog_re)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rslt4 = mod4.fit()
        mixedlm = MixedLM.from_formula  # the swap (statsmodels.formula.api.mixedlm)

        mod5 = mixedlm(fml, df, groups="groups")
        assert_(mod5.data.exog_re_names == ["groups"])
        assert_(mod5.data.exog_re_names_full == ["groups Var"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rslt5 = mod5.fit()
        assert_almost_equal(rslt4.params, rslt5.params)

    @pytest.mark.slow
    @FIT_REGULARIZED
    def test_regularized(self):

        rs = np.random.RandomState(3453)
        exog = rs.normal(size=(400, 5))
        groups = np.kron(np.arange(100), np.ones(4))
        expected_endog = exog[:, 0] - exog[:, 2]
        endog = (
            expected_endog
            + np.kron(rs.normal(size=100), np.ones(4))
            + rs.normal(size=400)
        )

        # L1 regularization
        md = MixedLM(endog, exog, groups)
        mdf1 = md.fit_regularized(alpha=1.0)
        mdf1.summary()

        # L1 regularization
        md = MixedLM(endog, exog, groups)
        mdf2 = md.fit_regularized(alpha=10 * np.ones(5))
        mdf2.summary()

        # L2 regularization
        pen = penalties.L2()
        mdf3 = md.fit_regularized(method=pen, alpha=0.0)
        mdf3.summary()

        # L2 regularization
        pen = penalties.L2()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mdf4 = md.fit_regularized(method=pen, alpha=10.0)
        mdf4.summary()

        # Pseudo-Huber regularization
        pen = penalties.PseudoHuber(0.3)
        mdf5 = md.fit_regularized(method=pen, alpha=1.0)
        mdf5.summary()


# ------------------------------------------------------------------


class TestMixedLMSummary:
    # Test various aspects of the MixedLM summary
    @classmethod
    def setup_class(cls):
        # Setup the model and estimate it.
        pid = np.repeat([0, 1], 5)
        x0 = np.repeat([1], 10)
        x1 = [1, 5, 7, 3, 5, 1, 2, 6, 9, 8]
        x2 = [6, 2, 1, 0, 1, 4, 3, 8, 2, 1]
        y = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        df = pd.DataFrame({"y": y, "pid": pid, "x0": x0, "x1": x1, "x2": x2})
        endog = df["y"].values
        exog = df[["x0", "x1", "x2"]].values
        groups = df["pid"].values
        cls.res = MixedLM(endog, exog, groups=groups).fit()

    def test_summary(self):
        # Test that the summary correctly includes all variables.
        summ = self.res.summary()
        desired = ["const", "x1", "x2", "Group Var"]
        # Second table is summary of params
        actual = summ.tables[1].index.values
        assert_equal(np.asarray(actual), desired)

    def test_summary_xname_fe(self):
        # Test that the `xname_fe` argument is reflected in the summary table.
        summ = self.res.summary(xname_fe=["Constant", "Age", "Weight"])
        desired = ["Constant", "Age", "Weight", "Group Var"]
        actual = summ.tables[1].index.values  # Second table is summary of params
        assert_equal(np.asarray(actual), desired)

    def test_summary_xname_re(self):
        # Test that the `xname_re` argument is reflected in the summary table.
        summ = self.res.summary(xname_re=["Random Effects"])
        desired = ["const", "x1", "x2", "Random Effects"]
        actual = summ.tables[1].index.values  # Second table is summary of params
        assert_equal(np.asarray(actual), desired)

    def test_summary_title(self):
        # Test that the `title` argument is reflected in the summary.
        title = "Custom MixedLM Summary"
        summ = self.res.summary(title=title)
        assert_equal(summ.title, title)


# ------------------------------------------------------------------


@FIT_REGULARIZED
class TestMixedLMSummaryRegularized(TestMixedLMSummary):
    # Test various aspects of the MixedLM summary
    # after fitting model with fit_regularized function
    @classmethod
    def setup_class(cls):
        # Setup the model and estimate it.
        pid = np.repeat([0, 1], 5)
        x0 = np.repeat([1], 10)
        x1 = [1, 5, 7, 3, 5, 1, 2, 6, 9, 8]
        x2 = [6, 2, 1, 0, 1, 4, 3, 8, 2, 1]
        y = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        df = pd.DataFrame({"y": y, "pid": pid, "x0": x0, "x1": x1, "x2": x2})
        endog = df["y"].values
        exog = df[["x0", "x1", "x2"]].values
        groups = df["pid"].values
        cls.res = MixedLM(endog, exog, groups=groups).fit_regularized()


# ------------------------------------------------------------------


# TODO: better name
def do1(reml, irf, ds_ix):

    # No need to check independent random effects when there is
    # only one of them.
    if irf and ds_ix < 6:
        return

    irfs = "irf" if irf else "drf"
    meth = "reml" if reml else "ml"

    rslt = R_Results(meth, irfs, ds_ix)

    # Fit the model
    md = MixedLM(rslt.endog, rslt.exog_fe, rslt.groups, rslt.exog_re)
    if not irf:  # Free random effects covariance
        if np.any(np.diag(rslt.cov_re_r) < 1e-5):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mdf = md.fit(gtol=1e-7, reml=reml)
        else:
            mdf = md.fit(gtol=1e-7, reml=reml)

    else:  # Independent random effects
        k_fe = rslt.exog_fe.shape[1]
        k_re = rslt.exog_re.shape[1]
        free = MixedLMParams(k_fe, k_re, 0)
        free.fe_params = np.ones(k_fe)
        free.cov_re = np.eye(k_re)
        free.vcomp = np.array([])
        if np.any(np.diag(rslt.cov_re_r) < 1e-5):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mdf = md.fit(reml=reml, gtol=1e-7, free=free)
        else:
            mdf = md.fit(reml=reml, gtol=1e-7, free=free)

    assert_almost_equal(mdf.fe_params, rslt.coef, decimal=4)
    assert_almost_equal(mdf.cov_re, rslt.cov_re_r, decimal=4)
    assert_almost_equal(mdf.scale, rslt.scale_r, decimal=4)

    k_fe = md.k_fe
    assert_almost_equal(rslt.vcov_r, mdf.cov_params()[0:k_fe, 0:k_fe], decimal=3)

    assert_almost_equal(mdf.llf, rslt.loglike[0], decimal=2)

    # Not supported in R except for independent random effects
    if not irf:
        assert_almost_equal(mdf.random_effects[0], rslt.ranef_postmean, decimal=3)
        assert_almost_equal(mdf.random_effects_cov[0], rslt.ranef_condvar, decimal=3)


# ------------------------------------------------------------------

# Run all the tests against R
cur_dir = Path(__file__).resolve().parent
rdir = Path(cur_dir).joinpath("results")
fnames = [p.name for p in rdir.iterdir()]
fnames = [x for x in fnames if x.startswith("lme") and x.endswith(".csv")]


# Copied from #3847
@pytest.mark.parametrize("fname", fnames)
@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("irf", [False, True])
def test_r(fname, reml, irf):
    ds_ix = int(fname[3:5])
    do1(reml, irf, ds_ix)


# ------------------------------------------------------------------


def test_mixed_lm_wrapper():
    # a bit more complicated model to test
    rs = np.random.RandomState(2410)
    exog = rs.normal(size=(300, 4))
    exog_re = rs.normal(size=300)
    groups = np.kron(np.arange(100), [1, 1, 1])
    g_errors = exog_re * np.kron(rs.normal(size=100), [1, 1, 1])
    endog = exog.sum(1) + g_errors + rs.normal(size=300)

    # Fit with a formula, passing groups as the actual values.
    df = pd.DataFrame({"endog": endog})
    for k in range(exog.shape[1]):
        df[f"exog{k:d}"] = exog[:, k]
    df["exog_re"] = exog_re
    fml = "endog ~ 0 + exog0 + exog1 + exog2 + exog3"
    re_fml = "~ exog_re"
    mod2 = MixedLM.from_formula(fml, df, re_formula=re_fml, groups=groups)
    result = mod2.fit()
    result.summary()

    xnames = ["exog0", "exog1", "exog2", "exog3"]
    re_names = ["Group", "exog_re"]
    re_names_full = ["Group Var", "Group x exog_re Cov", "exog_re Var"]

    assert_(mod2.data.xnames == xnames)
    assert_(mod2.data.exog_re_names == re_names)
    assert_(mod2.data.exog_re_names_full == re_names_full)

    params = result.params
    assert_(params.index.tolist() == xnames + re_names_full)
    bse = result.bse
    assert_(bse.index.tolist() == xnames + re_names_full)
    tvalues = result.tvalues
    assert_(tvalues.index.tolist() == xnames + re_names_full)
    cov_params = result.cov_params()
    assert_(cov_params.index.tolist() == xnames + re_names_full)
    assert_(cov_params.columns.tolist() == xnames + re_names_full)
    fe = result.fe_params
    assert_(fe.index.tolist() == xnames)
    bse_fe = result.bse_fe
    assert_(bse_fe.index.tolist() == xnames)
    cov_re = result.cov_re
    assert_(cov_re.index.tolist() == re_names)
    assert_(cov_re.columns.tolist() == re_names)
    cov_re_u = result.cov_re_unscaled
    assert_(cov_re_u.index.tolist() == re_names)
    assert_(cov_re_u.columns.tolist() == re_names)
    bse_re = result.bse_re
    assert_(bse_re.index.tolist() == re_names_full)


def test_random_effects():

    rs = np.random.RandomState(23429)

    # Default model (random effects only)
    ngrp = 100
    gsize = 10
    rsd = 2
    gsd = 3
    mn = gsd * rs.normal(size=ngrp)
    gmn = np.kron(mn, np.ones(gsize))
    y = gmn + rsd * rs.normal(size=ngrp * gsize)
    gr = np.kron(np.arange(ngrp), np.ones(gsize))
    x = np.ones(ngrp * gsize)
    model = MixedLM(y, x, groups=gr)
    result = model.fit()
    re = result.random_effects
    assert_(isinstance(re, dict))
    assert_(len(re) == ngrp)
    assert_(isinstance(re[0], pd.Series))
    assert_(len(re[0]) == 1)

    # Random intercept only, set explicitly
    model = MixedLM(y, x, exog_re=x, groups=gr)
    result = model.fit()
    re = result.random_effects
    assert_(isinstance(re, dict))
    assert_(len(re) == ngrp)
    assert_(isinstance(re[0], pd.Series))
    assert_(len(re[0]) == 1)

    # Random intercept and slope
    xr = rs.normal(size=(ngrp * gsize, 2))
    xr[:, 0] = 1
    qp = np.linspace(-1, 1, gsize)
    xr[:, 1] = np.kron(np.ones(ngrp), qp)
    model = MixedLM(y, x, exog_re=xr, groups=gr)
    result = model.fit()
    re = result.random_effects
    assert_(isinstance(re, dict))
    assert_(len(re) == ngrp)
    assert_(isinstance(re[0], pd.Series))
    assert_(len(re[0]) == 2)


@pytest.mark.slow
def test_handle_missing():

    rs = np.random.RandomState(23423)
    df = rs.normal(size=(100, 6))
    df = pd.DataFrame(df)
    df.columns = ["y", "g", "x1", "z1", "c1", "c2"]
    df["g"] = np.kron(np.arange(50), np.ones(2))
    re = rs.normal(size=(50, 4))
    re = np.kron(re, np.ones((2, 1)))
    df["y"] = re[:, 0] + re[:, 1] * df.z1 + re[:, 2] * df.c1
    df["y"] += re[:, 3] * df.c2 + rs.normal(size=100)
    df.loc[1, "y"] = np.nan
    df.loc[2, "g"] = np.nan
    df.loc[3, "x1"] = np.nan
    df.loc[4, "z1"] = np.nan
    df.loc[5, "c1"] = np.nan
    df.loc[6, "c2"] = np.nan

    fml = "y ~ x1"
    re_formula = "1 + z1"
    vc_formula = {"a": "0 + c1", "b": "0 + c2"}
    for include_re in False, True:
        for include_vc in False, True:
            kwargs = {}
            dx = df.copy()
            va = ["y", "g", "x1"]
            if include_re:
                kwargs["re_formula"] = re_formula
                va.append("z1")
            if include_vc:
                kwargs["vc_formula"] = vc_formula
                va.extend(["c1", "c2"])

            dx = dx[va].dropna()

            # Some of these models are severely misspecified with
            # small n, so produce convergence warnings.  Not relevant
            # to what we are checking here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")

                # Drop missing externally
                model1 = MixedLM.from_formula(fml, groups="g", data=dx, **kwargs)
                result1 = model1.fit()

                # MixeLM handles missing
                model2 = MixedLM.from_formula(
                    fml, groups="g", data=df, missing="drop", **kwargs
                )
                result2 = model2.fit()

                assert_allclose(result1.params, result2.params)
                assert_allclose(result1.bse, result2.bse)
                assert_equal(len(result1.fittedvalues), result1.nobs)


def test_from_formula_missing_kwarg_forwarded():
    # GH: MixedLM.from_formula captured its own `missing` argument but
    # never forwarded it to Model.from_formula's **kwargs. That meant the
    # parent class's own default ("drop") was silently used regardless of
    # what the caller passed, which desynced the already-computed `groups`
    # array (built from the un-dropped data) from the row-dropped
    # exog/endog and crashed with a confusing, unrelated IndexError during
    # fit() instead of raising a clear error about the missing data.
    rs = np.random.RandomState(23423)
    n = 50
    df = pd.DataFrame(
        {
            "y": rs.normal(size=n),
            "x": rs.normal(size=n),
            "g": np.repeat(np.arange(10), 5),
        }
    )
    df.loc[0, "y"] = np.nan

    for kwargs in ({}, {"missing": "none"}, {"missing": "raise"}):
        with pytest.raises(Exception) as excinfo:
            MixedLM.from_formula("y ~ x", groups="g", data=df, **kwargs)
        # Before the fix this raised IndexError from misaligned groups vs.
        # exog/endog instead of a clear missing-data error.
        assert not isinstance(excinfo.value, IndexError)

    model = MixedLM.from_formula("y ~ x", groups="g", data=df, missing="drop")
    assert model.exog.shape[0] == n - 1
    assert model.endog.shape[0] == n - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit()


def test_summary_col():
    from statsmodels.iolib.summary2 import summary_col

    ids = [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    # hard coded simulated y
    # ids = np.asarray(ids)
    # rs = np.random.RandomState(123987)
    # y = x + np.array([-1, 0, 1])[ids - 1] + 2 * rs.randn(len(y))
    y = np.array(
        [
            1.727,
            -1.037,
            2.904,
            3.569,
            4.629,
            5.736,
            6.747,
            7.020,
            5.624,
            10.155,
            10.400,
            17.164,
            17.276,
            14.988,
            14.453,
        ]
    )
    d = {"Y": y, "X": x, "IDS": ids}
    d = pd.DataFrame(d)

    # provide start_params to speed up convergence
    sp1 = np.array([-1.26722599, 1.1617587, 0.19547518])
    mod1 = MixedLM.from_formula("Y ~ X", d, groups=d["IDS"])
    results1 = mod1.fit(start_params=sp1)
    sp2 = np.array([3.48416861, 0.55287862, 1.38537901])
    mod2 = MixedLM.from_formula("X ~ Y", d, groups=d["IDS"])
    results2 = mod2.fit(start_params=sp2)

    out = summary_col(
        [results1, results2],
        stars=True,
        regressor_order=["Group Var", "Intercept", "X", "Y"],
    )
    s = (
        "\n=============================\n              Y         X    \n"
        "-----------------------------\nGroup Var 0.1955    1.3854   \n"
        "          (0.6032)  (2.7377) \nIntercept -1.2672   3.4842*  \n"
        "          (1.6546)  (1.8882) \nX         1.1618***          \n"
        "          (0.1959)           \nY                   0.5529***\n"
        "                    (0.2080) \n=============================\n"
        "Standard errors in\nparentheses.\n* p<.1, ** p<.05, ***p<.01"
    )
    assert_equal(str(out), s)


@pytest.mark.slow
def test_random_effects_getters():
    # Simulation-based test to make sure that the BLUPs and actual
    # random effects line up.

    rs = np.random.RandomState(34234)
    ng = 500  # number of groups
    m = 10  # group size

    y, x, z, v0, v1, g, b, c0, c1 = [], [], [], [], [], [], [], [], []

    for i in range(ng):

        # Fixed effects
        xx = rs.normal(size=(m, 2))
        yy = xx[:, 0] + 0.5 * rs.normal(size=m)

        # Random effects (re_formula)
        zz = rs.normal(size=(m, 2))
        bb = rs.normal(size=2)
        bb[0] *= 3
        bb[1] *= 1
        yy += np.dot(zz, bb).flat
        b.append(bb)

        # First variance component
        vv0 = np.kron(np.r_[0, 1], np.ones(m // 2)).astype(int)
        cc0 = rs.normal(size=2)
        yy += cc0[vv0]
        v0.append(vv0)
        c0.append(cc0)

        # Second variance component
        vv1 = np.kron(np.ones(m // 2), np.r_[0, 1]).astype(int)
        cc1 = rs.normal(size=2)
        yy += cc1[vv1]
        v1.append(vv1)
        c1.append(cc1)

        y.append(yy)
        x.append(xx)
        z.append(zz)
        g.append([f"g{i:d}"] * m)

    y = np.concatenate(y)
    x = np.concatenate(x)
    z = np.concatenate(z)
    v0 = np.concatenate(v0)
    v1 = np.concatenate(v1)
    g = np.concatenate(g)
    df = pd.DataFrame(
        {
            "y": y,
            "x0": x[:, 0],
            "x1": x[:, 1],
            "z0": z[:, 0],
            "z1": z[:, 1],
            "v0": v0,
            "v1": v1,
            "g": g,
        }
    )

    b = np.asarray(b)
    c0 = np.asarray(c0)
    c1 = np.asarray(c1)
    cc = np.concatenate((c0, c1), axis=1)

    model = MixedLM.from_formula(
        "y ~ x0 + x1",
        re_formula="~0 + z0 + z1",
        vc_formula={"v0": "~0+C(v0)", "v1": "0+C(v1)"},
        groups="g",
        data=df,
    )
    result = model.fit()

    ref = result.random_effects
    b0 = [ref[f"g{k:d}"][0:2] for k in range(ng)]
    b0 = np.asarray(b0)
    assert np.corrcoef(b0[:, 0], b[:, 0])[0, 1] > 0.8
    assert np.corrcoef(b0[:, 1], b[:, 1])[0, 1] > 0.8

    cf0 = [ref[f"g{k:d}"][2:6] for k in range(ng)]
    cf0 = np.asarray(cf0)
    for k in range(4):
        assert np.corrcoef(cf0[:, k], cc[:, k])[0, 1] > 0.8

    # Smoke test for predictive covariances
    refc = result.random_effects_cov
    for g in refc.keys():
        p = ref[g].size
        assert refc[g].shape == (p, p)


def check_smw_solver(p, q, r, s):
    # Helper to check that _smw_solver results do in fact solve the desired
    # SMW equation
    rs = np.random.RandomState(38213821)
    d = q - r

    A = rs.normal(size=(p, q))
    AtA = np.dot(A.T, A)

    B = np.zeros((q, q))
    B[0:r, 0:r] = rs.normal(size=(r, r))
    di = rs.uniform(size=d)
    B[r:q, r:q] = np.diag(1 / di)
    Qi = np.linalg.inv(B[0:r, 0:r])
    s = 0.5

    x = rs.normal(size=p)
    y2 = np.linalg.solve(s * np.eye(p, p) + np.dot(A, np.dot(B, A.T)), x)

    f = _smw_solver(s, A, AtA, Qi, di)
    y1 = f(x)
    assert_allclose(y1, y2)

    A_sp = sparse.csr_array(A)
    AtA_sp = sparse.csr_array(AtA)

    f = _smw_solver(s, A_sp, AtA_sp, Qi, di)
    y1 = f(x)
    assert_allclose(y1, y2)


class TestSMWSolver:

    @pytest.mark.parametrize("p", [5, 10])
    @pytest.mark.parametrize("q", [4, 8])
    @pytest.mark.parametrize("r", [2, 3])
    @pytest.mark.parametrize("s", [0, 0.5])
    def test_smw_solver(self, p, q, r, s):
        check_smw_solver(p, q, r, s)


def check_smw_logdet(p, q, r, s):
    # Helper to check that _smw_logdet results match non-optimized equivalent
    d = q - r
    rs = np.random.RandomState(98631)
    A = rs.normal(size=(p, q))
    AtA = np.dot(A.T, A)

    B = np.zeros((q, q))
    c = rs.normal(size=(r, r))
    B[0:r, 0:r] = np.dot(c.T, c)
    di = rs.uniform(size=d)
    B[r:q, r:q] = np.diag(1 / di)
    Qi = np.linalg.inv(B[0:r, 0:r])
    s = 0.5

    _, d2 = np.linalg.slogdet(s * np.eye(p, p) + np.dot(A, np.dot(B, A.T)))

    _, bd = np.linalg.slogdet(B)
    d1 = _smw_logdet(s, A, AtA, Qi, di, bd)
    # GH 5642, OSX OpenBlas tolerance increase
    rtol = 1e-6 if PLATFORM_OSX else 1e-7
    assert_allclose(d1, d2, rtol=rtol)


class TestSMWLogdet:
    @pytest.mark.parametrize("p", [5, 10])
    @pytest.mark.parametrize("q", [4, 8])
    @pytest.mark.parametrize("r", [2, 3])
    @pytest.mark.parametrize("s", [0, 0.5])
    def test_smw_logdet(self, p, q, r, s):
        check_smw_logdet(p, q, r, s)


@pytest.mark.xfail(
    strict=True,
    reason="statsmodels' own fit fails on these data (log-likelihood inf at cov_re = 0), whence its "
    "SingularMatrixWarning; mixedfit's optimum is interior (Group Var 5.7e-4, log-likelihood -150.74) and "
    "warns of nothing",
)
def test_singular():
    # Issue #7051

    rs = np.random.RandomState(3423)
    n = 100

    data = rs.randn(n, 2)
    df = pd.DataFrame(data, columns=["Y", "X"])
    df["class"] = pd.Series([i % 3 for i in df.index], index=df.index)

    md = MixedLM.from_formula("Y ~ X", df, groups=df["class"])
    with pytest.warns(SingularMatrixWarning, match=r"effects"):
        mdf = md.fit()
    mdf.summary()


def test_get_distribution():

    rs = np.random.RandomState(234)

    n = 100
    n_groups = 10
    fe_params = np.r_[1, -2]
    cov_re = np.asarray([[1, 0.5], [0.5, 2]])
    vcomp = np.r_[0.5**2, 1.5**2]
    scale = 1.5

    exog_fe = rs.normal(size=(n, 2))
    exog_re = rs.normal(size=(n, 2))
    exog_vca = rs.normal(size=(n, 2))
    exog_vcb = rs.normal(size=(n, 2))

    groups = np.repeat(np.arange(n_groups, dtype=int), n / n_groups)

    ey = np.dot(exog_fe, fe_params)

    u = rs.normal(size=(n_groups, 2))
    u = np.dot(u, np.linalg.cholesky(cov_re).T)

    u1 = np.sqrt(vcomp[0]) * rs.normal(size=(n_groups, 2))
    u2 = np.sqrt(vcomp[1]) * rs.normal(size=(n_groups, 2))

    y = ey + (u[groups, :] * exog_re).sum(1)
    y += (u1[groups, :] * exog_vca).sum(1)
    y += (u2[groups, :] * exog_vcb).sum(1)
    y += np.sqrt(scale) * rs.normal(size=n)

    df = pd.DataFrame(
        {
            "y": y,
            "x1": exog_fe[:, 0],
            "x2": exog_fe[:, 1],
            "z0": exog_re[:, 0],
            "z1": exog_re[:, 1],
            "grp": groups,
        }
    )
    df["z2"] = exog_vca[:, 0]
    df["z3"] = exog_vca[:, 1]
    df["z4"] = exog_vcb[:, 0]
    df["z5"] = exog_vcb[:, 1]

    vcf = {"a": "0 + z2 + z3", "b": "0 + z4 + z5"}
    m = MixedLM.from_formula(
        "y ~ 0 + x1 + x2",
        groups="grp",
        re_formula="0 + z0 + z1",
        vc_formula=vcf,
        data=df,
    )

    # Build a params vector that is comparable to
    # MixedLMResults.params
    mp = MixedLMParams
    po = mp.from_components(fe_params=fe_params, cov_re=cov_re, vcomp=vcomp)
    pa = po.get_packed(has_fe=True, use_sqrt=False)
    pa[len(fe_params) :] /= scale

    # Get a realization
    dist = m.get_distribution(pa, scale, None)
    yr = dist.rvs(0, rng=rs)

    # Check the overall variance
    v = (np.dot(exog_re, cov_re) * exog_re).sum(1).mean()
    v += vcomp[0] * (exog_vca**2).sum(1).mean()
    v += vcomp[1] * (exog_vcb**2).sum(1).mean()
    v += scale
    assert_allclose(np.var(yr - ey), v, rtol=1e-2, atol=1e-4)


def test_fit_unsupported_kwargs_ignored():
    # GH#9677 - passing cov_type to MixedLM.fit should warn but not crash
    rs = np.random.RandomState(123)
    n = 100
    groups = np.repeat(np.arange(10), 10)
    x = rs.normal(size=n)
    y = x + rs.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "g": groups})

    model = MixedLM.from_formula("y ~ x", groups="g", data=df)

    with pytest.warns(FutureWarning, match="Argument cov_type"):
        result = model.fit(cov_type="hc1")

    # Should complete without AttributeError and return valid results
    assert result.fe_params is not None
    assert len(result.fe_params) == 2


def test_fit_unsupported_kwargs_warns():
    # GH#9677 - unsupported kwargs should emit RuntimeWarning
    rs = np.random.RandomState(456)
    n = 50
    groups = np.repeat(np.arange(5), 10)
    x = rs.normal(size=n)
    y = x + rs.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "g": groups})

    model = MixedLM.from_formula("y ~ x", groups="g", data=df)

    with pytest.warns(FutureWarning, match="Argument cov_type"):
        model.fit(cov_type="hc1")


def test_summary_after_remove_data():
    # summary() must still work after remove_data() has been called
    pid = np.repeat([0, 1], 5)
    x0 = np.repeat([1], 10)
    x1 = [1, 5, 7, 3, 5, 1, 2, 6, 9, 8]
    x2 = [6, 2, 1, 0, 1, 4, 3, 8, 2, 1]
    y = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    df = pd.DataFrame({"y": y, "pid": pid, "x0": x0, "x1": x1, "x2": x2})
    endog = df["y"].values
    exog = df[["x0", "x1", "x2"]].values
    groups = df["pid"].values
    res = MixedLM(endog, exog, groups=groups).fit()

    assert isinstance(res.summary(), Summary)
    res.remove_data()
    assert isinstance(res.summary(), Summary)


def test_mixedlm_t_test():
    # MixedLMResults.t_test overrides the base implementation to restrict
    # t-tests to fixed-effects parameters (padding the random-effects
    # covariance parameters with zero restrictions internally), but this
    # override had no test coverage.
    rs = np.random.RandomState(12345)
    n_groups, group_size = 30, 10
    n = n_groups * group_size
    groups = np.repeat(np.arange(n_groups), group_size)
    exog = np.column_stack(
        [np.ones(n), rs.standard_normal((n, 2))]
    )
    random_intercepts = rs.standard_normal(n_groups) * 0.5
    endog = (exog @ [1.0, 0.5, -0.5] + random_intercepts[groups]
             + rs.standard_normal(n) * 0.5)

    res = MixedLM(endog, exog, groups).fit()

    # An identity r_matrix over the fixed effects reproduces fe_params and
    # bse_fe exactly.
    tt = res.t_test(np.eye(res.k_fe))
    assert_allclose(tt.effect, res.fe_params)
    assert_allclose(tt.sd, res.bse_fe)
    assert_allclose(tt.tvalue, res.fe_params / res.bse_fe)

    # A contrast that is a linear combination of fixed effects should match
    # a manual computation.
    contrast = np.array([[1.0, -1.0, 0.0]])
    tt_contrast = res.t_test(contrast)
    expected_effect = res.fe_params[0] - res.fe_params[1]
    assert_allclose(tt_contrast.effect, [expected_effect])

    # r_matrix must have exactly k_fe columns.
    with pytest.raises(ValueError, match=f"should have {res.k_fe:d} columns"):
        res.t_test(np.eye(res.k_fe + 1))


def test_predict_reflects_only_fixed_effects():
    rs = np.random.RandomState(2024)
    n_groups, n_per_group = 8, 12
    n = n_groups * n_per_group
    groups = np.repeat(np.arange(n_groups), n_per_group)
    exog = np.column_stack(
        [np.ones(n), rs.standard_normal((n, 2))]
    )
    random_intercepts = rs.standard_normal(n_groups) * 0.5
    endog = (exog @ [1.0, 0.5, -0.5] + random_intercepts[groups]
             + rs.standard_normal(n) * 0.5)

    mod = MixedLM(endog, exog, groups)
    res = mod.fit()

    # predict() is documented to reflect only the fixed-effects mean
    # structure: exog @ fe_params, closed form.
    assert_allclose(mod.predict(res.params), exog @ res.fe_params)
    assert_allclose(mod.predict(res.params), mod.predict(res.params_object))

    # a MixedLMParams instance and custom exog are both accepted
    new_exog = rs.standard_normal((5, 3))
    assert_allclose(mod.predict(res.params_object, exog=new_exog),
                    new_exog @ res.fe_params)

    packed = np.concatenate([res.fe_params, [999.0]])
    assert_allclose(mod.predict(packed), exog @ res.fe_params)


def test_profile_re_likelihood_peaks_at_mle():
    # MixedLMResults.profile_re had no test coverage in the standard suite:
    # the only existing call, test_profile_inference above, is marked both
    # slow and smoke (it only checks the call does not raise).
    #
    # profile_re refits the model with the profiled variance component
    # fixed at each grid point, optimizing over everything else. The grid
    # point equal to the MLE's own estimate (row `num_low`, since
    # `left = linspace(low, ru0, num_low + 1)` ends exactly at ru0 and
    # `right` starts there) is therefore just the original fit again, so
    # its likelihood should equal the full model's llf; every other grid
    # point is a genuinely restricted fit and so cannot exceed it.
    rng = np.random.default_rng(4021)
    n_groups, n_per_group = 15, 8
    n = n_groups * n_per_group
    groups = np.repeat(np.arange(n_groups), n_per_group)
    exog = np.column_stack([np.ones(n), rng.standard_normal((n, 1))])
    random_intercepts = rng.standard_normal(n_groups) * 0.6
    endog = exog @ [1.0, 0.5] + random_intercepts[groups] + rng.standard_normal(n) * 0.5

    res = MixedLM(endog, exog, groups).fit(reml=False)

    num_low, num_high = 2, 2
    likev = res.profile_re(
        0,
        vtype="re",
        num_low=num_low,
        dist_low=0.2,
        num_high=num_high,
        dist_high=0.2,
    )
    assert likev.shape == (num_low + num_high + 1, 2)

    mle_row = likev[num_low]
    assert_allclose(mle_row[0], res.cov_re[0, 0], rtol=1e-6)
    assert_allclose(mle_row[1], res.llf, rtol=1e-6)
    assert np.all(likev[:, 1] <= mle_row[1] + 1e-6)
