# Reference values for mixedfit's R-style abbreviation of coefficient names (summary()'s
# correlation block, as lme4 prints it: abbreviate(minlength = 6) for columns, 11 for rows).
# Run from the repository root:
#   Rscript tests/reference/make_abbreviate_reference.R [path/to/shared/data [output folder]]
source("tests/reference/common.R")
names <- c("(Intercept)", "period2", "period3", "Days", "phasemid", "phaselate", "VarietyMarvellous",
           "VarietyVictory", "VarietyMarvellousX", "factor(k)1", "nitroF0.2", "nitroF0.4", "a b c",
           "I(Days^2)", "Days:phasemid", "cHEIGHT", "YEAR96", "YEAR97")
cases <- lapply(c(6, 11), function(m) list(name = paste0("minlength_", m), minlength = m, names = names,
                                            abbreviated = unname(abbreviate(names, m))))
write_reference(cases, "abbreviate_reference.json")
