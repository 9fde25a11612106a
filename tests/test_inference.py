"""Inference against lme4 1.1-31 and lmerTest (tests/reference/make_inference_reference.R):
conditional variances, predictions, likelihood-ratio tests, profile and Wald intervals,
Satterthwaite df; simulation, refit and the parametric bootstrap by their own properties."""

from __future__ import annotations

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import load_dataset, load_reference
from scipy import stats

CASES = load_reference("inference_reference.json")
ESTIMATE_RTOL = 1e-4
PROFILE_RTOL = 1e-3  # lme4 interpolates ζ with splines; we solve ζ = ±z exactly
CBPP_SE_RTOL = 1e-3  # lme4's finite-difference SEs carry PIRLS noise (see test_glmm_reference)

_FITS: dict[str, mixedfit.LinearMixedModel | mixedfit.GeneralizedLinearMixedModel] = {}


def numbers(values) -> np.ndarray:
    """JSON from R writes NA as the string 'NA'."""
    return np.array([np.nan if v == "NA" else v for v in np.atleast_1d(values)], dtype=np.float64)


def fit(formula: str, case: dict):
    data = load_dataset(case["dataset"])
    if case["kind"] == "lmm":
        return mixedfit.lmer(formula, data)
    return mixedfit.glmer(formula, data, family="binomial")


def cached(name: str):
    """The fit of a reference case, made once per test session."""
    if name not in _FITS:
        _FITS[name] = fit(CASES[name]["formula"], CASES[name])
    return _FITS[name]


@pytest.fixture(params=list(CASES))
def case(request):
    return cached(request.param), CASES[request.param]


def test_conditional_modes_and_variances(case):
    model, ref = case
    tables = model.ranef(condvar=True)
    for group, expected in ref["ranef"].items():
        table = tables[group].loc[expected["levels"]]
        assert list(table.columns) == list(np.atleast_1d(expected["columns"]))
        modes = np.array(expected["modes"], dtype=np.float64).reshape(len(expected["levels"]), -1)
        np.testing.assert_allclose(table.to_numpy(), modes, rtol=ESTIMATE_RTOL, atol=ESTIMATE_RTOL * np.abs(modes).max())
        p = len(table.columns)
        want = np.array(expected["condvar"], dtype=np.float64).reshape(-1, p, p)
        order = [list(tables[group].index).index(level) for level in expected["levels"]]
        got = tables[group].attrs["condvar"][order]
        np.testing.assert_allclose(got, want, rtol=ESTIMATE_RTOL, atol=ESTIMATE_RTOL * np.abs(want).max())
    # Without condvar the table is the plain conditional modes, and the dict contract holds.
    assert "condvar" not in model.ranef[group].attrs


def test_predictions(case):
    model, ref = case
    pred = ref["predict"]
    newdata = pd.DataFrame(pred["newdata"])
    for column in newdata.columns:
        if newdata[column].dtype == object:
            newdata[column] = newdata[column].astype(str)

    def close(got, want):
        want = numbers(want)
        np.testing.assert_allclose(got, want, rtol=ESTIMATE_RTOL, atol=ESTIMATE_RTOL * np.abs(want).max())

    close(model.predict(), pred["link"])
    close(model.predict(type="response"), pred["response"])
    close(model.predict(re_form="~0"), pred["population"])
    close(model.predict(re_form=pred["partial_form"]), pred["partial"])
    close(model.predict(newdata, allow_new_levels=True), pred["newdata_link"])
    close(model.predict(newdata, allow_new_levels=True, type="response"), pred["newdata_response"])
    close(model.predict(newdata, re_form="NA"), pred["newdata_population"])
    np.testing.assert_allclose(model.predict(type="response"), model.fitted, rtol=1e-12)
    with pytest.raises(mixedfit.DataError, match="has not seen"):
        model.predict(newdata)


def test_prediction_rows_with_missing_values_are_nan():
    model = cached("sleepstudy")
    newdata = pd.DataFrame({"Days": [1.0, np.nan], "Subject": ["308", "308"]})
    got = model.predict(newdata)
    assert np.isfinite(got[0]) and np.isnan(got[1])
    with pytest.raises(mixedfit.DataError, match="newdata lacks column 'Days'"):
        model.predict(pd.DataFrame({"Subject": ["308"]}))
    with pytest.raises(mixedfit.FormulaError, match=r"not \(part of\) a random-effects term"):
        model.predict(re_form="~(1 | Days)")


