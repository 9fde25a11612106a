# Shared by the nlme reference scripts (variance functions, correlation structures): exporting
# nlme's data sets and summarising lme fits, REML and ML.
suppressPackageStartupMessages(library(nlme))

export <- function(data, name) {
  plain <- as.data.frame(lapply(as.data.frame(data), function(v) if (is.factor(v)) as.character(v) else v))
  write.csv(plain, gzfile(file.path("tests", "data", paste0(name, ".csv.gz"))), row.names = FALSE)
}
# nlme's varIdent reference is the first stratum of its (grouped, reordered) data; mixedfit's is
# the first in data order. Both are recorded as every stratum's SD ratio to the first level of
# the mixedfit order, computed from nlme's coefficients.
ratios <- function(m, first) {
  v <- m$modelStruct$varStruct
  if (!inherits(v, "varIdent")) return(as.list(coef(v, unconstrained = FALSE)))
  all <- c(1, coef(v, unconstrained = FALSE))
  names(all) <- attr(v, "groupNames")
  as.list(all / all[[first]])
}

# nlme's gls with the same residual structure (the model ranova compares with when the last
# random-effects term goes): its log-likelihood and structure parameters.
gls_summary <- function(formula, data, weights, correlation, method, first) {
  g <- gls(formula, data = data, weights = weights, correlation = correlation, method = method)
  list(loglik = as.numeric(logLik(g)), phi = unname(coef(g$modelStruct$corStruct, unconstrained = FALSE)),
       variance_estimates = if (is.null(weights)) NULL else ratios(g, first))
}

nlme_case <- function(name, data_name, formula, random, weights, mixedfit_formula, variance, first = NULL,
                      correlation = NULL, mixedfit_correlation = NULL) {
  out <- list()
  for (method in c("REML", "ML")) {
    fit <- function() lme(formula, data = get(data_name), random = random, weights = weights, method = method,
                          correlation = correlation,
                          control = lmeControl(maxIter = 200, msMaxIter = 200, tolerance = 1e-10, msTol = 1e-12))
    m <- fit()
    all_iv <- intervals(m, which = "var-cov")
    iv <- all_iv$varStruct
    cor_iv <- all_iv$corStruct
    out[[length(out) + 1]] <- list(
      name = paste0(name, "_", method), data = data_name, formula = mixedfit_formula, variance = variance,
      REML = method == "REML", loglik = as.numeric(logLik(m)), sigma = m$sigma,
      fixef = as.list(fixef(m)), stderr = as.list(sqrt(diag(vcov(m)))),
      sd = as.list(m$sigma * sqrt(diag(as.matrix(pdMatrix(m$modelStruct$reStruct)[[1]])))),
      variance_estimates = if (is.null(weights)) NULL else ratios(m, first),
      correlation = mixedfit_correlation,
      phi = if (is.null(correlation)) NULL else unname(coef(m$modelStruct$corStruct, unconstrained = FALSE)),
      phi_interval = if (is.null(cor_iv)) NULL else as.list(cor_iv[1, ]),
      variance_intervals = if (is.null(iv)) NULL else lapply(seq_len(nrow(iv)), function(i) as.list(iv[i, ])),
      variance_interval_names = rownames(iv),
      normalized = if (is.null(correlation)) NULL else as.numeric(resid(m, type = "normalized")),
      gls = if (is.null(correlation)) NULL else gls_summary(formula, get(data_name), weights, correlation, method, first),
      seconds = median_time(fit, 5), nlme = as.character(packageVersion("nlme")))
  }
  out
}

