# Reference values for mixedfit's negative binomial GLMMs: glmmTMB's nbinom2 (θ estimated jointly,
# or fixed through map=), whose Laplace approximation takes the observed information as mixedfit's
# does for this family; glmmTMB's poisson fit of the same model (log-likelihoods comparable with the
# NB's); and, for the note, lme4's glmer with MASS's negative.binomial(θ) (expected information in
# the Laplace log-determinant, and PIRLS stopped at a relative change of 1e-7, which for this
# non-canonical link leaves its deviance ~3e-3 above the exact one) and glmer.nb (alternating).
# The synthetic case with an offset and crossed effects is generated here and written to
# tests/data/negbin_offset.csv. Run from the repository root:
#   Rscript tests/reference/make_negbin_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(glmmTMB)
  library(MASS)
})

set.seed(20261126)
n_site <- 40; n_year <- 12
synth <- expand.grid(site = factor(sprintf("s%02d", 1:n_site)), year = factor(2000 + 1:n_year), rep = 1:2)
synth$x <- round(rnorm(nrow(synth)), 4)
synth$exposure <- round(runif(nrow(synth), 0.5, 3), 3)
site_effect <- rnorm(n_site, 0, 0.5); year_effect <- rnorm(n_year, 0, 0.3)
mu <- synth$exposure * exp(0.4 + 0.6 * synth$x + site_effect[synth$site] + year_effect[synth$year])
synth$y <- rnbinom(nrow(synth), size = 1.7, mu = mu)
synth$rep <- NULL
write.csv(synth, file.path("tests", "data", "negbin_offset.csv"), row.names = FALSE)
synth <- read.csv(file.path("tests", "data", "negbin_offset.csv"), colClasses = c("factor", "factor", "numeric", "numeric", "numeric"))

grouse <- read_data("grouseticks")

# The SE of θ̂ = exp(betad) by the delta method from glmmTMB's full covariance (NULL if θ is fixed
# or the family has none).
theta_se <- function(m) {
  if (family(m)$family != "nbinom2") return(NULL)
  v <- vcov(m, full = TRUE)
  i <- grep("^d~", rownames(v))
  if (length(i) != 1) return(NULL)
  sigma(m) * sqrt(v[i, i])
}

summarise_tmb <- function(name, formula, m, data_name) {
  vc <- VarCorr(m)$cond
  list(name = name, data = data_name, formula = formula, family = family(m)$family,
       loglik = as.numeric(logLik(m)), df = attr(logLik(m), "df"), aic = AIC(m),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)),
       theta = if (family(m)$family == "nbinom2") sigma(m) else NULL,
       theta_se = theta_se(m),
       seconds = median_time(function() update(m), 3),
       glmmTMB = as.character(packageVersion("glmmTMB")))
}

f_grouse <- TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)
f_synth <- y ~ x + offset(log(exposure)) + (1 | site) + (1 | year)
cases <- list(
  summarise_tmb("grouseticks_nb", deparse(f_grouse), glmmTMB(f_grouse, grouse, family = nbinom2), "grouseticks"),
  summarise_tmb("grouseticks_poisson", deparse(f_grouse), glmmTMB(f_grouse, grouse, family = poisson), "grouseticks"),
  summarise_tmb("synthetic_nb", deparse(f_synth), glmmTMB(f_synth, synth, family = nbinom2), "negbin_offset")
)

# θ fixed at 2: glmmTMB with the dispersion parameter mapped to log 2; lme4's glmer.
m_fixed_tmb <- glmmTMB(f_grouse, grouse, family = nbinom2, start = list(betad = log(2)), map = list(betad = factor(NA)))
fixed_case <- summarise_tmb("grouseticks_nb_theta2", deparse(f_grouse), m_fixed_tmb, "grouseticks")
m_fixed <- glmer(f_grouse, grouse, family = negative.binomial(theta = 2))
fixed_case$lme4_loglik <- as.numeric(logLik(m_fixed))
fixed_case$lme4_fixef <- as.list(fixef(m_fixed))
fixed_case$lme4_seconds <- median_time(function() update(m_fixed), 3)
cases[[length(cases) + 1]] <- fixed_case

# lme4's glmer.nb (alternating θ and the rest) for comparison of fit times.
m_nb <- glmer.nb(f_grouse, grouse)
cases[[length(cases) + 1]] <- list(
  name = "grouseticks_glmer_nb", data = "grouseticks", formula = deparse(f_grouse), theta = getME(m_nb, "glmer.nb.theta"),
  loglik = as.numeric(logLik(m_nb)), fixef = as.list(fixef(m_nb)),
  seconds = median_time(function() glmer.nb(f_grouse, grouse), 3))
write_reference(cases, "negbin_reference.json")
