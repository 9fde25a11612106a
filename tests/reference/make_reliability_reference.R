# Reference values from lme4 for mixedfit's reliability tests: the cases where mixedfit used to
# crash, raise or answer wrongly. Each data set is derived from a bundled one by a rule that
# tests/test_reliability.py repeats in Python.
# Run from the repository root:  Rscript tests/reference/make_reliability_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")

summarise <- function(name, m, extra = list()) {
  c(list(name = name, class = class(m)[1], loglik = as.numeric(logLik(m)),
         objective = unname(if (isLMM(m) && isREML(m)) REMLcrit(m) else -2 * as.numeric(logLik(m))),
         theta = unname(getME(m, "theta")), beta = unname(fixef(m)), beta_names = names(fixef(m))), extra)
}

sleep <- read_data("sleepstudy")
cbpp <- read_data("cbpp")
grouse <- read_data("grouseticks")
cases <- list()

# glmer with the gaussian family and identity link is lmer (REML), with a warning.
m <- suppressWarnings(glmer(Reaction ~ Days + (Days | Subject), sleep, family = gaussian))
cases[[length(cases) + 1]] <- summarise("glmer_gaussian_identity", m)

# A column aliased within lme4's tolerance (1e-7) but not within numpy's default rank tolerance.
aliased <- transform(sleep, x2 = 2 * Days + 1 + 1e-9 * ((seq_len(nrow(sleep)) - 1) %% 7))
m <- suppressMessages(lmer(Reaction ~ Days + x2 + (1 | Subject), aliased))
cases[[length(cases) + 1]] <- summarise("aliased_within_1e-7", m)

# An unused level of a factor left of '|': lme4's model frame drops it (3 θ, not 6).
unused <- transform(sleep, f = factor(ifelse(Days < 5, "a", "b"), levels = c("a", "b", "c")))
m <- lmer(Reaction ~ Days + (0 + f | Subject), unused)
cases[[length(cases) + 1]] <- summarise("unused_level_in_random_term", m)

# Quasi-separation by a factor level whose responses are all zero (binomial and poisson).
separated <- transform(cbpp, f = c("a", "b", "c")[(seq_len(nrow(cbpp)) - 1) %% 3 + 1])
separated$incidence[separated$f == "c"] <- 0
m <- suppressWarnings(glmer(cbind(incidence, size - incidence) ~ f + (1 | herd), separated, family = binomial))
cases[[length(cases) + 1]] <- summarise("quasi_separation_binomial", m)
zeros <- transform(grouse, f = ifelse(TICKS == 0, "zero", "some"))
m <- suppressWarnings(glmer(TICKS ~ YEAR + f + (1 | LOCATION), zeros, family = poisson))
cases[[length(cases) + 1]] <- summarise("quasi_separation_poisson", m)

# Arithmetic on a small integer column (int8 in the Python test) is done in floating point.
m <- lmer(I(floor(Reaction / 10) * 100) ~ Days + (1 | Subject), sleep)
cases[[length(cases) + 1]] <- summarise("integer_arithmetic", m)

# Transforms and factor() in the formula.
m <- lmer(Reaction ~ scale(Days) + factor(Days > 4) + (1 | Subject), sleep)
cases[[length(cases) + 1]] <- summarise("transforms_and_factor", m)

# An ordered factor (R codes it with contr.poly: phase.L, phase.Q) and a power inside I().
phased <- transform(sleep, phase = factor(c("early", "mid", "late")[(Days >= 3) + (Days >= 6) + 1],
                                          levels = c("early", "mid", "late"), ordered = TRUE))
m <- lmer(Reaction ~ phase + I(Days^2) + (1 | Subject), phased)
cases[[length(cases) + 1]] <- summarise("ordered_factor_and_power", m)

# coef(): each level's coefficients (random plus fixed effects).
m <- lmer(Reaction ~ Days + (1 | Subject), sleep)
cases[[length(cases) + 1]] <- summarise("coef_random_intercept", m, list(
  coef_levels = rownames(coef(m)$Subject), coef_columns = colnames(coef(m)$Subject),
  coef = unname(as.matrix(coef(m)$Subject))))

# A constant GLMM response is an error in lme4 (check.response.not.const).
constant <- transform(cbpp, k = 0)
message <- tryCatch({ glmer(k ~ 1 + (1 | herd), constant, family = poisson); "" }, error = conditionMessage)
cases[[length(cases) + 1]] <- list(name = "constant_poisson_response", error = message)

write_reference(cases, "reliability_reference.json")
