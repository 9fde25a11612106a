# Reference values for mixedfit's beta GLMMs: glmmTMB's beta_family (logit link, precision φ
# estimated jointly; the Laplace approximation with the exact Hessian), on simulated proportions
# with crossed random effects written to tests/data/beta_proportions.csv, and with φ fixed (map=).
# Run from the repository root:
#   Rscript tests/reference/make_beta_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

set.seed(20261205)
n_site <- 30; n_year <- 8
beta_data <- expand.grid(site = sprintf("s%02d", 1:n_site), year = as.character(2010 + 1:n_year), rep = 1:3,
                         stringsAsFactors = FALSE)
beta_data$x <- round(rnorm(nrow(beta_data)), 4)
site_effect <- rnorm(n_site, 0, 0.6); year_effect <- rnorm(n_year, 0, 0.3)
eta <- -0.4 + 0.7 * beta_data$x + site_effect[match(beta_data$site, sprintf("s%02d", 1:n_site))] +
  year_effect[match(beta_data$year, as.character(2010 + 1:n_year))]
mu <- plogis(eta)
beta_data$y <- signif(rbeta(nrow(beta_data), mu * 8, (1 - mu) * 8), 6)
beta_data$rep <- NULL
write.csv(beta_data, file.path("tests", "data", "beta_proportions.csv"), row.names = FALSE)
beta_data <- read.csv(file.path("tests", "data", "beta_proportions.csv"), colClasses = c("factor", "factor", "numeric", "numeric"))

summarise <- function(name, formula, m) {
  vc <- VarCorr(m)$cond
  list(name = name, formula = deparse(formula), loglik = as.numeric(logLik(m)), aic = AIC(m),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)), phi = sigma(m),
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}
f_crossed <- y ~ x + (1 | site) + (1 | year)
f_single <- y ~ x + (1 | site)
cases <- list(
  summarise("beta_crossed", f_crossed, glmmTMB(f_crossed, beta_data, family = beta_family())),
  summarise("beta_single", f_single, glmmTMB(f_single, beta_data, family = beta_family())),
  summarise("beta_phi_fixed", f_crossed, glmmTMB(f_crossed, beta_data, family = beta_family(),
                                                 start = list(betad = log(5)), map = list(betad = factor(NA))))
)
write_reference(cases, "beta_reference.json")
