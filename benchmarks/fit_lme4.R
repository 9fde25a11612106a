# Fit one benchmark model with lme4; print timing and result as JSON (see fit_mixedfit.py).
# Usage: Rscript fit_lme4.R '<model spec JSON>'
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
spec <- fromJSON(commandArgs(trailingOnly = TRUE)[[1]])

read_data <- function(path) {
  first <- readLines(path, n = 2)[2]
  fields <- scan(text = first, what = "", sep = ",", quote = "", quiet = TRUE)
  quoted <- startsWith(fields, "\"")
  read.csv(path, colClasses = ifelse(quoted, "factor", "numeric"))
}

fit <- function() {
  dat <- read_data(spec$data)
  w <- if (is.null(spec$weights)) NULL else dat[[spec$weights]]
  if (is.null(spec$family)) {
    lmer(as.formula(spec$formula), dat, REML = spec$REML, weights = w)
  } else {
    glmer(as.formula(spec$formula), dat, family = get(spec$family)(), nAGQ = spec$nAGQ, weights = w)
  }
}

times <- numeric(spec$reps)
for (i in seq_len(spec$reps)) {
  times[i] <- system.time(m <- suppressWarnings(suppressMessages(fit())))[["elapsed"]]
}
status <- readLines("/proc/self/status")
peak_kb <- as.numeric(gsub("[^0-9]", "", status[startsWith(status, "VmHWM")]))
objective <- if (is.null(spec$family) && spec$REML) REMLcrit(m) else -2 * as.numeric(logLik(m))
cat(toJSON(list(seconds = median(times), objective = unname(objective), loglik = as.numeric(logLik(m)),
                feval = m@optinfo$feval, peak_mb = peak_kb / 1024), auto_unbox = TRUE, digits = NA), "\n")
