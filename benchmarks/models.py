"""The benchmark table: real data sets from ../shared/data and synthetic scaling series.

Each model is fitted end to end from a CSV file by both mixedfit and lme4, so both read the
same data. Synthetic data sets are generated once into benchmarks/.cache/.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
CACHE = HERE / ".cache"


@dataclass(frozen=True)
class Model:
    name: str
    data: str  # path of the CSV
    formula: str
    family: str | None = None  # None: lmer
    nAGQ: int = 1
    weights: str | None = None
    REML: bool = True
    rows: int = 0
    series: str = ""  # synthetic series name, for the scaling plot
    # Fits per side; the median is reported. Millisecond-sized fits vary by ±50% from one to the
    # next on a shared virtual machine, so they get many (a second or two of lme4's time each).
    reps: int = 30
    extra: dict = field(default_factory=dict)

    def spec(self) -> dict:
        return asdict(self)


def real_models() -> list[Model]:
    d = lambda name: str(SHARED / f"{name}.csv")  # noqa: E731
    return [
        Model("sleepstudy", d("sleepstudy"), "Reaction ~ Days + (Days | Subject)", rows=180),
        Model("Dyestuff", d("Dyestuff"), "Yield ~ 1 + (1 | Batch)", rows=30),
        Model("Penicillin", d("Penicillin"), "diameter ~ 1 + (1 | plate) + (1 | sample)", rows=144),
        Model("Pastes", d("Pastes"), "strength ~ 1 + (1 | batch/cask)", rows=60),
        Model("Chem97", d("Chem97"), "score ~ gcsecnt + (1 | school) + (1 | lea)", rows=31022, reps=10),
        Model("InstEval", d("InstEval"), "y ~ service + (1 | s) + (1 | d) + (1 | dept:service)", rows=73421, reps=3),
        Model("cbpp", d("cbpp"), "prop ~ period + (1 | herd)", family="binomial", weights="size", rows=56),
        Model(
            "grouseticks",
            d("grouseticks"),
            "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
            family="poisson",
            rows=403,
            reps=10,
        ),
        Model(
            "VerbAgg",
            d("VerbAgg"),
            "r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item)",
            family="binomial",
            rows=7584,
            reps=1,
        ),
    ]


def synthetic(n: int, levels1: int, levels2: int, seed: int = 20261125) -> Path:
    """y = 1 + x/2 + a[g1] + c[g1] x + b[g2] + ε with two crossed factors."""
    path = CACHE / f"synthetic_{n}_{levels1}_{levels2}.csv"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    g1 = rng.integers(levels1, size=n)
    g2 = rng.integers(levels2, size=n)
    x = rng.normal(size=n)
    a, c, b = rng.normal(0, 1.0, levels1), rng.normal(0, 0.3, levels1), rng.normal(0, 0.7, levels2)
    y = 1 + 0.5 * x + a[g1] + c[g1] * x + b[g2] + rng.normal(0, 1.0, n)
    frame = pd.DataFrame({"y": y, "x": x, "g1": [f"a{k}" for k in g1], "g2": [f"b{k}" for k in g2]})
    frame.to_csv(path, index=False, quoting=2)  # quote strings, as R's write.csv, so both read factors
    return path


SCALING = [(10_000, 1_000, 100), (100_000, 10_000, 1_000), (1_000_000, 100_000, 1_000)]


def synthetic_models() -> list[Model]:
    models = []
    for n, l1, l2 in SCALING:
        path = str(synthetic(n, l1, l2))
        reps = {10_000: 10, 100_000: 3}.get(n, 1)
        models.append(Model(f"crossed n={n:.0e}", path, "y ~ x + (1 | g1) + (1 | g2)", rows=n, series="intercepts", reps=reps))
        models.append(
            Model(f"crossed+slope n={n:.0e}", path, "y ~ x + (x | g1) + (1 | g2)", rows=n, series="with slope", reps=reps)
        )
    return models


def all_models() -> list[Model]:
    return real_models() + synthetic_models()


# The structure zoo (issue 12): structures users fit, real data where they exist (mlmRev's star,
# InstEval, VerbAgg), synthetic otherwise, each generated once into .cache with a fixed seed.


def _cached(name: str, make) -> str:
    path = CACHE / f"zoo_{name}.csv"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        make(np.random.default_rng(20261126)).to_csv(path, index=False, quoting=2)
    return str(path)


def _labels(prefix: str, codes: np.ndarray) -> list[str]:
    return [f"{prefix}{k}" for k in codes]


def _star() -> str:
    """mlmRev's star (students, teachers, schools: partially crossed), exported by R once."""
    path = CACHE / "zoo_star.csv"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        script = (
            "d <- mlmRev::star; d <- d[complete.cases(d[, c('math','gr','sx','eth','cltype','id','tch','sch')]), ];"
            "d <- data.frame(math = d$math, gr = as.character(d$gr), sx = as.character(d$sx), "
            "eth = as.character(d$eth), cltype = as.character(d$cltype), id = as.character(d$id), "
            f"tch = as.character(d$tch), sch = as.character(d$sch)); write.csv(d, '{path}', row.names = FALSE)"
        )
        import subprocess

        subprocess.run(["Rscript", "-e", script], check=True)
    return str(path)


