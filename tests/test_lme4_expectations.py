"""lme4's own hard-coded test expectations, ported: each number below is copied from lme4's test
files (github.com/lme4/lme4, tests/testthat/test-lmer.R, test-glmer.R, test-methods.R and
tests/hatvalues.R), with lme4's tolerance, compared as R's all.equal compares (mean relative
difference). The data those tests make with R's random numbers or load from lme4's testdata
folder are in tests/data/lme4_tests/ (written by tests/reference/export_lme4_test_data.R). Where
mixedfit's optimum differs from the value lme4 hard-codes by more than lme4's tolerance, the test
says so and checks that mixedfit's criterion is the lower one."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import HERE, REFERENCE, load_dataset
from mixedfit import glmer, lmer
from mixedfit.datasets import read_r_csv
from mixedfit.errors import SingularFitWarning

R_DEFAULT_TOLERANCE = 1.5e-8  # all.equal's
# lme4 1.1-31 converged tightly where lme4's hard-coded numbers come from a fit stopped short
# (tests/reference/make_lme4_expectations_reference.R)
TIGHT = json.loads((REFERENCE / "lme4_expectations_reference.json").read_text())


def all_equal(current, target, tolerance: float = R_DEFAULT_TOLERANCE) -> None:
    """R's all.equal(target, current, tolerance) for numbers: mean |target − current| over mean
    |target| below tolerance (absolute where the target is 0)."""
    current, target = np.atleast_1d(np.asarray(current, float)), np.atleast_1d(np.asarray(target, float))
    assert current.shape == target.shape
    scale = np.mean(np.abs(target))
    difference = np.mean(np.abs(target - current)) / (scale if scale > 0 else 1.0)
    assert difference < tolerance, (current, target, difference)


@pytest.fixture(scope="module")
def dyestuff():
    return lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff"))


def test_lmer_dyestuff(dyestuff):
    """test-lmer.R, "lmer": the Dyestuff fit, its REML function, its ML refit."""
    fm1 = dyestuff
    all_equal(fm1.fixef, [1527.5])
    all_equal(fm1.VarCorr["vcov"].iloc[0], 1764.0375195, tolerance=1e-5)
    all_equal(fm1.objective_at(np.array([1.0])), 319.792389042002)  # REMLfun(1)
    all_equal(fm1.objective_at(np.array([0.0])), 326.023232155879)  # REMLfun(0)
    all_equal(fm1.objective, 319.654276842342)  # REMLcrit(fm1)
    all_equal(fm1.sigma, 49.5101272946856, tolerance=1e-6)
    all_equal(fm1.vcov.iloc[0, 0], 375.714676744, tolerance=1e-5)
    all_equal(fm1.theta, 0.84832031, tolerance=6e-6)
    ml = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff"), REML=False)
    all_equal(ml.deviance, 327.327059881135)
    all_equal(ml.sigma, 49.5100999308089, tolerance=1e-7)
    all_equal([ml.dof, ml.aic], [3, 333.327059881135])  # extractAIC(fm1ML)
    all_equal(ml.vcov.iloc[0, 0], 313.09721874266, tolerance=1e-7)
    Zt = fm1.Z.T.tocsr()
    assert Zt.shape == (6, 30) and np.all(Zt.data == 1.0)


def test_lmer_refit_dyestuff2(dyestuff):
    """test-lmer.R: refit(fm1, Dyestuff2$Yield) is at the boundary, θ = 0, fixef 5.6656."""
    import warnings

    import mixedfit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.SingularFitWarning)
        fm2 = dyestuff.refit(load_dataset("Dyestuff2")["Yield"].to_numpy())
    all_equal(fm2.fixef, [5.6656])
    assert fm2.theta[0] == 0.0 and fm2.VarCorr["vcov"].iloc[0] == 0.0


def test_lmer_uncorrelated_terms_lower_bounds():
    """test-lmer.R: (1|Subject) + (0+Days|Subject) has two terms of one factor, lower bounds 0."""
    fm3 = lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", load_dataset("sleepstudy"))
    assert len(fm3.design.terms) == 2 and {t.name for t in fm3.design.terms} == {"Subject"}
    np.testing.assert_array_equal(fm3.design.lower, [0.0, 0.0])


def test_glmer_cbpp():
    """test-glmer.R, "glmer": cbpp's binomial GLMM and its probit refit."""
    gm1 = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial")
    all_equal(gm1.fixef, [-1.39854982537216, -0.992335519118859, -1.12867532780426, -1.58030423764517], tolerance=5e-4)
    all_equal(gm1.VarCorr["vcov"].iloc[0], 0.41245527438386, tolerance=6e-4)
    # deviance(gm1), the conditional deviance Σ dᵢ², is 73.47428 in lme4 (tolerance 1e-5) at an
    # optimum whose −2 log L, 184.052674598, mixedfit's undercuts by 1.1e-4: at that better optimum
    # the modes differ a little and Σ dᵢ² is 73.4717 (3.5e-5 from lme4's).
    assert gm1.objective < 184.052674598026 - 1e-4
    all_equal(np.sum(gm1.residuals("deviance") ** 2), 73.47428, tolerance=5e-5)
    assert gm1.sigma == 1
    all_equal([gm1.dof, gm1.aic], [5, 194.052674598026], tolerance=1e-5)  # extractAIC(gm1)
    all_equal(gm1.theta, 0.642226809144453, tolerance=6e-4)
    Zt = gm1.Z.T.tocsr()
    assert Zt.shape == (15, 56) and np.all(Zt.data == 1.0)
    probit = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial",
                   link="probit")  # fmt: skip
    assert probit.family.link == "probit"


