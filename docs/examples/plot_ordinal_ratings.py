"""
Ratings: a cumulative link mixed model
======================================

Bitterness of wine rated on a 1–5 scale by 9 judges, each tasting 8 wines made at two
temperatures with and without skin contact (ordinal's wine data). Ratings are ordered categories,
not numbers: a cumulative link mixed model puts a latent logistic variable behind them,
P(rating ≤ j) = logistic(c_j − η) with η = temperature and contact effects plus a judge effect, and
estimates the cut points c_j with them, as ordinal's ``clmm``.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import mixedfit
import numpy as np
from mixedfit.datasets import read_r_csv

# The data set ships with the tests (from R's ordinal package).
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
wine = read_r_csv(here.parent.parent / "tests" / "data" / "wine.csv")
wine["rating"] = wine["rating"].astype(int)

additive = mixedfit.clmm("rating ~ temp + contact + (1 | judge)", wine)
print(additive.summary())

# %%
# A temperature-by-contact interaction adds nothing (likelihood-ratio test, p = 0.81); the probit
# link, with as many parameters, fits slightly better than the logit by AIC (175.9 against 177.1).
interaction = mixedfit.clmm("rating ~ temp * contact + (1 | judge)", wine)
print(mixedfit.anova(additive, interaction))
probit = mixedfit.clmm("rating ~ temp + contact + (1 | judge)", wine, link="probit")
print(f"AIC logit {additive.aic:.2f}, probit {probit.aic:.2f}")

# %%
# Observed rating frequencies in each of the four conditions, against the model's: the class
# probabilities at each observation (its judge's mode included), summed within a condition.
predicted = additive.predict()
conditions = wine["temp"] + ", " + wine["contact"] + " contact"
fig, axes = plt.subplots(1, 4, figsize=(11, 3), sharey=True)
for ax, (condition, rows) in zip(axes, wine.groupby(conditions).indices.items()):
    observed = np.bincount(wine["rating"].to_numpy()[rows] - 1, minlength=5)
    ax.bar(np.arange(1, 6), observed, color="lightgray", label="observed")
    ax.plot(np.arange(1, 6), predicted.iloc[rows].sum().to_numpy(), "o-", label="clmm")
    ax.set_title(condition, fontsize=9)
    ax.set_xlabel("rating")
axes[0].set_ylabel("number of ratings")
axes[0].legend()
fig.tight_layout()

# %%
# The population-level probabilities (a typical judge, u = 0) of each rating per condition.
new = wine[["temp", "contact", "judge"]].drop_duplicates(["temp", "contact"]).reset_index(drop=True)
population = additive.predict(new, re_form="~0")
population.index = new["temp"] + ", " + new["contact"]
print(population.round(3))
