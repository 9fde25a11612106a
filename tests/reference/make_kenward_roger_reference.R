# Reference values for mixedfit's Kenward-Roger tests: lmerTest's summary(m, ddf = "Kenward-Roger")
# and anova(m, ddf = "Kenward-Roger") (which use pbkrtest's vcovAdj and Lb_ddf), on unbalanced and
# balanced, crossed and nested REML fits; and lmerTest's type II anova (Satterthwaite and
# Kenward-Roger) and type III with interactions on the same fits. Run from the repository root:
#   Rscript tests/reference/make_kenward_roger_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(lmerTest)
  library(pbkrtest)
})

sleep <- read_data("sleepstudy")
unbalanced <- sleep[(seq_len(nrow(sleep)) - 1) %% 7 != 3, ]
sleep$period <- factor(sleep$Days %/% 4)
orthodont <- read.csv(gzfile("tests/data/Orthodont.csv.gz"), stringsAsFactors = TRUE)
models <- list(
  list("sleep_unbalanced", "Reaction ~ Days + (Days | Subject)", unbalanced, "sleepstudy", "drop every 7th row from the 4th"),
  list("sleep_factor", "Reaction ~ period + (1 | Subject)", sleep, "sleepstudy", "period = Days // 4 as a factor"),
  list("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", read_data("Penicillin"), "Penicillin", ""),
  list("pastes", "strength ~ 1 + (1 | batch/cask)", read_data("Pastes"), "Pastes", ""),
  list("orthodont_interaction", "distance ~ age * Sex + (age | Subject)", orthodont, "Orthodont", "")
)
type2 <- function(m, ddf, type = 2) {
  a <- anova(m, type = type, ddf = ddf)
  list(terms = rownames(a), F = a[["F value"]], numdf = a[["NumDF"]], dendf = a[["DenDF"]], p = a[["Pr(>F)"]],
       sumsq = a[["Sum Sq"]])
}
sleep$phase <- factor(ifelse(sleep$Days >= 5, "late", "early"))
models[[length(models) + 1]] <- list("sleep_interaction", "Reaction ~ Days * phase + (1 | Subject)", sleep, "sleepstudy",
                                     "phase = late if Days >= 5 else early")
cases <- lapply(models, function(x) {
  m <- lmer(as.formula(x[[2]]), x[[3]], REML = TRUE)
  coefs <- summary(m, ddf = "Kenward-Roger")$coefficients
  a <- anova(m, type = 1, ddf = "Kenward-Roger")
  list(name = x[[1]], formula = x[[2]], dataset = x[[4]], note = x[[5]], theta = as.numeric(getME(m, "theta")),
       objective = REMLcrit(m),
       estimate = as.list(coefs[, "Estimate"]), stderr = as.list(coefs[, "Std. Error"]),
       df = as.list(coefs[, "df"]), p = as.list(coefs[, "Pr(>|t|)"]),
       anova_terms = rownames(a), anova_F = a[["F value"]], anova_numdf = a[["NumDF"]], anova_dendf = a[["DenDF"]],
       anova_p = a[["Pr(>F)"]], anova_meansq = a[["Mean Sq"]],
       type2 = type2(m, "Satterthwaite"), type2_kr = type2(m, "Kenward-Roger"),
       type3 = type2(m, "Satterthwaite", 3), type3_kr = type2(m, "Kenward-Roger", 3),
       pbkrtest = as.character(packageVersion("pbkrtest")), lmerTest = as.character(packageVersion("lmerTest")))
})
write_reference(cases, "kenward_roger_reference.json")
