# Reference values for mixedfit's marginal view: R's performance package (r2_nakagawa, icc) and
# insight::get_variance on lme4 fits. Run from the repository root:
#   Rscript tests/reference/make_marginal_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(performance)
  library(insight)
})

sleep <- read_data("sleepstudy")
penicillin <- read_data("Penicillin")
cbpp <- read_data("cbpp")
models <- list(
  list("sleep_slope", "Reaction ~ Days + (Days | Subject)", lmer(Reaction ~ Days + (Days | Subject), sleep)),
  list("sleep_uncorrelated", "Reaction ~ Days + (Days || Subject)", lmer(Reaction ~ Days + (Days || Subject), sleep)),
  list("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", lmer(diameter ~ 1 + (1 | plate) + (1 | sample), penicillin)),
  list("cbpp_logit", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)),
  list("cbpp_probit", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial(link = "probit")))
)
cases <- lapply(models, function(x) {
  m <- x[[3]]
  v <- get_variance(m)
  r <- r2_nakagawa(m)
  i <- icc(m)
  list(name = x[[1]], formula = x[[2]], glmm = !isLMM(m), link = if (isLMM(m)) "identity" else family(m)$link,
       var_fixed = v$var.fixed, var_random = v$var.random, var_residual = v$var.residual,
       r2_conditional = unname(r$R2_conditional), r2_marginal = unname(r$R2_marginal),
       icc_adjusted = i$ICC_adjusted, icc_unadjusted = i$ICC_unadjusted,
       performance = as.character(packageVersion("performance")), insight = as.character(packageVersion("insight")))
})
write_reference(cases, "marginal_reference.json")
