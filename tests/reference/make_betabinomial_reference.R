# Reference values for mixedfit's beta-binomial GLMMs: glmmTMB's betabinomial (logit link,
# overdispersion φ estimated jointly: successes ~ Binomial(n, p), p ~ Beta(μφ, (1 − μ)φ)) on lme4's
# cbpp. Run from the repository root:
#   Rscript tests/reference/make_betabinomial_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

cbpp <- read_data("cbpp")
summarise <- function(name, formula, data) {
  m <- glmmTMB(formula, data, family = betabinomial())
  vc <- VarCorr(m)$cond
  list(name = name, data = "cbpp", formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       loglik = as.numeric(logLik(m)), aic = AIC(m), fixef = as.list(fixef(m)$cond),
       stderr = as.list(sqrt(diag(vcov(m)$cond))), sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)),
       phi = sigma(m), response_head = head(as.numeric(predict(m, type = "response")), 5),
       pearson_head = head(as.numeric(residuals(m, type = "pearson")), 5),
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}
cases <- list(
  summarise("cbpp_betabinomial", cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp)
)
write_reference(cases, "betabinomial_reference.json")
