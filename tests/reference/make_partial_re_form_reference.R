# Reference values for predictions with part of a fitted random-effects term in re.form (lme4
# keeps the named columns of the term's effects), on sleepstudy. Run from the repository root:
#   Rscript tests/reference/make_partial_re_form_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")

sleep <- read_data("sleepstudy")
correlated <- lmer(Reaction ~ Days + (Days | Subject), sleep)
uncorrelated <- lmer(Reaction ~ Days + (Days || Subject), sleep)
newdata <- data.frame(Days = c(0, 4.5, 9), Subject = factor(c("308", "335", "372"), levels = levels(sleep$Subject)))
cases <- list()
for (form in c("~(1 | Subject)", "~(0 + Days | Subject)")) {
  cases[[length(cases) + 1]] <- list(
    name = paste("correlated", form), formula = "Reaction ~ Days + (Days | Subject)", re_form = form,
    fitted = unname(predict(correlated, re.form = as.formula(form))),
    newdata = newdata, newdata_fitted = unname(predict(correlated, newdata, re.form = as.formula(form))))
}
cases[[length(cases) + 1]] <- list(
  name = "uncorrelated ~(Days | Subject)", formula = "Reaction ~ Days + (Days || Subject)", re_form = "~(Days | Subject)",
  fitted = unname(predict(uncorrelated, re.form = ~(Days | Subject))),
  newdata = newdata, newdata_fitted = unname(predict(uncorrelated, newdata, re.form = ~(Days | Subject))))
write_reference(cases, "partial_re_form_reference.json")
