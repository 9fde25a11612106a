"""Each diagnostic plot draws a figure that saves to a file; the caterpillar plot keeps a
readable height however many levels a factor has."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import mixedfit  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from mixedfit import plotting  # noqa: E402


@pytest.fixture(scope="module")
def lmm() -> mixedfit.LinearMixedModel:
    return mixedfit.lmer("Reaction ~ Days + (Days | Subject)", mixedfit.datasets.load("sleepstudy"))


@pytest.mark.parametrize(
    "draw,panels",
    [
        (plotting.caterpillar, 2),
        (plotting.residual_plot, 1),
        (plotting.qq_plot, 1),
        (plotting.ranef_qq, 2),
        (lambda m: plotting.profile_plot(m, parm=["Days", ".sigma"]), 2),
        (plotting.fitted_by_group, 12),
    ],
)
def test_plots_draw_and_save(lmm, tmp_path, draw, panels):
    figure = draw(lmm)
    assert len([ax for ax in figure.axes if ax.get_visible()]) == panels
    path = tmp_path / "plot.png"
    figure.savefig(path, dpi=50)
    assert path.stat().st_size > 2000
    matplotlib.pyplot.close(figure)


def test_caterpillar_shows_a_readable_number_of_levels():
    rng = np.random.default_rng(4)
    n = 3000
    data = pd.DataFrame({"g": rng.integers(0, 300, n).astype(str)})
    data["y"] = rng.normal(size=300)[data["g"].astype(int)] + rng.normal(size=n)
    model = mixedfit.lmer("y ~ 1 + (1 | g)", data)
    figure = plotting.caterpillar(model)
    assert len(figure.axes[0].get_yticklabels()) == plotting.MAX_CATERPILLAR_LEVELS
    assert figure.get_size_inches()[1] < 10
    assert "(40 of 300 levels)" in figure.axes[0].get_ylabel()
    chosen = plotting.caterpillar(model, levels=["3", "17", "200"])
    assert sorted(t.get_text() for t in chosen.axes[0].get_yticklabels()) == ["17", "200", "3"]
    with pytest.raises(ValueError, match="none of the levels"):
        plotting.caterpillar(model, levels=["nope"])


def test_fitted_by_group_says_what_it_leaves_out(lmm):
    figure = plotting.fitted_by_group(lmm)
    assert figure._suptitle.get_text() == "the first 12 of 18 levels of Subject"
    matplotlib.pyplot.close(figure)
    figure = plotting.fitted_by_group(lmm, max_panels=18)
    assert figure._suptitle is None
    matplotlib.pyplot.close(figure)


def test_profile_plot_draws_smooth_traces(lmm):
    """lme4's xyplot(profile(m)) draws a spline through the profile's points: a 200-point trace
    through each panel's points, passing through them."""
    figure = plotting.profile_plot(lmm, parm=["Days"])
    trace, points = figure.axes[0].lines[0], figure.axes[0].lines[1]
    assert len(trace.get_xdata()) == 200 and len(points.get_xdata()) >= 5
    np.testing.assert_allclose(trace.get_ydata()[[0, -1]], points.get_ydata()[[0, -1]], rtol=1e-12)
    matplotlib.pyplot.close(figure)


def test_glmm_plots(tmp_path):
    model = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mixedfit.datasets.load("cbpp"),
                           family="binomial")  # fmt: skip
    for figure in (plotting.qq_plot(model), plotting.residual_plot(model), plotting.profile_plot(model, parm=0)):
        figure.savefig(tmp_path / "glmm.png", dpi=40)
        assert (tmp_path / "glmm.png").stat().st_size > 1000
