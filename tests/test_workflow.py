"""The analyst's side of a fitted model: cheap printing, per-group coefficients, tidy tables,
intervals for chosen parameters, and the command line."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import warnings

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import load_dataset, load_reference
from scipy.stats import t as student_t

LMM = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def lmm() -> mixedfit.LinearMixedModel:
    return mixedfit.lmer(LMM, mixedfit.datasets.load("sleepstudy"))


def test_printing_is_cheap(sleep):
    model = mixedfit.lmer(LMM, sleep)
    assert repr(model) == f"LinearMixedModel('{LMM}', nobs=180, logLik={model.loglik:.6g})"
    text = str(model)
    assert text.startswith("Linear mixed model fit by REML") and "t value" in text
    assert model._coef_table is None  # neither ran the Satterthwaite computation
    assert model._repr_html_() == f"<pre>{html.escape(text)}</pre>"
    assert model._coef_table is None


def test_coef_is_lme4s(sleep):
    case = load_reference("reliability_reference.json")["coef_random_intercept"]
    model = mixedfit.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    table = model.coef()["Subject"]
    assert list(table.columns) == case["coef_columns"]
    assert list(table.index) == case["coef_levels"]
    np.testing.assert_allclose(table.to_numpy(), np.array(case["coef"]), rtol=1e-5)


def test_coef_adds_fixed_and_random_effects(lmm):
    table = lmm.coef()["Subject"]
    np.testing.assert_allclose(table.to_numpy(), lmm.ranef["Subject"].to_numpy() + lmm.fixef.to_numpy(), rtol=1e-12)


def test_fixef_table_is_tidy(lmm):
    tidy = lmm.fixef_table(level=0.9)
    assert list(tidy.columns) == ["term", "estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high"]
    table = lmm.coef_table
    np.testing.assert_allclose(tidy["p_value"], table["Pr(>|t|)"], rtol=1e-12)
    quantile = student_t.ppf(0.95, tidy["df"])
    np.testing.assert_allclose(tidy["conf_high"], tidy["estimate"] + quantile * tidy["std_error"], rtol=1e-12)
    glmm = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mixedfit.datasets.load("cbpp"), family="binomial")
    assert "df" not in glmm.fixef_table().columns
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        lmm.fixef_table(level=95)


def test_confint_for_chosen_parameters(lmm):
    full = lmm.confint()
    chosen = lmm.confint(parm=["Days", ".sig01"])
    np.testing.assert_allclose(chosen.to_numpy(), full.loc[["Days", ".sig01"]].to_numpy(), rtol=1e-9)
    assert list(lmm.confint(method="wald", parm=5).index) == ["Days"]
    with pytest.raises(ValueError, match="parm 'nope' is not a parameter"):
        lmm.confint(parm="nope")
    with pytest.raises(ValueError, match="parm must name parameters"):
        lmm.confint(parm=[99])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mixedfit", *args], capture_output=True, text=True, timeout=120)


def test_command_line(tmp_path):
    result = run_cli("--help")
    assert result.returncode == 0 and "fit" in result.stdout and "example" in result.stdout
    path = tmp_path / "cbpp.csv"
    mixedfit.datasets.load("cbpp").to_csv(path, index=False, quoting=2)
    result = run_cli("fit", str(path), "prop ~ period + (1 | herd)", "--family", "binomial", "--weights", "size", "--json")
    assert result.returncode == 0, result.stderr
    fitted = json.loads(result.stdout[result.stdout.index("{"):])
    direct = mixedfit.glmer("prop ~ period + (1 | herd)", mixedfit.datasets.read_r_csv(path), family="binomial", weights="size")
    assert fitted["loglik"] == pytest.approx(direct.loglik, rel=1e-10)
    assert fitted["fixef"] == pytest.approx(direct.fixef.to_dict(), rel=1e-8)
    result = run_cli("fit", str(path), "prop ~ nope + (1 | herd)")
    assert result.returncode == 1 and "column 'nope' used in the formula is not in the data" in result.stderr
    result = run_cli("sleepstudy")
    assert result.returncode == 0 and "Linear mixed model fit by REML" in result.stdout


def test_command_line_help_examples_and_pipes(capsys):
    """No arguments print the help (not a fit); every bundled data set has an example (LMMs and
    the GLMMs), whose --json equals the fit in Python; a reader that stops early ends quietly."""
    from mixedfit.__main__ import EXAMPLES, main

    assert main([]) == 0
    assert "usage: mixedfit" in capsys.readouterr().out
    assert sorted(EXAMPLES) == mixedfit.datasets.names()
    for name, (formula, family) in EXAMPLES.items():
        assert main(["example", name, "--json"]) == 0, name
        fitted = json.loads(capsys.readouterr().out)
        data = mixedfit.datasets.load(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mixedfit.SingularFitWarning)  # Dyestuff2's fit is singular
            direct = mixedfit.lmer(formula, data) if family is None else mixedfit.glmer(formula, data, family=family)
        assert fitted["loglik"] == pytest.approx(direct.loglik, rel=1e-10), name
    shell = f"{sys.executable} -m mixedfit sleepstudy | head -n 1"
    piped = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=120)
    assert piped.stdout == "Linear mixed model fit by REML. t-tests use Satterthwaite's method\n" and piped.stderr == ""


def test_r_csv_reader_gives_pandas_own_frame(tmp_path, monkeypatch):
    """read_r_csv's pyarrow reader (where installed) gives what pandas' C engine gives: strings
    for R's quoted factors, floats, and NA both unquoted and quoted, on an edge-case file (with an
    integer column with NA, which pandas' own pyarrow engine could not cast) and on a bundled
    data set."""
    pytest.importorskip("pyarrow")
    monkeypatch.setattr(mixedfit.datasets, "PYARROW_MIN_BYTES", 0)  # these small files too
    edge = tmp_path / "edge.csv"
    edge.write_text('"g","y","n","h"\n"a",1.5,3,"x"\nNA,NA,NA,"NA"\n"b c",2,4,""\n')
    bundled = mixedfit.datasets._DATA / "cbpp.csv"
    arrow_strings = getattr(pd.Series([], dtype=str).dtype, "storage", None) == "pyarrow"
    for path in (edge, bundled):
        frame = mixedfit.datasets.read_r_csv(path)
        quoted = {"g": str, "h": str} if path == edge else {c: str for c in ("herd", "period")}
        pd.testing.assert_frame_equal(frame, pd.read_csv(path, dtype=quoted, engine="c"))
        # Read by pyarrow itself, not by the fallback (where pandas' strings are pyarrow's).
        assert (mixedfit.datasets._read_by_pyarrow(path, list(quoted)) is not None) == arrow_strings
    frame = mixedfit.datasets.read_r_csv(edge)
    assert frame["g"].tolist()[::2] == ["a", "b c"] and frame.isna().sum().tolist() == [1, 1, 1, 2]
    # A factor coded "1" stays a string.
    floats = tmp_path / "floats.csv"
    floats.write_text('"g","y"\n"a",1.5\nNA,NA\n"1",2\n')
    pd.testing.assert_frame_equal(mixedfit.datasets.read_r_csv(floats), pd.read_csv(floats, dtype={"g": str}, engine="c"))
    assert mixedfit.datasets.read_r_csv(floats)["g"].tolist()[2] == "1"


INTERRUPTED_BOOTSTRAP = """
import sys, time, warnings, mixedfit
warnings.simplefilter("ignore")
if sys.argv[1] == "lmm":
    model = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", mixedfit.datasets.load("sleepstudy"))
    nsim = 50_000
