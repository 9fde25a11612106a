# Reference values for mixedfit's covariance structures of random-effects terms (us, diag, cs, ar1,
# toep, ou, exp, gau, mat, rr in glmmTMB's formula syntax): glmmTMB 1.1.5 by ML (and one by REML) on
# Orthodont, Oats, BodyWeight, cbpp and a simulated longitudinal data set with a Toeplitz covariance
# (tests/data/toeplitz_sim.csv.gz, written by the first lines below: two replicates per time, so
# that a heterogeneous structure is told apart from the residual); homdiag and homcs, which
# glmmTMB 1.1.5 lacks, from nlme's lme with pdIdent and pdCompSymm. glmmTMB's default optimizer
# stops early (false convergence) on Oats' cs: that case uses BFGS. Run from the repository root:
#   Rscript tests/reference/make_covariance_structures_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(glmmTMB)
  library(nlme)
})

orthodont <- read.csv(file.path("tests", "data", "Orthodont.csv.gz"), stringsAsFactors = TRUE)
oats <- read.csv(file.path("tests", "data", "Oats.csv.gz"), stringsAsFactors = TRUE)
bodyweight <- read.csv(file.path("tests", "data", "BodyWeight.csv.gz"), stringsAsFactors = TRUE)
bodyweight$Rat <- factor(bodyweight$Rat)
bodyweight$Diet <- factor(bodyweight$Diet)
cbpp <- read_data("cbpp")
simulated_path <- file.path("tests", "data", "toeplitz_sim.csv.gz")
if (!file.exists(simulated_path)) {
  set.seed(20261207)
  sds <- c(2, 1.5, 1.8, 2.2)
  S <- diag(sds) %*% toeplitz(c(1, 0.6, 0.3, 0.1)) %*% diag(sds)
  b <- MASS::mvrnorm(60, rep(0, 4), S)
  d <- expand.grid(rep = 1:2, time = 1:4, id = 1:60)
  d$x <- round(rnorm(nrow(d)), 3)
  d$y <- round(10 + 0.5 * d$time + 0.8 * d$x + b[cbind(d$id, d$time)] + rnorm(nrow(d)), 3)
  d$id <- sprintf("s%02d", d$id)
  write.csv(d[, c("y", "x", "time", "id")], gzfile(simulated_path), row.names = FALSE)
}
simulated <- read.csv(simulated_path, stringsAsFactors = TRUE)
bfgs <- glmmTMBControl(optimizer = optim, optArgs = list(method = "BFGS"))
formula_text <- function(f) paste(deparse(f, width.cutoff = 500), collapse = " ")

# An LMM's β standard errors conditional on the covariance parameters, sqrt(diag((X'V⁻¹X)⁻¹)) with
# V = Z (I ⊗ Σ) Z' + σ² I, as lme4 (and mixedfit's lmer) report them; glmmTMB's come from the
# inverse Hessian in all parameters jointly (β's block differs where the design is unbalanced).
conditional_stderr <- function(m, Sigma) {
  Z <- getME(m, "Z")
  G <- kronecker(Diagonal(ncol(Z) / nrow(Sigma)), Matrix(Sigma))
  V <- Z %*% G %*% t(Z) + Diagonal(nrow(Z), sigma(m)^2)
  X <- getME(m, "X")
  sqrt(diag(solve(t(X) %*% solve(V, X))))
}

tmb_case <- function(name, formula, data, data_name, family = gaussian(), REML = FALSE, control = glmmTMBControl()) {
  m <- glmmTMB(formula, data, family = family, REML = REML, control = control)
  vc <- VarCorr(m)$cond[[1]]
  list(name = name, data = data_name, family = family$family, REML = REML, formula = formula_text(formula),
       loglik = as.numeric(logLik(m)), df = attr(logLik(m), "df"), fixef = as.list(fixef(m)$cond),
       stderr = as.list(sqrt(diag(vcov(m)$cond))), covariance = unname(as.matrix(vc)[, ]),
       stderr_conditional = if (family$family == "gaussian") conditional_stderr(m, as.matrix(vc)[, ]) else NULL,
       sd = unname(attr(vc, "stddev")), sigma = if (family$family == "gaussian") sigma(m) else NULL,
       sd_wald = sd_wald(m),
       seconds = median_time(function() update(m), 3), reference = paste("glmmTMB", packageVersion("glmmTMB")))
}

