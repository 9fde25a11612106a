"""Nonlinear mixed-effects models (nlme's nlme): self-starting models, the mean function, the
parameters' design and the Lindstrom–Bates algorithm."""
