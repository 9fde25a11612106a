"""summary() as lme4 and lmerTest print it, digit for digit: R's format(), format.pval() and
printCoefmat() on chosen vectors, and whole summaries of fits on the bundled data (reference:
tests/reference/make_summary_text_reference.R, tightly converged R fits). The header lines
(R's class name, the call's Data/Control lines) are R's own and not compared. In whole summaries
the layout must be R's to the character — every number as wide as R's, in the same notation
with the same decimals — and each number R's to 2e-4 relative or one unit in its last place:
printCoefmat shows six significant digits where magnitudes differ (grouseticks' cHEIGHT), beyond
where two optimizers agree (there mixedfit's log-likelihood is 3e-6 above lme4's)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mixedfit
import numpy as np
import pandas as pd
import pytest
from mixedfit.datasets import load
from mixedfit.models.r_print import coefficient_matrix, format_pval, format_real

REF = json.loads((Path(__file__).parent / "reference" / "summary_text_reference.json").read_text())


def _as_list(x) -> list:
    return x if isinstance(x, list) else [x]


def test_format_matches_r_on_every_branch():
    wrong = []
    for case in REF["format"]:
        got = format_real(_as_list(case["x"]), case["digits"], case["nsmall"])
        if got != _as_list(case["out"]):
            wrong.append((case["x"], case["digits"], got, case["out"]))
    assert not wrong, wrong
    assert len(REF["format"]) > 200


@pytest.mark.parametrize("case", REF["format_pval"], ids=lambda c: str(c["p"]))
def test_format_pval_matches_r(case):
    assert format_pval(_as_list(case["p"]), digits=3) == _as_list(case["out"])


@pytest.mark.parametrize("case", REF["printCoefmat"], ids=lambda c: ",".join(c["rows"]))
def test_printcoefmat_matches_r(case):
    table = pd.DataFrame(np.array(case["values"], dtype=float), index=case["rows"], columns=case["columns"])
    assert coefficient_matrix(table).split("\n") == [line.rstrip() for line in case["out"]]


def _fit(case: dict):
    data = load(case["dataset"])
    if case["kind"] == "lmer":
        return mixedfit.lmer(case["formula"], data, REML=case["REML"])
    return mixedfit.glmer(case["formula"], data, family=case["family"])


# A number standing alone (not a digit inside a name such as "period2" or "(Intr)").
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]\d+)?(?![\w.])")


def _assert_same_text(got: list[str], expected: list[str]) -> None:
    assert [_NUMBER.sub("#", g) for g in got] == [_NUMBER.sub("#", e) for e in expected]
    for g, e in zip(got, expected):
        for a, b in zip(_NUMBER.findall(g), _NUMBER.findall(e)):
            assert len(a) == len(b) and ("e" in a) == ("e" in b), (g, e)
            last_place = 10.0 ** -len(b.split("e")[0].partition(".")[2]) * (
                10.0 ** int(b.split("e")[1]) if "e" in b else 1
            )
            assert abs(float(a) - float(b)) <= 2e-4 * abs(float(b)) + last_place * 1.01, (g, e)


def _from_criterion(lines: list[str]) -> list[str]:
    """The lines from the REML criterion or the AIC table on, trailing blanks dropped."""
    start = next(i for i, line in enumerate(lines) if line.startswith("REML criterion") or "logLik" in line)
    return [line.rstrip() for line in lines[start:]]


@pytest.mark.parametrize("name", list(REF["summaries"]))
def test_summary_text_matches_lme4(name):
    case = REF["summaries"][name]
    model = _fit(case)
    text = model.summary(ddf=case["ddf"] or None) if case["kind"] == "lmer" else model.summary()
    _assert_same_text(_from_criterion(text.split("\n")), _from_criterion(case["text"]))


def test_correlation_of_many_fixed_effects_is_not_printed():
    """lme4 prints the correlation of fixed effects up to 12 of them (lme4.summary.cor.max) and
    says why it does not beyond."""
    from conftest import load_dataset

    model = mixedfit.glmer("count ~ spp * mined + (1 | site)", load_dataset("Salamanders"), family="poisson")
    text = model.summary()
    assert len(model.fixef) == 14
    assert "Correlation of Fixed Effects" not in text
    assert "Correlation matrix not shown by default, as p = 14 > 12" in text
