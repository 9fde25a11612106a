"""What other libraries need of a backend: models that pickle (to and from worker processes)
and one setting for the number of threads, sensible inside worker processes."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor

import mixedfit
import numpy as np
import pytest

LMM = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def lmm() -> mixedfit.LinearMixedModel:
    return mixedfit.lmer(LMM, mixedfit.datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def glmm() -> mixedfit.GeneralizedLinearMixedModel:
    return mixedfit.glmer(CBPP, mixedfit.datasets.load("cbpp"), family="binomial")


def summary_of(model, data) -> dict:
    """What a round trip must keep: estimates, predictions, a refit, intervals, simulations."""
    refit = copy.deepcopy(model).refit(model.simulate(1, seed=3).to_numpy()[:, 0])
    return {
        "objective": model.objective,
        "theta": model.theta,
        "fixef": model.fixef.to_numpy(),
        "predict": model.predict(data),
        "refit": refit.objective,
        "wald": model.confint(method="wald").to_numpy(),
        "simulate": model.simulate(2, seed=1).to_numpy(),
    }


def assert_same(a: dict, b: dict) -> None:
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_pickle_round_trip_in_a_new_process(lmm, glmm, tmp_path):
    data = {"sleepstudy": mixedfit.datasets.load("sleepstudy"), "cbpp": mixedfit.datasets.load("cbpp")}
    unfitted = mixedfit.LinearMixedModel(LMM, data["sleepstudy"])
    path = tmp_path / "models.pkl"
    path.write_bytes(pickle.dumps({"lmm": lmm, "glmm": glmm, "unfitted": unfitted}))
    script = textwrap.dedent(
        f"""
        import pickle, copy, warnings, mixedfit
        warnings.simplefilter("ignore")
        sys_path = {str(os.path.dirname(__file__))!r}
        import sys; sys.path.insert(0, sys_path)
        from test_backend import summary_of
        models = pickle.loads(open({str(path)!r}, "rb").read())
        out = {{
            "lmm": summary_of(models["lmm"], mixedfit.datasets.load("sleepstudy")),
            "glmm": summary_of(models["glmm"], mixedfit.datasets.load("cbpp")),
            "unfitted": models["unfitted"].fit().objective,
            "profile": models["lmm"].confint().to_numpy(),
        }}
        open({str(tmp_path / "out.pkl")!r}, "wb").write(pickle.dumps(out))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    loaded = pickle.loads((tmp_path / "out.pkl").read_bytes())
    assert_same(summary_of(lmm, data["sleepstudy"]), loaded["lmm"])
    assert_same(summary_of(glmm, data["cbpp"]), loaded["glmm"])
    assert loaded["unfitted"] == pytest.approx(lmm.objective, rel=1e-12)
    np.testing.assert_allclose(loaded["profile"], lmm.confint().to_numpy(), rtol=1e-7)


def test_deepcopy_is_independent(glmm):
    twin = copy.deepcopy(glmm)
    assert twin._core is not glmm._core
    np.testing.assert_allclose(twin.residuals(), glmm.residuals(), rtol=1e-10)
    twin.refit(twin.simulate(1, seed=5).to_numpy()[:, 0], inplace=True)
    assert twin.objective != glmm.objective
    assert glmm.objective_at(glmm.theta, glmm.fixef.to_numpy()) == pytest.approx(glmm.objective, rel=1e-12)


def _fit_in_worker(seed: int):
    data = mixedfit.datasets.load("sleepstudy")
    rng = np.random.default_rng(seed)
    data["Reaction"] = data["Reaction"] + rng.normal(scale=5, size=len(data))
    model = mixedfit.lmer(LMM, data)
    return model, mixedfit.get_threads(), model._core.threads


def test_models_come_back_from_worker_processes():
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_fit_in_worker, [1, 2]))
    for seed, (model, threads, core_threads) in zip([1, 2], results):
        local, _, _ = _fit_in_worker(seed)
        assert model.objective == pytest.approx(local.objective, rel=1e-12)
        np.testing.assert_allclose(model.predict(), local.predict(), rtol=1e-10)
        if "MIXEDFIT_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ:
            assert threads == core_threads == 1  # worker processes share the CPUs: one thread each


def test_thread_setting():
    sleep = mixedfit.datasets.load("sleepstudy")
    previous = mixedfit.set_threads(3)
    try:
        assert mixedfit.get_threads() == 3
        assert mixedfit.lmer(LMM, sleep)._core.threads == 3
        assert mixedfit.lmer(LMM, sleep, n_threads=2)._core.threads == 2  # the argument wins
    finally:
        mixedfit.set_threads(previous)
    with pytest.raises(ValueError, match="positive integer or None"):
        mixedfit.set_threads(0)
    with pytest.raises(TypeError, match="n_threads must be a positive integer"):
        mixedfit.LinearMixedModel(LMM, sleep, n_threads=1.5)


