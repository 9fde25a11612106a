# Reference values for negative binomial GLMMs that PIRLS (Fisher scoring, and the NB2 deviance in
# its direct form) could not fit: grouseticks with YEAR as the numbers 95–97 (an uncentred
# covariate) and simulated counts of 10⁶–10⁹ (tests/data/negbin_large_counts.csv.gz, generated
# here). glmmTMB's nbinom2, as in make_negbin_reference.R. Run from the repository root:
#   Rscript tests/reference/make_negbin_hard_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

set.seed(20261205)
n_group <- 60
large <- data.frame(g = factor(sprintf("g%02d", sample(n_group, 1500, replace = TRUE))), x = round(rnorm(1500), 4))
effect <- rnorm(n_group, 0, 0.8)
large$y <- rnbinom(nrow(large), size = 5, mu = exp(17 + 0.5 * large$x + effect[large$g]))
write.csv(large, gzfile(file.path("tests", "data", "negbin_large_counts.csv.gz")), row.names = FALSE)
large <- read.csv(file.path("tests", "data", "negbin_large_counts.csv.gz"), colClasses = c("factor", "numeric", "numeric"))

grouse <- read_data("grouseticks")
grouse$YEARn <- as.numeric(as.character(grouse$YEAR))

summarise <- function(name, formula, data, data_name) {
  m <- glmmTMB(formula, data, family = nbinom2)
  vc <- VarCorr(m)$cond
  list(name = name, data = data_name, formula = deparse(formula), loglik = as.numeric(logLik(m)),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)), theta = sigma(m),
       converged = m$fit$convergence == 0 && m$sdr$pdHess, glmmTMB = as.character(packageVersion("glmmTMB")))
}
cases <- list(
  summarise("grouseticks_uncentred_year", TICKS ~ YEARn + cHEIGHT + (1 | BROOD) + (1 | LOCATION), grouse, "grouseticks"),
  summarise("large_counts", y ~ x + (1 | g), large, "negbin_large_counts")
)
write_reference(cases, "negbin_hard_reference.json")
