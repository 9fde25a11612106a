# Reference values for glmer(..., dispformula=): glmmTMB 1.1.5's dispersion models — the log of
# each family's own parameter (nbinom2's θ, nbinom1's φ, beta_family's precision, t_family's σ,
# tweedie's φ, genpois's φ, truncated_nbinom2's θ) linear in covariates, with zero-inflation or a
# hurdle in two cases — on Salamanders, Owls, Exam
# and the beta test data (tests/data). Run from the repository root:
#   Rscript tests/reference/make_dispersion_glmm_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

salamanders <- read.csv(file.path("tests", "data", "Salamanders.csv.gz"), stringsAsFactors = TRUE)
owls <- read.csv(file.path("tests", "data", "Owls.csv.gz"), stringsAsFactors = TRUE)
owls$NegPerChick <- owls$SiblingNegotiation / owls$BroodSize
exam <- read.csv(file.path("tests", "data", "Exam.csv.gz"), stringsAsFactors = TRUE)
beta_data <- read.csv(file.path("tests", "data", "beta_proportions.csv"), colClasses = c("factor", "factor", "numeric", "numeric"))
data_sets <- list(Salamanders = salamanders, Owls = owls, Exam = exam, beta_proportions = beta_data)

summarise <- function(name, data_name, formula, family, dispformula, ziformula = ~0) {
  m <- glmmTMB(formula, data_sets[[data_name]], family = family, dispformula = dispformula, ziformula = ziformula)
  vc <- VarCorr(m)$cond
  se <- sqrt(diag(vcov(m)$cond))
  se_disp <- sqrt(diag(vcov(m)$disp))
  out <- list(name = name, data = data_name, family = family$family,
              formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
              dispformula = paste(deparse(dispformula), collapse = " "),
              ziformula = paste(deparse(ziformula), collapse = " "),
              loglik = as.numeric(logLik(m)), aic = AIC(m), df = attr(logLik(m), "df"),
              fixef = as.list(fixef(m)$cond), stderr = as.list(se),
              fixef_disp = as.list(fixef(m)$disp), stderr_disp = as.list(se_disp),
              sd = lapply(vc, function(v) as.numeric(attr(v, "stddev"))),
              fitted = head(as.numeric(fitted(m)), 10),
              convergence = m$fit$convergence, message = m$fit$message,
              seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
  if (length(fixef(m)$zi)) out$fixef_zi <- as.list(fixef(m)$zi)
  # glmmTMB's Wald intervals of the zero and dispersion models' coefficients ("zi.x", "disp.x" rows)
  ci <- confint(m, method = "wald")
  other <- grepl("^(zi|disp)\\.", rownames(ci))
  out$wald <- lapply(setNames(seq_len(sum(other)), rownames(ci)[other]), function(i) unname(ci[other, 1:2][i, ]))
  if (family$family %in% c("t", "tweedie")) out$shape <- as.numeric(family_params(m))
  out
}

cases <- list(
  summarise("salamanders_nbinom2", "Salamanders", count ~ mined + (1 | site), nbinom2(), ~mined),
  summarise("salamanders_nbinom1", "Salamanders", count ~ spp + mined + (1 | site), nbinom1(), ~mined),
  summarise("salamanders_zinb2", "Salamanders", count ~ mined + (1 | site), nbinom2(), ~mined, ~mined),
  summarise("salamanders_hurdle_nb2", "Salamanders", count ~ mined + (1 | site), truncated_nbinom2(), ~mined, ~mined),
  summarise("salamanders_genpois", "Salamanders", count ~ mined + (1 | site), genpois(), ~mined),
  summarise("owls_nbinom2", "Owls", SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest),
            nbinom2(), ~FoodTreatment),
  summarise("owls_tweedie", "Owls", NegPerChick ~ FoodTreatment + (1 | Nest), tweedie(), ~SexParent),
  summarise("beta_crossed", "beta_proportions", y ~ x + (1 | site) + (1 | year), beta_family(), ~x),
  summarise("exam_t", "Exam", normexam ~ standLRT + (1 | school), t_family(), ~sex)
)
write_reference(cases, "dispersion_glmm_reference.json")