PARTIAL = load_reference("partial_re_form_reference.json")


@pytest.mark.parametrize("name", list(PARTIAL))
def test_predictions_with_part_of_a_term_as_lme4(name):
    """re_form naming some columns of a fitted term ('~(1 | Subject)' of a (Days | Subject) fit)
    or the columns of several terms of one factor ('~(Days | Subject)' of a (Days || Subject)
    fit) keeps those effects, as lme4 does (tests/reference/make_partial_re_form_reference.R)."""
    case = PARTIAL[name]
    model = mixedfit.lmer(case["formula"], load_dataset("sleepstudy"))
    newdata = pd.DataFrame(case["newdata"]).astype({"Subject": str})
    np.testing.assert_allclose(model.predict(re_form=case["re_form"]), case["fitted"], rtol=ESTIMATE_RTOL)
    np.testing.assert_allclose(model.predict(newdata, re_form=case["re_form"]), case["newdata_fitted"], rtol=ESTIMATE_RTOL)
    # more than the model has: refused
    with pytest.raises(mixedfit.FormulaError, match=r"not \(part of\) a random-effects term"):
        model.predict(re_form="~(Days + I(Days**2) | Subject)")


def test_likelihood_ratio_test(case):
    model, ref = case
    null = fit(ref["null_formula"], ref)
    table = mixedfit.anova(model, null)  # given in either order, listed by number of parameters
    expected = ref["anova"]
    assert list(table.index) == [ref["null_formula"], ref["formula"]]
    np.testing.assert_array_equal(table["npar"], expected["npar"])
    for column in ("AIC", "BIC", "logLik", "deviance"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-7)
    assert table["Chisq"].iloc[1] == pytest.approx(numbers(expected["Chisq"])[1], rel=1e-5)
    assert table["Df"].iloc[1] == numbers(expected["Df"])[1]
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(numbers(expected["p"])[1], rel=1e-4)


def test_profile_intervals(case):
    model, ref = case
    ci = model.confint("profile")
    expected = ref["profile"]
    assert list(ci.index) == expected["names"]
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    np.testing.assert_allclose(ci.iloc[:, 0], numbers(expected["lower"]), rtol=PROFILE_RTOL)
    np.testing.assert_allclose(ci.iloc[:, 1], numbers(expected["upper"]), rtol=PROFILE_RTOL)


def test_wald_intervals(case):
    model, ref = case
    ci = model.confint("wald")
    expected = ref["wald"]
    rtol = CBPP_SE_RTOL if ref["kind"] == "glmm" else ESTIMATE_RTOL
    np.testing.assert_allclose(ci.iloc[:, 0], numbers(expected["lower"]), rtol=rtol)
    np.testing.assert_allclose(ci.iloc[:, 1], numbers(expected["upper"]), rtol=rtol)
    assert ci.iloc[: len(ci) - len(model.fixef)].isna().all().all()  # as lme4: no Wald interval for SDs


# Penicillin's REML criterion is flat to 1e-8 over θ_sample ∈ [3.51241, 3.51252]: ours is at the
# first (8.5e-9 lower by our evaluation), lme4 at the second even with ftol_abs = 1e-14, so the
# standard error differs by 2.8e-5 and df by 9.5e-5. At lme4's own θ our df agree to 2e-8
# (test_satterthwaite_df_at_lme4s_estimates), so the end-to-end comparison allows for the
# criterion's flatness.
SATTERTHWAITE_RTOL = {"sleepstudy": 1e-4, "penicillin": 2e-4}  # df and t


def p_value_rtol(t: np.ndarray, df: np.ndarray, rtol: float) -> np.ndarray:
    """The p-values' tolerance that t's and df's allow: p = 2 P(T_df > |t|) amplifies their
    relative errors by |∂log p/∂log t| + |∂log p/∂log df| (about 13 + 7 for sleepstudy's t of
    6.8 on 17 df; 37 + 18 for its t of 37)."""
    t, df = np.abs(np.asarray(t)), np.asarray(df)

    def log_p(t, df):
        return np.log(2 * stats.t.sf(t, df))

    h = 1e-6
    by_t = (log_p(t * (1 + h), df) - log_p(t * (1 - h), df)) / (2 * h)
    by_df = (log_p(t, df * (1 + h)) - log_p(t, df * (1 - h))) / (2 * h)
    return rtol * np.maximum(1.0, np.abs(by_t) + np.abs(by_df))


