# Shared by the reference scripts: packages, arguments, reading the CSVs as
# mixedfit.datasets.read_r_csv does, timing, and writing the JSON the tests read.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "../shared/data"
out_dir <- if (length(args) >= 2) args[[2]] else "tests/reference"

# The CSVs write factors as quoted strings; read quoted columns as factors, the rest as numbers.
read_data <- function(name) {
  path <- file.path(data_dir, paste0(name, ".csv"))
  first <- readLines(path, n = 2)[2]
  fields <- scan(text = first, what = "", sep = ",", quote = "", quiet = TRUE)
  quoted <- startsWith(fields, "\"")
  read.csv(path, colClasses = ifelse(quoted, "factor", "numeric"))
}

median_time <- function(expr_fun, reps) {
  median(vapply(seq_len(reps), function(i) system.time(expr_fun())[["elapsed"]], numeric(1)))
}

write_reference <- function(cases, filename) {
  names(cases) <- vapply(cases, function(x) x$name, "")
  meta <- list(lme4 = as.character(packageVersion("lme4")), R = R.version.string,
               generated = format(Sys.time(), "%Y-%m-%d"))
  writeLines(toJSON(list(meta = meta, cases = cases), auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
             file.path(out_dir, filename))
  cat("wrote", length(cases), "cases to", file.path(out_dir, filename), "\n")
}
