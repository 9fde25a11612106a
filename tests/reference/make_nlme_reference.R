# Reference values for mixedfit.nlme: nlme's nlme() (Lindstrom–Bates; ML and REML) on R's growth-curve
# and pharmacokinetic data sets Orange, Loblolly, Theoph, CO2 and Soybean (written to tests/data/ as CSV:
# plain columns, the grouping factors as text). Per fit: log-likelihood, fixed effects and their standard
# errors, the random effects' SDs (and correlations), σ, the random effects of the first groups and the
# population and group-level predictions of the first rows. Run from the repository root:
#   Rscript tests/reference/make_nlme_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(nlme))

export <- function(data, name, columns) {
  frame <- as.data.frame(data)[, columns]
  for (column in columns) if (is.factor(frame[[column]])) frame[[column]] <- as.character(frame[[column]])
  write.csv(frame, file.path("tests", "data", paste0(name, ".csv")), row.names = FALSE)
  read.csv(file.path("tests", "data", paste0(name, ".csv")), stringsAsFactors = TRUE)
}
orange <- export(Orange, "Orange", c("Tree", "age", "circumference"))
loblolly <- export(Loblolly, "Loblolly", c("height", "age", "Seed"))
theoph <- export(Theoph, "Theoph", c("Subject", "Wt", "Dose", "Time", "conc"))
co2 <- export(CO2, "CO2", c("Plant", "Type", "Treatment", "conc", "uptake"))
soybean <- export(Soybean, "Soybean", c("Plot", "Variety", "Year", "Time", "weight"))

summarise <- function(name, fit, data_name, python, group) {
  vc <- VarCorr(fit)
  sds <- suppressWarnings(as.numeric(vc[-nrow(vc), "StdDev"]))
  relative <- as.matrix(fit$modelStruct$reStruct[[1]])  # the random effects' covariance over σ²
  correlation <- cov2cor(relative)
  re <- ranef(fit)
  list(
    name = name, data = data_name, python = python, method = fit$method, group = group,
    loglik = as.numeric(logLik(fit)),
    fixef = as.list(fixef(fit)),
    fixef_se = unname(sqrt(diag(vcov(fit)))),
    random_sd = as.list(setNames(sds, rownames(vc)[-nrow(vc)])),
    random_corr = correlation[lower.tri(correlation)],
    sigma = fit$sigma,
    ranef_levels = rownames(re)[1:3],
    ranef = lapply(as.list(re), function(column) unname(column[1:3])),
    predict0 = unname(predict(fit, level = 0)[1:6]),
    predict1 = unname(predict(fit, level = 1)[1:6]),
    iterations = fit$numIter,
    variance = if (is.null(fit$modelStruct$varStruct)) NULL else
      as.list(coef(fit$modelStruct$varStruct, unconstrained = FALSE)),
    phi = if (is.null(fit$modelStruct$corStruct)) NULL else
      unname(coef(fit$modelStruct$corStruct, unconstrained = FALSE))
  )
}

