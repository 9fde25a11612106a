# Shared by the reference scripts: reading the CSVs as mixedfit.datasets.read_r_csv does, and timing.

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
