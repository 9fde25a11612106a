# Reference values for lmer(..., dispformula=): glmmTMB 1.1.5's Gaussian models with a dispersion
# formula (log σᵢ² linear in covariates) on sleepstudy, Orthodont and Oats (tests/data), ML and REML.
# Run from the repository root:
#   Rscript tests/reference/make_dispersion_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

sleep <- read_data("sleepstudy")
orthodont <- read.csv(file.path("tests", "data", "Orthodont.csv.gz"), stringsAsFactors = TRUE)
oats <- read.csv(file.path("tests", "data", "Oats.csv.gz"), stringsAsFactors = TRUE)

dispersion_case <- function(name, formula, dispformula, data, data_name, REML = FALSE) {
  m <- glmmTMB(formula, data, dispformula = dispformula, REML = REML)
  list(name = name, data = data_name, REML = REML,
       formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       dispformula = paste(deparse(dispformula, width.cutoff = 500), collapse = " "),
       loglik = as.numeric(logLik(m)), df = attr(logLik(m), "df"), fixef = as.list(fixef(m)$cond),
       fixef_disp = as.list(fixef(m)$disp), seconds = median_time(function() update(m), 3),
       glmmTMB = as.character(packageVersion("glmmTMB")))
}
cases <- list(
  dispersion_case("sleepstudy_days_ml", Reaction ~ Days + (1 | Subject), ~ Days, sleep, "sleepstudy"),
  dispersion_case("sleepstudy_days_reml", Reaction ~ Days + (Days | Subject), ~ Days, sleep, "sleepstudy", REML = TRUE),
  dispersion_case("orthodont_sex", distance ~ age + Sex + (1 | Subject), ~ Sex, orthodont, "Orthodont"),
  dispersion_case("oats_two", yield ~ nitro + (1 | Block / Variety), ~ nitro + Variety, oats, "Oats")
)
write_reference(cases, "dispersion_reference.json")