cases <- list(
  summarise("orange_ml", nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = orange,
                              fixed = Asym + xmid + scal ~ 1, random = Asym ~ 1 | Tree,
                              start = c(Asym = 170, xmid = 700, scal = 350)), "Orange",
            list(model = "circumference ~ SSlogis(age, Asym, xmid, scal)", fixed = "Asym + xmid + scal ~ 1",
                 random = "Asym ~ 1 | Tree", start = list(Asym = 170, xmid = 700, scal = 350), method = "ML"), "Tree"),
  summarise("orange_reml", nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = orange,
                                fixed = Asym + xmid + scal ~ 1, random = Asym ~ 1 | Tree, method = "REML",
                                start = c(Asym = 170, xmid = 700, scal = 350)), "Orange",
            list(model = "circumference ~ SSlogis(age, Asym, xmid, scal)", fixed = "Asym + xmid + scal ~ 1",
                 random = "Asym ~ 1 | Tree", start = list(Asym = 170, xmid = 700, scal = 350), method = "REML"), "Tree"),
  summarise("orange_expression", nlme(circumference ~ Asym / (1 + exp((xmid - age) / scal)), data = orange,
                                      fixed = Asym + xmid + scal ~ 1, random = Asym ~ 1 | Tree,
                                      start = c(Asym = 170, xmid = 700, scal = 350)), "Orange",
            list(model = "circumference ~ Asym / (1 + exp((xmid - age) / scal))", fixed = "Asym + xmid + scal ~ 1",
                 random = "Asym ~ 1 | Tree", start = list(Asym = 170, xmid = 700, scal = 350), method = "ML"), "Tree"),
  summarise("loblolly_ml", nlme(height ~ SSasymp(age, Asym, R0, lrc), data = loblolly,
                                fixed = Asym + R0 + lrc ~ 1, random = Asym ~ 1 | Seed,
                                start = c(Asym = 103, R0 = -8.5, lrc = -3.3)), "Loblolly",
            list(model = "height ~ SSasymp(age, Asym, R0, lrc)", fixed = "Asym + R0 + lrc ~ 1",
                 random = "Asym ~ 1 | Seed", start = list(Asym = 103, R0 = -8.5, lrc = -3.3), method = "ML"), "Seed"),
  summarise("theoph_diag", nlme(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = theoph,
                                fixed = lKe + lKa + lCl ~ 1, random = pdDiag(lKa + lCl ~ 1), groups = ~ Subject,
                                start = c(lKe = -2.4, lKa = 0.45, lCl = -3.2)), "Theoph",
            list(model = "conc ~ SSfol(Dose, Time, lKe, lKa, lCl)", fixed = "lKe + lKa + lCl ~ 1",
                 random = "lKa + lCl ~ 1 | Subject", covariance = "diag",
                 start = list(lKe = -2.4, lKa = 0.45, lCl = -3.2), method = "ML"), "Subject"),
  summarise("co2_covariates", nlme(uptake ~ SSasympOff(conc, Asym, lrc, c0), data = co2,
                                   fixed = list(Asym ~ Type * Treatment, lrc + c0 ~ 1), random = Asym ~ 1 | Plant,
                                   start = c(32.4, -8.6, -3.5, -2.6, -4.6, 49)), "CO2",
            list(model = "uptake ~ SSasympOff(conc, Asym, lrc, c0)",
                 fixed = list(Asym = "~ Type * Treatment", lrc = "~ 1", c0 = "~ 1"), random = "Asym ~ 1 | Plant",
                 start = list(Asym = c(32.4, -8.6, -3.5, -2.6), lrc = -4.6, c0 = 49), method = "ML"), "Plant"),
  summarise("soybean_general", nlme(weight ~ SSlogis(Time, Asym, xmid, scal), data = soybean,
                                    fixed = Asym + xmid + scal ~ 1, random = Asym + xmid + scal ~ 1 | Plot,
                                    start = c(Asym = 17, xmid = 52, scal = 7.5)), "Soybean",
            list(model = "weight ~ SSlogis(Time, Asym, xmid, scal)", fixed = "Asym + xmid + scal ~ 1",
                 random = "Asym + xmid + scal ~ 1 | Plot", start = list(Asym = 17, xmid = 52, scal = 7.5),
                 method = "ML"), "Plot")
)
cases <- c(cases, list(
  summarise("co2_varident", nlme(uptake ~ SSasympOff(conc, Asym, lrc, c0), data = co2, fixed = Asym + lrc + c0 ~ 1,
                                 random = Asym ~ 1 | Plant, weights = varIdent(form = ~ 1 | Type),
                                 start = c(Asym = 32.4, lrc = -4.6, c0 = 49)), "CO2",
            list(model = "uptake ~ SSasympOff(conc, Asym, lrc, c0)", fixed = "Asym + lrc + c0 ~ 1",
                 random = "Asym ~ 1 | Plant", start = list(Asym = 32.4, lrc = -4.6, c0 = 49), method = "ML",
                 variance = list(kind = "varIdent", column = "Type")), "Plant"),
  summarise("loblolly_varpower", nlme(height ~ SSasymp(age, Asym, R0, lrc), data = loblolly,
                                      fixed = Asym + R0 + lrc ~ 1, random = Asym ~ 1 | Seed,
                                      weights = varPower(form = ~ age),
                                      start = c(Asym = 103, R0 = -8.5, lrc = -3.3)), "Loblolly",
            list(model = "height ~ SSasymp(age, Asym, R0, lrc)", fixed = "Asym + R0 + lrc ~ 1",
                 random = "Asym ~ 1 | Seed", start = list(Asym = 103, R0 = -8.5, lrc = -3.3), method = "ML",
                 variance = list(kind = "varPower", column = "age")), "Seed")
))
# Within-group residual correlation (nlme's correlation=; ML: see test_nlme.py on REML with structures)
co2_start <- c(Asym = 32.4, lrc = -4.6, c0 = 49)
co2_python <- function(correlation) list(model = "uptake ~ SSasympOff(conc, Asym, lrc, c0)",
  fixed = "Asym + lrc + c0 ~ 1", random = "Asym ~ 1 | Plant", start = as.list(co2_start), method = "ML",
  correlation = correlation)
