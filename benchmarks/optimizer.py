"""The core's BOBYQA against NLopt's (lme4's optimizer) on the optimization problems of every
lme4 reference case of the test suite (LMMs: θ; GLMMs: θ at stage 1, (θ, β) at stage 2): the
same objective, start, bounds and tolerances, run by both; evaluations, and each one's distance
from the optimum f* (the best of both and of the core run to ftol_abs = 1e-14). "same path":
equal evaluations and minima equal to 1e-12 (the two then took the same steps).

Needs the `nlopt` package (pip install nlopt), which mixedfit itself no longer uses.
Usage (repository root): python benchmarks/optimizer.py
"""

from __future__ import annotations

import copy
import json
import sys
import warnings
from pathlib import Path

import mixedfit
import mixedfit.models.glmm as glmm_module
import mixedfit.models.structured as structured_module
import nlopt
import numpy as np
from mixedfit.models import optimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_cases import TESTS, fit_case  # noqa: E402

sys.path.insert(0, str(TESTS))
from conftest import load_dataset  # noqa: E402


def nlopt_bobyqa(objective, summary: optimize.OptSummary) -> tuple[float, int, np.ndarray]:
    n = len(summary.initial)
    count = [0]

    def f(x, grad):
        count[0] += 1
        return objective(x)

    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_min_objective(f)
    opt.set_lower_bounds(np.asarray(summary.lower, dtype=float))
    if summary.upper is not None:
        opt.set_upper_bounds(np.asarray(summary.upper, dtype=float))
    if summary.initial_step is not None:
        opt.set_initial_step(np.asarray(summary.initial_step, dtype=float))
    opt.set_ftol_abs(summary.ftol_abs)
    opt.set_xtol_abs(summary.xtol_abs)
    opt.set_xtol_rel(summary.xtol_rel)
    opt.set_maxeval(int(summary.maxeval))
    x = opt.optimize(np.array(summary.initial, dtype=float))
    return opt.last_optimum_value(), count[0], x


def recorded_problems(case: dict, data) -> list[tuple]:
    """Every (objective, settings) the fit of a case hands to the optimizer (an LMM's loop runs
    in the core: its criterion is called here from Python instead)."""
    if "family" not in case:
        model = mixedfit.LinearMixedModel(case["formula"], data, REML=case["REML"], weights=case["weights"])
        return [(lambda theta: model._core.objective(theta, model.REML), copy.deepcopy(model.optsum))]
    problems = []

    def recording(objective, summary):
        settings = copy.deepcopy(summary)
        x = optimize.bobyqa(objective, summary)
        problems.append((objective, settings))
        return x

    modules = (glmm_module, structured_module)
    for module in modules:
        module.bobyqa = recording
    try:
        fit_case(case, data)
    finally:
        for module in modules:
            module.bobyqa = optimize.bobyqa
    return problems


def main() -> None:
    warnings.simplefilter("ignore")
    print("| case | problem | n | NLopt evaluations | core evaluations | NLopt f − f* | core f − f* | same path |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    totals, same, problems = [0, 0], 0, 0
    for filename in ("lmm_reference.json", "glmm_reference.json"):
        cases = json.loads((TESTS / "reference" / filename).read_text())["cases"]
        for name, case in cases.items():
            if case.get("seconds", 0) > 10:
                continue
            data = load_dataset(case["dataset"])
            for i, (objective, settings) in enumerate(recorded_problems(case, data)):
                f_nlopt, n_nlopt, _ = nlopt_bobyqa(objective, copy.deepcopy(settings))
                summary = copy.deepcopy(settings)
                optimize.bobyqa(objective, summary)
                tight = copy.deepcopy(settings)
                tight.ftol_abs, tight.xtol_abs, tight.xtol_rel = 1e-14, 1e-12, 0.0
                optimize.bobyqa(objective, tight)
                totals[0] += n_nlopt
                totals[1] += summary.feval
                best = min(tight.fmin, summary.fmin, f_nlopt)
                path = n_nlopt == summary.feval and abs(summary.fmin - f_nlopt) <= 1e-12 * abs(f_nlopt)
                same, problems = same + path, problems + 1
                print(
                    f"| {name} | {i + 1} | {len(settings.initial)} | {n_nlopt} | {summary.feval} | "
                    f"{f_nlopt - best:.1e} | {summary.fmin - best:.1e} | {'yes' if path else ''} |"
                )
    print(f"| total | | | {totals[0]} | {totals[1]} | | | {same} of {problems} |")


if __name__ == "__main__":
    main()
