# Reference values from lme4 for mixedfit's tests.
# Run from the repository root:  Rscript tests/reference/make_reference.R [path/to/shared/data [output folder]]
# Writes tests/reference/lmm_reference.json. Tests read that JSON and never need R.
source("tests/reference/common.R")

lmm_case <- function(name, dataset, formula, REML = TRUE, weights = NULL, reps = 5) {
  dat <- read_data(dataset)
  fit_once <- function() {
    if (is.null(weights)) lmer(as.formula(formula), dat, REML = REML)
    else lmer(as.formula(formula), dat, REML = REML, weights = dat[[weights]])
  }
  m <- suppressMessages(fit_once())
  # lme4's starting θ (mkLmerDevfun sets a data-based one for models of scalar intercepts).
  devfun <- if (is.null(weights)) lmer(as.formula(formula), dat, REML = REML, devFunOnly = TRUE)
            else lmer(as.formula(formula), dat, REML = REML, weights = dat[[weights]], devFunOnly = TRUE)
  secs <- suppressMessages(median_time(fit_once, reps))
  vc <- as.data.frame(VarCorr(m))
  vc$var1[is.na(vc$var1)] <- ""
  vc$var2[is.na(vc$var2)] <- ""
  re <- lapply(ranef(m), function(d) list(levels = rownames(d), columns = colnames(d),
                                          values = unname(as.matrix(d))))
  list(
    name = name, dataset = dataset, formula = formula, REML = REML,
    weights = if (is.null(weights)) NULL else weights,
    objective = if (REML) unname(REMLcrit(m)) else unname(deviance(m)),
    deviance = unname(deviance(m, REML = FALSE)),
    theta = unname(getME(m, "theta")),
    start = unname(environment(devfun)$pp$theta),
    beta = as.list(fixef(m)),
    stderr = unname(sqrt(diag(as.matrix(vcov(m))))),
    sigma = sigma(m),
    loglik = as.numeric(logLik(m)),
    aic = AIC(m), bic = BIC(m),
    nobs = nobs(m),
    singular = isSingular(m),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov, sdcor = vc$sdcor),
    ranef = re,
    fitted_head = unname(head(fitted(m), 10)),
    feval = m@optinfo$feval,
    seconds = secs
  )
}

cases <- list(
  lmm_case("sleepstudy_reml", "sleepstudy", "Reaction ~ Days + (Days | Subject)"),
  lmm_case("sleepstudy_ml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", REML = FALSE),
  lmm_case("sleepstudy_uncorrelated", "sleepstudy", "Reaction ~ Days + (Days || Subject)"),
  lmm_case("dyestuff", "Dyestuff", "Yield ~ 1 + (1 | Batch)"),
  lmm_case("dyestuff2_singular", "Dyestuff2", "Yield ~ 1 + (1 | Batch)"),
  lmm_case("sleepstudy_no_fixed_effects", "sleepstudy", "Reaction ~ 0 + (1 | Subject)", REML = FALSE),
  lmm_case("penicillin_crossed", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  lmm_case("pastes_nested", "Pastes", "strength ~ 1 + (1 | batch/cask)"),
  lmm_case("cbpp_weighted", "cbpp", "prop ~ period + (1 | herd)", weights = "size"),
  lmm_case("cbpp_offset", "cbpp", "incidence ~ period + offset(log(size)) + (1 | herd)", REML = FALSE),
  lmm_case("exam_slope_ml", "Exam", "normexam ~ standLRT + (standLRT | school)", REML = FALSE),
  lmm_case("insteval", "InstEval", "y ~ service + (1 | s) + (1 | d) + (1 | dept:service)", reps = 1)
)
write_reference(cases, "lmm_reference.json")
