"""
Nonlinear growth and pharmacokinetics: nlme's Orange and Theoph
================================================================

Orange trees' trunk circumference against age follows a logistic curve whose asymptote varies
from tree to tree: ``SSlogis(age, Asym, xmid, scal)`` with a random ``Asym`` per tree, fitted by
maximum likelihood with Lindstrom and Bates' algorithm as nlme's ``nlme()``. The theophylline
concentrations of 12 subjects follow a first-order compartment model, ``SSfol``, with random
absorption rate and clearance (on the log scale) and a diagonal covariance (nlme's pdDiag).
"""

from pathlib import Path

import matplotlib.pyplot as plt
import mixedfit
import numpy as np
from mixedfit.datasets import read_r_csv

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data = here.parent.parent / "tests" / "data"
orange = read_r_csv(data / "Orange.csv")
m = mixedfit.nlme(
    "circumference ~ SSlogis(age, Asym, xmid, scal)", orange, fixed="Asym + xmid + scal ~ 1",
    random="Asym ~ 1 | Tree", start={"Asym": 170, "xmid": 700, "scal": 350},
)  # fmt: skip
print(m.summary())
print(m.coef())

# %%
# Each tree's fitted curve (its own asymptote) and the population curve (random effect 0).
ages = np.linspace(0, 1700, 200)
fig, ax = plt.subplots(figsize=(5.5, 4))
for k, (tree, rows) in enumerate(orange.groupby("Tree", observed=True)):
    grid = {"age": ages, "Tree": np.full(len(ages), tree)}
    ax.plot(rows["age"], rows["circumference"], "o", color=f"C{k}", markersize=4)
    ax.plot(ages, m.predict(grid, level=1), color=f"C{k}", linewidth=1, label=f"tree {tree}")
ax.plot(ages, m.predict({"age": ages}, level=0), color="black", linewidth=2, label="population")
ax.set_xlabel("age (days)")
ax.set_ylabel("circumference (mm)")
ax.legend(fontsize=8)

# %%
# Theophylline: observed and fitted concentration curves of four subjects.
theoph = read_r_csv(data / "Theoph.csv")
pk = mixedfit.nlme(
    "conc ~ SSfol(Dose, Time, lKe, lKa, lCl)", theoph, fixed="lKe + lKa + lCl ~ 1",
    random="lKa + lCl ~ 1 | Subject", covariance="diag",
)  # fmt: skip
print(pk.fixef)
fig, axes = plt.subplots(1, 4, figsize=(11, 3), sharey=True)
times = np.linspace(0, 25, 150)
for axis, (subject, rows) in zip(axes, list(theoph.groupby("Subject", observed=True))[:4]):
    grid = {"Time": times, "Dose": np.full(len(times), rows["Dose"].iloc[0]), "Subject": np.full(len(times), subject)}
    axis.plot(rows["Time"], rows["conc"], "o", markersize=4)
    axis.plot(times, pk.predict(grid, level=1))
    axis.set_title(f"subject {subject}")
    axis.set_xlabel("time (h)")
axes[0].set_ylabel("concentration (mg/L)")
fig.tight_layout()
