# Reference values for smooth terms s(...) in lmer/glmer formulas: gamm4 0.2-6 (mgcv 1.8-41,
# lme4) on mgcv's simulated data (gamSim; written to tests/data/) and on sleepstudy.
# Per fit: the mixed model's log-likelihood (REML or ML), fixed effects and their SEs, the smooths'
# variances, mgcv's s.table (edf, Ref.df, F or Chi.sq, p-value), predictions of the whole mean
# (predict.gam: fixed part and smooths, no other random effects) and each smooth's estimated
# function with its standard error (predict.gam type = "terms") on a grid. Run from the repository root:
#   Rscript tests/reference/make_smooths_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(gamm4))

set.seed(20261207)
sim6 <- gamSim(6, n = 400, scale = 2, verbose = FALSE)      # 4-term additive model + random intercepts
sim6 <- data.frame(y = signif(sim6$y, 8), x0 = signif(sim6$x0, 8), x1 = signif(sim6$x1, 8),
                   x2 = signif(sim6$x2, 8), x3 = signif(sim6$x3, 8), fac = paste0("g", sim6$fac))
sim4 <- gamSim(4, n = 400, verbose = FALSE)                 # smooth of x2 varying by a factor
sim4 <- data.frame(y = signif(sim4$y, 8), x0 = signif(sim4$x0, 8), x2 = signif(sim4$x2, 8),
                   fac = paste0("f", sim4$fac))
pois <- gamSim(1, n = 400, dist = "poisson", scale = 0.25, verbose = FALSE)
site <- sample(sprintf("s%02d", 1:20), 400, replace = TRUE)
site_effect <- setNames(rnorm(20, 0, 0.4), sprintf("s%02d", 1:20))
pois$y <- rpois(400, exp(0.25 * pois$f + site_effect[site] - 1))   # gamSim's f plus site effects
pois <- data.frame(y = pois$y, x0 = signif(pois$x0, 8), x2 = signif(pois$x2, 8), site = site)
large <- gamSim(6, n = 2500, scale = 2, verbose = FALSE)  # more distinct values than mgcv's 2,000 knots
large <- data.frame(y = signif(large$y, 8), x2 = signif(large$x2, 8), fac = paste0("g", large$fac))
write.csv(large, file.path("tests", "data", "gamsim_large.csv"), row.names = FALSE)
write.csv(sim6, file.path("tests", "data", "gamsim6.csv"), row.names = FALSE)
write.csv(sim4, file.path("tests", "data", "gamsim4.csv"), row.names = FALSE)
write.csv(pois, file.path("tests", "data", "gamsim_poisson.csv"), row.names = FALSE)
sim6 <- read.csv(file.path("tests", "data", "gamsim6.csv"), stringsAsFactors = TRUE)
sim4 <- read.csv(file.path("tests", "data", "gamsim4.csv"), stringsAsFactors = TRUE)
pois <- read.csv(file.path("tests", "data", "gamsim_poisson.csv"), stringsAsFactors = TRUE)
large <- read.csv(file.path("tests", "data", "gamsim_large.csv"), stringsAsFactors = TRUE)
sleep <- read_data("sleepstudy")

grid_of <- function(data, variables, by = NULL, level = NULL) {
  grid <- data.frame(row.names = 1:25)
  for (v in names(data)) {  # other covariates at their first value (they only shift the prediction)
    grid[[v]] <- if (is.factor(data[[v]])) factor(rep(levels(data[[v]])[1], 25), levels(data[[v]])) else rep(data[[v]][1], 25)
  }
  if (length(variables) == 1) {
    grid[[variables]] <- seq(min(data[[variables]]), max(data[[variables]]), length = 25)
  } else {
    g <- expand.grid(a = seq(min(data[[variables[1]]]), max(data[[variables[1]]]), length = 5),
                     b = seq(min(data[[variables[2]]]), max(data[[variables[2]]]), length = 5))
    grid[[variables[1]]] <- g$a; grid[[variables[2]]] <- g$b
  }
  if (!is.null(by)) grid[[by]] <- if (is.factor(data[[by]])) factor(rep(level, 25), levels(data[[by]])) else rep(1, 25)
  grid
}