# glmmTMB's Wald intervals of the term's SDs (symmetric on the log scale), one row per distinct SD
# (2.5 %, 97.5 %, estimate); NULL where they cannot be computed.
sd_wald <- function(m) {
  ci <- tryCatch(suppressWarnings(confint(m, method = "wald")), error = function(e) NULL)
  if (is.null(ci)) return(NULL)
  rows <- ci[grepl("^Std.Dev", rownames(ci)), , drop = FALSE]
  rows <- rows[!duplicated(round(rows[, 3], 10)), , drop = FALSE]
  if (nrow(rows) == 0 || any(!is.finite(rows))) NULL else unname(rows)
}

# nlme's pdIdent / pdCompSymm are mixedfit's homdiag / homcs.
lme_case <- function(name, formula, pd, group, data, data_name, mixedfit_formula) {
  random <- list(pd)
  names(random) <- group
  m <- lme(formula, random = random, data = data, method = "ML")
  V <- getVarCov(m)
  list(name = name, data = data_name, family = "gaussian", REML = FALSE, formula = mixedfit_formula,
       loglik = as.numeric(logLik(m)), df = attr(logLik(m), "df"), fixef = as.list(fixef(m)),
       stderr = as.list(sqrt(diag(vcov(m)))), stderr_conditional = unname(sqrt(diag(vcov(m)))),
       covariance = unname(as.matrix(V)[, ]),
       sd = unname(sqrt(diag(as.matrix(V)))), sigma = m$sigma,
       seconds = median_time(function() update(m), 3), reference = paste("nlme", packageVersion("nlme")))
}

cases <- list(
  tmb_case("orthodont_us", distance ~ age + (age | Subject), orthodont, "Orthodont"),
  tmb_case("orthodont_diag", distance ~ age + diag(age | Subject), orthodont, "Orthodont"),
  tmb_case("oats_cs", yield ~ nitro + cs(0 + Variety | Block), oats, "Oats", control = bfgs),
  tmb_case("oats_diag", yield ~ nitro + diag(0 + Variety | Block), oats, "Oats"),
  tmb_case("oats_rr1", yield ~ nitro + rr(0 + Variety | Block, d = 1), oats, "Oats"),
  tmb_case("orthodont_ar1", distance ~ age + ar1(0 + factor(age) | Subject), orthodont, "Orthodont"),
  tmb_case("orthodont_ar1_reml", distance ~ age + ar1(0 + factor(age) | Subject), orthodont, "Orthodont", REML = TRUE),
  tmb_case("simulated_toep", y ~ x + time + toep(0 + factor(time) | id), simulated, "toeplitz_sim"),
  tmb_case("simulated_cs", y ~ x + time + cs(0 + factor(time) | id), simulated, "toeplitz_sim"),
  tmb_case("simulated_ar1", y ~ x + time + ar1(0 + factor(time) | id), simulated, "toeplitz_sim"),
  tmb_case("simulated_rr2", y ~ x + time + rr(0 + factor(time) | id, d = 2), simulated, "toeplitz_sim"),
  tmb_case("orthodont_exp", distance ~ age + exp(0 + numFactor(age) | Subject), orthodont, "Orthodont"),
  tmb_case("orthodont_gau", distance ~ age + gau(0 + numFactor(age) | Subject), orthodont, "Orthodont"),
  tmb_case("bodyweight_ou", weight ~ Time + Diet + ou(0 + numFactor(Time) | Rat), bodyweight, "BodyWeight"),
  tmb_case("bodyweight_exp", weight ~ Time + Diet + exp(0 + numFactor(Time) | Rat), bodyweight, "BodyWeight"),
  tmb_case("bodyweight_mat", weight ~ Time + Diet + mat(0 + numFactor(Time) | Rat), bodyweight, "BodyWeight"),
  tmb_case("cbpp_ar1", cbind(incidence, size - incidence) ~ period + ar1(0 + period | herd), cbpp, "cbpp",
           family = binomial()),
  tmb_case("cbpp_cs", cbind(incidence, size - incidence) ~ period + cs(0 + period | herd), cbpp, "cbpp",
           family = binomial()),
  lme_case("oats_homdiag", yield ~ nitro, pdIdent(~ 0 + Variety), "Block", oats, "Oats",
           "yield ~ nitro + homdiag(0 + Variety | Block)"),
  lme_case("oats_homcs", yield ~ nitro, pdCompSymm(~ 0 + Variety), "Block", oats, "Oats",
           "yield ~ nitro + homcs(0 + Variety | Block)")
)
write_reference(cases, "covariance_structures_reference.json")
