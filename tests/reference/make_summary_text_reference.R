# Reference for tests/test_summary_text.py: lme4's and lmerTest's summary() text of fits on the
# bundled data, and R's format()/format.pval()/printCoefmat() on chosen vectors, so that
# mixedfit's summary() can be compared digit for digit. Fits are converged tightly (the printed
# digits must not depend on where a default tolerance stops; glmer's PIRLS tolerance too: at its
# default its finite-difference Hessian, hence its standard errors, move by 0.5% on cbpp). R 4.2, lme4 1.1-31, lmerTest 3.1.
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
data_dir <- "python/mixedfit/data"
rd <- function(name) read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = TRUE)
tight_lmer <- lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, maxeval = 1e5))
tight_glmer <- glmerControl(tolPwrss = 1e-12, optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, maxeval = 1e5))
text_of <- function(fit, ...) capture.output(print(summary(fit, ...)))
summaries <- list()
add <- function(name, dataset, formula, kind, text, family = NULL, REML = TRUE, ddf = NULL)
  summaries[[name]] <<- list(dataset = dataset, formula = formula, kind = kind, family = family,
                             REML = REML, ddf = ddf, text = text)

sleep <- rd("sleepstudy")
f <- "Reaction ~ Days + (Days | Subject)"
m <- lmerTest::lmer(as.formula(f), sleep, control = tight_lmer)
add("sleepstudy_satterthwaite", "sleepstudy", f, "lmer", text_of(m), ddf = "Satterthwaite")
add("sleepstudy_kenward_roger", "sleepstudy", f, "lmer", text_of(m, ddf = "Kenward-Roger"), ddf = "Kenward-Roger")
m <- lme4::lmer(as.formula(f), sleep, REML = FALSE, control = tight_lmer)
add("sleepstudy_ml", "sleepstudy", f, "lmer", text_of(m), REML = FALSE)
f <- "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"
m <- lme4::lmer(as.formula(f), sleep, control = tight_lmer)
add("sleepstudy_uncorrelated", "sleepstudy", f, "lmer", text_of(m))

pen <- rd("Penicillin")
f <- "diameter ~ 1 + (1 | plate) + (1 | sample)"
m <- lme4::lmer(as.formula(f), pen, control = tight_lmer)
add("penicillin", "Penicillin", f, "lmer", text_of(m))

cbpp <- rd("cbpp")
cbpp$period <- factor(cbpp$period)
f <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
m <- glmer(as.formula(f), cbpp, family = binomial, control = tight_glmer)
add("cbpp", "cbpp", f, "glmer", text_of(m), family = "binomial")

grouse <- rd("grouseticks")
grouse$YEAR <- factor(grouse$YEAR)
f <- "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)"
m <- glmer(as.formula(f), grouse, family = poisson, control = tight_glmer)
add("grouseticks", "grouseticks", f, "glmer", text_of(m), family = "poisson")

# R's own formatting functions on vectors chosen to reach their branches.
set.seed(1)
formats <- list()
add_format <- function(x, digits, nsmall = 0)
  formats[[length(formats) + 1]] <<- list(x = x, digits = digits, nsmall = nsmall,
                                          out = format(x, digits = digits, nsmall = nsmall))
for (d in c(1, 2, 3, 4, 5, 7)) for (i in 1:40) {
  n <- sample(1:6, 1); s <- sample(c(-12, -6, -3, -1, 0, 1, 2, 3, 5, 8, 15), 1)
  x <- rnorm(n) * 10^(s + sample(0:2, n, TRUE))
  if (runif(1) < 0.2) x <- round(x, sample(0:3, 1))
  if (runif(1) < 0.1) x[1] <- 0
  add_format(x, d)
}
add_format(c(9996, 1), 3); add_format(c(0.15, 0.25, 2.675), 2); add_format(c(99999.6, 1.5), 4)
add_format(1743.6283, 7); add_format(c(1.5e100, 2), 3); add_format(c(0.07, -0.14, 1), 7, 2)
add_format(123456.7, 7); add_format(1234567.8, 7); add_format(c(1e-300, 1), 4)
pvalues <- lapply(list(c(1.17e-17, 3.26e-6), c(1.47e-9, 0.001068, 0.000474, 0.000182), c(0.5, 0.04),
                       1e-20, c(0.0123, 1e-20, 0.7), c(0.00009, 0.3)),
                  function(p) list(p = p, out = format.pval(p, digits = 3)))
coefmats <- list()
add_coefmat <- function(est, se, rows, df = NULL, p = TRUE, stat = "z") {
  m <- cbind(Estimate = est, `Std. Error` = se)
  if (!is.null(df)) m <- cbind(m, df = df)
  m <- cbind(m, est / se)
  colnames(m)[ncol(m)] <- paste(stat, "value")
  if (p) {
    m <- cbind(m, 2 * pnorm(-abs(est / se)))
    colnames(m)[ncol(m)] <- sprintf("Pr(>|%s|)", stat)
  }
  rownames(m) <- rows
  coefmats[[length(coefmats) + 1]] <<- list(values = unname(m), rows = rows, columns = colnames(m),
                                            out = capture.output(printCoefmat(m, digits = 4)))
}
add_coefmat(c(1e-5, 2.5, 300), c(0.001, 0.2, 40), c("a", "bb", "ccc"), p = FALSE, stat = "t")
add_coefmat(c(0.12, 0.0001234), c(0.5, 0.00002), c("x", "y"))
add_coefmat(c(0.12, 0.3), c(0.5, 0.6), c("x", "y"))
add_coefmat(c(251.4, -0.004), c(6.8, 0.3), c("(Intercept)", "x"), df = c(17.2, 150.7), stat = "t")
add_coefmat(c(0, 1.5), c(0.1, 0.2), c("zero", "one"))

write_json(list(meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest"))),
                summaries = summaries, format = formats, format_pval = pvalues, printCoefmat = coefmats),
           "tests/reference/summary_text_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
