"""
Residual variance and correlation
=================================

The sleepstudy model with a residual variance that changes with the day (nlme's varExp) and
AR(1) residuals within subject (corAR1), compared with the plain model; the normalized
residuals, which should look independent and homoscedastic.
"""

import matplotlib.pyplot as plt
import mixedfit

data = mixedfit.datasets.load("sleepstudy")
formula = "Reaction ~ Days + (Days | Subject)"
plain = mixedfit.lmer(formula, data, REML=False)
structured = mixedfit.lmer(
    formula, data, REML=False, variance=mixedfit.varExp("Days"), correlation=mixedfit.corAR1("Subject")
)
print(mixedfit.anova(plain, structured))
print(structured.structure_confint())

# %%
# Normalized residuals (nlme's) against the day.
fig, ax = plt.subplots()
ax.scatter(data["Days"], structured.residuals(type="normalized"), s=10)
ax.axhline(0, color="grey")
ax.set_xlabel("Days")
ax.set_ylabel("normalized residual")
plt.show()
