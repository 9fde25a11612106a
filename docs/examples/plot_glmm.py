"""
Generalized linear mixed models: binomial and negative binomial
===============================================================

cbpp's contagious bovine pleuropneumonia incidence per herd (binomial, as lme4's glmer), and the
tick counts of red grouse chicks (negative binomial with its shape estimated, as glmmTMB's
nbinom2), compared with a poisson fit by a likelihood-ratio test.
"""

import matplotlib.pyplot as plt
import mixedfit

cbpp = mixedfit.datasets.load("cbpp")
m = mixedfit.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
print(m.coef_table)

grouse = mixedfit.datasets.load("grouseticks")
formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)"
poisson = mixedfit.glmer(formula, grouse, family="poisson")
nb = mixedfit.glmer(formula, grouse, family="negative_binomial")
print(f"NB shape θ = {nb.fitted_family.theta:.3f} (SE {nb.family_theta_stderr:.3f})")
print(mixedfit.anova(poisson, nb))

# %%
# The broods' random effects against normal quantiles.
mixedfit.plotting.ranef_qq(nb)
plt.show()
