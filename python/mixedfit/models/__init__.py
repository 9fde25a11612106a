"""The model classes (what LMMs and GLMMs share, lmer, glmer), the GLMM families, the optimizer
driver and the result tables."""
