# Reference values for mixedfit's check_collinearity: R's performance::check_collinearity (0.10.2)
# on lme4 fits of sleepstudy (Days and a factor derived from it: strongly collinear) and
# grouseticks (a Poisson GLMM). Run from the repository root:
#   Rscript tests/reference/make_collinearity_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(performance))
sleep <- read_data("sleepstudy")
sleep$phase <- c("early", "mid", "late")[1 + (sleep$Days >= 3) + (sleep$Days >= 6)]
grouse <- read_data("grouseticks")
models <- list(
  list("sleep_phase", "Reaction ~ Days + phase + (1 | Subject)", NULL, lmer(Reaction ~ Days + phase + (1 | Subject), sleep)),
  list("grouse_poisson", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "poisson",
       glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), grouse, family = poisson))
)
cases <- lapply(models, function(x) {
  c <- as.data.frame(check_collinearity(x[[4]]))
  list(name = x[[1]], formula = x[[2]], family = x[[3]], table = c,
       performance = as.character(packageVersion("performance")))
})
write_reference(cases, "collinearity_reference.json")
