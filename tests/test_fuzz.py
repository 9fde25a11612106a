"""Property-based fuzzing: random formulas over random (often degenerate) data either fit
cleanly or raise a clean mixedfit error. Never a crash, a hang or a foreign exception."""

from __future__ import annotations

import warnings

import mixedfit
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mixedfit import MixedFitError

FIXED = ["1", "x", "x + z", "0 + x", "f", "x * f", "x + I(2 * x)", "-1 + f"]
RANDOM = ["(1 | g)", "(x | g)", "(x || g)", "(0 + x | g)", "(1 | g/h)", "(1 | g:h)", "(1 | g) + (1 | h)", "(f | g)", "(1 | one)"]


@st.composite
def datasets(draw):
    n = draw(st.integers(0, 40))
    levels = draw(st.integers(1, 6))
    values = st.floats(-1e3, 1e3) | st.sampled_from([0.0, 1.0, np.nan])
    frame = pd.DataFrame(
        {
            "y": draw(st.lists(values, min_size=n, max_size=n)),
            "x": draw(st.lists(values, min_size=n, max_size=n)),
            "z": draw(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=n, max_size=n)),
            "f": draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)),
            "g": draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)),
            "h": draw(st.lists(st.sampled_from(["p", "q"]), min_size=n, max_size=n)),
            "one": ["only"] * n,
        }
    )
    counts = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    frame["k"] = counts
    frame["p"] = np.clip(np.array(counts, dtype=float) / 5, 0, 1)
    return frame


def _fits_or_raises_cleanly(fit) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular/convergence/rank warnings are fine here
        try:
            model = fit()
        except MixedFitError:
            return
        except (ValueError, TypeError) as exc:
            # Our own argument checks raise plain ValueError/TypeError with a message.
            assert str(exc), "errors must say what is wrong"
            return
    assert np.isfinite(model.objective)
    assert np.all(np.isfinite(model.fixef.to_numpy()))
    assert np.all(model.theta[model.design.lower == 0] >= 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets(), st.sampled_from(FIXED), st.sampled_from(RANDOM), st.booleans())
def test_lmer_on_random_data(data, fixed, random, REML):
    _fits_or_raises_cleanly(lambda: mixedfit.lmer(f"y ~ {fixed} + {random}", data, REML=REML))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    datasets(),
    st.sampled_from(FIXED),
    st.sampled_from(RANDOM),
    st.sampled_from([("binomial", "p", 0), ("binomial", "p", 1), ("poisson", "k", 1), ("poisson", "k", 3), ("Gamma", "k", 1)]),
)
def test_glmer_on_random_data(data, fixed, random, family_response_nagq):
    family, response, nAGQ = family_response_nagq
    _fits_or_raises_cleanly(lambda: mixedfit.glmer(f"{response} ~ {fixed} + {random}", data, family=family, nAGQ=nAGQ))


GROUP_KINDS = {
    "int": lambda codes: codes,
    "str": lambda codes: codes.astype(str),
    "category": lambda codes: pd.Categorical(codes.astype(str), categories=[str(k) for k in range(9)]),
    "float": lambda codes: codes.astype(float),
    "datetime": lambda codes: pd.Timestamp("2020-01-01") + pd.to_timedelta(codes, unit="D"),
}
CONTAINERS = {
    "pandas": lambda frame: frame,
    "dict": lambda frame: {name: frame[name].to_numpy() for name in frame.columns},
    "polars": lambda frame: __import__("polars").DataFrame(
        {name: frame[name].tolist() if frame[name].dtype.kind == "O" or isinstance(frame[name].dtype, pd.CategoricalDtype)
         else frame[name].to_numpy() for name in frame.columns}
    ),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    datasets(),
    st.sampled_from(FIXED),
    st.sampled_from(["(1 | g)", "(x | g)", "(1 | g) + (1 | h)", "(1 | g:h)", "(0 + x | g)"]),
    st.sampled_from(list(GROUP_KINDS)),
    st.sampled_from(list(CONTAINERS)),
    st.sampled_from(["lmer", "poisson"]),
)
def test_predictions_on_the_training_data_equal_the_fitted_values(data, fixed, random, group_kind, container, kind):
    """Whatever the grouping factor's kind and the new data's container, a fitted model either
    raised a mixedfit error or has finite estimates, and predicting its own rows gives its fitted
    values."""
    data = data.assign(g=GROUP_KINDS[group_kind](np.asarray(data["g"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind == "lmer":
                model = mixedfit.lmer(f"y ~ {fixed} + {random}", CONTAINERS[container](data))
            else:
                model = mixedfit.glmer(f"k ~ {fixed} + {random}", CONTAINERS[container](data), family="poisson")
        except (MixedFitError, ValueError, TypeError) as exc:
            assert str(exc)
            return
        # The fit's rows: those complete in every column it uses (the response too).
        rows = data[data[list(model.frame.kinds)].notna().all(axis=1).to_numpy()].reset_index(drop=True)
        predicted = model.predict(CONTAINERS[container](rows), type="response")
    assert np.all(np.isfinite(model.fixef.to_numpy())) and np.all(np.isfinite(model.theta))
    np.testing.assert_allclose(predicted, model.fitted, rtol=1e-9, atol=1e-9)
