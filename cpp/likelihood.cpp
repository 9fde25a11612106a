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
template <typename Coefficients>
double weighted_log_sum(const Coefficients& c, const Eigen::ArrayXd& log_x) {
  const double sum = (c * log_x).sum();
  return std::isfinite(sum) ? sum : (c != 0).select(c * log_x, 0.0).sum();
}

}  // namespace

ResponseLikelihood::ResponseLikelihood(const Family& family, MapVec y, MapVec n_trials, MapVec weights)
    : y_(y), n_(n_trials), wt_(weights), distribution_(family.distribution()) {
  const Index N = y.size();
  const auto w = weights.array();
  if (distribution_ != Distribution::Binomial && distribution_ != Distribution::Poisson) return;
  two_wy_ = 2 * w * y.array();
  if (distribution_ == Distribution::Poisson) {
    // Deviance residual 2 wt [y log(y/μ) − (y − μ)]; −2 log p = 2 wt [log y! − y log μ + μ].
    two_w_ = 2 * w;
    for (Index i = 0; i < N; ++i) {
      dev0_ += 2 * weights[i] * (x_log_x(y[i]) - y[i]);
      lik0_ += 2 * weights[i] * std::lgamma(y[i] + 1);
    }
    return;
  }
  // Deviance residual 2 wt [y log(y/μ) + (1 − y) log((1 − y)/(1 − μ))].
  two_w_ = 2 * w * (1 - y.array());
  for (Index i = 0; i < N; ++i) dev0_ += 2 * weights[i] * (x_log_x(y[i]) + x_log_x(1 - y[i]));
  // R's aic: m = n if any n > 1, else wt; −2 Σ (wt/m) log dbinom(round(m y), round(m), μ).
  const bool use_n = (n_trials.array() > 1).any();
  successes_ = Eigen::ArrayXd::Zero(N);
  failures_ = Eigen::ArrayXd::Zero(N);
  for (Index i = 0; i < N; ++i) {
    const double m = std::round(use_n ? n_trials[i] : weights[i]);
    if (m <= 0) continue;
    const double k = std::round(m * y[i]), scale = weights[i] / m;
    lik0_ -= 2 * scale * (std::lgamma(m + 1) - std::lgamma(k + 1) - std::lgamma(m - k + 1));
    successes_[i] = 2 * scale * k;
    failures_[i] = 2 * scale * (m - k);
  }
}

ResponseLikelihood::Sums ResponseLikelihood::at(const Family& family, const Eigen::VectorXd& eta,
                                                const Eigen::VectorXd& mu, const std::vector<ZeroMass>& zero,
                                                const std::vector<FamilyParameter>& parameters) const {
  const Sums part = block(family, eta, mu, 0, zero, parameters), fixed = constants(family);
  Sums sums{fixed.deviance + part.deviance, fixed.minus_two_log_lik + part.minus_two_log_lik};
  if (std::isnan(sums.minus_two_log_lik)) sums.minus_two_log_lik = family.aic(y_, n_, mu, wt_, sums.deviance);
  return sums;
}

ResponseLikelihood::Sums ResponseLikelihood::constants(const Family& family) const {
  if (family.zero_inflated() || family.dispersion_modeled()) return {0.0, 0.0};  // (no saturated model)
  if (family.has_own_score()) {
    sum_parameter_terms(family);
    return {saturated_, -2 * tweedie_.log_a};
  }
  const bool closed_form = distribution_ == Distribution::Binomial || distribution_ == Distribution::Poisson;
  return {dev0_, closed_form ? lik0_ : std::numeric_limits<double>::quiet_NaN()};
}

const TweedieSeries& ResponseLikelihood::tweedie_sums(const Family& family) const {
  sum_parameter_terms(family);
  return tweedie_;
}

void ResponseLikelihood::sum_parameter_terms(const Family& family) const {
  if (family.theta() == summed_theta_ && family.shape() == summed_shape_) return;
  saturated_ = 0.0;
  tweedie_ = {0.0, 0.0, 0.0};
  const bool tweedie = family.tweedie_series_apart();
  for (Index i = 0; i < y_.size(); ++i) {
    if (!tweedie) {
      saturated_ += 2 * wt_[i] * family.saturated_log_density(y_[i]);
      continue;
    }
    // The deviance 2 wt [log f(y | y) − log f(y | μ)] is the kernel's difference (log a cancels).
    if (y_[i] > 0) saturated_ += 2 * wt_[i] * tweedie_kernel(y_[i], y_[i], family.theta(), family.shape());
    if (!tweedie_table_ || tweedie_table_->power() != family.shape()) tweedie_table_.emplace(family.shape());
    const TweedieSeries term = tweedie_table_->series(y_[i], family.theta(), true);
    tweedie_.log_a += wt_[i] * term.log_a;
    tweedie_.d_log_phi += wt_[i] * term.d_log_phi;
    tweedie_.d_power += wt_[i] * term.d_power;
  }
  summed_theta_ = family.theta();
  summed_shape_ = family.shape();
}

ResponseLikelihood::Sums ResponseLikelihood::block(const Family& family, const Eigen::Ref<const Eigen::VectorXd>& eta,
                                                   const Eigen::Ref<const Eigen::VectorXd>& mu, Index first,
                                                   const std::vector<ZeroMass>& zero,
                                                   const std::vector<FamilyParameter>& parameters) const {
  const Index m = mu.size();
  if (family.tweedie_series_apart()) {
    // (constants() holds Σ wt log a)
    double log_lik = 0.0;
    for (Index i = 0; i < m; ++i) {
      log_lik += wt_[first + i] * tweedie_kernel(y_[first + i], mu[i], family.theta(), family.shape());
    }
    return {-2 * log_lik, -2 * log_lik};
  }
  if (family.has_own_score()) {  // also a zero-inflated Poisson
    double log_lik = 0.0;
    for (Index i = 0; i < m; ++i) {
      const ZeroMass& mass = zero.empty() ? kNoZeroMass : zero[first + i];
      const FamilyParameter* own = parameters.empty() ? nullptr : &parameters[static_cast<std::size_t>(first + i)];
      log_lik += wt_[first + i] * family.log_density(y_[first + i], mu[i], mass, n_[first + i], own);
    }
    return {-2 * log_lik, -2 * log_lik};
  }
  Eigen::ArrayXd log_mu, log_1mmu;
  switch (distribution_) {
    case Distribution::Poisson: {
      family.log_mu(eta, mu, log_mu, nullptr);
      const double shared = (two_w_.segment(first, m) * mu.array()).sum() - weighted_log_sum(two_wy_.segment(first, m), log_mu);
      return {shared, shared};
    }
    case Distribution::Binomial: {
      family.log_mu(eta, mu, log_mu, &log_1mmu);
      return {-weighted_log_sum(two_wy_.segment(first, m), log_mu) - weighted_log_sum(two_w_.segment(first, m), log_1mmu),
              -weighted_log_sum(successes_.segment(first, m), log_mu) - weighted_log_sum(failures_.segment(first, m), log_1mmu)};
    }
    default: {
      double deviance = 0.0;
      for (Index i = 0; i < m; ++i) deviance += family.dev_resid(y_[first + i], mu[i], wt_[first + i]);
      return {deviance, 0.0};
    }
  }
}

}  // namespace mixedfit
