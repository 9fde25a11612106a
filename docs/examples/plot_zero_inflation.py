"""
Zero-heavy counts: NB, zero-inflated and hurdle models compared
===============================================================

Salamander counts at 23 stream sites (glmmTMB's Salamanders; 59 % zeros), by species and mining.
A negative binomial, a zero-inflated Poisson, a zero-inflated NB and a hurdle NB (a zero model
for "any salamanders?" and a zero-truncated NB for "how many, given some") are compared by AIC,
and each one's expected frequencies of the counts against the observed ones (zeros first).
"""

from pathlib import Path

import matplotlib.pyplot as plt
import mixedfit
import numpy as np
from mixedfit.datasets import read_r_csv
from scipy import stats

# The data set ships with the tests (glmmTMB is AGPL-licensed: it is not in the wheel).
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
salamanders = read_r_csv(here.parent.parent / "tests" / "data" / "Salamanders.csv.gz")
formula = "count ~ spp + mined + (1 | site)"
fits = {
    "NB2": mixedfit.glmer(formula, salamanders, family="nbinom2"),
    "ZIP (~ spp)": mixedfit.glmer(formula, salamanders, family="poisson", ziformula="~ spp"),
    "ZINB2 (~ mined)": mixedfit.glmer(formula, salamanders, family="nbinom2", ziformula="~ mined"),
    "hurdle NB2 (~ spp + mined)": mixedfit.glmer(
        formula, salamanders, family="truncated_nbinom2", ziformula="~ spp + mined"
    ),
}
for name, m in fits.items():
    print(f"{name:20s} AIC {m.aic:8.1f}  df {m.dof}")


# %%
# Observed and expected frequencies of each count: Σᵢ P(yᵢ = k) at each fit's means (new random
# effects would spread them further; these are conditional on the sites' modes).
def probabilities(m, k):
    """P(y = k) per row: the count distribution mixed with the zero model's point mass."""
    pi = m.predict(type="zprob")
    family, mu = m.fitted_family, np.exp(m.predict())
    if family.name in ("poisson", "truncated_poisson"):
        counts = stats.poisson(mu)
    else:
        counts = stats.nbinom(family.theta, family.theta / (family.theta + mu))
    if family.zero_truncated:  # a hurdle: every zero is the zero model's, the counts are truncated
        return pi if k == 0 else (1 - pi) * counts.pmf(k) / counts.sf(0)
    return (1 - pi) * counts.pmf(k) + (pi if k == 0 else 0)


ks = np.arange(0, 13)
observed = np.array([np.sum(salamanders["count"] == k) for k in ks])
fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(ks, observed, color="lightgray", label="observed")
for (name, m), marker in zip(fits.items(), "osD^"):
    ax.plot(ks, [probabilities(m, k).sum() for k in ks], marker=marker, label=name)
ax.set_xlabel("count")
ax.set_ylabel("number of observations")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The hurdle model's two parts: the zero model's log-odds of "no salamanders", and the count
# model's coefficients given some.
hurdle = fits["hurdle NB2 (~ spp + mined)"]
print(hurdle.coef_table_zi.round(3))
print(hurdle.coef_table.round(3))