@pytest.mark.parametrize("resampled", [False, True])
def test_hatvalues_equal_the_brute_force_hat_matrix(resampled):
    """tests/hatvalues.R: diag(H) of the brute-force hat matrix [ZΛ X] M⁻¹ [ZΛ X]' (M the
    penalized system) equals hatvalues(m), to 1e-14 in lme4; here 1e-10 (its own solves), also
    on sleepstudy resampled with repeated rows."""
    data = load_dataset("sleepstudy")
    if resampled:
        data = data.iloc[np.random.default_rng(7).integers(0, len(data), 500)].reset_index(drop=True)
    m = lmer("Reaction ~ Days + (Days | Subject)", data)
    Z, X = m.Z.toarray(), m.X
    Lambda = np.linalg.cholesky(m.G.toarray() / m.sigma**2 + 1e-300 * np.eye(Z.shape[1]))
    ZL = Z @ Lambda
    M = np.block([[ZL.T @ ZL + np.eye(Z.shape[1]), ZL.T @ X], [X.T @ ZL, X.T @ X]])
    mm = np.hstack([ZL, X])
    brute = np.einsum("ij,ji->i", mm, np.linalg.solve(M, mm.T))
    all_equal(m.hatvalues(), brute, tolerance=1e-10)


def test_glmer_proportions_with_weights_equal_cbind_and_one_level_is_refused():
    """test-glmer.R: prop ~ period with weights = size is the cbind model (lme4 checks it fits);
    a grouping factor with one level must have > 1 (lme4: "must have > 1")."""
    import mixedfit

    cbpp = load_dataset("cbpp")
    by_counts = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    by_share = glmer("prop ~ period + (1 | herd)", cbpp.assign(prop=cbpp["incidence"] / cbpp["size"]), family="binomial",
                     weights="size")  # fmt: skip
    all_equal(by_share.objective, by_counts.objective, tolerance=1e-10)
    all_equal(by_share.fixef, by_counts.fixef, tolerance=1e-6)
    with pytest.raises(mixedfit.DataError, match="has 1 level; a random effect needs at least 2"):
        glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp[cbpp["herd"] == cbpp["herd"].iloc[0]],
              family="binomial")  # fmt: skip


def lme4_test_data(name: str) -> pd.DataFrame:
    return read_r_csv(HERE / "data" / "lme4_tests" / (name if name.endswith(".gz") else f"{name}.csv"))


@pytest.fixture(scope="module")
def sleep_intercepts():
    """test-methods.R's fm1 (lme-tst-fits.R's fit_sleepstudy_1)."""
    return lmer("Reaction ~ Days + (1 | Subject)", load_dataset("sleepstudy"))


@pytest.fixture(scope="module")
def cbpp_binomial():
    """test-methods.R's gm1 (lme-tst-fits.R's fit_cbpp_1)."""
    return glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial")


def test_wald_intervals(sleep_intercepts):
    """test-methods.R, "confint": Wald intervals of β; NaN (lme4: NA) for the variance parameters."""
    ci = sleep_intercepts.confint(method="wald")
    all_equal(ci.loc[["(Intercept)", "Days"]].to_numpy().T.ravel(), [232.301892, 8.891041, 270.508318, 12.043531],
              tolerance=1e-5)  # fmt: skip
    assert ci.loc[[".sig01", ".sigma"]].isna().all().all()


