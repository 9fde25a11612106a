# Reference values for mixedfit's zero-truncated and generalized Poisson GLMMs: glmmTMB's
# truncated_poisson, truncated_nbinom1, truncated_nbinom2 and genpois (each family parameter
# estimated jointly; glmmTMB's Laplace approximation, exact Hessian), on glmmTMB's Salamanders and
# Owls, which the script writes to tests/data. (glmmTMB 1.1.5 has no lognormal family: mixedfit's
# is checked against the Laplace approximation computed in the test.) Run from the repository root:
#   Rscript tests/reference/make_count_families_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

data(Salamanders, package = "glmmTMB")
data(Owls, package = "glmmTMB")
salamanders <- Salamanders[, c("site", "mined", "cover", "spp", "count")]
salamanders$site <- as.character(salamanders$site)
owls <- Owls[, c("Nest", "FoodTreatment", "SexParent", "ArrivalTime", "SiblingNegotiation", "BroodSize")]
write.csv(salamanders, gzfile(file.path("tests", "data", "Salamanders.csv.gz")), row.names = FALSE)
write.csv(owls, gzfile(file.path("tests", "data", "Owls.csv.gz")), row.names = FALSE)
salamanders <- read.csv(file.path("tests", "data", "Salamanders.csv.gz"), stringsAsFactors = TRUE)
owls <- read.csv(file.path("tests", "data", "Owls.csv.gz"), stringsAsFactors = TRUE)

summarise <- function(name, formula, data, data_name, family, subset = NULL, start = NULL) {
  if (!is.null(subset)) data <- data[eval(subset, data), ]
  m <- glmmTMB(formula, data, family = family, start = start)
  vc <- VarCorr(m)$cond
  # predict(type = "response") of a truncated family is the truncated distribution's mean; glmmTMB
  # 1.1.5 has no Pearson residuals for truncated_nbinom1 (null there).
  list(name = name, data = data_name, subset = if (is.null(subset)) NULL else deparse(subset),
       family = family$family, link = family$link, formula = paste(deparse(formula, width.cutoff = 500), collapse = " "), loglik = as.numeric(logLik(m)), aic = AIC(m),
       fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
       sd = as.list(vapply(vc, function(v) attr(v, "stddev")[[1]], 0)), phi = sigma(m),
       response_head = head(as.numeric(predict(m, type = "response")), 5),
       link_head = head(as.numeric(predict(m, type = "link")), 5),
       pearson_head = tryCatch(head(as.numeric(residuals(m, type = "pearson")), 5), error = function(e) NULL),
       seconds = median_time(function() update(m), 3), glmmTMB = as.character(packageVersion("glmmTMB")))
}
grouseticks <- read.csv(file.path("python", "mixedfit", "data", "grouseticks.csv"), stringsAsFactors = TRUE)
grouseticks$YEAR <- factor(grouseticks$YEAR)
f_sal <- count ~ spp + mined + (1 | site)
f_owls <- SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)
positive <- quote(count > 0)
cases <- list(
  summarise("salamanders_truncated_poisson", f_sal, salamanders, "Salamanders", truncated_poisson(), positive),
  summarise("salamanders_truncated_nbinom1", f_sal, salamanders, "Salamanders", truncated_nbinom1(), positive),
  summarise("salamanders_truncated_nbinom2", f_sal, salamanders, "Salamanders", truncated_nbinom2(), positive),
  summarise("owls_truncated_nbinom2", f_owls, owls, "Owls", truncated_nbinom2(), quote(SiblingNegotiation > 0)),
  summarise("salamanders_genpois", f_sal, salamanders, "Salamanders", genpois()),
  summarise("owls_genpois", f_owls, owls, "Owls", genpois()),
  # The square-root link (glmmTMB's links apply to these families too). Its default start, β = 0,
  # is μ = 0 under this link: from there glmmTMB stops at −887.1 for nbinom1, so it starts from
  # the intercept √(mean count), where it reaches the optimum (−819.18). (genpois with this link
  # is not a case: from either start glmmTMB stops at −906.1 or −823.5, while its own likelihood
  # at mixedfit's estimates is −819.050, mixedfit's optimum.)
  summarise("salamanders_truncated_poisson_sqrt", f_sal, salamanders, "Salamanders", truncated_poisson(link = "sqrt"),
            positive),
  summarise("salamanders_nbinom1_sqrt", f_sal, salamanders, "Salamanders", nbinom1(link = "sqrt"),
            start = list(beta = c(sqrt(mean(salamanders$count)), rep(0, 7)))),
  summarise("grouseticks_genpois_sqrt", TICKS ~ YEAR + (1 | BROOD), grouseticks, "grouseticks", genpois(link = "sqrt"))
)
write_reference(cases, "count_families_reference.json")
