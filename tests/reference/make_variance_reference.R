# Reference values for mixedfit's residual variance functions: nlme's lme with varIdent, varPower
# and varExp (REML and ML) on nlme's Orthodont and Dialyzer, and glmmTMB's dispformula for a
# heteroscedastic model with crossed random effects (ScotsSec; ML), which nlme cannot fit. The two
# nlme data sets are written to tests/data/ (plain data frames, factors as strings). Run from the
# repository root:
#   Rscript tests/reference/make_variance_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(glmmTMB))

source("tests/reference/nlme_common.R")
export(Orthodont, "Orthodont")
export(Dialyzer, "Dialyzer")
# ScotsSec (mlmRev) is read from the shared data and kept, gzipped, next to the tests.
write.csv(read_data("ScotsSec"), gzfile(file.path("tests", "data", "ScotsSec.csv.gz")), row.names = FALSE)

cases <- c(
  nlme_case("orthodont_varident", "Orthodont", distance ~ age, ~ 1 | Subject, varIdent(form = ~ 1 | Sex),
            "distance ~ age + (1 | Subject)", list(kind = "varIdent", column = "Sex"), first = "Male"),
  nlme_case("orthodont_slopes_varident", "Orthodont", distance ~ age, ~ age | Subject, varIdent(form = ~ 1 | Sex),
            "distance ~ age + (age | Subject)", list(kind = "varIdent", column = "Sex"), first = "Male"),
  nlme_case("dialyzer_varpower", "Dialyzer", rate ~ (pressure + I(pressure^2)) * QB, ~ pressure | Subject,
            varPower(form = ~ pressure), "rate ~ (pressure + I(pressure**2)) * QB + (pressure | Subject)",
            list(kind = "varPower", column = "pressure")),
  nlme_case("orthodont_varexp", "Orthodont", distance ~ age, ~ 1 | Subject, varExp(form = ~ age),
            "distance ~ age + (1 | Subject)", list(kind = "varExp", column = "age"))
)

# Crossed random effects with a residual SD per sex: glmmTMB's dispformula (ML).
scots <- read_data("ScotsSec")
f_scots <- attain ~ verbal + sex + (1 | primary) + (1 | second)
fit_scots <- function() glmmTMB(f_scots, scots, dispformula = ~ sex)
m <- fit_scots()
sigma_by_sex <- tapply(predict(m, type = "disp"), scots$sex, mean)
first <- as.character(scots$sex[1])
cases[[length(cases) + 1]] <- list(
  name = "scotssec_crossed_varident_ML", data = "ScotsSec", formula = "attain ~ verbal + sex + (1 | primary) + (1 | second)",
  variance = list(kind = "varIdent", column = "sex"), REML = FALSE, loglik = as.numeric(logLik(m)),
  sigma = sigma_by_sex[[first]], fixef = as.list(fixef(m)$cond), stderr = as.list(sqrt(diag(vcov(m)$cond))),
  sd = as.list(vapply(VarCorr(m)$cond, function(v) attr(v, "stddev")[[1]], 0)),
  variance_estimates = as.list(sigma_by_sex / sigma_by_sex[[first]]),
  seconds = median_time(fit_scots, 3), glmmTMB = as.character(packageVersion("glmmTMB")))
write_reference(cases, "variance_reference.json")
