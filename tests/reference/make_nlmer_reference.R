# Reference values for mixedfit.nlmer: lme4's nlmer() (Laplace approximation; the two stages of
# lme4: θ with β at its start, then θ and β) on Orange and Theoph (tests/data/, written by
# make_nlme_reference.R). Per fit: log-likelihood, fixed effects and their standard errors
# (lme4's, from RX: the finite-difference Hessian is not positive definite on Orange and lme4 falls
# back to it), random-effects SDs and correlations, σ. Run from the repository root:
#   Rscript tests/reference/make_nlmer_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")

orange <- read.csv(file.path("tests", "data", "Orange.csv"), stringsAsFactors = TRUE)
theoph <- read.csv(file.path("tests", "data", "Theoph.csv"), stringsAsFactors = TRUE)

summarise <- function(name, formula, data, data_name, start) {
  fit <- suppressWarnings(eval(bquote(nlmer(.(formula), data, start = start))))  # nlmer reads its call
  vc <- as.data.frame(VarCorr(fit))
  list(
    name = name, data = data_name, formula = paste(deparse(formula), collapse = ""), start = as.list(start),
    loglik = as.numeric(logLik(fit)),
    fixef = as.list(fixef(fit)),
    fixef_se = unname(sqrt(diag(as.matrix(suppressWarnings(vcov(fit, use.hessian = FALSE)))))),
    sd = unname(vc$sdcor[is.na(vc$var2) & vc$grp != "Residual"]),
    corr = unname(vc$sdcor[!is.na(vc$var2)]),
    sigma = sigma(fit)
  )
}

cases <- list(
  summarise("orange", circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree, orange, "Orange",
            c(Asym = 200, xmid = 725, scal = 350)),
  summarise("orange_correlated", circumference ~ SSlogis(age, Asym, xmid, scal) ~ (Asym + xmid | Tree), orange,
            "Orange", c(Asym = 200, xmid = 725, scal = 350)),
  summarise("theoph_two_terms", conc ~ SSfol(Dose, Time, lKe, lKa, lCl) ~ (lKa | Subject) + (0 + lCl | Subject),
            theoph, "Theoph", c(lKe = -2.4, lKa = 0.45, lCl = -3.2))
)
write_reference(cases, "nlmer_reference.json")