def _star_like(rng: np.random.Generator, students: int = 25_000, schools: int = 125, per_school: int = 20) -> pd.DataFrame:
    """Students in schools (by default 25,000 in 125), 4 years each with a teacher drawn from
    their school's per_school."""
    years = 4
    school = rng.integers(schools, size=students)
    student = np.repeat(np.arange(students), years)
    teacher = school[student] * per_school + rng.integers(per_school, size=students * years)
    u, v, w = rng.normal(0, 1.0, students), rng.normal(0, 0.5, schools * per_school), rng.normal(0, 0.3, schools)
    x = rng.normal(size=len(student))
    y = 1 + 0.3 * x + u[student] + v[teacher] + w[school[student]] + rng.normal(0, 1, len(student))
    return pd.DataFrame({"y": y, "x": x, "id": _labels("s", student), "tch": _labels("t", teacher),
                         "sch": _labels("k", school[student])})  # fmt: skip


def _subjects_items(rng: np.random.Generator) -> pd.DataFrame:
    """400 subjects × 80 items, every pair once, correlated random slopes on both."""
    subj, item = np.meshgrid(np.arange(400), np.arange(80), indexing="ij")
    subj, item = subj.ravel(), item.ravel()
    x = rng.choice([-0.5, 0.5], size=len(subj))
    a = rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 0.5]], 400)
    b = rng.multivariate_normal([0, 0], [[0.6, -0.2], [-0.2, 0.3]], 80)
    y = 2 + 0.5 * x + a[subj, 0] + a[subj, 1] * x + b[item, 0] + b[item, 1] * x + rng.normal(0, 1, len(x))
    return pd.DataFrame({"y": y, "x": x, "subj": _labels("s", subj), "item": _labels("i", item)})


def _nested(rng: np.random.Generator) -> pd.DataFrame:
    """50,000 pupils in 2,500 classes in 500 schools in 50 districts."""
    n, classes, schools, districts = 50_000, 2_500, 500, 50
    cls = rng.integers(classes, size=n)
    school, district = cls // 5, cls // 50
    x = rng.normal(size=n)
    eta = 0.2 * x + rng.normal(0, 0.4, classes)[cls] + rng.normal(0, 0.5, schools)[school]
    eta += rng.normal(0, 0.3, districts)[district]
    return pd.DataFrame({
        "y": 1 + eta + rng.normal(0, 1, n), "x": x, "pass": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
        "class": _labels("c", cls % 5), "school": _labels("s", school), "district": _labels("d", district),
    })  # fmt: skip


def _longitudinal(rng: np.random.Generator) -> pd.DataFrame:
    """10,000 subjects measured 10 times, correlated random intercepts and slopes."""
    subjects, times = 10_000, 10
    subj = np.repeat(np.arange(subjects), times)
    time = np.tile(np.arange(times, dtype=float), subjects)
    a = rng.multivariate_normal([0, 0], [[1, 0.1], [0.1, 0.04]], subjects)
    y = 5 + 0.3 * time + a[subj, 0] + a[subj, 1] * time + rng.normal(0, 0.7, len(subj))
    return pd.DataFrame({"y": y, "time": time, "subj": _labels("p", subj)})


def _vector_term(rng: np.random.Generator) -> pd.DataFrame:
    """20,000 rows in 500 groups, a random intercept and four random slopes (one 5-column term)."""
    n, groups = 20_000, 500
    g = rng.integers(groups, size=n)
    X = rng.normal(size=(n, 4))
    L = np.tril(rng.normal(0, 0.3, (5, 5))) + np.diag([1.0, 0.5, 0.5, 0.4, 0.3])
    u = rng.normal(size=(groups, 5)) @ L.T
    y = 1 + X @ [0.5, -0.3, 0.2, 0.1] + u[g, 0] + np.sum(u[g, 1:] * X, axis=1) + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, **{f"x{k + 1}": X[:, k] for k in range(4)}, "g": _labels("g", g)})


def _small_then_large(rng: np.random.Generator) -> pd.DataFrame:
    """Two crossed factors, the first with 50 levels, the second with 5,000 (50,000 rows)."""
    n = 50_000
    small, large = rng.integers(50, size=n), rng.integers(5_000, size=n)
    x = rng.normal(size=n)
    y = x + rng.normal(0, 0.8, 50)[small] + rng.normal(0, 0.6, 5_000)[large] + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "x": x, "small": _labels("a", small), "large": _labels("b", large)})


def _classes_in_schools(rng: np.random.Generator) -> pd.DataFrame:
    """2,400 classes in 300 schools (24,000 pupils), seven covariates with random slopes by school."""
    n, classes, schools = 24_000, 2_400, 300
    cls = rng.integers(classes, size=n)
    school = cls // 8
    X = rng.normal(size=(n, 7))
    u = rng.normal(0, 0.3, (schools, 8))
    y = 1 + X.sum(axis=1) * 0.2 + u[school, 0] + np.sum(u[school, 1:] * X, axis=1)
    y += rng.normal(0, 0.5, classes)[cls] + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, **{f"x{k + 1}": X[:, k] for k in range(7)},
                         "class": _labels("c", cls), "school": _labels("s", school)})  # fmt: skip


