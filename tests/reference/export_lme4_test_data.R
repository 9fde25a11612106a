# Data sets that lme4's own tests build with R's random numbers or load from lme4's testdata
# folder, written to tests/data/lme4_tests/ so that tests/test_lme4_expectations.py can fit them
# without R. Each block repeats the lines of lme4's test file it names (lme4 1.1-31's testdata).
out <- "tests/data/lme4_tests"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
save_csv <- function(d, name) write.csv(d, file.path(out, paste0(name, ".csv")), row.names = FALSE)
testdata <- function(file) system.file("testdata", file, package = "lme4", mustWork = TRUE)
# test-glmer.R uses the sample() of R <= 3.5.2
suppressWarnings(RNGkind("Mersenne-Twister", "Inversion", "Rounding"))

# test-glmer.R: presence/absence by species
load(testdata("radinger_dat.RData"))
save_csv(radinger_dat, "radinger")

# test-glmer.R: the complete-separation case
set.seed(101)
d <- data.frame(y = rbinom(1000, size = 1, p = 0.5), x = runif(1000),
                f = factor(rep(1:20, each = 50)), x2 = rep(0:1, c(999, 1)))
save_csv(d, "separation")

# test-glmer.R: the "bad start" case (cloglog binomial with an offset)
load(testdata("fakesim.RData"))
save_csv(dat, "fakesim")

# test-predict.R, "only look for columns that exist in re.form" (GH 457)
set.seed(101)
n <- 200
dd <- data.frame(x = 1:n, f = factor(rep(1:10, n / 10)), g = factor(rep(1:20, each = n / 20)),
                 h = factor(rep(1:5, n / 5)), y = rnorm(n))
save_csv(dd, "predict_columns")
set.seed(101)
n <- 100
xx <- c("r1", "r2", "r3", "r4", "r5")
xxx <- c("e1", "e2", "e3")
p <- 0.3
School <- factor(sample(xxx, n, replace = TRUE), levels = xxx, ordered = FALSE)
Rank <- factor(sample(xx, n, replace = TRUE), levels = xx, ordered = FALSE)
df1 <- data.frame(ID = as.integer(runif(n, min = 1, max = n / 7)), xx1 = runif(n, min = 0, max = 10),
                  xx2 = runif(n, min = 0, max = 10), xx3 = runif(n, min = 0, max = 10),
                  School, Rank, yx = as.factor(rbinom(n, size = 1, prob = p)))
df1 <- df1[order(df1$ID, decreasing = FALSE), ]
save_csv(df1, "predict_schools")

# test-predict.R, "predict works with factors in left-out REs" (GH 691)
set.seed(101)
df2 <- data.frame(yield = rnorm(100), lc = factor(rep(1:2, 50)), g1 = factor(rep(1:10, 10)),
                  g3 = factor(rep(1:10, each = 10)))
save_csv(df2, "predict_left_out")

# glmmExt.R: gSim()'s Gamma data, inverse link (d) and log link (dgl)
source(testdata("lme-tst-funs.R"))
set.seed(101)
d <- gSim()
dgl <- gSim(dInitial = d, family = Gamma(link = log))
save_csv(d[c("block", "x", "y")], "gamma_inverse")
save_csv(dgl[c("block", "x", "y")], "gamma_log")
for (name in c("gamma_inverse", "gamma_log")) system2("gzip", c("-nf", file.path(out, paste0(name, ".csv"))))

# testcrab.R: snail survival by crab species and size (testdata/crabs_randdata2.Rda)
load(testdata("crabs_randdata2.Rda"))
save_csv(randdata, "crabs")

# nbinom.R: simfun(), negative binomial counts (θ = 0.5) in 25 blocks
simfun <- function(sd.u = 1, NBtheta = 0.5, nblock = 25, fform = ~x, beta = c(1, 2), nrep = 40) {
  levelset <- c(LETTERS, letters)
  ntot <- nblock * nrep
  d1 <- data.frame(x = runif(ntot), f = factor(rep(levelset[1:nblock], each = nrep)))
  u_f <- rnorm(nblock, sd = sd.u)
  X <- model.matrix(fform, data = d1)
  transform(d1, z = rnbinom(ntot, mu = exp(X %*% beta + u_f[f]), size = NBtheta))
}
set.seed(102)
save_csv(simfun(), "nbinom_sim")
# nbinom.R: the epilepsy counts of MASS, transformed as there
data(epil, package = "MASS")
epil2 <- transform(epil, Visit = (period - 2.5) / 5, Base = log(base / 4), Age = log(age), subject = factor(subject))
save_csv(epil2[c("y", "trt", "subject", "Visit", "Base", "Age")], "epil2")

# glmer-1.R: MASS's bacteria with contr.sdif contrasts for trt, written out as its two columns
data(bacteria, package = "MASS")
bacteria$wk2 <- bacteria$week > 2
contrasts(bacteria$trt) <- structure(MASS::contr.sdif(3), dimnames = list(NULL, c("diag", "encourage")))
X <- model.matrix(~ trt + wk2, bacteria)
save_csv(data.frame(y = bacteria$y, ID = bacteria$ID, trtdiag = X[, "trtdiag"],
                    trtencourage = X[, "trtencourage"], wk2 = bacteria$wk2), "bacteria_sdif")
# glmer-1.R: rPoisGLMMi(12, 20), Poisson counts with block and observation-level effects
rPoisGLMMi <- function(ng, nr, sd = c(f = 1, ind = 0.5), b = c(1, 2)) {
  ntot <- nr * ng
  b.reff <- rnorm(ng, sd = sd[["f"]])
  b.rind <- rnorm(ntot, sd = sd[["ind"]])
  x <- runif(ntot)
  within(data.frame(x, f = factor(rep(LETTERS[1:ng], each = nr)), obs = 1:ntot, eta0 = cbind(1, x) %*% b), {
    eta <- eta0 + b.reff[f] + b.rind[obs]
    mu <- exp(eta)
    y <- rpois(ntot, lambda = mu)
  })
}
set.seed(1)
save_csv(rPoisGLMMi(12, 20)[c("x", "f", "obs", "y")], "poisson_overdispersed")

# lmer-1.R: Andrew Gelman's example (10 groups of 2)
n.groups <- 10; n.reps <- 2
group.id <- gl(n.groups, n.reps)
set.seed(0)
a.group <- rnorm(n.groups, 1, 2)
save_csv(data.frame(y = rnorm(length(group.id), a.group[group.id], 1), group.id = group.id), "gelman")
# lmer-1.R: habitats nested in lagoons
set.seed(1)
dat <- within(data.frame(lagoon = factor(rep(1:4, each = 25)), habitat = factor(rep(1:20, each = 5))),
              { y <- round(10 * rnorm(100, m = 10 * as.numeric(lagoon))) })
save_csv(dat, "lagoons")
