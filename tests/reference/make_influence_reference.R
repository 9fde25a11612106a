# Reference values for mixedfit's influence diagnostics: lme4's hatvalues, cooks.distance and
# influence (deletion of each observation or each level of a grouping factor, refits from the
# fit's θ) on sleepstudy, Penicillin and cbpp. Run from the repository root:
#   Rscript tests/reference/make_influence_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")

sleep <- read_data("sleepstudy")
penicillin <- read_data("Penicillin")
cbpp <- read_data("cbpp")
cases <- list(
  list(name = "sleep_slope", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", family = NULL,
       groups = "Subject", model = lmer(Reaction ~ Days + (Days | Subject), sleep)),
  list(name = "sleep_ml_weights", data = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)", family = NULL,
       groups = NULL, weights = "w", REML = FALSE,
       model = lmer(Reaction ~ Days + (1 | Subject), transform(sleep, w = 1 + (Days %% 3) / 2), weights = w, REML = FALSE)),
  list(name = "penicillin", data = "Penicillin", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", family = NULL,
       groups = "sample", model = lmer(diameter ~ 1 + (1 | plate) + (1 | sample), penicillin)),
  list(name = "cbpp", data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       family = "binomial", groups = "herd",
       model = glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial))
)
out <- lapply(cases, function(x) {
  m <- x$model
  data <- switch(x$data, sleepstudy = if (is.null(x$weights)) sleep else transform(sleep, w = 1 + (Days %% 3) / 2),
                 Penicillin = penicillin, cbpp = cbpp)
  infl <- if (is.null(x$groups)) influence(m, data = data) else influence(m, groups = x$groups, data = data)
  list(name = x$name, data = x$data, formula = x$formula, family = x$family, groups = x$groups,
       weights = x$weights, REML = if (is.null(x$REML)) TRUE else x$REML,
       hat = unname(suppressWarnings(hatvalues(m))), cooks = unname(suppressWarnings(cooks.distance(m))),
       deleted = as.character(rownames(infl[[2]])),
       fixed_deleted = unname(as.matrix(infl[[2]])), var_cov_names = names(infl[[3]]), var_cov = unname(infl[[3]]),
       var_cov_deleted = unname(as.matrix(infl[[4]])),
       # (lme4's dfbetas fails for a single fixed effect: non-conformable arrays)
       dfbetas = tryCatch(unname(as.matrix(dfbetas(infl))), error = function(e) NULL), cooks_deleted = unname(cooks.distance(infl)))
})
write_reference(out, "influence_reference.json")