def _counts_crossed(rng: np.random.Generator) -> pd.DataFrame:
    """Binary and count responses, 600 subjects × 60 items (36,000 rows), crossed intercepts."""
    subj, item = np.meshgrid(np.arange(600), np.arange(60), indexing="ij")
    subj, item = subj.ravel(), item.ravel()
    x = rng.normal(size=len(subj))
    eta = 0.3 * x + rng.normal(0, 0.8, 600)[subj] + rng.normal(0, 0.5, 60)[item]
    return pd.DataFrame({
        "r": (rng.random(len(x)) < 1 / (1 + np.exp(-eta))).astype(float), "k": rng.poisson(np.exp(0.5 + eta)),
        "x": x, "subj": _labels("s", subj), "item": _labels("i", item),
    })  # fmt: skip


def _sites_in_regions(rng: np.random.Generator) -> pd.DataFrame:
    """Counts at 2,000 sites in 40 regions, 25 visits each (50,000 rows)."""
    sites, regions, visits = 2_000, 40, 25
    site = np.repeat(np.arange(sites), visits)
    region = site // 50
    x = rng.normal(size=len(site))
    eta = 1 + 0.2 * x + rng.normal(0, 0.4, regions)[region] + rng.normal(0, 0.3, sites)[site]
    return pd.DataFrame({"k": rng.poisson(np.exp(eta)), "x": x, "region": _labels("r", region),
                         "site": _labels("s", site % 50)})  # fmt: skip


def _star_like_large_schools(rng: np.random.Generator) -> pd.DataFrame:
    """20,000 students in 10 schools of 200 teachers each: each school's teachers fill in together,
    the design whose sparse factor has dense blocks (the supernodal factorization's case)."""
    return _star_like(rng, students=20_000, schools=10, per_school=200)


def zoo_models() -> list[Model]:
    d = lambda name: str(SHARED / f"{name}.csv")  # noqa: E731
    return [
        Model("star (partially crossed)", _star(), "math ~ gr + sx + eth + cltype + (1 | id) + (1 | tch) + (1 | sch)",
              rows=24578, reps=10),
        Model("star-like 100k (partially crossed)", _cached("star_like", _star_like),
              "y ~ x + (1 | id) + (1 | tch) + (1 | sch)", rows=100_000, reps=5),
        Model("star-like, 200 teachers per school", _cached("star_like_large_schools", _star_like_large_schools),
              "y ~ x + (1 | id) + (1 | tch) + (1 | sch)", rows=80_000, reps=5),
        Model("subjects × items, slopes on both", _cached("subjects_items", _subjects_items),
              "y ~ x + (1 + x | subj) + (1 + x | item)", rows=32_000, reps=5),
        Model("nested 2 levels", _cached("nested", _nested), "y ~ x + (1 | school/class)", rows=50_000, reps=10),
        Model("nested 3 levels", _cached("nested", _nested), "y ~ x + (1 | district/school/class)", rows=50_000,
              reps=10),
        Model("longitudinal, 10⁴ subjects", _cached("longitudinal", _longitudinal), "y ~ time + (1 + time | subj)",
              rows=100_000, reps=5),
        Model("5-column vector term", _cached("vector_term", _vector_term),
              "y ~ x1 + x2 + x3 + x4 + (1 + x1 + x2 + x3 + x4 | g)", rows=20_000, reps=5),
        Model("second term larger (50 then 5,000)", _cached("small_then_large", _small_then_large),
              "y ~ x + (1 | small) + (1 | large)", rows=50_000, reps=10),
        Model("classes in schools, 8-column school term", _cached("classes_in_schools", _classes_in_schools),
              "y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + (1 | class) + (1 + x1 + x2 + x3 + x4 + x5 + x6 + x7 | school)",
              rows=24_000, reps=1),
        Model("InstEval", d("InstEval"), "y ~ service + (1 | s) + (1 | d) + (1 | dept:service)", rows=73421, reps=3),
        Model("binomial, crossed", _cached("counts_crossed", _counts_crossed), "r ~ x + (1 | subj) + (1 | item)",
              family="binomial", rows=36_000, reps=5),
        Model("binomial, nested", _cached("nested", _nested), "pass ~ x + (1 | school/class)", family="binomial",
              rows=50_000, reps=5),
        Model("poisson, crossed", _cached("counts_crossed", _counts_crossed), "k ~ x + (1 | subj) + (1 | item)",
              family="poisson", rows=36_000, reps=5),
        Model("poisson, sites nested in regions", _cached("sites_in_regions", _sites_in_regions),
              "k ~ x + (1 | region/site)", family="poisson", rows=50_000, reps=5),
        Model("VerbAgg (binomial, crossed)", d("VerbAgg"), "r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item)",
              family="binomial", rows=7584, reps=1),
    ]  # fmt: skip