def test_hatvalues_rstudent_and_cooks_distance(sleep_intercepts):
    """test-methods.R, "influence/hatvalues works", "rstudent", "cooks distance"."""
    all_equal(sleep_intercepts.hatvalues()[:6], [0.107483311203734, 0.102096105816528, 0.0980557017761242,
                                                 0.0953620990825215, 0.0940152977357202, 0.0940152977357202],
              tolerance=1e-6)  # fmt: skip
    all_equal(sleep_intercepts.rstudent()[:6], [-1.45598270922089, -1.49664543508657, -2.11747425025103,
                                                -0.0729690066951975, 0.772716397142335, 2.37859408861768],
              tolerance=1e-6)  # fmt: skip
    all_equal(sleep_intercepts.cooks_distance()[:6], [0.127645976734753, 0.127346548123793, 0.243724627125036,
                                                      0.000280638917214881, 0.0309804642689636, 0.293554225380831],
              tolerance=1e-6)  # fmt: skip


def test_deletion_diagnostics(sleep_intercepts):
    """test-methods.R: Cook's distance of deleting each subject, and β of each case deletion on
    sleepstudy's first 60 rows ("influence OK with tibbles")."""
    by_subject = sleep_intercepts.influence(groups="Subject")
    all_equal(by_subject.cooks_distance().iloc[:2], [0.33921460279262, 0.290309061006305], tolerance=1e-6)
    small = lmer("Reaction ~ 1 + (1 | Subject)", load_dataset("sleepstudy").iloc[:60])
    all_equal(small.influence().fixed_effects_deleted.iloc[:6, 0], [286.35044481665, 286.179896199062,
              286.327301507498, 285.014692121823, 284.36060419176, 283.297551183126], tolerance=1e-6)  # fmt: skip


def test_glmer_deletion_diagnostics(cbpp_binomial):
    """test-methods.R, "cooks distance on glmer models". lme4's numbers rest on its default fit
    of cbpp, whose PIRLS tolerance leaves its finite-difference covariance of β̂ 1% from the
    converged one (its SEs 0.5%: see make_summary_text_reference.R); D_i = dfbeta' V⁻¹ dfbeta
    inherits that, so the comparison is at 3e-2 (lme4's: 1e-6)."""
    all_equal(cbpp_binomial.influence().cooks_distance().iloc[:3],
              [0.0532998800033037, 0.0405931172763581, 0.252608337928438], tolerance=3e-2)  # fmt: skip
    all_equal(cbpp_binomial.influence(groups="herd").cooks_distance().iloc[:3],
              [0.256630560723611, 0.00525856231971531, 0.103355658099396], tolerance=3e-2)  # fmt: skip


def test_glmer_radinger():
    """test-glmer.R: presence/absence by species (testdata/radinger_dat.RData)."""
    mod = glmer("presabs ~ predictor + (1 | species)", lme4_test_data("radinger"), family="binomial")
    all_equal(mod.fixef, [0.5425528, 6.4289962], tolerance=1e-4)


@pytest.mark.parametrize(("link", "expected", "below"), [("logit", [-0.10036244, 0.03548523], -10),
                                                         ("probit", [-0.062889, 0.022241], -4)])  # fmt: skip
def test_glmer_complete_separation(link, expected, below):
    """test-glmer.R, the complete-separation case: x2 is 1 in one row only, its coefficient runs
    off to −∞ (lme4: below −10 for the logit, −4 for the probit), the others stay put, and the
    fit is reported singular."""
    with pytest.warns(SingularFitWarning):
        mod = glmer("y ~ x + x2 + (1 | f)", lme4_test_data("separation"), family="binomial", link=link)
    all_equal(mod.fixef.iloc[:2], expected, tolerance=1e-4)
    assert mod.fixef["x2"] < below


