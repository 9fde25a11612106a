#include "likelihood.hpp"

#include <cmath>
#include <limits>

namespace mixedfit {

namespace {

double x_log_x(double x) { return x > 0 ? x * std::log(x) : 0.0; }

// Σ c·log(x) over the entries with c ≠ 0: a zero coefficient contributes nothing, also where x is
// 0 or outside the support (R's y log(y/μ) is 0 for y = 0 whatever μ is). The plain vectorized
// sum is that sum whenever every log is finite (μ inside the support, as PIRLS keeps it); only
// otherwise are the zero coefficients skipped one by one.
double weighted_log_sum(const Eigen::ArrayXd& c, const Eigen::ArrayXd& log_x) {
  const double sum = (c * log_x).sum();
  return std::isfinite(sum) ? sum : (c != 0).select(c * log_x, 0.0).sum();
}

}  // namespace

ResponseLikelihood::ResponseLikelihood(const Family& family, MapVec y, MapVec n_trials, MapVec weights)
    : y_(y), n_(n_trials), wt_(weights) {
  const Index N = y.size();
  const auto w = weights.array();
  switch (family.distribution()) {
    case Distribution::Binomial: {
      // Deviance residual 2 wt [y log(y/μ) + (1 − y) log((1 − y)/(1 − μ))].
      fast_ = true;
      dev_log_mu_ = 2 * w * y.array();
      dev_log_1mmu_ = 2 * w * (1 - y.array());
      dev_mu_ = Eigen::ArrayXd::Zero(N);
      for (Index i = 0; i < N; ++i) dev0_ += 2 * weights[i] * (x_log_x(y[i]) + x_log_x(1 - y[i]));
      // R's aic: m = n if any n > 1, else wt; −2 Σ (wt/m) log dbinom(round(m y), round(m), μ).
      const bool use_n = (n_trials.array() > 1).any();
      lik_log_mu_ = Eigen::ArrayXd::Zero(N);
      lik_log_1mmu_ = Eigen::ArrayXd::Zero(N);
      for (Index i = 0; i < N; ++i) {
        const double m = std::round(use_n ? n_trials[i] : weights[i]);
        if (m <= 0) continue;
        const double k = std::round(m * y[i]), scale = weights[i] / m;
        lik0_ -= 2 * scale * (std::lgamma(m + 1) - std::lgamma(k + 1) - std::lgamma(m - k + 1));
        lik_log_mu_[i] = 2 * scale * k;
        lik_log_1mmu_[i] = 2 * scale * (m - k);
      }
      break;
    }
    case Distribution::Poisson: {
      // Deviance residual 2 wt [y log(y/μ) − (y − μ)]; −2 log p = 2 wt [log y! − y log μ + μ].
      fast_ = true;
      dev_log_mu_ = 2 * w * y.array();
      dev_log_1mmu_ = Eigen::ArrayXd::Zero(N);
      dev_mu_ = 2 * w;
      for (Index i = 0; i < N; ++i) {
        dev0_ += 2 * weights[i] * (x_log_x(y[i]) - y[i]);
        lik0_ += 2 * weights[i] * std::lgamma(y[i] + 1);
      }
      lik_log_mu_ = dev_log_mu_;
      lik_log_1mmu_ = dev_log_1mmu_;
      break;
    }
    default:
      break;
  }
}

ResponseLikelihood::Sums ResponseLikelihood::at(const Family& family, const Eigen::VectorXd& mu,
                                                bool with_log_lik) const {
  if (!fast_) {
    double deviance = 0.0;
    for (Index i = 0; i < mu.size(); ++i) deviance += family.dev_resid(y_[i], mu[i], wt_[i]);
    return {deviance, with_log_lik ? family.aic(y_, n_, mu, wt_, deviance) : std::numeric_limits<double>::quiet_NaN()};
  }
  const Eigen::ArrayXd log_mu = mu.array().log();
  const double mu_sum = (dev_mu_ * mu.array()).sum();
  double deviance = dev0_ - weighted_log_sum(dev_log_mu_, log_mu) + mu_sum;
  double lik = lik0_ - weighted_log_sum(lik_log_mu_, log_mu) + mu_sum;
  if (family.distribution() == Distribution::Binomial) {
    const Eigen::ArrayXd log_1mmu = (1 - mu.array()).log();
    deviance -= weighted_log_sum(dev_log_1mmu_, log_1mmu);
    lik -= weighted_log_sum(lik_log_1mmu_, log_1mmu);
  }
  return {deviance, lik};
}

}  // namespace mixedfit