def test_bootstrap_uses_the_models_threads(lmm, monkeypatch):
    seen = []
    original = type(lmm)._refit_replicates

    def spy(self, responses, n_threads, *rest):
        seen.append(n_threads)
        return original(self, responses, n_threads, *rest)

    monkeypatch.setattr(type(lmm), "_refit_replicates", spy)
    twin = copy.deepcopy(lmm)
    twin.n_threads = 2
    twin.bootstrap(4, seed=1)
    twin.bootstrap(4, seed=1, n_threads=1)
    assert seen == [2, 1]


@pytest.mark.parametrize(
    "environment,command,expected",
    [
        ({"MIXEDFIT_NUM_THREADS": "3"}, [], 3),
        ({"OMP_NUM_THREADS": "2"}, [], 2),
        ({}, ["taskset", "-c", "0"], 1),  # the CPUs this process may use, not the machine's
    ],
)
def test_default_threads_follow_the_environment(environment, command, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("MIXEDFIT_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(environment)
    code = "import mixedfit; print(mixedfit.get_threads())"
    result = subprocess.run([*command, sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) == expected


def _codes(values) -> np.ndarray:
    return np.unique(np.asarray(values).astype(str), return_inverse=True)[1]


def _array_cases():
    sleep = mixedfit.datasets.load("sleepstudy")
    penicillin = mixedfit.datasets.load("Penicillin")
    pastes = mixedfit.datasets.load("Pastes")
    ones = lambda frame: np.ones((len(frame), 1))  # noqa: E731
    days = sleep["Days"].to_numpy(float)
    subject = _codes(sleep["Subject"])
    return [
        (
            "Reaction ~ Days + (Days | Subject)", sleep, sleep["Reaction"], np.column_stack([np.ones(len(sleep)), days]),
            [mixedfit.RandomTerm(subject, np.column_stack([np.ones(len(sleep)), days]), group_name="Subject",
                                 column_names=["(Intercept)", "Days"])],
            ["(Intercept)", "Days"],
        ),
        (
            "Reaction ~ Days + (Days || Subject)", sleep, sleep["Reaction"], np.column_stack([np.ones(len(sleep)), days]),
            [mixedfit.RandomTerm(subject, np.column_stack([np.ones(len(sleep)), days]), correlated=False,
                                 group_name="Subject", column_names=["(Intercept)", "Days"])],
            ["(Intercept)", "Days"],
        ),
        (
            "diameter ~ 1 + (1 | plate) + (1 | sample)", penicillin, penicillin["diameter"], ones(penicillin),
            [mixedfit.RandomTerm(_codes(penicillin["plate"]), group_name="plate"),
             mixedfit.RandomTerm(_codes(penicillin["sample"]), group_name="sample")],
            ["(Intercept)"],
        ),
        (
            "strength ~ 1 + (1 | batch/cask)", pastes, pastes["strength"], ones(pastes),
            [mixedfit.RandomTerm(_codes(pastes["batch"]), group_name="batch"),
             mixedfit.RandomTerm(_codes(pastes["cask"].astype(str) + ":" + pastes["batch"].astype(str)), group_name="cask:batch")],
            ["(Intercept)"],
        ),
    ]  # fmt: skip


@pytest.mark.parametrize("formula,data,y,X,terms,names", _array_cases())
def test_array_api_equals_the_formula_fit(formula, data, y, X, terms, names):
    by_formula = mixedfit.lmer(formula, data)
    by_arrays = mixedfit.LinearMixedModel.from_arrays(y.to_numpy(), X, terms, names=names).fit()
    assert by_arrays.objective == pytest.approx(by_formula.objective, rel=1e-10)
    np.testing.assert_allclose(by_arrays.theta, by_formula.theta, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(by_arrays.fixef.to_numpy(), by_formula.fixef.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(by_arrays.stderr.to_numpy(), by_formula.stderr.to_numpy(), rtol=1e-7)
    assert list(by_arrays.fixef.index) == names
    np.testing.assert_allclose(by_arrays.predict(mixedfit.ArrayData(X, terms)), by_formula.predict(data), rtol=1e-9)
    np.testing.assert_allclose(by_arrays.confint(method="wald").to_numpy(), by_formula.confint(method="wald").to_numpy(),
                               rtol=1e-7)  # fmt: skip
    assert pickle.loads(pickle.dumps(by_arrays)).objective == by_arrays.objective


def test_glmm_array_api_equals_the_formula_fit():
    cbpp = mixedfit.datasets.load("cbpp")
    by_formula = mixedfit.glmer("prop ~ period + (1 | herd)", cbpp, family="binomial", weights="size")
    X = np.column_stack([np.ones(len(cbpp))] + [(cbpp["period"].astype(str) == p).to_numpy(float) for p in "234"])
    herd = mixedfit.RandomTerm(_codes(cbpp["herd"]), group_name="herd")
    by_arrays = mixedfit.GeneralizedLinearMixedModel.from_arrays(
        cbpp["prop"].to_numpy(), X, [herd], family="binomial", weights=cbpp["size"].to_numpy(),
        names=["(Intercept)", "period2", "period3", "period4"],
    ).fit()  # fmt: skip
    assert by_arrays.objective == pytest.approx(by_formula.objective, rel=1e-10)
    np.testing.assert_allclose(by_arrays.fixef.to_numpy(), by_formula.fixef.to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(by_arrays.predict(mixedfit.ArrayData(X, [herd]), type="response"), by_formula.fitted, rtol=1e-8)


def test_array_api_checks_its_input():
    y, X = np.ones(10), np.ones((10, 1))
    term = mixedfit.RandomTerm(np.arange(10) % 3)
    with pytest.raises(TypeError, match="list of mixedfit.RandomTerm"):
        mixedfit.LinearMixedModel.from_arrays(y, X, [np.arange(10)])
    with pytest.raises(mixedfit.DataError, match="codes of term 1 must be 10 integers"):
        mixedfit.LinearMixedModel.from_arrays(y, X, [mixedfit.RandomTerm(np.arange(10) / 2)])
    with pytest.raises(ValueError, match="names has 2 entries for the 1 columns of X"):
        mixedfit.LinearMixedModel.from_arrays(y, X, [term], names=["a", "b"])
    with pytest.raises(mixedfit.DataError, match=r"Z of term 1 must be a matrix with 10 rows, got shape \(9, 1\)"):
        mixedfit.LinearMixedModel.from_arrays(y, X, [mixedfit.RandomTerm(np.arange(10) % 3, np.ones((9, 1)))])
    model = mixedfit.lmer(LMM, mixedfit.datasets.load("sleepstudy"))
    with pytest.raises(TypeError, match="ArrayData is new data for a model built by from_arrays"):
        model.predict(mixedfit.ArrayData(X, [term]))


@pytest.mark.parametrize(
    "names,group,z_names",
    [
        (["a|b", "x~y"], "g|h", ["z(", "z)"]),
        (["(Intercept", "Days)"], "s~t", ["a:b", "a/b"]),
        (["a + b", "c - d"], "x || y", ["factor(z)", "q^2"]),
    ],
)
def test_array_api_takes_any_names(names, group, z_names):
    """Names holding '|', '~', '(' or ')' gave a FormulaError pointing into the generated formula:
    they are backtick-quoted there, and the formula's splitter honours backticks."""
    sleep = mixedfit.datasets.load("sleepstudy")
    X = np.column_stack([np.ones(len(sleep)), sleep["Days"].to_numpy(float)])
    term = mixedfit.RandomTerm(_codes(sleep["Subject"]), X, group_name=group, column_names=z_names)
    model = mixedfit.LinearMixedModel.from_arrays(sleep["Reaction"].to_numpy(), X, [term], names=names).fit()
    reference = mixedfit.lmer(LMM, sleep)
    assert model.objective == pytest.approx(reference.objective, rel=1e-10)
    assert list(model.fixef.index) == names and list(model.ranef) == [group]
    assert list(model.ranef[group].columns) == z_names
    np.testing.assert_allclose(model.predict(mixedfit.ArrayData(X, [term])), reference.fitted, rtol=1e-9)
    assert pickle.loads(pickle.dumps(model)).objective == model.objective
    with pytest.raises(ValueError, match="must be a non-empty string without '`'"):
        mixedfit.LinearMixedModel.from_arrays(sleep["Reaction"].to_numpy(), X, [term], names=["`a`", "b"])


def test_import_leaves_the_heavy_modules_for_later():
    """`import mixedfit` imports neither pandas, formulaic, scipy nor the modelling code (0.57 s
    before the public names were imported on first use, mixedfit/__init__.py; ~0.08 s after),
    and the first use of a name brings in its module; scipy.stats and scipy.optimize stay out
    even then until a fit needs them (mixedfit/_lazy.py)."""
    heavy = ("pandas", "formulaic", "scipy", "scipy.stats", "scipy.optimize", "mixedfit.models.lmm")
    code = (
        "import sys, mixedfit\n"
        f"heavy = {heavy!r}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "mixedfit.lmer, mixedfit.families.poisson\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "print(sorted(set(mixedfit.__all__) - set(dir(mixedfit))))\n"
        "from mixedfit import *\n"
        "print(anova.__module__, all_fit.__module__, datasets.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[]",
        "['formulaic', 'mixedfit.models.lmm', 'pandas', 'scipy']",
        "[]",
        "mixedfit.inference.anova mixedfit.models.all_fit mixedfit.datasets",
    ]
    with pytest.raises(AttributeError, match="module 'mixedfit' has no attribute 'nope'"):
        mixedfit.nope  # noqa: B018
