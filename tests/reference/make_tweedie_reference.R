# Reference values for glmer(..., family="tweedie"): glmmTMB 1.1.5's tweedie (log link, Var = φ μ^p,
# power 1 < p < 2 estimated as 1 + plogis(ψ); Laplace approximation) on Owls (glmmTMB's
# NegPerChick = SiblingNegotiation/BroodSize, semicontinuous with exact zeros) and on simulated
# compound Poisson-gamma biomass with crossed random effects (written to tests/data/tweedie_biomass.csv),
# and with p fixed (map=). Also the Tweedie log-density itself from mgcv's ldTweedie (Dunn and
# Smyth's series) on a grid of (y, μ, φ, p). Run from the repository root:
#   Rscript tests/reference/make_tweedie_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(glmmTMB)
  library(mgcv)
})

# Compound Poisson-gamma draws: N ~ Poisson(λ) gamma jumps of shape α and scale γ, with
# λ = μ^(2−p)/(φ(2−p)), α = (2−p)/(p−1), γ = φ(p−1)μ^(p−1) (mean μ, variance φμ^p).
rtweedie_cpg <- function(mu, phi, p) {
  lambda <- mu^(2 - p) / (phi * (2 - p)); alpha <- (2 - p) / (p - 1); gam <- phi * (p - 1) * mu^(p - 1)
  n <- rpois(length(mu), lambda)
  ifelse(n > 0, rgamma(length(mu), shape = pmax(n, 1) * alpha, scale = gam), 0)
}

set.seed(20261207)
n_site <- 40; n_year <- 6
biomass <- expand.grid(site = sprintf("s%02d", 1:n_site), year = as.character(2015 + 1:n_year), haul = 1:3,
                       stringsAsFactors = FALSE)
biomass$depth <- round(runif(nrow(biomass), -1, 1), 4)
site_effect <- rnorm(n_site, 0, 0.5); year_effect <- rnorm(n_year, 0, 0.3); site_slope <- rnorm(n_site, 0, 0.3)
site <- match(biomass$site, sprintf("s%02d", 1:n_site))
eta <- 0.3 + 0.6 * biomass$depth + site_effect[site] + site_slope[site] * biomass$depth +
  year_effect[match(biomass$year, as.character(2015 + 1:n_year))]
biomass$y <- signif(rtweedie_cpg(exp(eta), phi = 1.2, p = 1.4), 6)
biomass$haul <- NULL
write.csv(biomass, file.path("tests", "data", "tweedie_biomass.csv"), row.names = FALSE)
biomass <- read.csv(file.path("tests", "data", "tweedie_biomass.csv"), colClasses = c("factor", "factor", "numeric", "numeric"))
owls <- read.csv(file.path("tests", "data", "Owls.csv.gz"), stringsAsFactors = TRUE)
owls$NegPerChick <- owls$SiblingNegotiation / owls$BroodSize

summarise <- function(name, formula, data, data_name, power = NULL) {
  m <- if (is.null(power)) {
    glmmTMB(formula, data, family = tweedie())
  } else {
    glmmTMB(formula, data, family = tweedie(), start = list(psi = qlogis(power - 1)), map = list(psi = factor(NA)))
  }
  vc <- VarCorr(m)$cond
  list(name = name, data = data_name, formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       loglik = as.numeric(logLik(m)), aic = AIC(m), df = attr(logLik(m), "df"),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       sd = lapply(vc, function(v) as.numeric(attr(v, "stddev"))),
       cor = lapply(vc, function(v) { r <- attr(v, "correlation"); if (nrow(r) > 1) r[lower.tri(r)] else numeric(0) }),
       phi = sigma(m), power = as.numeric(family_params(m)),
       fitted = head(as.numeric(fitted(m)), 10),
       convergence = m$fit$convergence, message = m$fit$message,
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}

suppressPackageStartupMessages(library(performance))
# performance 0.10.2's R² and ICC (insight's variance φμ^p at the null model's μ = exp(β₀)).
with_r2 <- function(case, m) {
  r2 <- suppressWarnings(r2_nakagawa(m)); icc_value <- suppressWarnings(icc(m))
  c(case, list(r2_conditional = unname(r2$R2_conditional), r2_marginal = unname(r2$R2_marginal),
               icc_adjusted = icc_value$ICC_adjusted, icc_unadjusted = icc_value$ICC_unadjusted,
               performance = as.character(packageVersion("performance"))))
}
owls_model <- glmmTMB(NegPerChick ~ FoodTreatment * SexParent + (1 | Nest), owls, family = tweedie())
cases <- list(
  with_r2(summarise("owls", NegPerChick ~ FoodTreatment * SexParent + (1 | Nest), owls, "Owls"), owls_model),
  summarise("biomass_crossed", y ~ depth + (1 | site) + (1 | year), biomass, "tweedie_biomass"),
  summarise("biomass_slopes", y ~ depth + (depth | site) + (1 | year), biomass, "tweedie_biomass"),
  summarise("biomass_power_fixed", y ~ depth + (1 | site) + (1 | year), biomass, "tweedie_biomass", power = 1.6)
)

# The density: every combination of these (y = 0 included), log f from mgcv's series.
grid <- expand.grid(y = c(0, 1e-4, 0.05, 0.7, 3, 40, 900), mu = c(0.01, 0.8, 5, 300),
                    phi = c(0.05, 1, 20), p = c(1.01, 1.2, 1.5, 1.85, 1.99))
grid$logf <- vapply(seq_len(nrow(grid)), function(i) with(grid[i, ], ldTweedie(y, mu, p = p, phi = phi)[1, 1]), 0)
cases[[length(cases) + 1]] <- list(name = "density", y = grid$y, mu = grid$mu, phi = grid$phi, p = grid$p,
                                   logf = grid$logf, mgcv = as.character(packageVersion("mgcv")))
write_reference(cases, "tweedie_reference.json")
