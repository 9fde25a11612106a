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
