# Where lme4's own tests hard-code numbers from a fit that stops short of the optimum (its default
# PIRLS tolerance, or a loose optimizer), tests/test_lme4_expectations.py also compares with
# lme4 1.1-31 converged tightly on the same data; this script makes those numbers
# (lme4_expectations_reference.json). Data: tests/data/lme4_tests (export_lme4_test_data.R).
suppressMessages({library(lme4); library(jsonlite)})
dir <- "tests/data/lme4_tests"
rd <- function(file) read.csv(if (grepl("gz$", file)) gzfile(file.path(dir, file)) else file.path(dir, file),
                              stringsAsFactors = TRUE)
opt <- list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, maxeval = 1e5)
tight_lmer <- lmerControl(optimizer = "nloptwrap", optCtrl = opt)
tight_glmer <- glmerControl(tolPwrss = 1e-12, optimizer = "nloptwrap", optCtrl = opt)
out <- list(meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))))

# test-resids.R
fm1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, control = tight_lmer)
cbpp$prop <- cbpp$incidence / cbpp$size
gm1 <- glmer(prop ~ period + (1 | herd), cbpp, family = binomial, weights = size, control = tight_glmer)
out$resids <- list(
  lmer_REML = REMLcrit(fm1), lmer_range = range(resid(fm1)), lmer_scaled_range = range(resid(fm1, scaled = TRUE)),
  glmer_deviance = -2 * c(logLik(gm1)),
  glmer_range = lapply(c(deviance = "deviance", response = "response", pearson = "pearson", working = "working"),
                       function(type) range(resid(gm1, type))))

# glmmExt.R, Gamma/inverse
d <- rd("gamma_inverse.csv.gz")
gm3B <- glmer(y ~ x + (1 | block), d, Gamma, control = tight_glmer)
out$gamma_inverse <- list(fixef = unname(fixef(gm3B)), loglik = c(logLik(gm3B)))

# testcrab.R
load(system.file("testdata", "crabs_randdata2.Rda", package = "lme4"))
crab <- glmer(fr2, weights = initial.snail.density, family = "binomial", data = randdata, control = tight_glmer)
out$crabs <- list(loglik = c(logLik(crab)))

# test-predict.R, GH 457
dd <- rd("predict_columns.csv")
for (v in c("f", "g", "h")) dd[[v]] <- factor(dd[[v]])
m1 <- suppressMessages(lmer(y ~ 1 + f + (1 | h/f) + (poly(x, 2) | g), data = dd, control = tight_lmer))
out$predict_columns <- list(REML = REMLcrit(m1),
                            nested = unname(predict(m1, re.form = ~1 | h/f, newdata = dd[1, ])),
                            poly = unname(predict(m1, re.form = ~poly(x, 2) | g, newdata = dd[1, ])))

write_json(out, "tests/reference/lme4_expectations_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