cases <- c(cases, list(
  summarise("orange_ar1", nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = orange,
                               fixed = Asym + xmid + scal ~ 1, random = Asym ~ 1 | Tree, correlation = corAR1(),
                               start = c(Asym = 170, xmid = 700, scal = 350)), "Orange",
            list(model = "circumference ~ SSlogis(age, Asym, xmid, scal)", fixed = "Asym + xmid + scal ~ 1",
                 random = "Asym ~ 1 | Tree", start = list(Asym = 170, xmid = 700, scal = 350), method = "ML",
                 correlation = list(kind = "corAR1", group = "Tree")), "Tree"),
  summarise("loblolly_car1", nlme(height ~ SSasymp(age, Asym, R0, lrc), data = loblolly,
                                  fixed = Asym + R0 + lrc ~ 1, random = Asym ~ 1 | Seed,
                                  correlation = corCAR1(form = ~ age | Seed),
                                  start = c(Asym = 103, R0 = -8.5, lrc = -3.3)), "Loblolly",
            list(model = "height ~ SSasymp(age, Asym, R0, lrc)", fixed = "Asym + R0 + lrc ~ 1",
                 random = "Asym ~ 1 | Seed", start = list(Asym = 103, R0 = -8.5, lrc = -3.3), method = "ML",
                 correlation = list(kind = "corCAR1", time = "age", group = "Seed")), "Seed"),
  summarise("co2_ar1", nlme(uptake ~ SSasympOff(conc, Asym, lrc, c0), data = co2, fixed = Asym + lrc + c0 ~ 1,
                            random = Asym ~ 1 | Plant, correlation = corAR1(), start = co2_start), "CO2",
            co2_python(list(kind = "corAR1", group = "Plant")), "Plant"),
  summarise("co2_compsymm", nlme(uptake ~ SSasympOff(conc, Asym, lrc, c0), data = co2, fixed = Asym + lrc + c0 ~ 1,
                                 random = Asym ~ 1 | Plant, correlation = corCompSymm(), start = co2_start), "CO2",
            co2_python(list(kind = "corCompSymm", group = "Plant")), "Plant")
))
# nlme's default varPower(): a power of the fitted values, updated before each LME step
cases <- c(cases, list(
  summarise("loblolly_varpower_fitted", nlme(height ~ SSasymp(age, Asym, R0, lrc), data = loblolly,
                                             fixed = Asym + R0 + lrc ~ 1, random = Asym ~ 1 | Seed,
                                             weights = varPower(), start = c(Asym = 103, R0 = -8.5, lrc = -3.3)),
            "Loblolly",
            list(model = "height ~ SSasymp(age, Asym, R0, lrc)", fixed = "Asym + R0 + lrc ~ 1",
                 random = "Asym ~ 1 | Seed", start = list(Asym = 103, R0 = -8.5, lrc = -3.3), method = "ML",
                 variance = list(kind = "varPower")), "Seed"),
  summarise("orange_varpower_fitted", nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = orange,
                                           fixed = Asym + xmid + scal ~ 1, random = Asym ~ 1 | Tree,
                                           weights = varPower(), start = c(Asym = 170, xmid = 700, scal = 350)),
            "Orange",
            list(model = "circumference ~ SSlogis(age, Asym, xmid, scal)", fixed = "Asym + xmid + scal ~ 1",
                 random = "Asym ~ 1 | Tree", start = list(Asym = 170, xmid = 700, scal = 350), method = "ML",
                 variance = list(kind = "varPower")), "Tree")
))
# Nested groups (random = Asym ~ 1 | Block/Tree) on simulated growth curves: 8 blocks of 5 trees,
# each measured at Orange's 7 ages (Asym 200 with block SD 20 and tree SD 15, xmid 700, scal 350,
# residual SD 8)
set.seed(20261208)
nested <- expand.grid(age = c(118, 484, 664, 1004, 1231, 1372, 1582), Tree = paste0("T", 1:5),
                      Block = paste0("B", 1:8), stringsAsFactors = FALSE)