LMM_CASES = [n for n in CASES if CASES[n]["kind"] == "lmm"]


@pytest.mark.parametrize("name", LMM_CASES)
def test_satterthwaite_df_and_p_values(name):
    ref = CASES[name]
    model = cached(name)
    table = model.coef_table
    expected = ref["satterthwaite"]
    rtol = SATTERTHWAITE_RTOL[name]
    assert list(table.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    np.testing.assert_allclose(table["df"], numbers(expected["df"]), rtol=rtol)
    np.testing.assert_allclose(table["t value"], numbers(expected["t"]), rtol=rtol)
    p_rtol = p_value_rtol(numbers(expected["t"]), numbers(expected["df"]), rtol)
    assert np.all(np.abs(table["Pr(>|t|)"] / numbers(expected["p"]) - 1) <= p_rtol)
    assert "Pr(>|t|)" in model.summary()


@pytest.mark.parametrize("name", LMM_CASES)
def test_satterthwaite_df_at_lme4s_estimates(name):
    from mixedfit.inference.satterthwaite import satterthwaite

    ref = CASES[name]
    expected = ref["satterthwaite"]
    model = cached(name)
    theta, sigma = numbers(expected["theta"]), expected["sigma"]
    model.objective_at(theta)
    RX_inv = np.linalg.inv(np.array(model._core.RX))
    vcov = sigma**2 * RX_inv @ RX_inv.T
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), numbers(expected["stderr"]), rtol=1e-8)
    pieces = satterthwaite(model._core, theta, sigma, vcov, model.nobs, model.REML)
    df = [pieces.df(row) for row in np.eye(len(vcov))]
    np.testing.assert_allclose(df, numbers(expected["df"]), rtol=1e-6)
    model.objective_at(model.theta)


def test_glmm_coefficient_table_has_z_and_p():
    from scipy.stats import norm

    model = cached("cbpp")
    table = model.coef_table
    assert list(table.columns) == ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
    z = table["Estimate"] / table["Std. Error"]
    np.testing.assert_allclose(table["z value"], z)
    np.testing.assert_allclose(table["Pr(>|z|)"], 2 * norm.sf(np.abs(z)))
    # lme4's z of the same fit (its β and Hessian SEs, tests/reference/glmm_reference.json).
    lme4 = load_reference("glmm_reference.json")["cbpp_laplace"]
    lme4_z = np.array(list(lme4["beta"].values())) / np.array(lme4["stderr"])
    np.testing.assert_allclose(table["z value"], lme4_z, rtol=CBPP_SE_RTOL)


@pytest.fixture(scope="module")
def sleep_model():
    return mixedfit.lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))


def test_simulation_moments_match_the_model(sleep_model):
    model = sleep_model
    sims = model.simulate(4000, seed=7).to_numpy()
    d = model.design
    mean = d.fixed.X @ model._beta
    G = model.VarCorr["vcov"].iloc[[0, 2, 2, 1]].to_numpy().reshape(2, 2)  # Var of (intercept, slope) of a subject
    Xt = d.terms[0].X
    variance = np.einsum("ij,jk,ik->i", Xt, G, Xt) + model.sigma**2
    se_of_mean = np.sqrt(variance / sims.shape[1])
    assert np.all(np.abs(sims.mean(axis=1) - mean) < 5 * se_of_mean)
    np.testing.assert_allclose(sims.var(axis=1), variance, rtol=0.12)
    # Reproducible with a seed, different without.
    np.testing.assert_array_equal(model.simulate(2, seed=3), model.simulate(2, seed=3))
    new = pd.DataFrame({"Days": [0.0, 1.0], "Subject": ["new", "new"]})
    assert model.simulate(3, seed=1, newdata=new).shape == (2, 3)


