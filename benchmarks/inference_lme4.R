# Times of lme4's / lmerTest's inference on the inference test cases, for benchmarks/inference.py.
# Usage: Rscript benchmarks/inference_lme4.R DATA_DIR NSIM  (prints JSON on stdout)
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest, exclude = "lmer")
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[[1]]
nsim <- as.integer(args[[2]])
read_data <- function(name) {
  path <- file.path(data_dir, paste0(name, ".csv"))
  fields <- scan(text = readLines(path, n = 2)[2], what = "", sep = ",", quote = "", quiet = TRUE)
  read.csv(path, colClasses = ifelse(startsWith(fields, "\""), "factor", "numeric"))
}
seconds <- function(expr) unname(system.time(suppressMessages(suppressWarnings(expr)))[["elapsed"]])

models <- list(
  sleepstudy = lmer(Reaction ~ Days + (Days | Subject), read_data("sleepstudy")),
  penicillin = lmer(diameter ~ 1 + (1 | plate) + (1 | sample), read_data("Penicillin")),
  cbpp = glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), read_data("cbpp"), family = binomial)
)
out <- lapply(models, function(m) {
  list(
    profile = seconds(confint(m, method = "profile")),
    boot = seconds(confint(m, method = "boot", nsim = nsim, seed = 1)),
    satterthwaite = if (isLMM(m)) seconds(summary(as_lmerModLmerTest(m))) else NULL,
    condvar = seconds(ranef(m, condVar = TRUE))
  )
})
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
