# Reference values for corAR1 with an order column that has gaps: nlme's lme on Orthodont with the
# visit at age 10 dropped for every other subject, corAR1(form = ~ visit | Subject) with visit =
# 1…4 (ages 8…14; correlation φ^|Δvisit|: visits 1 and 3 are φ² apart), REML and ML. (With
# form = ~ age | Subject nlme stops at φ = 0, a stationary point of φ^|Δage| = φ², not the
# optimum.) The data set is written to tests/data/OrthodontGaps.csv.gz. Run from the
# repository root:
#   Rscript tests/reference/make_correlation_gaps_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
source("tests/reference/nlme_common.R")

orthodont <- as.data.frame(Orthodont)
orthodont$visit <- orthodont$age / 2 - 3
every_other <- levels(orthodont$Subject)[c(TRUE, FALSE)]
gaps <- orthodont[!(orthodont$age == 10 & orthodont$Subject %in% every_other), ]
gaps$Subject <- factor(as.character(gaps$Subject), levels = unique(as.character(gaps$Subject)))
rownames(gaps) <- NULL
export(gaps, "OrthodontGaps")

cases <- nlme_case("orthodont_gaps_ar1", "gaps", distance ~ age, ~ 1 | Subject, NULL,
                   "distance ~ age + (1 | Subject)", NULL,
                   correlation = corAR1(form = ~ visit | Subject),
                   mixedfit_correlation = list(kind = "corAR1", group = "Subject", order = "visit"))
write_reference(cases, "correlation_gaps_reference.json")
