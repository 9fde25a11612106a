"""The compiled core on its own: the criterion against dense linear algebra, zero-copy
inputs, input checks and exception mapping."""

from __future__ import annotations

import dataclasses
import threading

import mixedfit
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from mixedfit._native import _core
from mixedfit.design.formula import parse_formula
from mixedfit.design.frame import model_frame
from mixedfit.design.matrices import build_design


def _design(formula: str, dataset: str):
    parsed = parse_formula(formula)
    frame = model_frame(parsed, mixedfit.datasets.load(dataset), {parsed.response})
    return build_design(parsed, frame, True), frame.data[parsed.response].to_numpy(float)


def _dense_criterion(design, y, w, theta, REML):
    """−2 log L (or the REML criterion) from the marginal covariance, without any Cholesky tricks."""
    X, Z = design.fixed.X, design.Zt.T.toarray()
    Lambdat = design.Lambdat.copy()
    Lambdat.data = theta[design.Lind]
    ZL = Z @ Lambdat.T.toarray()
    n, p = X.shape
    V = ZL @ ZL.T + np.diag(1 / w)  # covariance over σ²
    Vinv = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vinv @ X, X.T @ Vinv @ y)
    r = y - X @ beta
    rss = r @ Vinv @ r
    logdetV = np.linalg.slogdet(V)[1]
    if not REML:
        return logdetV + n * (1 + np.log(2 * np.pi * rss / n))
    return logdetV + np.linalg.slogdet(X.T @ Vinv @ X)[1] + (n - p) * (1 + np.log(2 * np.pi * rss / (n - p)))


@pytest.mark.parametrize("REML", [True, False])
@pytest.mark.parametrize(
    "formula,dataset,theta",
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy", [0.9, -0.1, 0.3]),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", [1.2, 3.0]),
        ("strength ~ 1 + (1 | batch/cask)", "Pastes", [0.0, 2.0]),
    ],
)
def test_criterion_matches_dense_linear_algebra(formula, dataset, theta, REML):
    design, y = _design(formula, dataset)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, len(y))
    core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
    theta = np.array(theta)
    core.objective(1.3 * theta + 0.1, REML)  # its u, solved only when read, must not be the one read below
    assert core.objective(theta, REML) == pytest.approx(_dense_criterion(design, y, w, theta, REML), rel=1e-10)
    Lambdat = design.Lambdat.copy()
    Lambdat.data = theta[design.Lind]
    LZ = (Lambdat @ design.Zt).toarray()
    A = LZ @ np.diag(w) @ LZ.T + np.eye(LZ.shape[0])
    assert core.ldL2 == pytest.approx(np.linalg.slogdet(A)[1], rel=1e-12)
    assert core.ldW == pytest.approx(np.log(w).sum(), rel=1e-12)
    # β and the conditional modes u = A⁻¹ΛZ'W(y − Xβ) (u's backward solve waits until it is read)
    X = design.fixed.X
    V = LZ.T @ LZ + np.diag(1 / w)
    beta = np.linalg.solve(X.T @ np.linalg.solve(V, X), X.T @ np.linalg.solve(V, y))
    np.testing.assert_allclose(core.beta, beta, rtol=1e-9)
    u = np.linalg.solve(A, LZ @ (w * (y - X @ beta)))
    np.testing.assert_allclose(core.u, u, rtol=1e-8, atol=1e-10 * np.abs(u).max())
    np.testing.assert_allclose(core.b, Lambdat.T @ u, rtol=1e-8, atol=1e-10 * np.abs(u).max())


@pytest.mark.parametrize(
    "formula,dataset",
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
        ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
        ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", "sleepstudy"),
    ],
)
@pytest.mark.parametrize("sparse", ["simplicial", "supernodal"])
def test_blocked_and_general_sparse_factorizations_agree(formula, dataset, sparse):
    """The blocked factorization, with its Schur complement dense and (given a second term) sparse,
    gives the sparse factor of all of A's criterion and b."""
    design, y = _design(formula, dataset)
    w = np.ones(len(y))
    kinds = ["blocked"] + (["blocked-sparse"] if len(design.terms) > 1 else [])
    cores = [
        _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
        for _ in range(len(kinds) + 1)
    ]
    *blocked, general = cores
    for core, kind in zip(cores, kinds + [sparse]):
        core._force_factorization(kind)
    rng = np.random.default_rng(2)
    for _ in range(3):
        theta = np.abs(rng.normal(size=len(design.theta0))) + 0.1
        expected = general.objective(theta, True)
        for core in blocked:
            assert core.objective(theta, True) == pytest.approx(expected, rel=1e-12)
            np.testing.assert_allclose(core.b, general.b, rtol=1e-9, atol=1e-12)
    assert [core.factorization for core in cores] == kinds + [sparse]
    with pytest.raises(ValueError, match="force it before"):
        general._force_factorization(sparse)


