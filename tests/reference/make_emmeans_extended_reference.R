# Reference values for emmeans beyond one factor's means and Tukey pairs: by=, at=, type="response"
# (GLMMs: probabilities and odds ratios), contrasts "trt.vs.ctrl" (dunnettx) and "poly", and the
# adjust= methods, on Oats (Variety × nitrogen, blocks; real data from nlme) and cbpp. Run from
# the repository root:
#   Rscript tests/reference/make_emmeans_extended_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(lmerTest)
  library(emmeans)
})
emm_options(lmer.df = "satterthwaite")
oats <- read.csv(gzfile("tests/data/Oats.csv.gz"), stringsAsFactors = FALSE)
oats$nitroF <- paste0("n", oats$nitro)
cbpp <- read_data("cbpp")
interaction <- lmerTest::lmer(yield ~ Variety * nitroF + (1 | Block), oats)
additive <- lmerTest::lmer(yield ~ Variety + nitro + (1 | Block), oats)
gm <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)

means_case <- function(name, em, column = "emmean") {
  s <- as.data.frame(summary(em))
  list(name = name, kind = "means", table = s)
}
contrast_case <- function(name, con) {
  list(name = name, kind = "contrasts", table = as.data.frame(summary(con)))
}
cases <- list(
  means_case("by", emmeans(interaction, "Variety", by = "nitroF")),
  contrast_case("by_pairwise", contrast(emmeans(interaction, "Variety", by = "nitroF"), "pairwise")),
  contrast_case("by_pairwise_bonferroni", contrast(emmeans(interaction, "Variety", by = "nitroF"), "pairwise", adjust = "bonferroni")),
  contrast_case("by_pairwise_holm", contrast(emmeans(interaction, "Variety", by = "nitroF"), "pairwise", adjust = "holm")),
  contrast_case("by_pairwise_sidak", contrast(emmeans(interaction, "Variety", by = "nitroF"), "pairwise", adjust = "sidak")),
  contrast_case("by_pairwise_none", contrast(emmeans(interaction, "Variety", by = "nitroF"), "pairwise", adjust = "none")),
  contrast_case("trt_vs_ctrl", contrast(emmeans(interaction, "nitroF"), "trt.vs.ctrl")),
  # (emmeans changes adjust = "tukey" to "sidak" for contrasts other than pairwise)
  contrast_case("trt_vs_ctrl_tukey", contrast(emmeans(interaction, "nitroF"), "trt.vs.ctrl", adjust = "tukey")),
  contrast_case("poly_by", contrast(emmeans(interaction, "nitroF", by = "Variety"), "poly")),
  means_case("two_factors", emmeans(interaction, c("Variety", "nitroF"))),
  means_case("at", emmeans(additive, "Variety", at = list(nitro = 0.6))),
  means_case("glmm_response", emmeans(gm, "period", type = "response")),
  contrast_case("glmm_pairs_response", pairs(emmeans(gm, "period", type = "response"))),
  contrast_case("glmm_trt_vs_ctrl", contrast(emmeans(gm, "period"), "trt.vs.ctrl"))
)
cases <- lapply(cases, function(x) c(x, emmeans = as.character(packageVersion("emmeans"))))
write_reference(cases, "emmeans_extended_reference.json")
