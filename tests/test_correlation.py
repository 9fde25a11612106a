"""Residual correlation structures (corAR1, corCAR1, corCompSymm) against nlme's lme and gls (Ovary,
BodyWeight, Oats, Orthodont; REML and ML), and the whitened criterion against the dense marginal
likelihood on a crossed design (which nlme cannot fit). References:
tests/reference/make_correlation_reference.R → correlation_reference.json and
make_correlation_gaps_reference.R → correlation_gaps_reference.json."""

from __future__ import annotations

import pickle
import warnings

import mixedfit
import numpy as np
import pytest
from conftest import assert_matches_lme, load_dataset, load_reference
from mixedfit.inference.ranova import _gls_loglik
from mixedfit.models.correlation import BoundCorrelation

# correlation_gaps_reference.json: corAR1 with an order column that has gaps (OrthodontGaps).
REFERENCE = {**load_reference("correlation_reference.json"), **load_reference("correlation_gaps_reference.json")}
NLME_CASES = [name for name, case in REFERENCE.items() if "formula" in case]


def structures(case):
    spec = dict(case["correlation"])
    correlation = getattr(mixedfit, spec.pop("kind"))(**spec)
    variance = None if case["variance"] is None else getattr(mixedfit, case["variance"]["kind"])(case["variance"]["column"])
    return correlation, variance


def fit(case):
    correlation, variance = structures(case)
    names = {"ovary": "Ovary", "bodyweight": "BodyWeight", "oats": "Oats", "orthodont": "Orthodont", "gaps": "OrthodontGaps"}
    data = load_dataset(names[case["data"]])
    return mixedfit.lmer(case["formula"], data, REML=case["REML"], variance=variance, correlation=correlation)


@pytest.mark.parametrize("name", NLME_CASES)
def test_equals_nlme(name):
    ref = REFERENCE[name]
    m = fit(ref)
    assert_matches_lme(m, ref, se_rtol=2e-4)
    sds = m.VarCorr["sdcor"].to_numpy()[: len(ref["sd"])]
    np.testing.assert_allclose(sds, list(ref["sd"].values()), rtol=2e-4)
    intervals = m.structure_confint()
    interval = intervals.loc[m._structure.correlation.name]
    width = interval["upper"] - interval["lower"]
    assert abs(m.correlation_estimate - ref["phi"]) <= 1e-4 * abs(ref["phi"]) + 1e-3 * width
    expected = ref["phi_interval"]
    np.testing.assert_allclose(interval.to_numpy(), [expected["lower"], expected["est."], expected["upper"]], atol=1e-2 * width)
    if ref["variance_estimates"]:
        for level, value in ref["variance_estimates"].items():
            assert m.variance_estimates[level] == pytest.approx(value, rel=1e-3)
    normalized, expected = m.residuals(type="normalized"), np.array(ref["normalized"])
    correlation = m._structure.correlation
    if isinstance(correlation.structure, mixedfit.corCompSymm):
        # nlme's square root of a compound-symmetric C is not the Cholesky factor; the residuals'
        # squared length per group, r'C⁻¹r/σ², is the same for every root
        groups = correlation.groups
        np.testing.assert_allclose(np.bincount(groups, normalized**2), np.bincount(groups, expected**2), rtol=2e-3)
    else:
        np.testing.assert_allclose(normalized, expected, atol=2e-3)
    assert "Correlation structure:" in m.summary(ddf=None)
    # ranova's model without random effects is nlme's gls with the same structure: the criterion
    # equals gls's at gls's estimates, and ranova's optimum is at least as high (on BodyWeight
    # it is higher: gls stops at a local maximum with φ = 0.998)
    gls = ref["gls"]
    psi = [np.log(v) for k, v in (gls["variance_estimates"] or {}).items() if k != m.variance_estimates.index[0]]
    loglik, npar = _gls_loglik(m, np.array([*psi, gls["phi"]]))
    assert loglik == pytest.approx(gls["loglik"], rel=1e-9)
    if ref["formula"].endswith("+ (1 | " + m.design.terms[0].name + ")"):  # ranova's one reduction: to gls
        table = m.ranova()
        assert table["logLik"].iloc[1] >= gls["loglik"] - 1e-6 * abs(gls["loglik"])
        assert table["npar"].iloc[1] == npar


