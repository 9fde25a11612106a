# Reference values for glmer(..., family="student_t"): glmmTMB 1.1.5's t_family (location μ, scale σ,
# degrees of freedom ν estimated; Laplace approximation) on Exam (mlmRev; tests/data) and
# sleepstudy. Each case also records glmmTMB's parameter vector, at which the tests evaluate
# mixedfit's objective (the same function: equal −2 log L there). Run from the repository root:
#   Rscript tests/reference/make_student_t_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

exam <- read.csv(file.path("tests", "data", "Exam.csv.gz"), stringsAsFactors = TRUE)
sleep <- read_data("sleepstudy")

summarise <- function(name, formula, data, data_name) {
  m <- glmmTMB(formula, data, family = t_family())
  vc <- VarCorr(m)$cond
  se <- sqrt(diag(vcov(m)$cond))
  par <- m$fit$par
  list(name = name, data = data_name, formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       loglik = as.numeric(logLik(m)), aic = AIC(m), df = attr(logLik(m), "df"),
       fixef = as.list(fixef(m)$cond), stderr = as.list(se),
       sd = lapply(vc, function(v) as.numeric(attr(v, "stddev"))),
       sigma = sigma(m), nu = as.numeric(family_params(m)),
       theta = as.numeric(par[names(par) == "theta"]),
       convergence = m$fit$convergence, message = m$fit$message,
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}

cases <- list(
  summarise("exam", normexam ~ standLRT + (1 | school), exam, "Exam"),
  summarise("exam_slopes", normexam ~ standLRT + sex + (standLRT | school), exam, "Exam"),
  summarise("sleepstudy", Reaction ~ Days + (1 | Subject), sleep, "sleepstudy"),
  summarise("sleepstudy_slopes", Reaction ~ Days + (Days | Subject), sleep, "sleepstudy")
)
write_reference(cases, "student_t_reference.json")