def test_refit_reuses_the_model_and_matches_a_fresh_fit(sleep_model):
    data = load_dataset("sleepstudy")
    model = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", data)
    y = model.simulate(1, seed=11).iloc[:, 0].to_numpy()
    core, before = model._core, model.summary()
    fresh = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", data.assign(Reaction=y))
    # lme4's refit: a new fitted model; the original is unchanged (the README's refit loop left
    # the model describing the last simulated response).
    refitted = model.refit(y)
    assert refitted is not model and refitted._core is not model._core
    assert model.summary() == before and model._core is core
    assert refitted.objective == pytest.approx(fresh.objective, rel=1e-8)
    np.testing.assert_allclose(refitted.fixef, fresh.fixef, rtol=1e-5)
    # its ML twin (anova, profiles) is of the new response too
    assert refitted._ml_fit().loglik == pytest.approx(fresh._ml_fit().loglik, rel=1e-8)
    # inplace=True: MixedModels.jl's refit!, the same compiled model (no new symbolic analysis)
    assert model.refit(y, inplace=True) is model
    assert model._core is core
    assert model.objective == pytest.approx(fresh.objective, rel=1e-8)
    np.testing.assert_allclose(model.fixef, fresh.fixef, rtol=1e-5)
    with pytest.raises(mixedfit.DataError, match="new_response must be 180 finite values"):
        model.refit(y[:-1])


def test_glmm_refit_matches_a_fresh_fit():
    data = load_dataset("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    model = mixedfit.glmer(formula, data, family="binomial")
    proportion = model.simulate(1, seed=5).iloc[:, 0].to_numpy()
    model = model.refit(proportion)
    incidence = np.rint(proportion * data["size"]).astype(int)
    fresh = mixedfit.glmer(formula, data.assign(incidence=incidence), family="binomial")
    assert model.objective == pytest.approx(fresh.objective, rel=1e-8)


def test_bootstrap_is_reproducible_and_centred(sleep_model):
    model = sleep_model
    boot = model.bootstrap(120, seed=42, n_threads=2)
    assert list(boot.columns) == model.parameter_names()
    np.testing.assert_array_equal(boot.to_numpy(), model.bootstrap(120, seed=42, n_threads=1).to_numpy())
    se = model.stderr.to_numpy()
    assert np.all(np.abs(boot[list(model.fixef.index)].mean().to_numpy() - model.fixef.to_numpy()) < 4 * se / np.sqrt(120))
    assert boot[".sigma"].mean() == pytest.approx(model.sigma, rel=0.03)
    ci = model.confint("boot", nsim=120, seed=42)
    np.testing.assert_allclose(ci.iloc[:, 0], boot.quantile(0.025).to_numpy())
    # The replicates' spread is the standard error (the SD of 120 draws is within ~20% at 3σ).
    np.testing.assert_allclose(boot[list(model.fixef.index)].std().to_numpy(), se, rtol=0.2)


def test_lmm_bootstrap_on_cpp_threads_equals_the_python_refits(sleep_model):
    """The C++ refit loop (the core's BOBYQA, no GIL) and refits through the Python API agree exactly."""
    from mixedfit.models.model import MixedModel

    responses = sleep_model.simulate(6, seed=9).to_numpy()
    cpp, cpp_singular, cpp_failed = sleep_model._refit_replicates(responses, 2)
    python, python_singular, python_failed = MixedModel._refit_replicates(sleep_model, responses, 2)
    np.testing.assert_array_equal(cpp, python)
    np.testing.assert_array_equal(cpp_singular, python_singular)
    assert not cpp_failed.any() and not python_failed.any()


def test_glmm_bootstrap_runs_in_threads():
    model = cached("cbpp")
    boot = model.bootstrap(16, seed=1, n_threads=2)
    assert boot.shape == (16, 5) and np.isfinite(boot.to_numpy()).all()
    np.testing.assert_array_equal(boot.to_numpy(), model.bootstrap(16, seed=1, n_threads=1).to_numpy())


def test_lmm_checks_rows_on_cores_equal_one_core(sleep_model):
    # The checks' points split over compiled models (the others copies of the model's own) give
    # the values the model's own core gives for all of them, in order.
    from mixedfit.models.parallel_rows import rows_on_cores

    core = sleep_model._core
    points = np.asarray(sleep_model.theta) * (1 + 0.1 * np.random.default_rng(3).normal(size=(31, 3)))
    evaluate = lambda c, thetas: c.objectives(thetas, True)  # noqa: E731
    spread = rows_on_cores(core, evaluate, n_threads=3)
    np.testing.assert_allclose(spread(points), core.objectives(points, True), rtol=1e-13)
    one_core = rows_on_cores(core, evaluate, 2, seconds_per_point=1e-6)  # too small to split
    np.testing.assert_array_equal(one_core(points[:4]), core.objectives(points[:4], True))
    sleep_model.objective_at(np.asarray(sleep_model.theta))  # the core back at the estimates


def test_glmm_convergence_check_on_two_cores_matches_one():
    # With two threads the checks' central differences run half their PIRLS evaluations on a
    # copy of the compiled model (warm-started from the fit's modes, as the model's own): the same
    # derivatives to PIRLS's precision (measured on grouseticks: standard errors 1e-6 apart).
    data = load_dataset("grouseticks")
    formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)"
    one, two = (mixedfit.glmer(formula, data, family="poisson", n_threads=n) for n in (1, 2))
    assert two.objective == pytest.approx(one.objective, rel=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(two.vcov)), np.sqrt(np.diag(one.vcov)), rtol=1e-5)
    assert two.convergence_problems == one.convergence_problems == []


