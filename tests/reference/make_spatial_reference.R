# Reference values for mixedfit's spatial residual correlation (corExp, corGaus, corSpher, corLin,
# corRatio, with and without a nugget): nlme's lme on BodyWeight (1-D: Time within Rat) and on a
# simulated field trial (tests/data/field_trial_sim.csv.gz, written below: 4 blocks of 8 × 6
# plots, 4 treatments, exponential spatial correlation with a nugget within blocks), REML and ML.
# Run from the repository root:
#   Rscript tests/reference/make_spatial_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(nlme))

bodyweight <- read.csv(file.path("tests", "data", "BodyWeight.csv.gz"))
bodyweight$Rat <- factor(bodyweight$Rat, levels = unique(bodyweight$Rat))
bodyweight$Diet <- factor(bodyweight$Diet)

field_path <- file.path("tests", "data", "field_trial_sim.csv.gz")
if (!file.exists(field_path)) {
  set.seed(20261207)
  plots <- expand.grid(x = 1:8, y = 1:6, block = 1:4)
  plots$treatment <- factor(unlist(lapply(1:4, function(b) sample(rep(c("A", "B", "C", "D"), 12)))))
  noise <- unlist(lapply(1:4, function(b) {
    p <- plots[plots$block == b, ]
    C <- 0.8 * exp(-as.matrix(dist(p[, c("x", "y")])) / 2) + diag(0.2, nrow(p))
    drop(t(chol(C)) %*% rnorm(nrow(p)))
  }))
  plots$yield <- round(10 + c(A = 0, B = 0.5, C = 1, D = -0.3)[as.character(plots$treatment)] +
                       rnorm(4, 0, 0.7)[plots$block] + 1.5 * noise, 4)
  plots$block <- paste0("b", plots$block)
  write.csv(plots, gzfile(field_path), row.names = FALSE)
}
field <- read.csv(field_path, stringsAsFactors = TRUE)
field$block <- factor(field$block, levels = unique(field$block))

spatial_case <- function(name, data, data_name, formula, random, correlation, mixedfit_formula, spec) {
  out <- list()
  for (method in c("REML", "ML")) {
    fit <- function() lme(formula, data = data, random = random, correlation = correlation, method = method,
                          control = lmeControl(maxIter = 200, msMaxIter = 200, tolerance = 1e-10, msTol = 1e-12))
    m <- fit()
    iv <- tryCatch(intervals(m, which = "var-cov")$corStruct, error = function(e) NULL)
    out[[length(out) + 1]] <- list(
      name = paste0(name, "_", method), data = data_name, formula = mixedfit_formula, correlation = spec,
      REML = method == "REML", loglik = as.numeric(logLik(m)), sigma = m$sigma,
      fixef = as.list(fixef(m)), stderr = as.list(sqrt(diag(vcov(m)))),
      phi = as.list(coef(m$modelStruct$corStruct, unconstrained = FALSE)),
      phi_intervals = if (is.null(iv)) NULL else lapply(split(iv, rownames(iv)), as.list),
      normalized = as.numeric(resid(m, type = "normalized")),
      seconds = median_time(fit, 3), nlme = as.character(packageVersion("nlme")))
  }
  out
}

bw <- weight ~ Time * Diet
bw_text <- "weight ~ Time * Diet + (1 | Rat)"
cases <- c(
  spatial_case("bodyweight_exp", bodyweight, "BodyWeight", bw, ~ 1 | Rat, corExp(form = ~ Time | Rat), bw_text,
               list(kind = "corExp", coords = "Time", group = "Rat")),
  spatial_case("bodyweight_gaus_nugget", bodyweight, "BodyWeight", bw, ~ 1 | Rat,
               corGaus(form = ~ Time | Rat, nugget = TRUE), bw_text,
               list(kind = "corGaus", coords = "Time", group = "Rat", nugget = TRUE)),
  spatial_case("bodyweight_ratio", bodyweight, "BodyWeight", bw, ~ 1 | Rat, corRatio(form = ~ Time | Rat), bw_text,
               list(kind = "corRatio", coords = "Time", group = "Rat")),
  spatial_case("bodyweight_spher", bodyweight, "BodyWeight", bw, ~ 1 | Rat, corSpher(form = ~ Time | Rat), bw_text,
               list(kind = "corSpher", coords = "Time", group = "Rat")),
  spatial_case("bodyweight_lin", bodyweight, "BodyWeight", bw, ~ 1 | Rat, corLin(form = ~ Time | Rat), bw_text,
               list(kind = "corLin", coords = "Time", group = "Rat")),
  spatial_case("field_exp_nugget", field, "field_trial_sim", yield ~ treatment, ~ 1 | block,
               corExp(form = ~ x + y | block, nugget = TRUE), "yield ~ treatment + (1 | block)",
               list(kind = "corExp", coords = c("x", "y"), group = "block", nugget = TRUE)),
  spatial_case("field_exp_manhattan", field, "field_trial_sim", yield ~ treatment, ~ 1 | block,
               corExp(form = ~ x + y | block, metric = "manhattan"), "yield ~ treatment + (1 | block)",
               list(kind = "corExp", coords = c("x", "y"), group = "block", metric = "manhattan"))
)
write_reference(cases, "spatial_reference.json")