def test_likelihood_ratio_test_of_the_heteroscedastic_ar1_model():
    ref = REFERENCE["orthodont_lrt"]
    data = load_dataset("Orthodont")
    plain = mixedfit.lmer("distance ~ age + (1 | Subject)", data, REML=False)
    hetero = mixedfit.lmer(
        "distance ~ age + (1 | Subject)", data, REML=False, variance=mixedfit.varIdent("Sex"),
        correlation=mixedfit.corAR1("Subject"),
    )  # fmt: skip
    assert plain.loglik == pytest.approx(ref["plain_loglik"], rel=1e-8)
    table = mixedfit.anova(plain, hetero)
    assert table["Df"].iloc[1] == 2
    assert table["Chisq"].iloc[1] == pytest.approx(ref["L_ratio"], rel=1e-5)
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["p"], rel=1e-4)


def dense_criterion(m, REML):
    """−2 log L (or the REML criterion) at m's estimates from V = σ²(ZΛΛ'Z' + DCD), formed densely."""
    X, y = m.X, m._response
    Z = m.Z.toarray()
    G_rel = (m.G / m.sigma**2).toarray()
    V = Z @ G_rel @ Z.T + (m.R / m.sigma**2).toarray()
    Vinv = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vinv @ X, X.T @ Vinv @ y)
    r = y - X @ beta
    n, p = X.shape
    dof = n - p if REML else n
    sigma2 = r @ Vinv @ r / dof
    value = dof * np.log(2 * np.pi * sigma2) + np.linalg.slogdet(V)[1] + dof
    if REML:
        value += np.linalg.slogdet(X.T @ Vinv @ X)[1]
    return value, beta, np.sqrt(sigma2)


@pytest.mark.parametrize("REML", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("structure", ["ar1", "compsymm"])
def test_crossed_effects_equal_the_dense_marginal_likelihood(structure, REML):
    """Penicillin's plates and samples are crossed; a correlation within plates makes each row of
    the whitened Z touch several samples — a pattern nlme's nested models never have."""
    data = load_dataset("Penicillin")
    if structure == "ar1":
        m = mixedfit.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data, REML=REML, correlation=mixedfit.corAR1("plate"))
    else:  # compound symmetry within plates stands in for their random intercept (with both, one is redundant)
        m = mixedfit.lmer("diameter ~ 1 + (1 | sample)", data, REML=REML, correlation=mixedfit.corCompSymm("plate"))
    value, beta, sigma = dense_criterion(m, REML)
    assert -2 * m.loglik == pytest.approx(value, rel=1e-10)
    assert m.fixef.iloc[0] == pytest.approx(beta[0], rel=1e-10)
    assert m.sigma == pytest.approx(sigma, rel=1e-8)
    assert abs(m.correlation_estimate) > 1e-3  # the structure is in use
    dense_v = m.Z @ m.G @ m.Z.T + m.R
    np.testing.assert_allclose(m.V().toarray(), dense_v.toarray(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("group", ["plate", "sample"])
def test_conditional_variances_with_correlation_equal_the_dense_formula(group):
    """Within plates the whitened Z keeps the first term's (plates') blocks; within samples it
    couples plates, and the block-structured inverse must not be used."""
    data = load_dataset("Penicillin")
    m = mixedfit.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data, correlation=mixedfit.corAR1(group))
    Z, G, R = m.Z.toarray(), m.G.toarray(), m.R.toarray()
    # Var(b | y, β) = (Z'R⁻¹Z + G⁻¹)⁻¹
    covariance = np.linalg.inv(Z.T @ np.linalg.solve(R, Z) + np.linalg.inv(G))
    condvar = m.ranef(condvar=True)
    first = condvar[m.design.terms[0].name].attrs["condvar"][:, 0, 0]
    np.testing.assert_allclose(first, np.diag(covariance)[: len(first)], rtol=1e-8)


def test_draws_have_the_structure_correlation():
    data = load_dataset("Ovary")
    bound = BoundCorrelation.bind(mixedfit.corAR1("Mare"), data)
    z = np.random.default_rng(4).standard_normal((len(data), 4000))
    e = bound.color(0.6, z)
    lagged = bound.previous != np.arange(len(data))
    correlation = np.mean(e[lagged] * e[bound.previous[lagged]])
    assert correlation == pytest.approx(0.6, abs=0.01)
    assert np.mean(e**2) == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(bound.whiten(0.6, e), z, atol=1e-12)  # whitening inverts coloring


def test_pickle_refit_and_simulate():
    m = fit(REFERENCE["ovary_ar1_REML"])
    again = pickle.loads(pickle.dumps(m))
    assert again.objective_at(again.theta) == pytest.approx(m.objective_at(m.theta), rel=1e-12)
    y = m.simulate(1, seed=3).to_numpy()[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.SingularFitWarning)
        a, b = m.refit(y), again.refit(y)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-10)
    assert a.correlation_estimate == pytest.approx(b.correlation_estimate, rel=1e-8)


