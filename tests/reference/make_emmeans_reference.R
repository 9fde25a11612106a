# Reference values for emmeans on a design with an empty cell: Orthodont with the girls' visits at
# age 14 dropped, distance ~ Sex * agef + (1 | Subject) (agef = "a8" … "a14", a text factor), so
# the Female × a14 mean is not estimable. emmeans reports it, and every mean or contrast that
# averages over it, as nonEst (NA, written "NA" in the JSON). Run from the repository root:
#   Rscript tests/reference/make_emmeans_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
suppressPackageStartupMessages({
  library(lmerTest)
  library(emmeans)
})

o <- as.data.frame(nlme::Orthodont)
o$agef <- paste0("a", o$age)
o$Sex <- as.character(o$Sex)
o$Subject <- as.character(o$Subject)
cells <- o[!(o$Sex == "Female" & o$age == 14), ]
m <- lmerTest::lmer(distance ~ Sex * agef + (1 | Subject), cells)
cases <- list()
for (specs in c("Sex", "agef")) {
  means <- summary(emmeans(m, specs, lmer.df = "satterthwaite"))
  contrasts <- summary(pairs(emmeans(m, specs, lmer.df = "satterthwaite")))
  cases[[length(cases) + 1]] <- list(
    name = paste0("empty_cell_", specs), specs = specs, levels = as.character(means[[specs]]),
    emmean = I(means$emmean), SE = I(means$SE), df = I(means$df),
    contrast = I(as.character(contrasts$contrast)), estimate = I(contrasts$estimate), contrast_SE = I(contrasts$SE),
    contrast_df = I(contrasts$df), p_value = I(contrasts$p.value),
    emmeans = as.character(packageVersion("emmeans")))
}
write_reference(cases, "emmeans_reference.json")
