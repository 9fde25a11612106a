// The Tweedie distribution with power 1 < p < 2 (a compound Poisson–gamma: a Poisson number of
// gamma jumps, exact zeros and a continuous positive part), mean μ and variance φμ^p, as glmmTMB's
// tweedie and mgcv's ldTweedie parametrize it. Its log-density splits into a part without μ and
// the exponential family's kernel:
//   log f(y | μ) = log a(y; φ, p) + [y μ^(1−p)/(1 − p) − μ^(2−p)/(2 − p)]/φ,
// with a(0) = 1 and, for y > 0, a = W/y where W is Dunn and Smyth's (2005) series
//   W = Σ_{j≥1} z^j / (j! Γ(−jα)),  α = (2 − p)/(1 − p) < 0,
//   log z = −α log y + α log(p − 1) − (1 − α) log φ − log(2 − p).
// The series does not depend on μ: the likelihood's sums compute it once per (φ, p) with its
// slopes in log φ and p (likelihood.hpp), PIRLS's steps only the kernel.
#pragma once

#include <vector>

namespace mixedfit {

// log a(y; φ, p) and its derivatives in log φ and in p (from the same terms: ∂ log W_j is linear in
// j and ψ(−jα), so each slope is an average over the terms' shares of W).
struct TweedieSeries {
  double log_a, d_log_phi, d_power;
};

// The series' coefficients that depend on p alone, −log j! − log Γ(−jα) and ψ(−jα) for j = 1, 2, …:
// computed once per p and shared by every observation, they leave each term a product with its
// neighbour (the log-gammas were ~90 % of the series' cost: 5 ms of a 6 ms evaluation on 10⁴ rows).
class TweedieTable {
 public:
  explicit TweedieTable(double power);
  double power() const { return power_; }
  // log a(y; φ, p) (and its slopes, if wanted) for y ≥ 0 (0 at y = 0), to ~1e-14 relative in W.
  // The table grows to the largest term index a call reaches.
  TweedieSeries series(double y, double phi, bool slopes);

 private:
  double power_, alpha_;
  // Index j − 1: −log j! − log Γ(−jα), its ratio exp(c_j − c_(j−1)) to the previous one (j ≥ 2), ψ(−jα).
  std::vector<double> log_coefficient_, ratio_, digamma_;
};

// log a(y; φ, p) alone, for a single observation (its own log-gammas: no table).
double tweedie_log_a(double y, double phi, double power);
// The kernel [y μ^(1−p)/(1 − p) − μ^(2−p)/(2 − p)]/φ, its first two μ-derivatives
// (y − μ)μ^(−p)/φ and −[μ + p(y − μ)] μ^(−p−1)/φ, and the expected information in μ, μ^(−p)/φ
// (the powers as exponentials of log μ: pow was a quarter of a fit's time).
double tweedie_kernel(double y, double mu, double phi, double power);
struct TweedieSlopes {
  double first, second, expected;
};
TweedieSlopes tweedie_kernel_slopes(double y, double mu, double phi, double power);

}  // namespace mixedfit