summarise <- function(name, formula, random, data, data_name, smooths, python, REML = TRUE, family = gaussian()) {
  b <- gamm4(formula, random = random, data = data, REML = REML, family = family)
  mer <- b$mer
  st <- summary(b$gam)$s.table
  vc <- as.data.frame(VarCorr(mer))
  curves <- lapply(seq_along(smooths), function(i) {
    s <- smooths[[i]]
    grid <- grid_of(data, s$variables, s$by, s$level)
    terms <- predict(b$gam, newdata = grid, type = "terms", se.fit = TRUE)
    column <- match(s$label, colnames(terms$fit))
    list(label = s$label, grid = as.list(grid[, c(s$variables, s$by), drop = FALSE]),
         estimate = unname(terms$fit[, column]), se = unname(terms$se.fit[, column]),
         prediction = unname(as.numeric(predict(b$gam, newdata = grid))))
  })
  list(
    name = name, data = data_name, formula = python, REML = REML, family = family$family,
    loglik = as.numeric(logLik(mer)),
    fixef = as.list(setNames(unname(fixef(mer)), sub("^X", "", names(fixef(mer))))),
    fixef_se = unname(sqrt(diag(as.matrix(vcov(mer))))),
    smooth_sd = as.list(setNames(vc$sdcor[vc$grp != "Residual" & grepl("^Xr", vc$grp)],
                                 vc$var1[vc$grp != "Residual" & grepl("^Xr", vc$grp)])),
    other_sd = as.list(setNames(vc$sdcor[!grepl("^Xr", vc$grp)], vc$grp[!grepl("^Xr", vc$grp)])),
    s_table = list(term = rownames(st), edf = unname(st[, 1]), ref_df = unname(st[, 2]), stat = unname(st[, 3]),
                   p_value = unname(st[, 4]), stat_name = colnames(st)[3]),
    curves = curves
  )
}

cases <- list(
  summarise("cr_additive", y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + x3, ~(1 | fac), sim6, "gamsim6",
            list(list(label = "s(x0)", variables = "x0"), list(label = "s(x1)", variables = "x1")),
            "y ~ s(x0, bs='cr') + s(x1, bs='cr') + x3 + (1 | fac)"),
  summarise("tp_additive", y ~ s(x0) + s(x2), ~(1 | fac), sim6, "gamsim6",
            list(list(label = "s(x0)", variables = "x0"), list(label = "s(x2)", variables = "x2")),
            "y ~ s(x0) + s(x2) + (1 | fac)"),
  summarise("ps_ml", y ~ s(x2, bs = "ps") + x1, ~(1 | fac), sim6, "gamsim6",
            list(list(label = "s(x2)", variables = "x2")), "y ~ s(x2, bs='ps') + x1 + (1 | fac)", REML = FALSE),
  summarise("tp_surface", y ~ s(x1, x2, k = 20), ~(1 | fac), sim6, "gamsim6",
            list(list(label = "s(x1,x2)", variables = c("x1", "x2"))), "y ~ s(x1, x2, k=20) + (1 | fac)"),
  summarise("by_factor", y ~ fac + s(x2, by = fac, bs = "cr") + s(x0, bs = "cr", k = 5), NULL, sim4, "gamsim4",
            list(list(label = "s(x2):facf1", variables = "x2", by = "fac", level = "f1"),
                 list(label = "s(x2):facf2", variables = "x2", by = "fac", level = "f2")),
            "y ~ fac + s(x2, by=fac, bs='cr') + s(x0, bs='cr', k=5)"),
  summarise("poisson_cr", y ~ s(x0, bs = "cr") + s(x2, bs = "cr"), ~(1 | site), pois, "gamsim_poisson",
            list(list(label = "s(x2)", variables = "x2")), "y ~ s(x0, bs='cr') + s(x2, bs='cr') + (1 | site)",
            family = poisson()),
  # a numeric by: the smooth of x2 times x1, uncentred (its unpenalized part holds x1 and x1·x2)
  summarise("numeric_by", y ~ s(x2, by = x1, bs = "cr") + s(x0, bs = "cr"), ~(1 | fac), sim6, "gamsim6",
            list(list(label = "s(x2):x1", variables = "x2", by = "x1")),
            "y ~ s(x2, by=x1, bs='cr') + s(x0, bs='cr') + (1 | fac)"),
  # max.knots above the distinct values: mgcv's exact basis on all of them (mixedfit's for one covariate)
  summarise("tp_all_knots", y ~ s(x2, xt = list(max.knots = 3000)), ~(1 | fac), large, "gamsim_large",
            list(list(label = "s(x2)", variables = "x2")), "y ~ s(x2) + (1 | fac)"),
  summarise("sleepstudy_cr", Reaction ~ s(Days, bs = "cr", k = 5), ~(1 | Subject), sleep, "sleepstudy",
            list(list(label = "s(Days)", variables = "Days")), "Reaction ~ s(Days, bs='cr', k=5) + (1 | Subject)"),
  summarise("sleepstudy_tp", Reaction ~ s(Days, k = 6), ~(Days | Subject), sleep, "sleepstudy",
            list(list(label = "s(Days)", variables = "Days")), "Reaction ~ s(Days, k=6) + (Days | Subject)")
)
write_reference(cases, "smooths_reference.json")
