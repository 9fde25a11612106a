# Reference values for mixedfit's NB1 GLMMs (variance μ(1 + φ)): glmmTMB's nbinom1, φ estimated
# jointly, on grouseticks and on the synthetic crossed design with an offset of
# make_negbin_reference.R (tests/data/negbin_offset.csv). Run from the repository root:
#   Rscript tests/reference/make_nbinom1_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

grouse <- read_data("grouseticks")
synth <- read.csv(file.path("tests", "data", "negbin_offset.csv"), colClasses = c("factor", "factor", "numeric", "numeric", "numeric"))
summarise <- function(name, formula, data, data_name) {
  m <- glmmTMB(formula, data, family = nbinom1)
  vc <- VarCorr(m)$cond
  list(name = name, data = data_name, formula = deparse(formula), loglik = as.numeric(logLik(m)), aic = AIC(m),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)), phi = sigma(m),
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}
cases <- list(
  summarise("grouseticks_nbinom1", TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), grouse, "grouseticks"),
  summarise("synthetic_nbinom1", y ~ x + offset(log(exposure)) + (1 | site) + (1 | year), synth, "negbin_offset")
)
write_reference(cases, "nbinom1_reference.json")
