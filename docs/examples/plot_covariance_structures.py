"""
Structured covariances: longitudinal, genotype-by-environment and field-trial models
====================================================================================

Three relaxations of independence: glmmTMB's covariance structures for random-effects terms
(a longitudinal model, a factor-analytic G×E model) and a spatial residual correlation (a field
trial analysed with AR(1) ⊗ AR(1) residuals).

**Longitudinal**: 60 subjects measured twice at each of 4 times (tests/data/toeplitz_sim.csv.gz,
simulated with a Toeplitz covariance). The subjects' effects over time may be unstructured
(``us``, 10 parameters), compound symmetric (``cs``), autoregressive (``ar1``, 2 parameters) or
Toeplitz (``toep``, a correlation per lag); AIC and likelihood-ratio tests choose, and the
estimated correlation matrices are shown side by side.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import mixedfit
import numpy as np
import pandas as pd
from mixedfit.datasets import read_r_csv

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data = read_r_csv(here.parent.parent / "tests" / "data" / "toeplitz_sim.csv.gz")
structures = ["us", "cs", "ar1", "toep"]
fits = {s: mixedfit.lmer(f"y ~ x + time + {s}(0 + factor(time) | id)", data, REML=False) for s in structures}
print(pd.DataFrame({s: {"parameters": m.dof, "logLik": m.loglik, "AIC": m.aic} for s, m in fits.items()}).T.round(2))
print(mixedfit.anova(fits["ar1"], fits["toep"]).to_string())
print(fits["toep"].summary(ddf=None))

# %%
# The subjects' correlation over time as each structure estimates it.
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, (name, m) in zip(axes, fits.items()):
    G = m.G[:4, :4].toarray()
    sd = np.sqrt(np.diag(G))
    image = ax.imshow(G / np.outer(sd, sd), vmin=0, vmax=1, cmap="viridis")
    ax.set_title(f"{name} (AIC {m.aic:.1f})")
    ax.set_xticks(range(4), labels=range(1, 5))
    ax.set_yticks(range(4), labels=range(1, 5))
fig.colorbar(image, ax=axes, shrink=0.8, label="correlation")
plt.show()

# %%
# **Genotype by environment**: 120 genotypes in 6 environments with 2 replicates, simulated with
# two latent genotype factors. A reduced-rank (factor-analytic) term ``rr(0 + env | genotype,
# d = 2)`` estimates 6 × 2 loadings (11 parameters) instead of the unstructured 21; a
# likelihood-ratio test against one factor says whether the second is needed, and the
# environments' loadings show which environments rank genotypes alike.
rng = np.random.default_rng(7)
environments, genotypes = 6, 120
loadings = np.column_stack([np.linspace(1.5, 0.5, environments), np.array([0.8, 0.6, 0.0, -0.2, -0.6, -0.9])])
scores = rng.normal(size=(genotypes, 2))
genotype, env, _ = np.meshgrid(np.arange(genotypes), np.arange(environments), np.arange(2), indexing="ij")
genotype, env = genotype.ravel(), env.ravel()
effects = (scores @ loadings.T)[genotype, env]
gxe = pd.DataFrame({
    "genotype": [f"G{g:03d}" for g in genotype], "env": [f"E{e + 1}" for e in env],
    "yield_": 5 + 0.3 * env + effects + rng.normal(0, 0.7, len(env)),
})  # fmt: skip
one = mixedfit.lmer("yield_ ~ env + rr(0 + env | genotype, d = 1)", gxe, REML=False)
fa = mixedfit.lmer("yield_ ~ env + rr(0 + env | genotype, d = 2)", gxe, REML=False)
print(mixedfit.anova(one, fa).to_string())

Sigma = fa.G[:environments, :environments].toarray()  # the environments' genetic covariance
values, vectors = np.linalg.eigh(Sigma)
estimated = vectors[:, -2:] * np.sqrt(values[-2:])  # the loadings up to a rotation
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(estimated[:, 1], estimated[:, 0])
for k in range(environments):
    ax.annotate(f"E{k + 1}", (estimated[k, 1], estimated[k, 0]), textcoords="offset points", xytext=(4, 4))
ax.axhline(0, color="gray", linewidth=0.5)
ax.axvline(0, color="gray", linewidth=0.5)
ax.set_xlabel("first factor")
ax.set_ylabel("second factor")
ax.set_title("environments' loadings (rr, d = 2)")
fig.tight_layout()
plt.show()

# %%
# **A field trial**: 60 genotypes, each in 5 plots of a 30 × 10 field, with a smooth fertility
# trend across the field. The residuals' AR(1) ⊗ AR(1) correlation over rows and columns
# (``corAR1xAR1``) absorbs the trend; AIC compares it with independent residuals, and the
# residual map shows the trend the spatial model has taken up.
rows, cols = np.meshgrid(np.arange(1, 31), np.arange(1, 11), indexing="ij")
plots = pd.DataFrame({"row": rows.ravel(), "col": cols.ravel()})
plots["genotype"] = [f"G{g:02d}" for g in rng.permutation(np.repeat(np.arange(60), 5))]
trend = 1.5 * np.sin(plots["row"] / 5) + 0.8 * np.cos(plots["col"] / 3)
effects = pd.Series(rng.normal(0, 0.6, 60), index=[f"G{g:02d}" for g in range(60)])
plots["yield_"] = 8 + trend + effects[plots["genotype"]].to_numpy() + rng.normal(0, 0.5, len(plots))
independent = mixedfit.lmer("yield_ ~ 1 + (1 | genotype)", plots)
spatial = mixedfit.lmer("yield_ ~ 1 + (1 | genotype)", plots, correlation=mixedfit.corAR1xAR1("row", "col"))
print(f"AIC: independent {independent.aic:.1f}, AR(1) x AR(1) {spatial.aic:.1f}")
print(spatial.structure_confint().round(3))
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
image = left.imshow(spatial.residuals().reshape(30, 10).T, cmap="RdBu_r", aspect="auto", extent=(0.5, 30.5, 10.5, 0.5))
left.set_title("residuals of the spatial model (the trend)")
left.set_xlabel("row")
left.set_ylabel("column")
fig.colorbar(image, ax=left)
blups = pd.DataFrame({
    "independent": independent.ranef["genotype"]["(Intercept)"], "spatial": spatial.ranef["genotype"]["(Intercept)"]
})
blups["simulated"] = effects[blups.index]
for column, marker in (("independent", "o"), ("spatial", "s")):
    r = np.corrcoef(blups[column], blups["simulated"])[0, 1]
    right.scatter(blups["simulated"], blups[column], marker=marker, s=14, label=f"{column} (r = {r:.2f})")
right.set_xlabel("simulated genotype effect")
right.set_ylabel("predicted (BLUP)")
right.legend()
fig.tight_layout()
plt.show()
