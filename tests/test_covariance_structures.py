"""Covariance structures of random-effects terms (us, diag, homdiag, cs, homcs, ar1, toep, ou, exp,
gau, mat, rr) against glmmTMB 1.1.5 and nlme (homdiag, homcs) on Orthodont, Oats, BodyWeight,
cbpp and a simulated Toeplitz data set (tests/reference/make_covariance_structures_reference.R →
covariance_structures_reference.json)."""

from __future__ import annotations

import pickle
import warnings

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import load_reference
from mixedfit.errors import DataError, FormulaError

REFERENCE = load_reference("covariance_structures_reference.json")
# cbpp's cs puts period 4's SD on its boundary, 0 (glmmTMB's, on the log scale, at 4e-8).
SINGULAR = {"cbpp_cs"}


def dataset(name: str) -> pd.DataFrame:
    if name == "cbpp":
        return mixedfit.datasets.load("cbpp")
    return mixedfit.datasets.read_r_csv(f"tests/data/{name}.csv.gz")


DATA = {name: dataset(name) for name in ("Orthodont", "Oats", "BodyWeight", "toeplitz_sim", "cbpp")}


def fit(ref: dict):
    data = DATA[ref["data"]]
    if ref["family"] == "gaussian":
        return mixedfit.lmer(ref["formula"], data, REML=ref["REML"])
    return mixedfit.glmer(ref["formula"], data, family=ref["family"])


def term_covariance(m) -> np.ndarray:
    """The first level's block of G: the term's covariance matrix."""
    p = m.design.terms[0].p
    return m.G[:p, :p].toarray()


@pytest.mark.parametrize("name", list(REFERENCE))
def test_equals_reference(name):
    ref = REFERENCE[name]
    if name in SINGULAR:
        with pytest.warns(mixedfit.SingularFitWarning):
            m = fit(ref)
        assert m.is_singular() and np.min(np.sqrt(np.diag(np.atleast_2d(ref["covariance"])))) < 1e-3
    else:
        m = fit(ref)
    # The REML criterion is compared as glmmTMB's REML log-likelihood (-criterion / 2).
    loglik = -0.5 * m.objective if ref["REML"] else m.loglik
    assert loglik >= ref["loglik"] - 1e-6 * abs(ref["loglik"])
    assert loglik <= ref["loglik"] + 1e-3  # (Oats' cs: glmmTMB's BFGS stops 1.9e-5 short)
    assert m.dof == ref["df"]
    names = list(ref["fixef"])
    np.testing.assert_allclose(m.fixef[names], list(ref["fixef"].values()), rtol=1e-3)
    if ref["family"] == "gaussian":
        # lmer's standard errors are lme4's, conditional on the covariance parameters; the
        # script computes those from glmmTMB's fit (its own come from the joint Hessian).
        np.testing.assert_allclose(m.stderr[names], ref["stderr_conditional"], rtol=1e-3)
        assert m.sigma == pytest.approx(ref["sigma"], rel=1e-3)
    else:
        np.testing.assert_allclose(m.stderr[names], list(ref["stderr"].values()), rtol=1e-2)
    Sigma = np.atleast_2d(ref["covariance"])
    np.testing.assert_allclose(term_covariance(m), Sigma, rtol=1e-2, atol=1e-3 * np.abs(Sigma).max())


def test_us_is_the_default_and_diag_equals_double_bar():
    sleep = mixedfit.datasets.load("sleepstudy")
    plain = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    us = mixedfit.lmer("Reaction ~ Days + us(Days | Subject)", sleep)
    assert us.theta.tolist() == plain.theta.tolist() and us.objective == plain.objective
    diag = mixedfit.lmer("Reaction ~ Days + diag(1 + Days | Subject)", sleep)
    bars = mixedfit.lmer("Reaction ~ Days + (Days || Subject)", sleep)
    assert diag.objective == pytest.approx(bars.objective, rel=1e-10)
    np.testing.assert_allclose(diag.fixef, bars.fixef, rtol=1e-8)
    np.testing.assert_allclose(diag.stderr, bars.stderr, rtol=1e-6)
    np.testing.assert_allclose(diag.theta, bars.theta, rtol=1e-5)
    assert diag.dof == bars.dof


def test_ar1_factor_is_the_closed_form():
    """ar1's factor T (closed form in the core) gives the AR(1) covariance sd² ρ^|i−j|."""
    m = mixedfit.lmer("distance ~ age + ar1(0 + factor(age) | Subject)", DATA["Orthodont"], REML=False)
    sd, rho = m.theta
    Sigma = term_covariance(m) / m.sigma**2
    lags = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    np.testing.assert_allclose(Sigma, sd**2 * rho**lags, rtol=1e-12)


