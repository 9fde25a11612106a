"""Fronts with other libraries' APIs over mixedfit's core (``mixedfit.compat.statsmodels``)."""
