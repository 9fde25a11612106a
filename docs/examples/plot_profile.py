"""
Likelihood profiles
===================

Profile ζ of each parameter of a variance-components model (lme4's profile), and the intervals
they give.
"""

import matplotlib.pyplot as plt
import mixedfit

pastes = mixedfit.datasets.load("Pastes")
m = mixedfit.lmer("strength ~ 1 + (1 | batch/cask)", pastes)
print(m.confint())
mixedfit.plotting.profile_plot(m)
plt.show()