def test_toeplitz_partial_autocorrelations():
    """toep's parameters: SDs, then partial autocorrelations; (ρ, 0, 0) is AR(1)'s ρ^|i−j|, and any
    values in [−1, 1] give a positive semi-definite matrix."""
    m = mixedfit.lmer("y ~ x + time + toep(0 + factor(time) | id)", DATA["toeplitz_sim"], REML=False)
    d, rho = m.design, 0.6
    T = d.factor(np.array([1, 1, 1, 1, rho, 0, 0]))
    S = np.zeros((4, 4))
    S[np.triu_indices(4)[::-1]] = T
    lags = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    np.testing.assert_allclose(S @ S.T, rho**lags, atol=1e-14)
    rng = np.random.default_rng(1)
    for _ in range(20):
        T = d.factor(np.concatenate([rng.uniform(0, 2, 4), rng.uniform(-1, 1, 3)]))
        S[np.triu_indices(4)[::-1]] = T
        assert np.linalg.eigvalsh(S @ S.T).min() > -1e-12


def test_summary_predict_simulate_pickle():
    data = DATA["Orthodont"]
    m = mixedfit.lmer("distance ~ age + ar1(0 + factor(age) | Subject)", data, REML=False)
    text = m.summary()
    assert "Covariance structures:" in text and f"rho {m.theta[1]:.4g}" in text
    np.testing.assert_allclose(m.predict(data), m.fitted, rtol=1e-10)
    again = pickle.loads(pickle.dumps(m))
    assert again.objective == m.objective
    np.testing.assert_allclose(again.predict(data.iloc[:8]), m.fitted[:8], rtol=1e-10)
    sims = m.simulate(nsim=2, seed=1)
    assert sims.shape == (len(data), 2) and np.all(np.isfinite(sims.to_numpy()))
    refit = m.refit(sims["sim_1"].to_numpy())
    assert np.isfinite(refit.objective) and len(refit.theta) == 2


def test_numfactor_levels_and_distances():
    m = mixedfit.lmer("weight ~ Time + Diet + ou(0 + numFactor(Time) | Rat)", DATA["BodyWeight"], REML=False)
    term = m.design.terms[0]
    times = np.sort(DATA["BodyWeight"]["Time"].unique())
    assert term.columns == [f"({t:g})" for t in times]
    np.testing.assert_allclose(term.covariance.distances, np.abs(np.subtract.outer(times, times)))
    # ou's correlation at lag d is exp(-decay * d)
    Sigma = term_covariance(m)
    decay = np.exp(m.theta[1])
    assert Sigma[0, 1] / Sigma[0, 0] == pytest.approx(np.exp(-decay * (times[1] - times[0])), rel=1e-10)


def test_boundary_warns_singular():
    """ρ at 1 (every Subject's effects perfectly correlated) is the structure's boundary."""
    data = DATA["Orthodont"].copy()
    data["distance"] = 20 + (data["age"] - 11) * 0.5 + np.repeat(np.linspace(-2, 2, 27), 4)
    data["distance"] += np.random.default_rng(3).normal(0, 0.5, len(data))
    with pytest.warns(mixedfit.SingularFitWarning):
        m = mixedfit.lmer("distance ~ age + ar1(0 + factor(age) | Subject)", data, REML=False)
    assert m.is_singular() and m.theta[1] > 1 - 1e-4


