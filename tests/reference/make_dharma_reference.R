# Reference for tests/test_simulated_residuals.py: DHARMa's scaled residuals and tests computed
# from simulations that are exported with them, so that mixedfit's computations can be compared
# on the same draws. DHARMa 0.5.0 (github.com/florianhartig/DHARMa; not packaged by Debian 12: it
# was installed from its source for this script, with its gap and qgam imports, used only by the
# QQ plot and the quantile test, left out), lme4 1.1-31. Simulations are unconditional (new random
# effects, simulateREs = "unconditional": mixedfit's simulated_residuals).
suppressMessages({library(lme4); library(DHARMa); library(jsonlite)})
data_dir <- "python/mixedfit/data"
rd <- function(name) read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = TRUE)
case <- function(fit, n) {
  s <- simulateResiduals(fit, n = n, simulateREs = "unconditional", seed = 123, plot = FALSE)
  u <- testUniformity(s, plot = FALSE)
  d <- testDispersion(s, plot = FALSE)
  o <- testOutliers(s, type = "binomial", plot = FALSE)
  z <- testZeroInflation(s, plot = FALSE)
  list(observed = s$observedResponse, fitted = unname(s$fittedPredictedResponse),
       simulated = unname(s$simulatedResponse), integer = s$integerResponse, scaled = s$scaledResiduals,
       uniformity = list(statistic = unname(u$statistic), p_value = u$p.value),
       dispersion = list(ratio = unname(d$statistic), p_value = d$p.value),
       outliers = list(outliers = unname(o$statistic), p_value = o$p.value),
       zero_inflation = list(ratio = unname(z$statistic), p_value = z$p.value))
}
dyestuff <- lmer(Yield ~ 1 + (1 | Batch), rd("Dyestuff"))
cbpp <- rd("cbpp")
cbpp$period <- factor(cbpp$period)
with_period <- glmer(incidence ~ period + (1 | herd), cbpp, family = poisson)
# without period the counts are overdispersed: outliers (6 at DHARMa's margins with 40 simulations)
intercept_only <- glmer(incidence ~ 1 + (1 | herd), cbpp, family = poisson)
out <- list(meta = list(DHARMa = as.character(packageVersion("DHARMa")), lme4 = as.character(packageVersion("lme4"))),
            cases = list(dyestuff = case(dyestuff, 250), cbpp_poisson = case(with_period, 250),
                         cbpp_intercept_poisson = case(intercept_only, 40)))
write_json(out, "tests/reference/dharma_reference.json", digits = 12, auto_unbox = TRUE)