def test_glmer_adaptive_quadrature_standard_errors():
    """test-glmer.R, issue #47 (Viechtbauer): nAGQ = 21 on paired binary data; lme4's standard
    errors from the Hessian of its deviance in (θ, β)."""
    n = 100
    ai = np.repeat([0, 1], n // 2)
    ci = np.r_[np.zeros(42), np.ones(8), np.zeros(18), np.ones(32)]
    data = pd.DataFrame({"event": np.column_stack([ai, ci]).ravel(), "group": np.tile([1, 0], n),
                         "id": np.repeat(np.arange(1, n + 1), 2).astype(str)})  # fmt: skip
    gm3 = glmer("event ~ group + (1 | id)", data, family="binomial", nAGQ=21)
    all_equal(gm3.stderr, [0.42542855, 0.42492581], tolerance=1e-5)


def test_glmer_cloglog_offset_and_weights():
    """test-glmer.R, the "bad start" case: a cloglog binomial of proportions with weights and an
    offset log(I/N) (N = 1000 in testdata/fakesim.RData), one fixed effect per level of R0."""
    data = lme4_test_data("fakesim").assign(N=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rfit = glmer("Inew/S ~ R0 - 1 + offset(log(I/N)) + (1 | R0:trial)", data, family="binomial", link="cloglog",
                     weights="S")  # fmt: skip
    all_equal(np.exp(rfit.fixef), [1.2735051, 2.0330635, 2.9764088], tolerance=1e-5)


def test_predict_multi_group_model():
    """test-predict.R, "multi-group model" and "... with new data": Penicillin's fitted values,
    level-0 predictions (balanced data: the grand mean) and re.form naming all terms, in either
    order, on every plate × sample."""
    penicillin = load_dataset("Penicillin")
    fm3 = lmer("diameter ~ (1 | plate) + (1 | sample)", penicillin)
    all_equal(np.round(fm3.predict()[:6], 4), [25.9638, 22.7663, 25.7147, 23.6799, 23.7629, 20.773])
    all_equal(np.unique(fm3.predict(re_form="~0")), 22.9722222222251)
    grid = pd.DataFrame([(p, s) for s in penicillin["sample"].unique() for p in penicillin["plate"].unique()],
                        columns=["plate", "sample"])  # fmt: skip
    p2 = fm3.predict(grid)
    np.testing.assert_array_equal(p2, fm3.predict(grid, re_form="~(1|plate)+(1|sample)"))
    np.testing.assert_array_equal(p2, fm3.predict(grid, re_form="~(1|sample)+(1|plate)"))


@pytest.mark.parametrize(
    ("re_form", "expected"),
    [
        (None, [253.663652396798, 430.66001930835, 211.006415533628, 227.634788908917, 212.444742696829, 257.61053840953]),
        ("~0", [251.405104848485, 345.610678484848, 251.405104848485, 345.610678484848, 251.405104848485, 345.610678484848]),
        ("~(0+Days|Subject)", [251.405104848485, 428.401471760037, 251.405104848485, 268.033478223774,
                               251.405104848485, 296.570900561186]),
        ("~(1|Subject)", [253.663652396798, 347.869226033161, 211.006415533628, 305.211989169991, 212.444742696829,
                          306.650316333193]),
    ],
)  # fmt: skip
def test_predict_random_slopes_parts(re_form, expected):
    """test-predict.R, "random-slopes model": new data at days 0 and 9 of the first subjects, with
    all, none, or one column of the (Days | Subject) term (lme4's tolerance 5e-7)."""
    sleep = load_dataset("sleepstudy")
    fm2 = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    grid = pd.DataFrame([(d, s) for s in sleep["Subject"].unique()[:3] for d in (0, 9)], columns=["Days", "Subject"])
    all_equal(fm2.predict(grid, re_form=re_form), expected, tolerance=5e-7)


def test_predict_reads_only_the_columns_re_form_needs():
    """test-predict.R, "only look for columns that exist in re.form" (GH 457): a bare re.form
    ~1 | h/f, a poly() term's part, and new data without the left-out term's column.
    The (poly(x, 2) | g) model's REML surface is flat: lme4 1.1-31 itself, converged tightly,
    predicts 0.147843 and 0.153028 where the expectations say 0.14786 (1e-4) and 0.1533 (1e-3);
    mixedfit's criterion is that fit's to 1e-8 and its predictions are within 1e-4 and 1e-3 of it
    (of the expectations: 2e-4 and 2e-3)."""
    data = lme4_test_data("predict_columns")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        m1 = lmer("y ~ 1 + f + (1 | h/f) + (poly(x, 2) | g)", data)
        m1B = lmer("y ~ 1 + f + (1 | g) + (1 | h)", data)
    tight = TIGHT["predict_columns"]
    all_equal(m1.objective, tight["REML"], tolerance=1e-8)
    all_equal(m1.predict(data.iloc[:1], re_form="~1 | h/f"), tight["nested"], tolerance=1e-4)
    all_equal(m1.predict(data.iloc[:1], re_form="~poly(x, 2) | g"), tight["poly"], tolerance=1e-3)
    all_equal(m1.predict(data.iloc[:1], re_form="~1 | h/f"), 0.14786, tolerance=2e-4)
    all_equal(m1.predict(data.iloc[:1], re_form="~poly(x, 2) | g"), 0.1533, tolerance=2e-3)
    all_equal(m1B.predict(pd.DataFrame({"f": ["1"], "g": ["2"]}), re_form="~(1|g)"), 0.1512895, tolerance=1e-5)


def test_predict_nested_glmer_terms():
    """test-predict.R (GH 457 continued): a binomial GLMM with (1 | ID) + (1 | School/Rank),
    predicted on the response scale from the nested terms only, and a refit without (1 | ID)."""
    data = lme4_test_data("predict_schools")
    new = {"xx1": [8.58], "xx2": [8.75], "xx3": [7.92]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)  # as lme4's: School's variances are 0
        mm2 = glmer("yx ~ xx1 + xx2 + xx3 + Rank + (1 | ID) + (1 | School / Rank)", data, family="binomial")
        mm3 = glmer("yx ~ xx1 + xx2 + xx3 + Rank + (1 | School / Rank)", data, family="binomial")
    n11 = pd.DataFrame({"School": ["e1"], "Rank": ["r1"], **new})
    all_equal(mm2.predict(n11, type="response", re_form="~(1 | School / Rank)"), 0.1174628, tolerance=1e-5)
    n12 = pd.DataFrame({"School": ["e3"], "Rank": ["r2"], **new})
    all_equal(mm3.predict(n12, type="response"), 0.1832894, tolerance=1e-5)


def test_predict_with_factors_in_left_out_terms():
    """test-predict.R, "predict works with factors in left-out REs" (GH 691)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        m1B = lmer("yield ~ 1 + (1 | g1) + (lc | g3)", lme4_test_data("predict_left_out"))
    all_equal(m1B.predict(re_form="~(1|g1)")[0], 0.146787496519465, tolerance=1e-4)


def test_gamma_inverse_link():
    """glmmExt.R, Gamma/inverse on gSim()'s data (26 blocks × 100). nAGQ = 0 to lme4's 1e-5.
    For the Laplace fit lme4 hard-codes (4.159398, 3.058521), its optimum at the default PIRLS
    tolerance; lme4 1.1-31 converged tightly (tolPwrss = 1e-12) gives (4.159652889, 3.058329029)
    and a log-likelihood 2.0e-4 higher (2125.94734603 against 2125.94714286): mixedfit's is that
    one, 6e-5 from the hard-coded numbers."""
    data = lme4_test_data("gamma_inverse.csv.gz")
    gm3 = glmer("y ~ x + (1 | block)", data, family="Gamma", nAGQ=0)
    all_equal(gm3.fixef, [4.07253, 3.080585], tolerance=1e-5)
    gm3B = glmer("y ~ x + (1 | block)", data, family="Gamma")
    all_equal(gm3B.fixef, TIGHT["gamma_inverse"]["fixef"], tolerance=1e-6)
    all_equal(gm3B.loglik, TIGHT["gamma_inverse"]["loglik"], tolerance=1e-10)
    all_equal(gm3B.fixef, [4.159398, 3.058521], tolerance=1e-4)


def test_gamma_log_link_anova():
    """glmmExt.R, Gamma/log: the likelihood-ratio test of x (lme4's tolerance 1.5e-8; p is 0)."""
    import mixedfit

    data = lme4_test_data("gamma_log.csv.gz")
    ggl1 = glmer("y ~ 1 + (1 | block)", data, family="Gamma", link="log")
    ggl2 = glmer("y ~ x + (1 | block)", data, family="Gamma", link="log")
    row = mixedfit.anova(ggl1, ggl2).iloc[1]
    all_equal(row.to_numpy(), [4, 34216.014, 34239.467, -17104.007, 34208.014, 2458.5792, 1, 0])


CRAB_TERMS = (
    "crab.speciesS + crab.speciesW + crab.sizeS + crab.sizeM + snail.sizeS + crab.speciesS:crab.sizeS"
    " + crab.speciesS:crab.sizeM + crab.speciesS:snail.sizeS + crab.speciesW:snail.sizeS + crab.sizeS:snail.sizeS"
    " + crab.sizeM:snail.sizeS + crab.speciesS:crab.sizeS:snail.sizeS + crab.speciesS:crab.sizeM:snail.sizeS"
    " + (snail.size | plot)"
)


def _crab_estimates(model) -> np.ndarray:
    """testcrab.R's c(fixef(m), c(VarCorr(m)$plot)): β, then the 2 × 2 covariance by columns."""
    vc = model.VarCorr
    variances = vc.loc[(vc["grp"] == "plot") & (vc["var2"] == ""), "vcov"].to_numpy()
    covariance = vc.loc[(vc["grp"] == "plot") & (vc["var2"] != ""), "vcov"].iloc[0]
    return np.r_[model.fixef.to_numpy(), variances[0], covariance, covariance, variances[1]]


def test_crabs_proportions_with_weights_equal_counts():
    """testcrab.R: snail survival (R's dotted column names, as in the data), fitted as proportions
    with weights and as cbind counts — the same model, all.equal at R's default tolerance — and
    equal to lme4.0's and glmmADMB's estimates (lme4's tolerance 0.015). lme4 1.1-31's default fit
    stops short here (max|grad| 0.08); converged tightly, its log-likelihood is -170.37669538,
    which mixedfit's reaches."""
    data = lme4_test_data("crabs")
    by_share = glmer("surv ~ " + CRAB_TERMS, data, family="binomial", weights="initial.snail.density")
    by_counts = glmer("cbind(final.snail.density, snails.lost) ~ " + CRAB_TERMS, data, family="binomial")
    assert list(by_share.fixef.index)[:3] == ["(Intercept)", "crab.speciesS", "crab.speciesW"]
    all_equal(_crab_estimates(by_share), _crab_estimates(by_counts))
    assert by_share.loglik > TIGHT["crabs"]["loglik"] - 1e-8
    lme4_0 = [2.77730476938968, 0.609023583738824, -1.60055813739844, 2.0324468778545, 0.624173873057839,
              -1.7908793509579, -2.44540201631615, -1.42365990002708, -2.26780929006268, 0.700928084600075,
              -1.26220238391029, 0.369024582097804, 3.44325347343035, 2.26400391093108, 0.464171947357232,
              -0.532754465140956, -0.532754465140956, 0.801690946568518]  # fmt: skip
    glmmADMB = [2.7773101267224, 0.609026276823218, -1.60055704634712, 2.03244174458562, 0.624171008585953,
                -1.79088398816641, -2.44540300134182, -1.42366043619683, -2.26780858382505, 0.700927141726545,
                -1.26219964572264, 0.369029052442189, 3.44326297908383, 2.26403738918967, 0.46417, -0.53253, -0.53253,
                0.80169]  # fmt: skip
    all_equal(_crab_estimates(by_share), lme4_0, tolerance=0.015)
    all_equal(_crab_estimates(by_counts), glmmADMB, tolerance=0.015)


def test_residuals():
    """test-resids.R: residual ranges of sleepstudy's (Days | Subject) fit and cbpp's binomial
    GLMM, by type. lme4's numbers come from a loose optimizer (xtol_abs = ftol_abs = 1e-6) and
    from glmer's default PIRLS tolerance, whose optima mixedfit's undercuts (REML criterion by 9e-7,
    cbpp's −2 log L by 5.7e-4): compared at lme4's tolerance with lme4 1.1-31 converged tightly,
    and more loosely with the hard-coded numbers."""
    tight = TIGHT["resids"]
    fm1 = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    r = fm1.residuals()
    assert fm1.objective <= tight["lmer_REML"] + 1e-9
    all_equal([r.min(), r.max()], tight["lmer_range"], tolerance=1e-6)
    all_equal([r.min() / fm1.sigma, r.max() / fm1.sigma], tight["lmer_scaled_range"], tolerance=1e-6)
    all_equal([r.min(), r.max()], [-101.17996, 132.54664], tolerance=1e-5)
    all_equal([r.min() / fm1.sigma, r.max() / fm1.sigma], [-3.9536067, 5.1792598], tolerance=1e-5)
    np.testing.assert_array_equal(fm1.residuals("working"), r)
    np.testing.assert_array_equal(fm1.residuals("deviance"), fm1.residuals("pearson"))
    cbpp = load_dataset("cbpp")
    gm1 = glmer("prop ~ period + (1 | herd)", cbpp.assign(prop=cbpp["incidence"] / cbpp["size"]), family="binomial",
                weights="size")  # fmt: skip
    assert -2 * gm1.loglik <= tight["glmer_deviance"] + 1e-8
    for kind, expected in {"deviance": [-3.1975034, 2.35668826], "response": [-0.194674747774946, 0.318458889275477],
                           "pearson": [-2.38163599828335, 2.87908806084918],
                           "working": [-1.24173431447365, 5.41064465283686]}.items():  # fmt: skip
        values = gm1.residuals(kind)
        all_equal([values.min(), values.max()], tight["glmer_range"][kind], tolerance=1e-6)
        all_equal([values.min(), values.max()], expected, tolerance=5e-4)


def test_negative_binomial_against_glmmadmb():
    """nbinom.R: simfun()'s counts (θ = 0.5, 25 blocks × 40): θ, β and log L as glmmADMB's
    (lme4's tolerances 0.003, 0.02 and 1e-4)."""
    g1 = glmer("z ~ x + (1 | f)", lme4_test_data("nbinom_sim"), family="negative_binomial")
    all_equal(g1.fitted_family.theta, 0.4487, tolerance=0.003)
    all_equal(g1.fixef, [0.928710, 2.05072], tolerance=0.02)
    all_equal(g1.loglik, -2944.62, tolerance=1e-4)


def test_negative_binomial_epilepsy():
    """nbinom.R, MASS's epil with (Visit | subject): θ and β as glmmADMB's (lme4's tolerances
    0.03 and 0.04), log L as lme4's "current approximation" (5e-4; df 10). The fit is singular
    (correlation −1), as lme4's and glmmTMB's."""
    with pytest.warns(SingularFitWarning):
        g4 = glmer("y ~ Base*trt + Age + Visit + (Visit | subject)", lme4_test_data("epil2"), family="negative_binomial")
    all_equal(g4.fitted_family.theta, 7.4702, tolerance=0.03)
    all_equal(g4.fixef, [-1.33, 0.8839167, -0.9299658, 0.4751434, -0.2701603, 0.3372421], tolerance=0.04)
    all_equal(g4.loglik, -624.48418, tolerance=5e-4)
    assert g4.dof == 10


def test_cbpp_adaptive_quadrature_and_other_packages():
    """glmer-1.R: cbpp with nAGQ = 25 (β to 5e-4, −2 log L to 1e-9, conditional deviance to
    1e-5), and the Laplace fit's β as glmmADMB's, lme4.0's and glmmML's (5e-4)."""
    cbpp = load_dataset("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    m2 = glmer(formula, cbpp, family="binomial", nAGQ=25)
    all_equal(m2.fixef, [-1.39922533406847, -0.991407294757321, -1.12782184600404, -1.57946627431248], tolerance=5e-4)
    all_equal(-2 * m2.loglik, 100.010030538022, tolerance=1e-9)
    all_equal(np.sum(m2.residuals("deviance") ** 2), 73.373, tolerance=1e-5)
    m1 = glmer(formula, cbpp, family="binomial")
    for other in ([-1.39853810064827, -0.99233330126975, -1.12867317840779, -1.58031150854503],  # glmmADMB
                  [-1.39853505102576, -0.992334712470269, -1.12867541092127, -1.58037389566025],  # lme4.0
                  [-1.39853234657711, -0.992336901732793, -1.12867036466201, -1.58030977686564]):  # glmmML  # fmt: skip
        all_equal(m1.fixef, other, tolerance=5e-4)


def test_bacteria_with_successive_difference_contrasts():
    """glmer-1.R: MASS's bacteria, y ~ trt + wk2 + (1 | ID) with contr.sdif contrasts for trt
    (exported as their two columns: custom contrast matrices are R's; wk2 is logical, coded as R
    codes it, wk2TRUE). log L to 5e-4, β to 1e-4."""
    fm5 = glmer("y ~ trtdiag + trtencourage + wk2 + (1 | ID)", lme4_test_data("bacteria_sdif"), family="binomial")
    assert list(fm5.fixef.index) == ["(Intercept)", "trtdiag", "trtencourage", "wk2TRUE"]
    all_equal(fm5.loglik, -96.13069, tolerance=5e-4)
    all_equal(fm5.fixef, [2.831609490, -1.366722631, 0.5840147802, -1.598591346], tolerance=1e-4)


def test_poisson_observation_level_effects():
    """glmer-1.R: Poisson counts with an observation-level random effect (rPoisGLMMi(12, 20)):
    the likelihood-ratio test of (1 | obs) (χ² to 1e-5, log-likelihoods to 1e-6)."""
    import mixedfit

    data = lme4_test_data("poisson_overdispersed")
    m0 = glmer("y ~ x + (1 | f)", data, family="poisson")
    m1 = glmer("y ~ x + (1 | f) + (1 | obs)", data, family="poisson")
    table = mixedfit.anova(m0, m1)
    all_equal(table["Chisq"].iloc[1], 554.334056, tolerance=1e-5)
    all_equal(table["logLik"], [-1073.77193, -796.604902], tolerance=1e-6)
    assert list(table["npar"]) == [3, 4] and table["Df"].iloc[1] == 1


def test_sleepstudy_correlated_and_uncorrelated_terms():
    """lmer-1.R: β of (Days | Subject) and of (1 | Subject) + (0 + Days | Subject) (1e-13), the
    correlation of β̂ (4e-4), and the ML refits' AIC and BIC (1e-5)."""
    sleep = load_dataset("sleepstudy")
    fm1 = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    fm2 = lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)
    all_equal(fm1.fixef, fm2.fixef, tolerance=1e-13)
    all_equal(fm1.fixef, [251.405104848485, 10.467285959595], tolerance=1e-13)
    v = fm1.vcov.to_numpy()
    all_equal(v[0, 1] / np.sqrt(v[0, 0] * v[1, 1]), -0.1375, tolerance=4e-4)
    ml1 = lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    ml2 = lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep, REML=False)
    all_equal([ml1.aic, ml2.aic, ml1.bic, ml2.bic], [1763.94, 1762, 1783.1, 1777.97], tolerance=1e-5)


def test_dyestuff2_coefficient_table(dyestuff):
    """lmer-1.R: Dyestuff2's fit, at σ_Batch = 0: estimate, standard error and t value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        fm3 = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff2"))
    table = fm3.fixef_table()
    all_equal(table[["estimate", "std_error", "statistic"]].iloc[0], [5.6656, 0.67838803150, 8.3515624346])


def test_gelman_example():
    """lmer-1.R: Andrew Gelman's ten groups of two — β, the conditional modes and their
    conditional variances (1e-5; levels in gl()'s order)."""
    fit = lmer("y ~ 1 + (1 | group.id)", lme4_test_data("gelman"))
    all_equal(fit.fixef, [1.571312129])
    modes = fit.ranef(condvar=True)["group.id"]
    levels = [str(i) for i in range(1, 11)]
    all_equal(modes.loc[levels].iloc[:, 0], [1.8046888, -1.8097665, 1.6146451, 1.5408268, -0.1331995, -3.3306655,
                                             -1.8259277, -0.8735145, -0.3591311, 3.3720441], tolerance=1e-5)  # fmt: skip
    all_equal(modes.attrs["condvar"].ravel(), np.full(10, 0.311091076), tolerance=1e-5)


def test_lagoons_nested_and_plain_habitat_terms():
    """lmer-1.R: habitats are nested in lagoons, so (1 | habitat) and (1 | habitat:lagoon) are one
    model (1e-15); its β̂ covariance is 9.9833/3 · I and β − (100, 200, 300, 400) is (1.72, 0.28,
    1.76, 0.8) (1e-13). Both fits are singular, as in lme4."""
    data = lme4_test_data("lagoons")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        r2 = lmer("y ~ 0 + lagoon + (1 | habitat)", data)
        r20 = lmer("y ~ 0 + lagoon + (1 | habitat:lagoon)", data)
    all_equal(r2.fixef, r20.fixef, tolerance=1e-15)
    all_equal(r2.ranef["habitat"].to_numpy().ravel(), r20.ranef["habitat:lagoon"].to_numpy().ravel(), tolerance=1e-15)
    np.testing.assert_allclose(r2.vcov.to_numpy(), np.eye(4) * 9.9833 / 3, rtol=1e-4)
    all_equal(r2.fixef.to_numpy() - np.arange(1, 5) * 100, [1.72, 0.28, 1.76, 0.8], tolerance=1e-13)


def test_reml_and_ml_deviances():
    """REMLdev.R: sleepstudy's REML criterion as lme4.0's (all.equal's default tolerance); the REML
    criterion and the ML refit's deviance are −2 times their log-likelihoods."""
    sleep = load_dataset("sleepstudy")
    fm1 = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    all_equal(fm1.objective, 1743.6282722424)
    all_equal(fm1.objective / -2, fm1.loglik)
    ml = lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    all_equal(ml.deviance / -2, ml.loglik)
