"""Inference after a fit: conditional variances, profile and Satterthwaite computations, the
likelihood-ratio test, finite-difference derivatives and lme4's convergence checks."""
