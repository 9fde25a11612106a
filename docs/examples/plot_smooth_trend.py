"""
A smooth trend with random effects (gamm4's model)
===================================================

mgcv's simulated four-term additive data with a random intercept for each of four groups
(gamSim(6), in tests/data): the response's trends in x0 and x2 are fitted as penalized
regression splines — ``s(x0, bs="cr")``, a cubic regression spline, and ``s(x2)``, a thin plate
regression spline — in an lmer formula, represented as gamm4 represents them (the unpenalized
part as fixed effects, the penalized part as an iid random effect whose variance the REML fit
chooses). ``m.smooths()`` is mgcv's table of effective degrees of freedom and tests.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import mixedfit
import numpy as np
from mixedfit.datasets import read_r_csv

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data = read_r_csv(here.parent.parent / "tests" / "data" / "gamsim6.csv")
m = mixedfit.lmer("y ~ s(x0, bs='cr') + s(x2) + (1 | fac)", data)
print(m.summary())
print(m.smooths())

# %%
# Each smooth with its ±2 standard-error band (the smooth alone, as mgcv's plot.gam draws it)
# and a rug of the data's values. The wiggly s(x2) uses ~7.7 of its 9 degrees of freedom;
# s(x0) is nearly a gentle curve.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
m.plot_smooth("x0", ax=axes[0])
m.plot_smooth("x2", ax=axes[1])
fig.tight_layout()

# %%
# Predictions for new x come from the same bases: the whole mean (fixed effects and smooths, no
# group effect) along x2 with x0 at its median.
grid = data.iloc[np.zeros(50, dtype=int)].reset_index(drop=True)
grid["x0"] = np.median(data["x0"])
grid["x2"] = np.linspace(data["x2"].min(), data["x2"].max(), 50)
plt.figure(figsize=(4.5, 3.4))
plt.plot(data["x2"], data["y"], ".", color="0.6", markersize=3)
plt.plot(grid["x2"], m.predict(grid, re_form="NA"), color="C1")
plt.xlabel("x2")
plt.ylabel("y")
plt.title("population-level prediction")