else:
    model = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mixedfit.datasets.load("cbpp"),
                           family="binomial")
    nsim = 5_000
print("started", flush=True)
try:
    model.bootstrap(nsim, seed=1, n_threads=2)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    at = model.theta if sys.argv[1] == "lmm" else (model.theta, model.fixef.to_numpy())
    value = model.objective_at(*at) if sys.argv[1] != "lmm" else model.objective_at(at)
    print("usable" if abs(value - model.objective) < 1e-8 * abs(model.objective) else "changed", flush=True)
"""


@pytest.mark.parametrize("kind", ["lmm", "glmm"])
def test_ctrl_c_stops_a_bootstrap_within_a_second(kind):
    import signal
    import time

    command = [sys.executable, "-c", INTERRUPTED_BOOTSTRAP, kind]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            while "started" not in child.stdout.readline():
                pass
            time.sleep(1.5)  # well into the refits
            sent = time.perf_counter()
            child.send_signal(signal.SIGINT)
            first = child.stdout.readline().strip()
            waited = time.perf_counter() - sent
            rest = child.stdout.read()
            errors = child.stderr.read()
        finally:
            child.kill()
    assert first == "interrupted", (first, errors[-2000:])
    assert waited < 1.0, f"the bootstrap took {waited:.2f} s to stop"
    assert rest.strip() == "usable"


def test_progress_is_reported(sleep, capfd):
    model = mixedfit.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    model.bootstrap(20, seed=1, progress=True)
    model.confint(parm=["Days"], progress=True)
    err = capfd.readouterr().err
    assert "bootstrap" in err and "20" in err and "profile" in err


def test_verbose_fits_print_their_evaluations(sleep, capfd):
    model = mixedfit.LinearMixedModel("Reaction ~ Days + (1 | Subject)", sleep).fit(verbose=True)
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("evaluation")]
    assert len(lines) == model.optsum.feval
    model.simulate(30, seed=1, progress=True)
    assert re.search(r"simulate.*30/30", capfd.readouterr().err)


@pytest.mark.parametrize("name", ["slope_and_phase", "two_factors", "interaction_type_I"])
def test_f_tests_of_fixed_effects_as_lmertest(sleep, name):
    case = load_reference("workflow_reference.json")[name]
    data = sleep.assign(
        phase=np.array(["early", "mid", "late"])[(sleep["Days"] >= 3).astype(int) + (sleep["Days"] >= 6).astype(int)],
        group=np.where(sleep["Subject"].astype(int) % 2 == 0, "even", "odd"),
    )
    model = mixedfit.lmer(case["formula"], data)
    table = mixedfit.anova(model, type=case["type"])
    assert list(table.index) == case["terms"]
    np.testing.assert_array_equal(table["NumDF"], case["num_df"])
    # Our estimates agree with lme4's to its convergence (1e-4 relative at worst here), which the
    # df and F inherit; the p-values are compared on the scale they are read.
    np.testing.assert_allclose(table["DenDF"], case["den_df"], rtol=1e-3)
    np.testing.assert_allclose(table["F value"], case["f_value"], rtol=1e-3)
    np.testing.assert_allclose(table["Sum Sq"], case["sum_sq"], rtol=1e-3)
    np.testing.assert_allclose(table["Pr(>F)"], case["p_value"], rtol=1e-3, atol=1e-8)


def test_f_tests_refuse_what_they_do_not_handle(sleep):
    model = mixedfit.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(ValueError, match="type must be 'I', 'II' or 'III'"):
        model.anova(type="IV")
    ordered = sleep.assign(phase=pd.Categorical(np.where(sleep["Days"] >= 5, "late", "early"), ordered=True))
    interacting = mixedfit.lmer("Reaction ~ Days * phase + (1 | Subject)", ordered)
    with pytest.raises(ValueError, match="ordered factors"):
        interacting.anova()


@pytest.mark.parametrize("name", ["ranova_slope", "ranova_uncorrelated", "ranova_crossed", "ranova_to_linear_model"])
def test_ranova_as_lmertest(name):
    case = load_reference("workflow_reference.json")[name]
    data = mixedfit.datasets.load("Penicillin" if "crossed" in name else "sleepstudy")
    table = mixedfit.lmer(case["formula"], data).ranova()
    assert list(table.index) == case["rows"]
    np.testing.assert_array_equal(table["npar"], case["npar"])
    np.testing.assert_allclose(table["logLik"], case["loglik"], rtol=1e-6)
    np.testing.assert_allclose(table["LRT"].to_numpy()[1:], np.array(case["lrt"][1:], dtype=float), rtol=1e-5)
    np.testing.assert_allclose(table["Pr(>Chisq)"].to_numpy()[1:], np.array(case["p_value"][1:], dtype=float), rtol=1e-4)


def test_emmeans_as_r(sleep):
    cases = load_reference("workflow_reference.json")
    lmm_case, glmm_case = cases["emmeans_lmm"], cases["emmeans_glmm"]
    data = sleep.assign(
        phase=np.array(["early", "mid", "late"])[(sleep["Days"] >= 3).astype(int) + (sleep["Days"] >= 6).astype(int)],
        group=np.where(sleep["Subject"].astype(int) % 2 == 0, "even", "odd"),
    )
    model = mixedfit.lmer("Reaction ~ Days + phase + group + (1 | Subject)", data)
    means = mixedfit.emmeans(model, "phase")
    assert list(means["phase"]) == lmm_case["levels"]
    np.testing.assert_allclose(means["emmean"], lmm_case["emmean"], rtol=1e-6)
    np.testing.assert_allclose(means["SE"], lmm_case["se"], rtol=1e-4)
    np.testing.assert_allclose(means["df"], lmm_case["df"], rtol=1e-3)
    pairs = mixedfit.emmeans(model, "phase", pairs=True)
    assert list(pairs["contrast"]) == lmm_case["contrasts"]
    np.testing.assert_allclose(pairs["estimate"], lmm_case["estimate"], rtol=1e-5)
    np.testing.assert_allclose(pairs["p_value"], lmm_case["p_value"], rtol=1e-3)
    kr_case = cases["emmeans_lmm_kr"]  # emmeans' own default for lmer fits
    kr = mixedfit.emmeans(model, "phase", ddf="Kenward-Roger")
    np.testing.assert_allclose(kr["SE"], kr_case["se"], rtol=1e-4)
    np.testing.assert_allclose(kr["df"], kr_case["df"], rtol=1e-4)
    kr_pairs = mixedfit.emmeans(model, "phase", pairs=True, ddf="Kenward-Roger")
    np.testing.assert_allclose(kr_pairs["SE"], kr_case["contrast_se"], rtol=1e-4)
    np.testing.assert_allclose(kr_pairs["df"], kr_case["contrast_df"], rtol=1e-4)
    np.testing.assert_allclose(kr_pairs["p_value"], kr_case["p_value"], rtol=1e-3)
    glmm = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mixedfit.datasets.load("cbpp"),
                          family="binomial")  # fmt: skip
    pairs = mixedfit.emmeans(glmm, "period", pairs=True)
    assert list(pairs["contrast"]) == glmm_case["contrasts"]
    np.testing.assert_allclose(pairs["estimate"], glmm_case["estimate"], rtol=2e-3)
    # lme4's default GLMM fit leaves its finite-difference Hessian ~1% off (see the GLMM reference
    # tests), and emmeans uses that vcov: the standard errors agree to that.
    np.testing.assert_allclose(pairs["SE"], glmm_case["contrast_se"], rtol=2e-2)
    with pytest.raises(ValueError, match="specs and by must name factors of the fixed effects"):
        mixedfit.emmeans(model, "Days")


def test_drop1_as_lmertest(sleep):
    case = load_reference("workflow_reference.json")["drop1"]
    data = sleep.assign(
        phase=np.array(["early", "mid", "late"])[(sleep["Days"] >= 3).astype(int) + (sleep["Days"] >= 6).astype(int)],
        group=np.where(sleep["Subject"].astype(int) % 2 == 0, "even", "odd"),
    )
    table = mixedfit.lmer(case["formula"], data).drop1()
    assert list(table.index) == case["terms"]
    np.testing.assert_array_equal(table["NumDF"], case["num_df"])
    np.testing.assert_allclose(table["DenDF"], case["den_df"], rtol=1e-3)
    np.testing.assert_allclose(table["F value"], case["f_value"], rtol=1e-3)
    np.testing.assert_allclose(table["Pr(>F)"], case["p_value"], rtol=1e-3)


def _with_nan(values) -> np.ndarray:
    return np.array([np.nan if v in (None, "NA") else v for v in values], dtype=float)


@pytest.mark.parametrize("specs", ["Sex", "agef"])
def test_emmeans_reports_non_estimable_means_as_emmeans_does(specs):
    """An empty cell (no girl measured at 14) leaves the Female and a14 means, and the contrasts
    with them, non-estimable: NaN with a nonEst note, as R's emmeans (they used to get numbers from
    the kept coefficients); the estimable ones equal emmeans' (tests/reference/make_emmeans_reference.R)."""
    ref = load_reference("emmeans_reference.json")[f"empty_cell_{specs}"]
    data = load_dataset("Orthodont")
    data = data.assign(agef="a" + data["age"].astype(str))
    data = data[~((data["Sex"] == "Female") & (data["age"] == 14))].reset_index(drop=True)
    with pytest.warns(mixedfit.RankDeficiencyWarning):
        model = mixedfit.lmer("distance ~ Sex * agef + (1 | Subject)", data)
    means = mixedfit.emmeans(model, specs)
    assert list(means[specs]) == ref["levels"]
    for column, expected in (("emmean", ref["emmean"]), ("SE", ref["SE"]), ("df", ref["df"])):
        np.testing.assert_allclose(means[column].to_numpy(float), _with_nan(expected), rtol=2e-4)
    assert list(means["note"]) == ["nonEst" if v == "NA" else "" for v in ref["emmean"]]
    contrasts = mixedfit.emmeans(model, specs, pairs=True)
    assert list(contrasts["contrast"]) == ref["contrast"]
    for column, expected in (("estimate", ref["estimate"]), ("SE", ref["contrast_SE"]), ("df", ref["contrast_df"])):
        np.testing.assert_allclose(contrasts[column].to_numpy(float), _with_nan(expected), rtol=2e-4)
    # R's ptukey integrates to about 1e-5 absolute (3.6e-6 here at p = 1.3e-6); scipy's is tighter
    np.testing.assert_allclose(contrasts["p_value"].to_numpy(float), _with_nan(ref["p_value"]), rtol=1e-3, atol=1e-5)
    assert (contrasts["note"] == "nonEst").sum() == sum(v == "NA" for v in ref["estimate"])


@pytest.mark.parametrize("case", list(load_reference("abbreviate_reference.json").values()), ids=lambda c: c["name"])
def test_correlation_headers_are_r_abbreviations(case):
    """summary()'s correlation block names its columns and rows as lme4 (R's abbreviate):
    distinct, "(Intr)" and "perid2", not truncations that repeat ("period", "period")."""
    from mixedfit.models.results import abbreviate

    assert abbreviate(case["names"], case["minlength"]) == case["abbreviated"]


def test_summary_headers(sleep):
    glmm = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mixedfit.datasets.load("cbpp"),
                          family="binomial")  # fmt: skip
    block = glmm.summary().split("Correlation of Fixed Effects:\n")[1].splitlines()
    assert block[0].split() == ["(Intr)", "perid2", "perid3"]
    assert [line.split()[0] for line in block[1:4]] == ["period2", "period3", "period4"]
    lmm = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert lmm.summary().startswith("Linear mixed model fit by REML. t-tests use Satterthwaite's method\n")
    assert lmm.summary(ddf="Kenward-Roger").startswith("Linear mixed model fit by REML. t-tests use Kenward-Roger's method")
    assert lmm.summary(ddf=None).startswith("Linear mixed model fit by REML\n")
