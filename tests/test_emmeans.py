"""emmeans beyond one factor's means and Tukey pairs, against R's emmeans 1.8.4
(tests/reference/make_emmeans_extended_reference.R): by=, at=, several factors, contrasts
"pairwise" / "trt.vs.ctrl" / "poly", every adjust= method, and a GLMM's type="response"
(probabilities, odds ratios) — on Oats (Variety × nitrogen in blocks) and cbpp."""

from __future__ import annotations

import warnings

import mixedfit
import numpy as np
import pandas as pd
import pytest
from conftest import HERE, load_dataset, load_reference
from mixedfit.datasets import read_r_csv
from mixedfit.inference.emmeans import _adjusted_p_values

CASES = load_reference("emmeans_extended_reference.json")
R_COLUMNS = {
    "lower.CL": "lower_CL", "upper.CL": "upper_CL", "asymp.LCL": "lower_CL", "asymp.UCL": "upper_CL",
    "t.ratio": "t_ratio", "z.ratio": "z_ratio", "p.value": "p_value", "odds.ratio": "odds_ratio",
}  # fmt: skip


@pytest.fixture(scope="module")
def models():
    oats = read_r_csv(HERE / "data" / "Oats.csv.gz")
    oats["nitroF"] = [f"n{v:g}" for v in oats["nitro"]]  # R's paste0("n", nitro)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedfit.ConvergenceWarning)
        gm = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial")
    return {
        "interaction": mixedfit.lmer("yield ~ Variety * nitroF + (1 | Block)", oats),
        "additive": mixedfit.lmer("yield ~ Variety + nitro + (1 | Block)", oats),
        "glmm": gm,
        "glmm_probit": mixedfit.glmer(
            "cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"), family="binomial", link="probit"
        ),
    }


CALLS = {
    "by": ("interaction", dict(specs="Variety", by="nitroF")),
    "by_pairwise": ("interaction", dict(specs="Variety", by="nitroF", contrasts="pairwise")),
    "by_pairwise_bonferroni": ("interaction", dict(specs="Variety", by="nitroF", contrasts="pairwise", adjust="bonferroni")),
    "by_pairwise_holm": ("interaction", dict(specs="Variety", by="nitroF", contrasts="pairwise", adjust="holm")),
    "by_pairwise_sidak": ("interaction", dict(specs="Variety", by="nitroF", contrasts="pairwise", adjust="sidak")),
    "by_pairwise_none": ("interaction", dict(specs="Variety", by="nitroF", contrasts="pairwise", adjust="none")),
    "trt_vs_ctrl": ("interaction", dict(specs="nitroF", contrasts="trt.vs.ctrl")),
    "trt_vs_ctrl_tukey": ("interaction", dict(specs="nitroF", contrasts="trt.vs.ctrl", adjust="tukey")),
    "poly_by": ("interaction", dict(specs="nitroF", by="Variety", contrasts="poly")),
    "two_factors": ("interaction", dict(specs=["Variety", "nitroF"])),
    "at": ("additive", dict(specs="Variety", at={"nitro": 0.6})),
    "glmm_response": ("glmm", dict(specs="period", type="response")),
    "glmm_pairs_response": ("glmm", dict(specs="period", type="response", contrasts="pairwise")),
    "glmm_trt_vs_ctrl": ("glmm", dict(specs="period", contrasts="trt.vs.ctrl")),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CALLS))
def test_emmeans_as_r(models, name):
    model_name, arguments = CALLS[name]
    expected = pd.DataFrame(CASES[name]["table"]).rename(columns=R_COLUMNS).drop(columns=["null"], errors="ignore")
    got = mixedfit.emmeans(models[model_name], **arguments)
    assert list(got.columns) == list(expected.columns)
    glmm = model_name == "glmm"
    for column in expected.columns:
        if not pd.api.types.is_numeric_dtype(expected[column]):
            assert list(got[column].astype(str)) == list(expected[column].astype(str)), column
            continue
        want, have = expected[column].to_numpy(float), got[column].to_numpy(float)
        if column == "p_value" and glmm:
            # lme4's GLMM vcov (a finite-difference Hessian) is ~1% off (see the GLMM reference
            # tests), which moves tail p-values by more: the adjustment itself is checked on R's
            # own z ratios instead.
            families = [()] * len(want)
            method = {"glmm_pairs_response": "tukey", "glmm_trt_vs_ctrl": "dunnettx"}[name]
            z = expected["z_ratio"].to_numpy(float)
            np.testing.assert_allclose(_adjusted_p_values(z, np.full(len(z), np.inf), families, method, {(): 4}), want, rtol=1e-5)
            continue
        if glmm:  # lme4's estimates stop short of ours (2e-3) and its SEs are ~1% off
            rtol = 2e-3 if column in ("estimate", "prob", "odds_ratio") else 2e-2
        else:  # R's ptukey is good to ~1e-10 absolute: tiny adjusted p-values part there
            rtol = 1e-3 if column == "p_value" else 1e-7
        np.testing.assert_allclose(have, want, rtol=rtol, atol=1e-9 if column == "p_value" else 0.0, err_msg=column)


def test_emmeans_bad_arguments(models):
    model = models["interaction"]
    with pytest.raises(ValueError, match="contrasts must be 'pairwise', 'trt.vs.ctrl' or 'poly'"):
        mixedfit.emmeans(model, "Variety", contrasts="revpairwise")
    with pytest.raises(ValueError, match="adjust must be one of"):
        mixedfit.emmeans(model, "Variety", contrasts="pairwise", adjust="scheffe")
    with pytest.raises(NotImplementedError, match="the probit link or poly contrasts are not available"):
        mixedfit.emmeans(models["glmm_probit"], "period", type="response", contrasts="pairwise")
    with pytest.raises(ValueError, match="at= names \\['rain'\\]"):
        mixedfit.emmeans(model, "Variety", at={"rain": 1.0})
    with pytest.raises(ValueError, match="at= gives levels \\['n9'\\]"):
        mixedfit.emmeans(model, "Variety", at={"nitroF": ["n9"]})
