# Reference values for mixedfit.clmm (cumulative link mixed models): ordinal 2022.11's clmm on its
# wine and soup data (written to tests/data by this script), Laplace approximation (nAGQ = 1)
# and adaptive Gauss-Hermite quadrature, logit / probit / cloglog / loglog links, flexible and
# equidistant thresholds, nested, crossed and correlated random effects. Run from the
# repository root:
#   Rscript tests/reference/make_clmm_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(ordinal))

data(wine, package = "ordinal")
data(soup, package = "ordinal")
wine_out <- wine[, c("rating", "temp", "contact", "bottle", "judge")]
soup_out <- soup[, c("SURENESS", "PROD", "RESP", "DAY", "GENDER")]
write.csv(wine_out, file.path("tests", "data", "wine.csv"), row.names = FALSE)
gz <- gzfile(file.path("tests", "data", "soup.csv.gz"), "w")
write.csv(soup_out, gz, row.names = FALSE)
close(gz)
# Fitted to the data read back as the tests read them: factor levels in alphabetical order.
wine <- read.csv(file.path("tests", "data", "wine.csv"), stringsAsFactors = TRUE)
soup <- read.csv(file.path("tests", "data", "soup.csv.gz"), stringsAsFactors = TRUE)
wine$rating <- factor(wine$rating, ordered = TRUE)
wine$judge <- factor(wine$judge)
wine$bottle <- factor(wine$bottle)
soup$SURENESS <- factor(soup$SURENESS, ordered = TRUE)
soup$RESP <- factor(soup$RESP)
soup$DAY <- factor(soup$DAY)

summarise <- function(name, formula, data, data_name, link = "logit", threshold = "flexible", nAGQ = 1) {
  m <- clmm(formula, data = data, link = link, threshold = threshold, nAGQ = nAGQ)
  se <- sqrt(diag(vcov(m)))
  n_alpha <- length(m$alpha)
  n_beta <- length(m$beta)
  vc <- VarCorr(m)
  list(name = name, data = data_name, formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
       link = link, threshold = threshold, nAGQ = nAGQ,
       loglik = as.numeric(logLik(m)), aic = AIC(m), df = attr(logLik(m), "df"),
       fixef = as.list(m$beta), stderr = as.list(se[n_alpha + seq_len(n_beta)]),
       alpha = as.list(m$alpha), alpha_stderr = as.list(se[seq_len(n_alpha)]),
       cuts = as.numeric(m$Theta),
       sd = lapply(vc, function(v) as.numeric(attr(v, "stddev"))),
       corr = lapply(vc, function(v) { r <- attr(v, "correlation"); if (is.null(r)) NULL else r[lower.tri(r)] }),
       ranef_head = lapply(ranef(m), function(r) as.list(setNames(head(r[[1]], 5), head(rownames(r), 5)))),
       fitted_head = head(as.numeric(m$fitted.values), 5),
       seconds = median_time(function() clmm(formula, data = data, link = link, threshold = threshold, nAGQ = nAGQ), 3),
       ordinal = as.character(packageVersion("ordinal")))
}

cases <- list(
  summarise("wine_logit", rating ~ temp + contact + (1 | judge), wine, "wine"),
  summarise("wine_probit", rating ~ temp + contact + (1 | judge), wine, "wine", link = "probit"),
  # ordinal 2022.11's clmm swaps these two links' distribution functions (its clm does not): its
  # link = "cloglog" fit maximizes the loglog model's likelihood (exact quadrature at its estimates
  # with F(x) = exp(-exp(-x)) gives its logLik) and link = "loglog" the cloglog one. The tests
  # compare mixedfit's cloglog with the "loglog" case and its loglog with the "cloglog" case.
  summarise("wine_cloglog", rating ~ temp + contact + (1 | judge), wine, "wine", link = "cloglog"),
  summarise("wine_loglog", rating ~ temp + contact + (1 | judge), wine, "wine", link = "loglog"),
  summarise("wine_equidistant", rating ~ temp + contact + (1 | judge), wine, "wine", threshold = "equidistant"),
  summarise("wine_interaction", rating ~ temp * contact + (1 | judge), wine, "wine"),
  summarise("wine_slope", rating ~ temp + contact + (1 + contact | judge), wine, "wine"),
  summarise("wine_crossed", rating ~ temp + contact + (1 | judge) + (1 | bottle), wine, "wine"),
  summarise("wine_agq", rating ~ temp + contact + (1 | judge), wine, "wine", nAGQ = 7),
  summarise("soup_nested_probit", SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), soup, "soup",
            link = "probit", threshold = "equidistant"),
  summarise("soup_logit", SURENESS ~ PROD + DAY + GENDER + (1 | RESP), soup, "soup")
)
write_reference(cases, "clmm_reference.json")