@pytest.mark.parametrize(
    ("formula", "error", "message"),
    [
        ("distance ~ age + ar1(age | Subject)", FormulaError, "ar1 needs one column per equally spaced time"),
        ("distance ~ age + toep(1 + factor(age) | Subject)", FormulaError, "toep needs one column"),
        ("distance ~ age + cs(1 | Subject)", FormulaError, "cs needs at least two columns"),
        ("distance ~ age + rr(0 + factor(age) | Subject, d = 4)", FormulaError, "rr's rank d = 4"),
        ("distance ~ age + rr(0 + factor(age) | Subject, k = 2)", FormulaError, "rr's rank is written"),
        ("distance ~ age + exp(0 + factor(age) | Subject)", FormulaError, "exp needs coordinates"),
        ("distance ~ age + ou(0 + numFactor(Sex) | Subject)", DataError, "numFactor's column 'Sex' must be numeric"),
        ("distance ~ age + ou(1 + numFactor(age) | Subject)", FormulaError, "numFactor(...) must be the term's only"),
        ("distance ~ age + ar1(0 + factor(age) || Subject)", FormulaError, "'||' inside ar1"),
    ],
)
def test_bad_structures_are_refused(formula, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        mixedfit.lmer(formula, DATA["Orthodont"])


def test_structures_refuse_what_they_do_not_support_yet():
    m = mixedfit.lmer("distance ~ age + ar1(0 + factor(age) | Subject)", DATA["Orthodont"])
    with pytest.raises(NotImplementedError, match="profile intervals for a model with covariance structures"):
        m.confint(method="profile")
    with pytest.raises(NotImplementedError, match="Kenward-Roger"):
        m.summary(ddf="Kenward-Roger")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(m.coef_table["df"]).all()  # Satterthwaite works in the structure's parameters


def test_array_api_structures_equal_formulas():
    data = DATA["Orthodont"]
    codes = pd.factorize(data["Subject"], sort=True)[0]
    Z = (data["age"].to_numpy()[:, None] == np.array([8, 10, 12, 14])).astype(float)
    X = np.column_stack([np.ones(len(data)), data["age"]])
    for structure, extra, formula in [
        ("ar1", {}, "ar1(0 + factor(age) | Subject)"),
        ("exp", {"coordinates": [[8], [10], [12], [14]]}, "exp(0 + numFactor(age) | Subject)"),
    ]:
        term = mixedfit.RandomTerm(codes, Z, structure=structure, **extra)
        m = mixedfit.LinearMixedModel.from_arrays(data["distance"], X, [term], REML=False).fit()
        f = mixedfit.lmer(f"distance ~ age + {formula}", data, REML=False)
        assert m.loglik == pytest.approx(f.loglik, rel=1e-10)
        np.testing.assert_allclose(m.theta, f.theta, rtol=1e-6)
        new = mixedfit.ArrayData(X[:5], [mixedfit.RandomTerm(codes[:5], Z[:5], structure=structure, **extra)])
        np.testing.assert_allclose(m.predict(new), f.fitted[:5], rtol=1e-8)
    with pytest.raises(ValueError, match="coordinates .* are needed by ou, exp, gau and mat"):
        mixedfit.LinearMixedModel.from_arrays(data["distance"], X, [mixedfit.RandomTerm(codes, Z, structure="exp")])
    with pytest.raises(ValueError, match="structure of term 1 must be one of"):
        mixedfit.LinearMixedModel.from_arrays(data["distance"], X, [mixedfit.RandomTerm(codes, Z, structure="ar2")])


@pytest.mark.parametrize(
    "name", [n for n, r in REFERENCE.items() if r.get("sd_wald") and n.split("_")[1] not in ("us", "rr1", "rr2")]
)
def test_sd_intervals_equal_glmmtmb(name):
    """covariance_confint's SD intervals (Wald, symmetric on the log scale) against glmmTMB's
    confint(method = "wald"): the same scale and, for an LMM by ML, the same asymptotic covariance
    of the variance parameters (β profiled out or estimated jointly is the same to first order)."""
    ref = REFERENCE[name]
    m = fit(ref)
    table = m.covariance_confint()
    sds = table[table.index.get_level_values("parameter").str.startswith("sd")]
    ours = sds[["lower", "upper", "est."]].drop_duplicates(subset="est.").to_numpy()
    np.testing.assert_allclose(ours, np.atleast_2d(ref["sd_wald"]), rtol=2e-3)


RANOVA = load_reference("ranova_structures_reference.json")


@pytest.mark.parametrize("name", list(RANOVA))
def test_ranova_removes_a_structured_term_whole(name):
    """ranova of a cs or ar1 term: the term removed whole, compared by REML or ML as glmmTMB's fit
    with it against lm's without it (tests/reference/make_ranova_structures_reference.R)."""
    from scipy import stats

    case = RANOVA[name]
    table = mixedfit.lmer(case["formula"], DATA["Orthodont"], REML=case["REML"]).ranova()
    np.testing.assert_array_equal(table["npar"], case["npar"])
    np.testing.assert_allclose(table["logLik"], case["loglik"], rtol=1e-6)
    lrt = 2 * (case["loglik"][0] - case["loglik"][1])
    assert table["LRT"].iloc[1] == pytest.approx(lrt, rel=1e-5)
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(stats.chi2.sf(lrt, case["npar"][0] - case["npar"][1]), rel=1e-4)
