# Reference values for mixedfit's zero-inflated and hurdle GLMMs (glmer(..., ziformula=)):
# glmmTMB 1.1.5 with ziformula on Salamanders and Owls (tests/data, written by
# make_count_families_reference.R): zero-inflated Poisson, NB2, NB1 and generalized Poisson, and
# hurdle models (a zero-truncated family with a zero model). Run from the repository root:
#   Rscript tests/reference/make_zero_inflation_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

salamanders <- read.csv(file.path("tests", "data", "Salamanders.csv.gz"), stringsAsFactors = TRUE)
owls <- read.csv(file.path("tests", "data", "Owls.csv.gz"), stringsAsFactors = TRUE)

summarise <- function(name, formula, zi, data, data_name, family) {
  m <- glmmTMB(formula, data, family = family, ziformula = zi)
  vc <- VarCorr(m)$cond
  se <- sqrt(diag(vcov(m)$cond))
  se_zi <- sqrt(diag(vcov(m)$zi))
  names(se_zi) <- sub("^zi~", "", names(se_zi))
  list(name = name, data = data_name, family = family$family,
       formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       ziformula = paste(deparse(zi, width.cutoff = 500), collapse = " "),
       loglik = as.numeric(logLik(m)), aic = AIC(m), df = attr(logLik(m), "df"),
       fixef = as.list(fixef(m)$cond), stderr = as.list(se), fixef_zi = as.list(fixef(m)$zi),
       stderr_zi = as.list(se_zi), sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)),
       phi = if (family$family %in% c("poisson", "truncated_poisson")) NULL else sigma(m),
       response_head = head(as.numeric(predict(m, type = "response")), 5),
       conditional_head = head(as.numeric(predict(m, type = "conditional")), 5),
       zprob_head = head(as.numeric(predict(m, type = "zprob")), 5),
       pearson_head = tryCatch(head(as.numeric(residuals(m, type = "pearson")), 5), error = function(e) NULL),
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}
f_sal <- count ~ spp + mined + (1 | site)
f_owls <- SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)
cases <- list(
  summarise("salamanders_zip", f_sal, ~ spp, salamanders, "Salamanders", poisson()),
  summarise("salamanders_zinb2", f_sal, ~ cover, salamanders, "Salamanders", nbinom2()),
  summarise("salamanders_zinb1", f_sal, ~ 1, salamanders, "Salamanders", nbinom1()),
  summarise("salamanders_zigenpois", f_sal, ~ 1, salamanders, "Salamanders", genpois()),
  # NB1 with a zero model whose minedyes runs to -inf (no structural zeros at mined sites): the likelihood's
  # asymptote, where estimates of that coefficient mean nothing
  summarise("salamanders_zinb1_separated", f_sal, ~ mined, salamanders, "Salamanders", nbinom1()),
  summarise("salamanders_hurdle_nb2", f_sal, ~ spp, salamanders, "Salamanders", truncated_nbinom2()),
  summarise("salamanders_hurdle_poisson", f_sal, ~ spp + mined, salamanders, "Salamanders", truncated_poisson()),
  summarise("owls_zip", f_owls, ~ 1, owls, "Owls", poisson()),
  summarise("owls_zinb2", f_owls, ~ FoodTreatment, owls, "Owls", nbinom2())
)
write_reference(cases, "zero_inflation_reference.json")
