# Reference values for mixedfit's residual correlation structures: nlme's lme with corAR1 (Ovary),
# corCAR1 (BodyWeight), corCompSymm (Oats, within plots nested in blocks) and corAR1 with varIdent
# (Orthodont), REML and ML. The data sets are written to tests/data/ (factors as strings; Ovary
# with its sin/cos terms as columns, Oats with the plot Block:Variety as a column). Run from the
# repository root:
#   Rscript tests/reference/make_correlation_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
source("tests/reference/nlme_common.R")

ovary <- as.data.frame(Ovary)
ovary$sin2pi <- sin(2 * pi * ovary$Time)
ovary$cos2pi <- cos(2 * pi * ovary$Time)
ovary$Mare <- as.character(ovary$Mare)
export(ovary, "Ovary")
bodyweight <- as.data.frame(BodyWeight)
bodyweight$Rat <- as.character(bodyweight$Rat)
bodyweight$Diet <- as.character(bodyweight$Diet)
export(bodyweight, "BodyWeight")
oats <- as.data.frame(Oats)
oats$Block <- as.character(oats$Block)
oats$Variety <- as.character(oats$Variety)
oats$plot <- paste(oats$Block, oats$Variety, sep = ":")
export(oats, "Oats")
orthodont <- Orthodont
# Grouping columns as factors with their levels in data order: nlme applies a correlation
# structure's factor in the order of the group levels, and resid(type = "normalized") puts the
# residuals back in data order only when the two agree (with the character Mare it chains the
# first observation of a group to the last of the group before it).
in_data_order <- function(v) factor(v, levels = unique(v))
ovary$Mare <- in_data_order(ovary$Mare)
bodyweight$Rat <- in_data_order(bodyweight$Rat)
oats$Block <- in_data_order(oats$Block)
oats$plot <- in_data_order(oats$plot)

cases <- c(
  nlme_case("ovary_ar1", "ovary", follicles ~ sin2pi + cos2pi, ~ 1 | Mare, NULL,
            "follicles ~ sin2pi + cos2pi + (1 | Mare)", NULL,
            correlation = corAR1(form = ~ 1 | Mare), mixedfit_correlation = list(kind = "corAR1", group = "Mare")),
  nlme_case("bodyweight_car1", "bodyweight", weight ~ Time * Diet, ~ Time | Rat, NULL,
            "weight ~ Time * Diet + (Time | Rat)", NULL,
            correlation = corCAR1(form = ~ Time | Rat), mixedfit_correlation = list(kind = "corCAR1", time = "Time", group = "Rat")),
  nlme_case("oats_compsymm", "oats", yield ~ nitro, ~ 1 | Block, NULL,
            "yield ~ nitro + (1 | Block)", NULL,
            correlation = corCompSymm(form = ~ 1 | Block/Variety), mixedfit_correlation = list(kind = "corCompSymm", group = "plot")),
  nlme_case("orthodont_varident_ar1", "orthodont", distance ~ age, ~ 1 | Subject, varIdent(form = ~ 1 | Sex),
            "distance ~ age + (1 | Subject)", list(kind = "varIdent", column = "Sex"), first = "Male",
            correlation = corAR1(form = ~ 1 | Subject), mixedfit_correlation = list(kind = "corAR1", group = "Subject"))
)
# The plain model of the last case, for the likelihood-ratio test of the README's example.
plain <- lme(distance ~ age, orthodont, random = ~ 1 | Subject, method = "ML")
hetero <- lme(distance ~ age, orthodont, random = ~ 1 | Subject, weights = varIdent(form = ~ 1 | Sex),
              correlation = corAR1(form = ~ 1 | Subject), method = "ML")
lrt <- anova(plain, hetero)
cases[[length(cases) + 1]] <- list(name = "orthodont_lrt", plain_loglik = as.numeric(logLik(plain)),
                                   loglik = as.numeric(logLik(hetero)), L_ratio = lrt$L.Ratio[2], p = lrt$`p-value`[2])
write_reference(cases, "correlation_reference.json")