def test_bad_correlation_structures_are_refused():
    data = load_dataset("BodyWeight")
    formula = "weight ~ Time + (1 | Rat)"
    tied = data.copy()
    tied.loc[1, "Time"] = tied.loc[0, "Time"]  # two weighings of rat 1 on one day
    with pytest.raises(mixedfit.DataError, match="same time"):
        mixedfit.lmer(formula, tied, correlation=mixedfit.corCAR1("Time", "Rat"))
    with pytest.raises(mixedfit.DataError, match="not in the data"):
        mixedfit.lmer(formula, data, correlation=mixedfit.corAR1("nope"))
    with pytest.raises(TypeError, match="corAR1, corCAR1, corCompSymm"):
        mixedfit.lmer(formula, data, correlation="ar1")
    m = fit(REFERENCE["bodyweight_car1_REML"])
    with pytest.raises(NotImplementedError, match="method='wald'"):
        m.confint(parm="Time", method="profile")


def test_ar1_order_counts_gaps_and_refuses_ties():
    """corAR1(g, order=t): rows at t = 1 and 3 are φ² apart (nlme's φ^|Δt|), not φ; tied or
    non-integer positions within a group are refused, as nlme refuses them."""
    data = load_dataset("OrthodontGaps")
    bound = BoundCorrelation.bind(mixedfit.corAR1("Subject", order="visit"), data)
    C = bound.matrix(0.5).toarray()
    first = data.index[data["Subject"] == "M01"].to_numpy()  # M01 lost its second visit
    assert list(data.loc[first, "visit"]) == [1, 3, 4]
    np.testing.assert_allclose(C[np.ix_(first, first)], [[1, 0.25, 0.125], [0.25, 1, 0.5], [0.125, 0.5, 1]])
    # the whitened criterion agrees with the dense one: log|C| and C⁻¹ from the whitening
    members = np.ix_(first, first)
    T = bound.whiten(0.5, np.eye(len(data)))[members]
    np.testing.assert_allclose(T.T @ T, np.linalg.inv(C[members]), atol=1e-12)
    tied = data.assign(visit=np.where(data["visit"] == 3, 4, data["visit"]))
    with pytest.raises(mixedfit.DataError, match="order 'visit' has the value 4 twice in group 'M01' of 'Subject'"):
        mixedfit.lmer("distance ~ age + (1 | Subject)", tied, correlation=mixedfit.corAR1("Subject", order="visit"))
    with pytest.raises(mixedfit.DataError, match="must hold whole numbers.*use corCAR1"):
        mixedfit.lmer("distance ~ age + (1 | Subject)", data.assign(visit=data["visit"] / 2),
                      correlation=mixedfit.corAR1("Subject", order="visit"))  # fmt: skip
