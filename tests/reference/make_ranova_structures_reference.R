# Reference values for ranova of random-effects terms with a covariance structure (glmmTMB's
# syntax): the term is removed whole, and the likelihood-ratio test compares glmmTMB's fit with it
# against the fit without it (here lm's: no random effects remain), by REML and ML, on Orthodont.
# Run from the repository root:
#   Rscript tests/reference/make_ranova_structures_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))
orthodont <- read.csv(file.path("tests", "data", "Orthodont.csv.gz"), stringsAsFactors = TRUE)
orthodont$agef <- factor(orthodont$age)
ctrl <- glmmTMBControl(optCtrl = list(iter.max = 1e4, eval.max = 1e4))
cases <- list()
for (spec in list(list("cs", distance ~ age + cs(1 + age | Subject), "distance ~ age + cs(1 + age | Subject)"),
                  list("ar1", distance ~ age + ar1(0 + agef | Subject), "distance ~ age + ar1(0 + factor(age) | Subject)"))) {
  for (reml in c(TRUE, FALSE)) {
    full <- glmmTMB(spec[[2]], orthodont, REML = reml, control = ctrl)
    reduced <- lm(distance ~ age, orthodont)
    ll_reduced <- logLik(reduced, REML = reml)
    cases[[length(cases) + 1]] <- list(
      name = paste(spec[[1]], if (reml) "REML" else "ML"), formula = spec[[3]], REML = reml,
      loglik = c(as.numeric(logLik(full)), as.numeric(ll_reduced)),
      npar = c(attr(logLik(full), "df"), attr(ll_reduced, "df")),
      glmmTMB = as.character(packageVersion("glmmTMB")))
  }
}
write_reference(cases, "ranova_structures_reference.json")