tree_key <- paste(nested$Block, nested$Tree)
asym <- 200 + rnorm(8, 0, 20)[match(nested$Block, paste0("B", 1:8))] + rnorm(40, 0, 15)[match(tree_key, unique(tree_key))]
nested$circumference <- round(asym / (1 + exp((700 - nested$age) / 350)) + rnorm(nrow(nested), 0, 8), 1)
nested_growth <- export(nested[, c("Block", "Tree", "age", "circumference")], "nested_growth",
                        c("Block", "Tree", "age", "circumference"))
summarise_nested <- function(name, fit, python) {
  vc <- VarCorr(fit)
  sds <- suppressWarnings(as.numeric(vc[, "StdDev"]))
  re <- ranef(fit)
  predictions <- predict(fit, level = 0:2)
  list(
    name = name, data = "nested_growth", python = python, method = fit$method,
    loglik = as.numeric(logLik(fit)), fixef = as.list(fixef(fit)), fixef_se = unname(sqrt(diag(vcov(fit)))),
    fixef_df = unname(summary(fit)$tTable[, "DF"]),
    level_sd = list(Block = sds[2], Tree = sds[which(rownames(vc) == "Tree =") + 1]), sigma = fit$sigma,
    ranef_levels = lapply(re, function(r) rownames(r)[1:3]),
    ranef = lapply(re, function(r) unname(r$Asym[1:3])),
    predict = lapply(predictions[1:6, c("predict.fixed", "predict.Block", "predict.Tree")], unname)
  )
}
nested_python <- function(method) list(model = "circumference ~ SSlogis(age, Asym, xmid, scal)",
  fixed = "Asym + xmid + scal ~ 1", random = "Asym ~ 1 | Block/Tree", start = list(Asym = 200, xmid = 700, scal = 350),
  method = method)
nested_cases <- lapply(c("ML", "REML"), function(method) summarise_nested(
  paste0("nested_", tolower(method)),
  nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = nested_growth, fixed = Asym + xmid + scal ~ 1,
       random = Asym ~ 1 | Block/Tree, method = method, start = c(Asym = 200, xmid = 700, scal = 350)),
  nested_python(method)))
# two correlated random parameters at each level (a general 2 × 2 factor per level)
nested_cases[[3]] <- summarise_nested(
  "nested_two_parameters",
  nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = nested_growth, fixed = Asym + xmid + scal ~ 1,
       random = Asym + xmid ~ 1 | Block/Tree, start = c(Asym = 200, xmid = 700, scal = 350)),
  modifyList(nested_python("ML"), list(random = "Asym + xmid ~ 1 | Block/Tree")))
# AR(1) residuals within the inner groups (nlme's default correlation grouping: the innermost)
nested_cases[[4]] <- summarise_nested(
  "nested_ar1",
  nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = nested_growth, fixed = Asym + xmid + scal ~ 1,
       random = Asym ~ 1 | Block/Tree, correlation = corAR1(), start = c(Asym = 200, xmid = 700, scal = 350)),
  modifyList(nested_python("ML"), list(correlation = "Tree")))
nested_cases[[4]]$phi <- unname(coef(nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = nested_growth,
  fixed = Asym + xmid + scal ~ 1, random = Asym ~ 1 | Block/Tree, correlation = corAR1(),
  start = c(Asym = 200, xmid = 700, scal = 350))$modelStruct$corStruct, unconstrained = FALSE))
# a diagonal covariance at both levels (pdDiag), and a power of the fitted values
nested_cases[[5]] <- summarise_nested(
  "nested_diag",
  nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = nested_growth, fixed = Asym + xmid + scal ~ 1,
       random = list(Block = pdDiag(Asym + xmid ~ 1), Tree = pdDiag(Asym + xmid ~ 1)),
       start = c(Asym = 200, xmid = 700, scal = 350)),
  modifyList(nested_python("ML"), list(random = "Asym + xmid ~ 1 | Block/Tree", covariance = "diag")))
nested_cases[[6]] <- summarise_nested(
  "nested_varpower_fitted",
  nlme(circumference ~ SSlogis(age, Asym, xmid, scal), data = nested_growth, fixed = Asym + xmid + scal ~ 1,
       random = Asym ~ 1 | Block/Tree, weights = varPower(), start = c(Asym = 200, xmid = 700, scal = 350)),
  modifyList(nested_python("ML"), list(variance = "varPower")))
names(nested_cases) <- c("nested_ml", "nested_reml", "nested_two_parameters", "nested_ar1", "nested_diag",
                         "nested_varpower_fitted")
write_reference(nested_cases, "nlme_nested_reference.json")
write_reference(cases, "nlme_reference.json")
