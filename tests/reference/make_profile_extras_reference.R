# Reference values for profile intervals of a GLMM's zero and dispersion models' coefficients:
# glmmTMB 1.1.5's confint(method = "profile") (every parameter profiled, the others re-optimized)
# on Salamanders (tests/data, written by make_count_families_reference.R). glmmTMB profiles the
# random-effect SD on the log scale ("theta_1|site.1"); its interval ends are exponentiated here to
# the SD scale mixedfit profiles on (a profile interval does not depend on the scale). Run from the
# repository root:
#   Rscript tests/reference/make_profile_extras_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

salamanders <- read.csv(file.path("tests", "data", "Salamanders.csv.gz"), stringsAsFactors = TRUE)

summarise <- function(name, m, python) {
  ci <- confint(m, method = "profile")
  sd_row <- grep("^theta_", rownames(ci))
  ci[sd_row, ] <- exp(ci[sd_row, ])
  rownames(ci)[sd_row] <- ".sig01"
  rownames(ci) <- sub("^zi~", "zi.", sub("^d~", "disp.", rownames(ci)))
  list(name = name, python = python, loglik = as.numeric(logLik(m)),
       lower = as.list(setNames(ci[, 1], rownames(ci))), upper = as.list(setNames(ci[, 2], rownames(ci))))
}
cases <- list(
  summarise("salamanders_zip_mined",
            glmmTMB(count ~ spp + mined + (1 | site), salamanders, family = poisson, ziformula = ~ mined),
            list(formula = "count ~ spp + mined + (1 | site)", family = "poisson", ziformula = "~ mined")),
  # NB2's shape profiled out (not reported): glmmTMB re-optimizes it at every profile point
  summarise("salamanders_nbinom2",
            glmmTMB(count ~ spp + mined + (1 | site), salamanders, family = nbinom2),
            list(formula = "count ~ spp + mined + (1 | site)", family = "nbinom2")),
  # (glmmTMB's profile of count ~ mined + (1 | site) with this dispersion model fails: NaN deviances)
  summarise("salamanders_nbinom2_disp_mined",
            glmmTMB(count ~ spp + mined + (1 | site), salamanders, family = nbinom2, dispformula = ~ mined),
            list(formula = "count ~ spp + mined + (1 | site)", family = "nbinom2", dispformula = "~ mined"))
)
write_reference(cases, "profile_extras_reference.json")