def _cores(data: pd.DataFrame, formula: str, count: int):
    """The design of formula on data (response y) and count compiled models of it."""
    parsed = parse_formula(formula)
    frame = model_frame(parsed, data, {"y"})
    design = build_design(parsed, frame, True)
    y, w = frame.data["y"].to_numpy(), np.ones(len(frame.data))
    cores = [_core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
             for _ in range(count)]  # fmt: skip
    return design, cores


def _check_threads_agree(data: pd.DataFrame, formula: str, thetas) -> None:
    """Two threads and one thread, by the blocked factorization (its Schur complement dense and
    sparse) and by the supernodal factorization, give the simplicial factorization's criterion, β
    and b at each θ."""
    names = ["blocked", "blocked", "blocked-sparse", "blocked-sparse", "supernodal", "supernodal", "simplicial"]
    _, cores = _cores(data, formula, len(names))
    for core, name, threads in zip(cores, names, [2, 1, 2, 1, 2, 1, 1]):
        core.threads = threads
        core._force_factorization(name)
    general = cores[-1]
    for theta in thetas:
        expected = general.objective(np.asarray(theta, dtype=float), True)
        for core in cores[:-1]:
            assert core.objective(np.asarray(theta, dtype=float), True) == pytest.approx(expected, rel=1e-12)
            np.testing.assert_allclose(core.b, general.b, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(core.beta, general.beta, rtol=1e-9)
    assert [c.factorization for c in cores] == names


def _crossed_data(rng, n: int, levels1: int, levels2: int) -> pd.DataFrame:
    data = pd.DataFrame({"g1": rng.integers(levels1, size=n).astype(str), "g2": rng.integers(levels2, size=n).astype(str)})
    data["x"] = rng.normal(size=n)
    data["y"] = rng.normal(size=n) + data["x"]
    return data


def test_threaded_schur_complement_matches_one_thread_and_the_general_factorization():
    """A Schur complement of 500 columns: its update and its blocked dense Cholesky are split
    over threads (from 256 columns), for a scalar first term and for one with a slope."""
    rng = np.random.default_rng(4)
    data = _crossed_data(rng, 4000, 700, 500)
    _check_threads_agree(data, "y ~ x + (1 | g1) + (1 | g2)", np.abs(rng.normal(size=(3, 2))) + 0.2)
    _check_threads_agree(data, "y ~ x + (x | g1) + (1 | g2)", np.abs(rng.normal(size=(3, 4))) + 0.2)


def test_dense_schur_update_on_a_fully_crossed_design():
    """Subjects × items, every pair observed, slopes on both: each subject meets all of S (260
    columns), so S −= L21 L21' is a dense product (split over two threads from 256 columns);
    it equals one thread's and the general factorization's. A sparsely crossed design keeps the
    scattered update."""
    rng = np.random.default_rng(12)
    subj, item = np.meshgrid(np.arange(200), np.arange(130), indexing="ij")
    data = pd.DataFrame({"g1": subj.ravel().astype(str), "g2": item.ravel().astype(str)})
    data["x"] = rng.choice([-0.5, 0.5], size=len(data))
    data["y"] = rng.normal(size=len(data)) + data["x"]
    formula = "y ~ x + (x | g1) + (x | g2)"
    _check_threads_agree(data, formula, [[0.9, 0.1, 0.4, 0.7, -0.2, 0.5], [1.4, -0.3, 0.2, 0.3, 0.1, 0.8]])
    for data, formula, dense in ((data, formula, True), (_crossed_data(rng, 4000, 700, 500), "y ~ x + (1 | g1) + (1 | g2)", False)):
        model = mixedfit.LinearMixedModel(formula, data, n_threads=2)  # the choice weighs the threads
        model.objective_at(model.design.theta0)  # the factorization is chosen at the first θ
        assert model._core.factorization == "blocked" and model._core.factorization_costs["dense_update"] == dense


def test_supernodal_factor_on_partially_and_sparsely_crossed_designs():
    """The supernodal factor (relaxed supernodes, left-looking updates, dense kernels) equals the
    simplicial and the blocked one on a star-like design (thousands of one-column supernodes and
    merged ones with explicit zeros) and on three sparsely crossed factors, whose large
    supernodes' updates and diagonal blocks are split over two threads."""
    rng = np.random.default_rng(14)
    _check_threads_agree(_star_like(rng), "y ~ 1 + (1 | id) + (1 | tch) + (1 | sch)", [[0.9, 0.6, 0.3], [1.4, 0.2, 1.1]])
    n = 6000
    data = pd.DataFrame({name: rng.integers(levels, size=n).astype(str) for name, levels in (("g1", 2000), ("g2", 300), ("g3", 300))})
    data["y"] = rng.normal(size=n)
    _check_threads_agree(data, "y ~ 1 + (1 | g1) + (1 | g2) + (1 | g3)", [[0.5, 0.7, 0.9], [1.2, 0.3, 0.6]])


def test_threaded_work_per_level_matches_one_thread():
    """Enough levels and observations (10⁵) for the first term's factorization and solves, A's
    update and the linear predictor to be split over threads."""
    data = _crossed_data(np.random.default_rng(6), 110_000, 20_000, 300)
    _check_threads_agree(data, "y ~ x + (x | g1) + (1 | g2)", [[0.8, -0.2, 0.5, 0.6], [1.3, 0.4, 0.2, 0.9]])


@pytest.mark.parametrize("family", ["beta", "tweedie"])
def test_own_density_passes_on_threads_match_one_thread(family):
    """A family with its own log-density (special functions per observation) runs PIRLS's and
    the Laplace gradient's passes over the observations on the core's threads in blocks whose sums
    are added in order: the objective and its gradient are the same bit for bit, and so is the
    search's path (the Hessian's rows, spread over copies of the core that start PIRLS from their
    own modes, agree to rounding)."""
    rng = np.random.default_rng(8)
    site = np.repeat(np.arange(300), 12)
    x = rng.normal(size=len(site))
    eta = 0.2 + 0.4 * x + rng.normal(0, 0.5, 300)[site]
    if family == "beta":
        y = rng.beta(8 / (1 + np.exp(-eta)), 8 / (1 + np.exp(eta)))
        point = np.array([0.5, 0.1, 0.4, np.log(6.0)])
    else:
        jumps = rng.poisson(np.exp(eta) ** 0.6 / 0.72)
        y = np.where(jumps > 0, rng.gamma(np.maximum(jumps, 1) * 1.5, 0.48 * np.exp(eta) ** 0.4), 0.0)
        point = np.array([0.5, 0.1, 0.4, np.log(1.1), 0.3])
    data = pd.DataFrame({"site": site.astype(str), "x": x, "y": y})
    fits = {}
    for threads in (1, 2):
        m = mixedfit.GeneralizedLinearMixedModel("y ~ x + (1 | site)", data, family=family, n_threads=threads)
        value, gradient = m._objective_gradient_of(point)
        fits[threads] = (value, gradient, m.fit().loglik, m.optsum.feval)
    assert fits[1][0] == fits[2][0] and np.array_equal(fits[1][1], fits[2][1])
    assert fits[1][2] == pytest.approx(fits[2][2], rel=1e-14) and fits[1][3] == fits[2][3]


def test_worker_pool_under_repeated_and_concurrent_calls():
    """Hundreds of PIRLS evaluations, each a few dozen short parallel sections handed to the
    core's worker pool, from two Python threads at once (a job claimed out by its caller while a
    worker looked at it once crashed the pool within a few hundred of them): every deviance equals
    one thread's."""
    rng = np.random.default_rng(3)
    subject, item = np.meshgrid(np.arange(600), np.arange(60), indexing="ij")
    data = pd.DataFrame({"s": subject.ravel().astype(str), "i": item.ravel().astype(str)})
    data["x"] = rng.normal(size=len(data))
    data["k"] = rng.poisson(np.exp(0.3 + 0.2 * data["x"] + 0.5 * rng.normal(size=600)[subject.ravel()]))
    models = [mixedfit.GeneralizedLinearMixedModel("k ~ x + (1 | s) + (1 | i)", data, family="poisson") for _ in range(3)]
    thetas = np.abs(rng.normal(size=(400, 2))) + 0.2
    beta = np.array([0.3, 0.2])

    def deviances(model, threads: int) -> list[float]:
        model._core.threads = threads
        return [model._core.objective(theta, beta, model._gh_z, model._gh_w) for theta in thetas]

    expected = deviances(models[0], 1)
    found: dict[int, list[float]] = {}
    workers = [threading.Thread(target=lambda k=k: found.__setitem__(k, deviances(models[k], 2))) for k in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for k in (1, 2):
        np.testing.assert_allclose(found[k], expected, rtol=1e-10)


def test_nested_terms_after_the_first_are_factored_sparse():
    """Classes in schools in regions: after the classes, the Schur complement of schools and
    regions is a diagonal plus one coupling per school, which the blocked factorization factors
    sparse (a dense one of 160 columns would be wasted); crossed terms keep the dense one."""
    rng = np.random.default_rng(5)
    n = 3000
    school = rng.integers(120, size=n)
    data = pd.DataFrame({"cls": (school * 5 + rng.integers(5, size=n)).astype(str), "school": school.astype(str)})
    data["region"] = (school // 3).astype(str)
    data["cross"] = rng.integers(120, size=n).astype(str)
    data["y"] = rng.normal(size=n)
    w = np.ones(n)
    for formula, expected in [
        ("y ~ 1 + (1 | cls) + (1 | school) + (1 | region)", "blocked-sparse"),
        ("y ~ 1 + (1 | cls) + (1 | cross)", "blocked"),
    ]:
        parsed = parse_formula(formula)
        frame = model_frame(parsed, data, {"y"})
        design = build_design(parsed, frame, True)
        y = frame.data["y"].to_numpy()
        core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
        theta = np.full(len(design.theta0), 0.7)
        assert core.objective(theta, True) == pytest.approx(_dense_criterion(design, y, w, theta, True), rel=1e-10)
        assert core.factorization == expected


def test_wide_terms_are_updated_in_place():
    """A 9-column term: A = Λ'Z'ZΛ + I updated in its pattern matches the dense criterion at new θs."""
    rng = np.random.default_rng(3)
    n = 600
    data = pd.DataFrame({"f": [f"l{k}" for k in rng.integers(9, size=n)], "g": rng.integers(30, size=n).astype(str)})
    data["y"] = rng.normal(size=n)
    parsed = parse_formula("y ~ 1 + (0 + f | g)")
    frame = model_frame(parsed, data, {"y"})
    design = build_design(parsed, frame, True)
    assert design.terms[0].p == 9
    y, w = frame.data["y"].to_numpy(), np.ones(n)
    core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
    for theta in (design.theta0 * 0.5, design.theta0 + rng.normal(scale=0.3, size=len(design.theta0))):
        assert core.objective(theta, False) == pytest.approx(_dense_criterion(design, y, w, theta, False), rel=1e-10)
    assert core.A_in_place


def test_a_pattern_without_level_blocks_takes_the_sparse_products():
    """A Zt given straight to the core need not have a grouping factor's structure: here one
    subject's slope row is structurally empty, so Z'Z lacks that diagonal entry and A is formed by
    sparse products (with I added into the pattern), which must still give the exact criterion."""
    design, y = _design("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    Zt = design.Zt.tolil()
    Zt[1, :] = 0  # subject 1's slope row
    Zt = Zt.tocsc()
    Zt.eliminate_zeros()
    Zt.indices, Zt.indptr = Zt.indices.astype(np.int32), Zt.indptr.astype(np.int32)
    design = dataclasses.replace(design, Zt=Zt)
    w = np.ones(len(y))
    core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
    for theta in (np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.2, 0.3])):
        assert core.objective(theta, True) == pytest.approx(_dense_criterion(design, y, w, theta, True), rel=1e-10)
    assert not core.A_in_place


def test_inputs_are_not_copied():
    design, y = _design("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    w = np.ones(len(y))
    core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
    addresses = core._input_addresses()
    assert addresses["X"] == design.fixed.X.ctypes.data
    assert addresses["Zt"] == design.Zt.data.ctypes.data
    assert addresses["y"] == y.ctypes.data


def test_core_refuses_arrays_it_would_have_to_copy():
    design, y = _design("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    w = np.ones(len(y))
    args = [design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w]
    with pytest.raises(TypeError, match="Fortran"):
        _core.LinearMixedModel(np.ascontiguousarray(design.fixed.X), *args[1:])
    with pytest.raises(TypeError, match="dtype"):
        _core.LinearMixedModel(*args[:5], y.astype(np.float32), w)
    with pytest.raises(TypeError, match="dtype"):
        _core.LinearMixedModel(*args[:3], design.Lind.astype(np.int64), *args[4:])
    with pytest.raises(TypeError, match="CSC"):
        _core.LinearMixedModel(args[0], sp.csr_matrix(design.Zt), *args[2:])
    core = _core.LinearMixedModel(*args)
    with pytest.raises(TypeError):
        core.objective([1.0, 0.0, 1.0], True)  # a list would need a conversion


def test_size_and_numerical_errors_map_to_python_exceptions():
    design, y = _design("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    w = np.ones(len(y))
    with pytest.raises(ValueError, match="one entry per row"):
        _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y[:-1].copy(), w)
    core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
    with pytest.raises(ValueError, match="theta has the wrong length"):
        core.objective(np.ones(2), True)
    flat = np.zeros(len(y))  # a response the model fits exactly: σ cannot be estimated
    exact = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, flat, w)
    with pytest.raises(mixedfit.NumericalError, match="not positive"):
        exact.objective(np.array([1.0, 0.0, 1.0]), True)


def test_instruction_set_builds_agree():
    """The x86-64-v3 build (chosen at import where the CPU allows) matches the baseline build."""
    import importlib

    baseline = importlib.import_module("mixedfit._core")
    supported = baseline.cpu_supports_x86_64_v3()
    try:
        fast = importlib.import_module("mixedfit._core_x86_64_v3")
    except ModuleNotFoundError:
        assert _core is baseline  # no other build on this platform
        return
    assert (_core is fast) == supported
    if not supported:
        return
    design, y = _design("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    w = np.ones(len(y))
    args = (design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, w)
    theta = np.array([0.9, -0.1, 0.3])
    assert fast.LinearMixedModel(*args).objective(theta, True) == pytest.approx(
        baseline.LinearMixedModel(*args).objective(theta, True), rel=1e-12
    )


def _star_like(rng, n_students: int = 3000, n_teachers: int = 400, n_schools: int = 40) -> pd.DataFrame:
    """Students seen by several teachers of their school (mlmRev's star design): teachers are
    nested in schools, students partially crossed with teachers."""
    n = int(2.3 * n_students)
    student = rng.integers(n_students, size=n)
    school = rng.integers(n_schools, size=n_students)[student]
    teacher = school * (n_teachers // n_schools) + rng.integers(n_teachers // n_schools, size=n)
    data = pd.DataFrame({"id": student.astype(str), "tch": teacher.astype(str), "sch": school.astype(str)})
    data["y"] = rng.normal(size=n)
    return data


# Each factorization's predicted seconds in factorization_costs.
_PREDICTED = {"blocked": "blocked_seconds", "blocked-sparse": "blocked_sparse_seconds", "simplicial": "sparse_seconds",
              "supernodal": "sparse_seconds"}  # fmt: skip


@pytest.mark.parametrize(
    "name,formula,expected",
    [
        ("partially crossed", "y ~ 1 + (1 | id) + (1 | tch) + (1 | sch)", "blocked-sparse"),
        ("partially crossed, large schools", "y ~ 1 + (1 | id) + (1 | tch) + (1 | sch)", "blocked-sparse"),
        ("fully crossed", "y ~ x + (1 | g1) + (1 | g2)", "blocked"),
        ("nested", "y ~ 1 + (1 | cls) + (1 | school) + (1 | region)", "blocked-sparse"),
        ("sparsely crossed, slopes on the second", "y ~ x + (1 | g1) + (x | g2)", "supernodal"),
    ],
)
def test_the_factorization_is_chosen_by_cost(name, formula, expected):
    """Each design gets the factorization whose predicted work is smallest, and its criterion
    equals another's to 1e-10. A partially crossed or nested design's Schur complement stays
    sparse (10⁸ dense flops against 10⁵); with 200 teachers per school it has dense school blocks,
    factored supernodal (40 multiply-adds per nonzero or more); a fully crossed one fills in and is
    factored dense; sparsely crossed factors with slopes on the second fill in less when all of A
    is ordered at once (55 ms per evaluation supernodal, 120 blocked with a sparse Schur
    complement, 250 with a dense one, measured)."""
    rng = np.random.default_rng(8)
    if name == "partially crossed":
        data = _star_like(rng)
    elif name == "partially crossed, large schools":
        data = _star_like(rng, 4000, 800, 4)
    elif name == "fully crossed":
        data = _crossed_data(rng, 4000, 700, 500)
    elif name == "nested":
        school = rng.integers(120, size=3000)
        data = pd.DataFrame({"cls": (school * 5 + rng.integers(5, size=3000)).astype(str), "school": school.astype(str)})
        data["region"], data["y"] = (school // 3).astype(str), rng.normal(size=3000)
    else:
        data = _crossed_data(rng, 12000, 3000, 2000)
    design, (chosen, other) = _cores(data, formula, 2)
    other._force_factorization("blocked-sparse" if expected in ("simplicial", "supernodal") else "simplicial")
    for theta in (np.full(len(design.theta0), 0.7), np.linspace(0.3, 1.5, len(design.theta0))):
        assert chosen.objective(theta, True) == pytest.approx(other.objective(theta, True), rel=1e-10)
        np.testing.assert_allclose(chosen.b, other.b, rtol=1e-8, atol=1e-10)
    assert chosen.factorization == expected
    costs = chosen.factorization_costs
    assert costs[_PREDICTED[expected]] == min(costs[key] for key in _PREDICTED.values())
    if expected == "supernodal":
        assert costs["sparse_flops"] >= 40 * costs["sparse_nonzeros"]
    if expected == "blocked-sparse":
        large_blocks = costs["schur_factor_flops"] >= 40 * costs["schur_factor_nonzeros"]
        assert large_blocks == (name == "partially crossed, large schools")
    if name.startswith("partially crossed"):
        # the grouped factorization was weighed on S's pattern (10–11 groups of students) and turned
        # down; the sparse Schur complement's analysis took that pattern
        assert costs["grouped_work"] > 0.5 * costs["grouped_replaced"] > 0


@pytest.mark.parametrize(
    "data_args,forced,expected",
    [
        ((3000, 400, 40), None, "blocked-sparse"),
        ((4000, 800, 4), None, "blocked-sparse"),  # its Schur complement's factor supernodal
        ((3000, 400, 40), "simplicial", "simplicial"),
        ((4000, 800, 4), "supernodal", "supernodal"),
        (None, None, "blocked"),
    ],
)
def test_a_copy_of_a_core_gives_its_criterion(data_args, forced, expected):
    """The convergence check's extra cores and refit replicas are copies of the fitted core
    (cross-products, factorization choice and ordering copied; the numeric factor built at their
    first evaluation): the same criterion and b to the last bit, also once the original is gone;
    a copy made before any evaluation chooses for itself, as its original does."""
    rng = np.random.default_rng(8)
    data = _star_like(rng, *data_args) if data_args else _crossed_data(rng, 4000, 700, 500)
    formula = "y ~ 1 + (1 | id) + (1 | tch) + (1 | sch)" if data_args else "y ~ x + (1 | g1) + (1 | g2)"
    design, (own,) = _cores(data, formula, 1)
    if forced:
        own._force_factorization(forced)
    theta = np.linspace(0.3, 1.5, len(design.theta0))
    unevaluated = own._copy()
    own.objective(np.full(len(theta), 0.7), True)
    copy = own._copy()
    expected_value, expected_b = own.objective(theta, True), own.b
    del own
    for core in (copy, unevaluated):
        assert core.objective(theta, True) == expected_value
        np.testing.assert_array_equal(core.b, expected_b)
        assert core.factorization == expected


def test_the_choice_is_recorded_in_optsum():
    data = _star_like(np.random.default_rng(9))
    rng = np.random.default_rng(10)
    for column, sd in (("id", 1.0), ("tch", 0.7), ("sch", 0.5)):  # effects, so that the fit is not singular
        codes = data[column].astype(int).to_numpy()
        data["y"] += sd * rng.normal(size=codes.max() + 1)[codes]
    model = mixedfit.lmer("y ~ 1 + (1 | id) + (1 | tch) + (1 | sch)", data)
    assert model.optsum.factorization == "blocked-sparse"
    assert model.optsum.factorization_costs["dense_flops"] > 100 * model.optsum.factorization_costs["schur_factor_flops"]
    assert "factorization blocked-sparse" in str(model.optsum)
    crossed = mixedfit.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mixedfit.datasets.load("Penicillin"))
    assert crossed.optsum.factorization == "grouped" and crossed.optsum.factorization_costs["grouped_groups"] == 1
    assert "factorization grouped (1 groups" in str(crossed.optsum)


def _star_like_sized(rng, n_students: int = 3000, n_teachers: int = 300, n_schools: int = 30) -> pd.DataFrame:
    """As _star_like, each student with 1 to 4 observations (star's students: 1 to 4 years), with
    fixed effects (a factor and a covariate)."""
    sizes = rng.integers(1, 5, size=n_students)
    student = np.repeat(np.arange(n_students), sizes)
    school = rng.integers(n_schools, size=n_students)[student]
    teacher = school * (n_teachers // n_schools) + rng.integers(n_teachers // n_schools, size=len(student))
    data = pd.DataFrame({"id": student.astype(str), "tch": teacher.astype(str), "sch": school.astype(str)})
    data["grade"] = rng.choice(["K", "1", "2", "3"], size=len(student))
    data["x"] = rng.normal(size=len(student))
    data["y"] = rng.normal(size=n_students)[student] + 0.5 * rng.normal(size=n_teachers)[teacher] + rng.normal(size=len(student))
    return data


@pytest.mark.parametrize(
    "formula,dataset",
    [
        ("y ~ grade + x + (1 | id) + (1 | tch) + (1 | sch)", None),
        ("y ~ 0 + (1 | id) + (1 | tch) + (1 | sch)", None),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
        ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
    ],
)
def test_grouped_factorization_equals_the_general_one(formula, dataset):
    """The grouped factorization (scalar terms, the first term's levels summed by their diagonal
    of Z'WZ) gives the simplicial factorization's criterion, log det, RX, β, u and b at each θ
    (one on the boundary), after a new response, and under weights that split the groups; a copy
    gives its criterion to the last bit. On the star-like design the cost model takes it (4 groups
    of students against 10⁴ pairs)."""
    if dataset is None:
        data = _star_like_sized(np.random.default_rng(12))
        parsed = parse_formula(formula)
        frame = model_frame(parsed, data, {"y"})
        design, y = build_design(parsed, frame, True), frame.data["y"].to_numpy(float)
    else:
        design, y = _design(formula, dataset)
    args = (design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes)
    rng = np.random.default_rng(13)
    w = np.ones(len(y))
    grouped, general = (_core.LinearMixedModel(*args, y, w) for _ in range(2))
    grouped._force_factorization("grouped")
    general._force_factorization("simplicial")
    k = len(design.theta0)
    thetas = [np.full(k, 0.7), np.linspace(1.5, 0.3, k), np.r_[0.0, np.full(k - 1, 0.8)]]

    def agree():
        for theta in thetas:
            assert grouped.objective(theta, True) == pytest.approx(general.objective(theta, True), rel=1e-10)
            assert grouped.objective(theta, False) == pytest.approx(general.objective(theta, False), rel=1e-10)
            assert grouped.ldL2 == pytest.approx(general.ldL2, rel=1e-10)
            assert grouped.pwrss == pytest.approx(general.pwrss, rel=1e-9)
            np.testing.assert_allclose(grouped.RX, general.RX, rtol=1e-9, atol=1e-9 * np.abs(general.RX).max(initial=1))
            np.testing.assert_allclose(grouped.beta, general.beta, rtol=1e-8, atol=1e-10)
            scale = np.abs(general.u).max()
            np.testing.assert_allclose(grouped.u, general.u, rtol=1e-8, atol=1e-10 * scale)
            np.testing.assert_allclose(grouped.b, general.b, rtol=1e-8, atol=1e-10 * scale)
            assert grouped.pwrss_rowwise() == pytest.approx(grouped.pwrss, rel=1e-8)

    agree()
    assert grouped.factorization == "grouped"
    new_y = y + rng.normal(size=len(y))
    for core in (grouped, general):
        core.set_response(new_y)
    agree()
    weights = rng.choice([0.5, 1.0, 2.0], size=len(y))
    for core in (grouped, general):
        core.set_weights(weights)
    agree()
    grouped.objective(thetas[0], True)
    copy = grouped._copy()  # u still to be solved at the copy: the copy has the solved one
    np.testing.assert_array_equal(copy.u, grouped.u)
    assert copy.objective(thetas[1], True) == grouped.objective(thetas[1], True)
    np.testing.assert_array_equal(copy.b, grouped.b)
    if dataset is None:
        chosen = _core.LinearMixedModel(*args, y, np.ones(len(y)))
        chosen.objective(thetas[0], True)
        costs = chosen.factorization_costs
        assert chosen.factorization == "grouped"
        assert costs["grouped_groups"] == 4 and costs["grouped_work"] <= 0.5 * costs["grouped_replaced"]
        # weights that give every student its own group: the factorizations are weighed again
        weights = rng.uniform(0.5, 2.0, size=len(y))
        chosen.set_weights(weights)
        reference = _core.LinearMixedModel(*args, y, weights)
        reference._force_factorization("simplicial")
        assert chosen.objective(thetas[1], True) == pytest.approx(reference.objective(thetas[1], True), rel=1e-10)
        assert chosen.factorization != "grouped" and chosen.factorization_costs["grouped_groups"] > 2000
        np.testing.assert_allclose(chosen.b, reference.b, rtol=1e-8, atol=1e-10 * np.abs(reference.b).max())


def test_grouped_factorization_refuses_what_it_cannot_serve():
    design, y = _design("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    core = _core.LinearMixedModel(design.fixed.X, design.Zt, design.Lambdat, design.Lind, design.term_shapes, y, np.ones(len(y)))
    core._force_factorization("grouped")
    with pytest.raises(ValueError, match="grouped factorization needs"):
        core.objective(np.array([1.0, 0.0, 1.0]), True)


def _expected_likelihood(family: str, y, n_trials, weights, mu) -> tuple[float, float]:
    """The deviance and R's family$aic at μ, term by term from scipy's log-pmfs."""
    from scipy import stats
    from scipy.special import xlogy

    if family == "binomial":
        deviance = 2 * weights * (xlogy(y, y / mu) + xlogy(1 - y, (1 - y) / (1 - mu)))
        m = np.round(n_trials if (n_trials > 1).any() else weights)
        keep = m > 0
        log_p = stats.binom.logpmf(np.round(m * y)[keep], m[keep], mu[keep])
        return deviance.sum(), -2 * np.sum(weights[keep] / m[keep] * log_p)
    deviance = 2 * weights * (xlogy(y, y / mu) - (y - mu))
    return deviance.sum(), -2 * np.sum(weights * stats.poisson.logpmf(y, mu))


@pytest.mark.parametrize(
    "family, formula, weights",
    [
        ("binomial", "incidence / size ~ period + (1 | herd)", "size"),  # proportions over trials
        ("binomial", "I(incidence > 0) ~ period + (1 | herd)", "repeats"),  # 0/1 with integer weights
        ("poisson", "incidence ~ period + (1 | herd)", None),
    ],
)
def test_likelihood_sums_match_the_log_pmfs(cbpp, family, formula, weights):
    # The deviance and −2 log L are sums with y's terms (y log y, log-gamma) precomputed once per
    # response; both must equal the distribution's own log-pmfs at the fitted μ.
    data = cbpp.assign(repeats=1 + np.arange(len(cbpp)) % 3)
    model = mixedfit.glmer(formula, data, family=family, weights=None if weights is None else data[weights])
    core = model._core
    y, mu = np.array(model._response), np.array(core.mu)
    expected = _expected_likelihood(family, y, np.array(model._glm.n_trials), np.array(model._glm.weights), mu)
    assert core.deviance() == pytest.approx(expected[0], rel=1e-12)
    assert core.aic() == pytest.approx(expected[1], rel=1e-12)
    assert np.sum(core.deviance_residuals()) == pytest.approx(expected[0], rel=1e-12)


def test_pirls_warm_start_keeps_b_and_not_the_answer():
    """At a new θ, PIRLS starts from the previous conditional modes on the data's scale (b = Λu
    kept, not u): the same Laplace deviance to PIRLS's tolerance as a cold start, in fewer
    iterations than a cold start (7 here) and than keeping u (measured: 5 and 6 iterations where
    keeping b takes 4 and 5); at θ on its boundary (Λ singular) u is kept instead."""
    data = mixedfit.datasets.load("grouseticks")
    model = mixedfit.glmer("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", data, family="poisson")
    fitted, theta = model._core, np.asarray(model._theta, dtype=float)
    beta = np.asarray(model._beta, dtype=float)
    gh_z, gh_w = model._gh_z, model._gh_w
    steps = {(1.1, 0.9, 1.05): 3, (1.5, 0.7, 1.3): 2, (0.0, 1.0, 1.0): 1}  # and iterations saved at least
    for step, saved in steps.items():
        moved = theta * np.array(step)
        cold = model._make_core()
        expected = cold.objective(moved, beta, gh_z, gh_w)
        cold_iterations = cold.pirls_iterations
        fitted.objective(theta, beta, gh_z, gh_w)
        assert fitted.objective(moved, beta, gh_z, gh_w) == pytest.approx(expected, rel=1e-9)
        assert fitted.pirls_iterations <= cold_iterations - saved
