"""
Proportions: a beta GLMM
========================

Simulated proportions strictly between 0 and 1 (cover fractions, say) at 30 sites over 8 years,
with a covariate: the beta family (glmmTMB's beta_family, logit link, precision φ estimated)
with crossed site and year effects. The observed distribution of the proportions is compared
with responses simulated from the fit.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import mixedfit
import numpy as np
from mixedfit.datasets import read_r_csv

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data = read_r_csv(here.parent.parent / "tests" / "data" / "beta_proportions.csv")
m = mixedfit.glmer("y ~ x + (1 | site) + (1 | year)", data, family="beta")
print(m.coef_table.round(3))
print(m.VarCorr)
print(f"precision φ = {m.fitted_family.theta:.2f} (SE {m.family_theta_stderr:.2f})")

# %%
# Observed proportions against 200 sets simulated from the fit (new site and year effects each
# time), and the fitted means against the observations.
simulated = m.simulate(nsim=200, seed=1).to_numpy()
bins = np.linspace(0, 1, 26)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.hist(data["y"], bins=bins, density=True, color="lightgray", label="observed")
left.hist(simulated.ravel(), bins=bins, density=True, histtype="step", color="steelblue", label="simulated")
left.set_xlabel("proportion")
left.legend()
right.scatter(m.fitted, data["y"], s=8, alpha=0.6)
right.plot([0, 1], [0, 1], color="black", linewidth=0.8)
right.set_xlabel("fitted mean")
right.set_ylabel("observed")
fig.tight_layout()
plt.show()
