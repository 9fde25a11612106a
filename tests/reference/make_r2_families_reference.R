# Reference values for Nakagawa's R² and the ICC of GLMMs beyond the binomial: R's performance
# (r2_nakagawa, icc; 0.10.2 as Debian ships it) and insight::get_variance (0.19.0) on lme4 and
# glmmTMB fits of real data (grouseticks, Salamanders, sleepstudy) and the beta test data.
# Run from the repository root:
#   Rscript tests/reference/make_r2_families_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(glmmTMB)
  library(performance)
  library(insight)
})

grouse <- read_data("grouseticks")
sleep <- read_data("sleepstudy")
sal <- read.csv(gzfile("tests/data/Salamanders.csv.gz"), stringsAsFactors = TRUE)
beta_data <- read.csv(file.path("tests", "data", "beta_proportions.csv"), colClasses = c("factor", "factor", "numeric", "numeric"))

ctrl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
tmb <- glmmTMBControl(optCtrl = list(iter.max = 1e4, eval.max = 1e4))
models <- list(
  # (glmer stops 0.035 short of this model's optimum in log L, with a convergence warning; glmmTMB reaches it)
  list("grouse_poisson", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)", "poisson", "log",
       glmmTMB(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), grouse, family = poisson, control = tmb)),
  # an observation-level random effect: its variance is residual (dispersion), not random
  list("grouse_poisson_olre", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX)", "poisson", "log",
       glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX), grouse, family = poisson, control = ctrl)),
  list("grouse_poisson_sqrt", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "poisson", "sqrt",
       glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), grouse, family = poisson(link = "sqrt"), control = ctrl)),
  list("salamanders_nbinom2", "count ~ mined + cover + (1 | site)", "nbinom2", "log",
       glmmTMB(count ~ mined + cover + (1 | site), sal, family = nbinom2, control = tmb)),
  list("salamanders_nbinom1", "count ~ mined + cover + (1 | site)", "nbinom1", "log",
       glmmTMB(count ~ mined + cover + (1 | site), sal, family = nbinom1, control = tmb)),
  # (lme4's optimizers all stop short here with a convergence warning: bobyqa 4.7e-4 below
  # mixedfit's log L, Nelder-Mead 9e-5)
  list("sleep_gamma_log", "Reaction ~ Days + (1 | Subject)", "Gamma", "log",
       glmer(Reaction ~ Days + (1 | Subject), sleep, family = Gamma(link = "log"),
             control = glmerControl(optimizer = "Nelder_Mead", optCtrl = list(maxfun = 1e5)))),
  list("beta_logit", "y ~ x + (1 | site)", "beta", "logit",
       glmmTMB(y ~ x + (1 | site), beta_data, family = beta_family(), control = tmb))
)
cases <- lapply(models, function(x) {
  m <- x[[5]]
  v <- suppressWarnings(get_variance(m))
  r <- suppressWarnings(r2_nakagawa(m))
  i <- suppressWarnings(icc(m))
  list(name = x[[1]], formula = x[[2]], family = x[[3]], link = x[[4]],
       loglik = as.numeric(logLik(m)),
       var_fixed = v$var.fixed, var_random = v$var.random, var_residual = v$var.residual,
       var_distribution = v$var.distribution, var_dispersion = v$var.dispersion,
       r2_conditional = unname(r$R2_conditional), r2_marginal = unname(r$R2_marginal),
       icc_adjusted = i$ICC_adjusted, icc_unadjusted = i$ICC_unadjusted,
       performance = as.character(packageVersion("performance")), insight = as.character(packageVersion("insight")),
       glmmTMB = as.character(packageVersion("glmmTMB")))
})
write_reference(cases, "r2_families_reference.json")
