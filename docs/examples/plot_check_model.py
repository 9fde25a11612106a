"""
Checking a fit: check_model and the influence of each subject
=============================================================

performance::check_model's figure for sleepstudy with a random slope per subject and a factor
that splits the study in two (so that the collinearity panel has two terms to compare), then
lme4's deletion diagnostics: the fixed effects without each subject and their Cook's distances.
"""

import matplotlib.pyplot as plt
import mixedfit
import numpy as np

data = mixedfit.datasets.load("sleepstudy")
data["phase"] = np.where(data["Days"] >= 5, "late", "early")
m = mixedfit.lmer("Reaction ~ Days + phase + (Days | Subject)", data)
print(mixedfit.check_collinearity(m).round(2))
fig = mixedfit.check_model(m)
plt.show()

# %%
# Without each subject in turn (lme4's influence(m, groups = "Subject")): the subjects whose
# removal moves the fixed effects most, by Cook's distance.
influence = m.influence(groups="Subject")
distance = influence.cooks_distance().sort_values(ascending=False)
print(distance.head().round(3))
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(distance.index.astype(str), distance.to_numpy())
ax.set(xlabel="subject left out", ylabel="Cook's distance of the fixed effects")
ax.tick_params(axis="x", labelrotation=90)
plt.show()
