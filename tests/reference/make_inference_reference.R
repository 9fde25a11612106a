# Reference values from lme4 and lmerTest for mixedfit's inference tests (issue 5):
# conditional variances, predictions, likelihood-ratio tests, profile and Wald intervals,
# Satterthwaite degrees of freedom.
# Run from the repository root:
#   Rscript tests/reference/make_inference_reference.R [path/to/shared/data [output folder]]
# Writes tests/reference/inference_reference.json. Tests read that JSON and never need R.
source("tests/reference/common.R")
suppressPackageStartupMessages(library(lmerTest, exclude = "lmer"))

# postVar of each grouping factor as a list of levels × (p × p) arrays, level-major.
cond_var <- function(m) {
  re <- ranef(m, condVar = TRUE)
  lapply(re, function(d) {
    pv <- attr(d, "postVar")
    list(levels = rownames(d), columns = colnames(d), modes = unname(as.matrix(d)),
         condvar = lapply(seq_len(dim(pv)[3]), function(k) unname(pv[, , k, drop = TRUE])))
  })
}

interval_table <- function(ci) list(names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))

lrt_table <- function(a) list(npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik,
                              deviance = a$deviance, Chisq = a$Chisq, Df = a$Df, p = a[["Pr(>Chisq)"]])

predictions <- function(m, newdata, re_form_partial) {
  list(
    link = unname(predict(m)),
    population = unname(predict(m, re.form = NA)),
    partial = unname(predict(m, re.form = as.formula(re_form_partial))),
    partial_form = re_form_partial,
    newdata = as.list(newdata),
    newdata_link = unname(predict(m, newdata = newdata, allow.new.levels = TRUE)),
    newdata_response = unname(predict(m, newdata = newdata, allow.new.levels = TRUE, type = "response")),
    newdata_population = unname(predict(m, newdata = newdata, re.form = NA)),
    response = unname(predict(m, type = "response"))
  )
}

satterthwaite <- function(m) {
  co <- summary(as_lmerModLmerTest(m))$coefficients
  list(names = rownames(co), estimate = unname(co[, "Estimate"]), stderr = unname(co[, "Std. Error"]),
       df = unname(co[, "df"]), t = unname(co[, "t value"]), p = unname(co[, "Pr(>|t|)"]),
       theta = unname(getME(m, "theta")), sigma = sigma(m))
}

# Tight optimizer tolerances: Satterthwaite df and p-values move with θ at the 1e-4 level, so the
# reference must be the optimum itself rather than where lme4's default stopping rule left it.
tight <- lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12))
sleep <- read_data("sleepstudy")
fm1 <- lmer(Reaction ~ Days + (Days | Subject), sleep, control = tight)
fm0 <- lmer(Reaction ~ Days + (1 | Subject), sleep, control = tight)
sleep_new <- data.frame(Days = c(0, 5, 9, 3), Subject = factor(c("308", "333", "999", "372")))

pen <- read_data("Penicillin")
pm1 <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen, control = tight)
pm0 <- lmer(diameter ~ 1 + (1 | plate), pen, control = tight)
pen_new <- data.frame(plate = factor(c("a", "x", "b")), sample = factor(c("F", "A", "new")))

cbpp <- read_data("cbpp")
gm1 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
             control = glmerControl(tolPwrss = 1e-12))
gm0 <- glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, family = binomial,
             control = glmerControl(tolPwrss = 1e-12))
cbpp_new <- data.frame(period = factor(c("1", "2", "4", "3")), herd = factor(c("1", "7", "99", "15")),
                       size = c(10, 12, 8, 20), incidence = c(1, 2, 0, 3))

# m1 is fitted from formula, m0 from null_formula; predictions use newdata and the partial re.form.
inference_case <- function(name, dataset, formula, null_formula, m1, m0, newdata, partial) {
  out <- list(name = name, dataset = dataset, formula = formula, null_formula = null_formula,
              kind = if (isLMM(m1)) "lmm" else "glmm",
              ranef = cond_var(m1), predict = predictions(m1, newdata, partial),
              anova = lrt_table(anova(m0, m1)),
              profile = interval_table(confint(m1, method = "profile", oldNames = TRUE)),
              wald = interval_table(confint(m1, method = "Wald")))
  if (isLMM(m1)) out$satterthwaite <- satterthwaite(m1)
  out
}

cases <- list(
  inference_case("sleepstudy", "sleepstudy", "Reaction ~ Days + (Days | Subject)",
                 "Reaction ~ Days + (1 | Subject)", fm1, fm0, sleep_new, "~(Days | Subject)"),
  inference_case("penicillin", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)",
                 "diameter ~ 1 + (1 | plate)", pm1, pm0, pen_new, "~(1 | plate)"),
  inference_case("cbpp", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 "cbind(incidence, size - incidence) ~ 1 + (1 | herd)", gm1, gm0, cbpp_new, "~(1 | herd)")
)
write_reference(cases, "inference_reference.json")