def test_converged_fits_pass_the_convergence_checks(sleep_model):
    assert sleep_model.convergence_problems == []


def test_caterpillar_plot(sleep_model):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from mixedfit.plotting import caterpillar

    fig = caterpillar(sleep_model, "Subject")
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["(Intercept)", "Days"]
    table = sleep_model.ranef(condvar=True)["Subject"]
    order = np.argsort(table["(Intercept)"].to_numpy())
    assert [t.get_text() for t in axes[0].get_yticklabels()] == list(np.asarray(table.index)[order])
    # The error bars are the modes ± 1.96 conditional SDs.
    segments = axes[1].collections[0].get_segments()
    sd = np.sqrt(table.attrs["condvar"][order, 1, 1])
    np.testing.assert_allclose([s[1, 0] - s[0, 0] for s in segments], 2 * 1.959963984540054 * sd, rtol=1e-9)
    with pytest.raises(ValueError, match="no grouping factor 'herd'"):
        caterpillar(sleep_model, "herd")


def test_glmm_simulation_on_newdata_uses_the_trials():
    model = cached("cbpp")
    new = pd.DataFrame({"period": ["1", "4"], "herd": ["1", "new"], "size": [4, 7], "incidence": [0, 0]})
    sims = model.simulate(300, seed=3, newdata=new).to_numpy()
    successes = sims * np.array([[4], [7]])
    np.testing.assert_allclose(successes, np.rint(successes), atol=1e-12)  # whole numbers of 4 and 7 trials
    assert 0 <= sims.min() and sims.max() <= 1
    # Period 1 has the higher incidence, as its coefficients say.
    assert sims[0].mean() > sims[1].mean()


@pytest.mark.parametrize(
    "dataset, formula",
    [
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        ("Pastes", "strength ~ 1 + (1 | batch/cask)"),
        ("sleepstudy", "Reaction ~ Days + (Days || Subject)"),
        ("Exam", "normexam ~ standLRT + (standLRT | school)"),
    ],
)
def test_conditional_variances_by_the_schur_complement_equal_sparse_solves(dataset, formula):
    """The first term's block structure (one dense inverse of the Schur complement) gives the
    same level blocks of A⁻¹ as solving for every column of Λ' (the general path), to 1e-10."""
    import scipy.sparse as sp
    from mixedfit.inference import condvar

    m = mixedfit.lmer(formula, load_dataset(dataset))
    d, theta, weights = m.design, m.theta, m._working_weights()
    fast = condvar.conditional_variances(d, theta, weights, m.sigma)
    Lambdat = condvar.relative_factor(d, theta)
    A = (Lambdat @ (d.Zt @ sp.diags(weights) @ d.Zt.T) @ Lambdat.T + sp.identity(Lambdat.shape[0])).tocsc()
    general = condvar._conditional_variances_by_solves(A, Lambdat, d, m.sigma)
    assert fast.keys() == general.keys()
    for name in general:
        np.testing.assert_allclose(fast[name], general[name], rtol=1e-10, atol=1e-12 * np.abs(general[name]).max())
