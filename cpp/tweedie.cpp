#include "tweedie.hpp"

#include <cmath>
#include <cstddef>
#include <limits>

#include "special_functions.hpp"

namespace mixedfit {

namespace {

// Terms below the largest by more than this (e^−37 ≈ 1e-16) leave W unchanged in double precision.
constexpr double kNegligible = 37.0;
// Terms whose share of W is below e^−28 (~7e-13) do not change the slopes' averages at the
// precision the gradient needs: their ψ is not evaluated.
constexpr double kNegligibleSlope = 28.0;
// A bound on the terms summed on each side of the largest (reached only at parameters no data
// set gives: y/φ ~ 10¹², where W's terms spread over ~10⁶ indices).
constexpr double kMaxTerms = 1e7;

// The sum of the terms from the largest outwards, relative to it, until they are negligible; the
// largest lies near j = y^(2−p)/(φ(2 − p)) (Dunn and Smyth 2005). coefficient(j) is
// −log j! − log Γ(−jα), ratio(j) exp(coefficient(j) − coefficient(j − 1)) (so that each term is
// its neighbour's times z·ratio: a product, not an exponential), digamma(j) ψ(−jα) (evaluated only
// with slopes). Where z itself over- or underflows, each term is its own exponential.
template <typename Coefficient, typename Ratio, typename Digamma>
TweedieSeries sum_series(double y, double phi, double power, bool slopes, Coefficient coefficient, Ratio ratio,
                         Digamma digamma) {
  if (y <= 0) return {0.0, 0.0, 0.0};
  const double alpha = (2 - power) / (1 - power);
  const double log_y = std::log(y), log_pm1 = std::log(power - 1), log_phi = std::log(phi);
  const double log_z = -alpha * log_y + alpha * log_pm1 - (1 - alpha) * log_phi - std::log(2 - power);
  const double z = std::exp(log_z);
  const bool products = z > 0 && std::isfinite(z) && std::isfinite(1 / z);
  const double peak = std::fmax(1.0, std::round(std::exp((2 - power) * log_y) / (phi * (2 - power))));
  const double log_peak = peak * log_z + coefficient(peak);
  double sum = 0.0, sum_j = 0.0, sum_j_digamma = 0.0;
  // Adds term j (share: its ratio to the largest) and says whether the terms beyond it (away from
  // the peak) are still needed.
  auto add = [&](double j, double share) {
    if (!(share >= std::exp(-kNegligible))) return false;
    sum += share;
    if (slopes) {
      sum_j += share * j;
      if (share > std::exp(-kNegligibleSlope)) sum_j_digamma += share * j * digamma(j);
    }
    return true;
  };
  auto share_of = [&](double j, double neighbour, bool up) {
    if (!products) return std::exp(j * log_z + coefficient(j) - log_peak);
    return up ? neighbour * z * ratio(j) : neighbour / (z * ratio(j + 1));
  };
  add(peak, 1.0);
  double share = 1.0;
  for (double j = peak + 1; j < peak + kMaxTerms; ++j) {
    share = share_of(j, share, true);
    if (!add(j, share)) break;
  }
  share = 1.0;
  for (double j = peak - 1; j >= 1 && j > peak - kMaxTerms; --j) {
    share = share_of(j, share, false);
    if (!add(j, share)) break;
  }
  TweedieSeries result{log_peak + std::log(sum) - log_y, 0.0, 0.0};
  if (slopes) {
    // ∂ log W_j/∂ log φ = −(1 − α) j; ∂ log W_j/∂p = j ∂ log z/∂p + j α' ψ(−jα), α' = 1/(1 − p)².
    const double alpha_slope = 1 / ((1 - power) * (1 - power));
    const double log_z_slope = alpha_slope * (log_pm1 + log_phi - log_y) + alpha / (power - 1) + 1 / (2 - power);
    result.d_log_phi = -(1 - alpha) * sum_j / sum;
    result.d_power = (log_z_slope * sum_j + alpha_slope * sum_j_digamma) / sum;
  }
  return result;
}

// The tables stop growing here (8 MB each); terms beyond take their own log-gammas.
constexpr std::size_t kMaxTable = std::size_t{1} << 20;

}  // namespace

TweedieTable::TweedieTable(double power) : power_(power), alpha_((2 - power) / (1 - power)) {}

TweedieSeries TweedieTable::series(double y, double phi, bool slopes) {
  auto direct = [this](double j) { return -log_factorial(j) - std::lgamma(-j * alpha_); };
  auto coefficient = [&](double j) {
    const auto k = static_cast<std::size_t>(j);
    if (k > kMaxTable) return direct(j);
    while (log_coefficient_.size() < k) {
      const double next = static_cast<double>(log_coefficient_.size() + 1);
      log_coefficient_.push_back(direct(next));
      ratio_.push_back(next > 1 ? std::exp(log_coefficient_.back() - log_coefficient_[log_coefficient_.size() - 2])
                                : 0.0);
      digamma_.push_back(std::numeric_limits<double>::quiet_NaN());  // (filled when a slope needs it)
    }
    return log_coefficient_[k - 1];
  };
  auto ratio = [&](double j) {
    const auto k = static_cast<std::size_t>(j);
    if (k > kMaxTable) return std::exp(direct(j) - direct(j - 1));
    coefficient(j);  // (grows the table to j)
    return ratio_[k - 1];
  };
  auto digamma = [this](double j) {
    const auto k = static_cast<std::size_t>(j);
    if (k > kMaxTable) return digamma_trigamma(-j * alpha_).digamma;
    if (std::isnan(digamma_[k - 1])) digamma_[k - 1] = digamma_trigamma(-j * alpha_).digamma;
    return digamma_[k - 1];
  };
  return sum_series(y, phi, power_, slopes, coefficient, ratio, digamma);
}

double tweedie_log_a(double y, double phi, double power) {
  const double alpha = (2 - power) / (1 - power);
  auto coefficient = [alpha](double j) { return -log_factorial(j) - std::lgamma(-j * alpha); };
  auto ratio = [&](double j) { return std::exp(coefficient(j) - coefficient(j - 1)); };
  auto no_digamma = [](double) { return 0.0; };
  return sum_series(y, phi, power, false, coefficient, ratio, no_digamma).log_a;
}

double tweedie_kernel(double y, double mu, double phi, double power) {
  const double mu_1mp = std::exp((1 - power) * std::log(mu));  // μ^(2−p) = μ · μ^(1−p)
  return (y * mu_1mp / (1 - power) - mu * mu_1mp / (2 - power)) / phi;
}

TweedieSlopes tweedie_kernel_slopes(double y, double mu, double phi, double power) {
  const double expected = std::exp(-power * std::log(mu)) / phi;
  return {(y - mu) * expected, -(mu + power * (y - mu)) * expected / mu, expected};
}

}  // namespace mixedfit
