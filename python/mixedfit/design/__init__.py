"""From a formula and data to the model's matrices: parsing lme4's formulas (and the restricted
mode's check), the model frame, the model matrices X, Zt and Λt's template, new data coded as
the fit's, and the array API's layout."""
