# Reference values for zero-inflated binomial GLMMs (glmer(..., family="binomial", ziformula=)):
# glmmTMB 1.1.5 on cbpp (successes of herds' cattle, cbind(incidence, size - incidence)), a zero
# model with an intercept and with the period. Run from the repository root:
#   Rscript tests/reference/make_zero_inflated_binomial_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

cbpp <- read_data("cbpp")

summarise <- function(name, formula, zi) {
  m <- glmmTMB(formula, cbpp, family = binomial, ziformula = zi)
  vc <- VarCorr(m)$cond
  se_zi <- sqrt(diag(vcov(m)$zi))
  names(se_zi) <- sub("^zi~", "", names(se_zi))
  list(name = name, data = "cbpp", formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       ziformula = paste(deparse(zi, width.cutoff = 500), collapse = " "),
       loglik = as.numeric(logLik(m)), aic = AIC(m), df = attr(logLik(m), "df"),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       fixef_zi = as.list(fixef(m)$zi), stderr_zi = as.list(se_zi),
       sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)),
       response_head = head(as.numeric(predict(m, type = "response")), 5),
       zprob_head = head(as.numeric(predict(m, type = "zprob")), 5),
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}

cases <- list(
  summarise("cbpp_zi_intercept", cbind(incidence, size - incidence) ~ period + (1 | herd), ~1),
  summarise("cbpp_zi_period", cbind(incidence, size - incidence) ~ period + (1 | herd), ~period)
)
write_reference(cases, "zero_inflated_binomial_reference.json")
