#include "special_functions.hpp"

#include <array>
#include <cmath>

namespace mixedfit {

// The recurrences ψ(x) = ψ(x + 1) − 1/x and ψ'(x) = ψ'(x + 1) + 1/x² up to x ≥ 10, then the
// asymptotic series (Abramowitz & Stegun 6.3.18, 6.4.12).
Polygamma digamma_trigamma(double x) {
  double shift_digamma = 0.0, shift_trigamma = 0.0;
  for (; x < 10; x += 1) {
    const double r = 1 / x;
    shift_digamma -= r;
    shift_trigamma += r * r;
  }
  const double inverse = 1 / x, r = inverse * inverse;
  return {shift_digamma + std::log(x) - 0.5 * inverse -
              r * (1.0 / 12 - r * (1.0 / 120 - r * (1.0 / 252 - r * (1.0 / 240 - r * (1.0 / 132))))),
          shift_trigamma + inverse + r / 2 +
              r * inverse * (1.0 / 6 - r * (1.0 / 30 - r * (1.0 / 42 - r * (1.0 / 30 - r * (5.0 / 66)))))};
}

// For large counts the two log-gammas (2·10⁹ at y = 10⁸) cancel to a few hundred and their
// rounding (~10⁻⁷ each) made the deviance noisy in θ, enough to spoil the finite differences of
// the convergence check; there the Stirling series of the difference,
// a ln z + Σ_k (−1)^k (B_k(a) − B_k(0)) / (k(k−1) z^(k−1)) with z = y + 1 and a = θ − 1 (B_k the
// Bernoulli polynomials), is exact to rounding once z exceeds 1000 |a|.
double log_gamma_ratio(double y, double theta) {
  const double z = y + 1, a = theta - 1;
  if (z < 1e4 || z < 1e3 * std::abs(a)) return std::lgamma(y + theta) - log_factorial(y);
  const double a2 = a * a, a3 = a2 * a, a4 = a3 * a, a5 = a4 * a, r = 1 / z;
  const double b2 = a2 - a, b3 = a3 - 1.5 * a2 + 0.5 * a, b4 = a4 - 2 * a3 + a2;
  const double b5 = a5 - 2.5 * a4 + (5.0 / 3.0) * a3 - a / 6;
  return a * std::log(z) + r * (b2 / 2 + r * (-b3 / 6 + r * (b4 / 12 - r * b5 / 20)));
}

double log_factorial(double y) {
  static const std::array<double, 1024> table = [] {
    std::array<double, 1024> values{};
    for (std::size_t k = 0; k < values.size(); ++k) values[k] = std::lgamma(static_cast<double>(k) + 1);
    return values;
  }();
  const double k = std::floor(y);
  return k == y && y >= 0 && y < 1024 ? table[static_cast<std::size_t>(y)] : std::lgamma(y + 1);
}

double log1m_exp(double x) { return x > -0.6931471805599453 ? std::log(-std::expm1(x)) : std::log1p(-std::exp(x)); }

}  // namespace mixedfit
