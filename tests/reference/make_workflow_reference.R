# Reference values from lmerTest for mixedfit's F tests of fixed-effects terms (anova(m), type III,
# Satterthwaite). The data are sleepstudy with two factors derived by rules that
# tests/test_workflow.py repeats: the phase of the study (Days) and a subject-level group.
# Run from the repository root:  Rscript tests/reference/make_workflow_reference.R [data folder [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages(library(lmerTest))

sleep <- read_data("sleepstudy")
sleep$phase <- factor(c("early", "mid", "late")[(sleep$Days >= 3) + (sleep$Days >= 6) + 1])
sleep$group <- factor(ifelse(as.integer(as.character(sleep$Subject)) %% 2 == 0, "even", "odd"))
cases <- list(
  list("slope_and_phase", "Reaction ~ Days + phase + (Days | Subject)", "III"),
  list("two_factors", "Reaction ~ phase + group + (1 | Subject)", "III"),
  list("interaction_type_I", "Reaction ~ Days * phase + group + (Days | Subject)", "I")
)
cases <- lapply(cases, function(x) {
  name <- x[[1]]
  m <- lmerTest::lmer(as.formula(x[[2]]), sleep)
  a <- anova(m, type = x[[3]], ddf = "Satterthwaite")
  list(name = name, formula = x[[2]], type = x[[3]], terms = rownames(a), sum_sq = unname(a[["Sum Sq"]]),
       num_df = unname(a[["NumDF"]]), den_df = unname(a[["DenDF"]]), f_value = unname(a[["F value"]]),
       p_value = unname(a[["Pr(>F)"]]), lmerTest = as.character(packageVersion("lmerTest")))
})
# drop1: F tests of the terms that can be dropped (marginal terms).
sleep$group <- factor(ifelse(as.integer(as.character(sleep$Subject)) %% 2 == 0, "even", "odd"))
d1 <- drop1(lmerTest::lmer(Reaction ~ Days * phase + group + (Days | Subject), sleep))
cases[[length(cases) + 1]] <- list(name = "drop1", formula = "Reaction ~ Days * phase + group + (Days | Subject)",
                                   terms = rownames(d1), num_df = unname(d1$NumDF), den_df = unname(d1$DenDF),
                                   f_value = unname(d1[["F value"]]), p_value = unname(d1[["Pr(>F)"]]))

# ranova: likelihood-ratio tests of the random-effects terms.
penicillin <- read_data("Penicillin")
ranova_cases <- list(
  list("ranova_slope", "Reaction ~ Days + (Days | Subject)", sleep),
  list("ranova_uncorrelated", "Reaction ~ Days + (Days || Subject)", sleep),
  list("ranova_crossed", "diameter ~ 1 + (1 | plate) + (1 | sample)", penicillin),
  list("ranova_to_linear_model", "Reaction ~ Days + (1 | Subject)", sleep)
)
for (x in ranova_cases) {
  r <- ranova(lmerTest::lmer(as.formula(x[[2]]), x[[3]]))
  cases[[length(cases) + 1]] <- list(name = x[[1]], formula = x[[2]], rows = rownames(r), npar = unname(r$npar),
                                     loglik = unname(r$logLik), lrt = unname(r$LRT), df = unname(r$Df),
                                     p_value = unname(r[["Pr(>Chisq)"]]))
}
# emmeans: marginal means of a factor and their Tukey-adjusted pairwise contrasts.
suppressPackageStartupMessages(library(emmeans))
sleep$group <- factor(ifelse(as.integer(as.character(sleep$Subject)) %% 2 == 0, "even", "odd"))
emm_lmm <- emmeans(lmerTest::lmer(Reaction ~ Days + phase + group + (1 | Subject), sleep), "phase", lmer.df = "satterthwaite")
emm_kr <- emmeans(lmerTest::lmer(Reaction ~ Days + phase + group + (1 | Subject), sleep), "phase", lmer.df = "kenward-roger")
cbpp <- read_data("cbpp")
emm_glmm <- emmeans(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial), "period")
for (x in list(list("emmeans_lmm", emm_lmm), list("emmeans_lmm_kr", emm_kr), list("emmeans_glmm", emm_glmm))) {
  means <- as.data.frame(summary(x[[2]]))
  contrasts <- as.data.frame(summary(pairs(x[[2]])))
  cases[[length(cases) + 1]] <- list(
    name = x[[1]], levels = as.character(means[[1]]), emmean = means$emmean, se = means$SE, df = means$df,
    contrasts = as.character(contrasts$contrast), estimate = contrasts$estimate, contrast_se = contrasts$SE,
    contrast_df = contrasts$df, p_value = contrasts$p.value, emmeans = as.character(packageVersion("emmeans")))
}
write_reference(cases, "workflow_reference.json")
