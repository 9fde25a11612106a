"""
A linear mixed model: sleepstudy
================================

Reaction times over ten days of sleep deprivation, with a random intercept and slope per
subject (lme4's canonical example), its summary, and the diagnostic plots.
"""

import matplotlib.pyplot as plt
import mixedfit

data = mixedfit.datasets.load("sleepstudy")
m = mixedfit.lmer("Reaction ~ Days + (Days | Subject)", data)
print(m.summary())

# %%
# Each subject's conditional modes with ±1.96 conditional SDs (a caterpillar plot).
mixedfit.plotting.caterpillar(m)
plt.show()

# %%
# Residuals against fitted values, and their normal QQ plot.
mixedfit.plotting.residual_plot(m)
mixedfit.plotting.qq_plot(m)
plt.show()

# %%
# Observed and fitted values per subject.
mixedfit.plotting.fitted_by_group(m, "Subject")
plt.show()
