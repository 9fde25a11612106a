#include "densities.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "special_functions.hpp"
#include "tweedie.hpp"

namespace mixedfit {

namespace {

constexpr double kLogSqrtTwoPi = 0.91893853320467274178;
constexpr double kPi = 3.14159265358979323846;
constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

Distribution untruncated(Distribution distribution) {
  switch (distribution) {
    case Distribution::TruncatedNegativeBinomial2: return Distribution::NegativeBinomial;
    case Distribution::TruncatedNegativeBinomial1: return Distribution::NegativeBinomial1;
    default: return Distribution::Poisson;
  }
}

// The lognormal with mean μ and standard deviation φ on the data scale (glmmTMB's lognormal):
// log y ~ N(log μ − v/2, v) with v = log(1 + (φ/μ)²). ℓ = −log y − log √(2π) − ½ log v − r²/(2v)
// with r = log y − log μ + v/2; its μ-derivatives by the chain rule through v(μ) and r(μ).
struct LognormalTerms {
  double v, r;
};

LognormalTerms lognormal_terms(double y, double mu, double phi) {
  const double v = std::log1p((phi / mu) * (phi / mu));
  return {v, std::log(y) - std::log(mu) + v / 2};
}

// Counts up to this take the short sums and products below instead of ψ, ψ' and log Γ.
constexpr double kShortSum = 16;

// log Γ(k + y) − log Γ(k) = log k(k + 1)⋯(k + y − 1) for a small count y (the product of ≤ 16
// factors stays far from overflow for any k a model holds); log-gammas otherwise.
double log_rising_factorial(double k, double y) {
  if (y > kShortSum || y != std::floor(y)) return std::lgamma(y + k) - std::lgamma(k);
  double product = 1.0;
  for (double j = 0; j < y; ++j) product *= k + j;
  return std::isfinite(product) ? std::log(product) : std::lgamma(y + k) - std::lgamma(k);
}

// ψ(x + y) − ψ(x) and ψ'(x) − ψ'(x + y) for a count y ≥ 0: short exact sums Σ_{j<y} 1/(x + j)
// and Σ_{j<y} 1/(x + j)² for small counts (no cancellation between two ψ of a large x), ψ and ψ'
// otherwise.
struct RisingSums {
  double first, second;
};

RisingSums rising_sums(double x, double y) {
  if (y == 0) return {0.0, 0.0};
  if (y > kShortSum || y != std::floor(y)) {
    const Polygamma low = digamma_trigamma(x), high = digamma_trigamma(x + y);
    return {high.digamma - low.digamma, low.trigamma - high.trigamma};
  }
  double s1 = 0.0, s2 = 0.0;
  for (double j = 0; j < y; ++j) {
    const double r = 1 / (x + j);
    s1 += r;
    s2 += r * r;
  }
  return {s1, s2};
}

// log(1 + eˣ) without overflow.
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// At y = 0: ℓ = log(π + (1 − π) p₀(μ)) and q = (1 − π) p₀/(π + (1 − π) p₀), the probability that
// the zero is the distribution's, through which ℓ depends on μ.
struct ZeroMixture {
  double log_p, q;
};

ZeroMixture zero_mixture(Distribution distribution, double mu, const FamilyParameter& phi, const ZeroMass& zero,
                         double trials) {
  const double log_pi = zero.log_pi, log_count = zero.log_1mpi + log_density(distribution, 0.0, mu, phi, trials);
  const double high = std::max(log_pi, log_count);
  const double log_p = high + std::log(std::exp(log_pi - high) + std::exp(log_count - high));
  return {log_p, std::exp(log_count - log_p)};
}

}  // namespace

ZeroMass ZeroMass::from_logit(double logit) { return {-softplus(-logit), -softplus(logit)}; }

double zero_inflated_log_density(Distribution distribution, double y, double mu, const FamilyParameter& phi,
                                 const ZeroMass& zero, double trials) {
  if (y != 0) return zero.log_1mpi + log_density(distribution, y, mu, phi, trials);
  if (zero_truncated(distribution)) return zero.log_pi;
  return zero_mixture(distribution, mu, phi, zero, trials).log_p;
}

MuDerivatives zero_inflated_mu_derivatives(Distribution distribution, double y, double mu, const FamilyParameter& phi,
                                           const ZeroMass& zero, double trials) {
  if (y != 0) return mu_derivatives(distribution, y, mu, phi, trials);
  if (zero_truncated(distribution)) return {0.0, 0.0};
  // ℓ' = q ℓ₀' and ℓ'' = q ℓ₀'' + q(1 − q) ℓ₀'², ℓ₀ = log p₀(μ) (dq/dμ = q(1 − q) ℓ₀').
  const double q = zero_mixture(distribution, mu, phi, zero, trials).q;
  const MuDerivatives d = mu_derivatives(distribution, 0.0, mu, phi, trials);
  return {q * d.first, q * d.second + q * (1 - q) * d.first * d.first};
}

FamilyParameter::FamilyParameter(double phi, double shape)
    : value(phi),
      log(std::log(phi)),
      log1p(std::log1p(phi)),
      lgamma(std::lgamma(phi)),
      inv_sqrt(1 / std::sqrt(phi)),
      shape(shape),
      t_constant(std::lgamma((shape + 1) / 2) - std::lgamma(shape / 2) - 0.5 * std::log(shape * kPi) - std::log(phi)) {}

bool zero_truncated(Distribution distribution) {
  return distribution == Distribution::TruncatedPoisson || distribution == Distribution::TruncatedNegativeBinomial1 ||
         distribution == Distribution::TruncatedNegativeBinomial2;
}

double log_density(Distribution distribution, double y, double mu, const FamilyParameter& phi, double trials) {
  switch (distribution) {
    case Distribution::Poisson:
      if (mu <= 0) return y == 0 ? 0.0 : kMinusInfinity;
      return y * std::log(mu) - mu - log_factorial(y);
    case Distribution::NegativeBinomial:
      // R's dnbinom(y, size = θ, mu = μ). θ log(θ/(θ+μ)) + y log(μ/(θ+μ)) as −θ log1p(μ/θ) − y log1p(θ/μ):
      // with counts of 10⁹ the direct form's y log μ ≈ 2·10¹¹ cancels against y log(θ+μ) and
      // leaves ~10⁻⁵ of noise per observation, more than PIRLS's tolerance.
      if (mu <= 0) return y == 0 ? 0.0 : kMinusInfinity;
      if (y == 0) return -phi.value * std::log1p(mu / phi.value);  // log Γ(θ) − log Γ(θ) − log 0! = 0
      return log_gamma_ratio(y, phi.value) - phi.lgamma - phi.value * std::log1p(mu / phi.value) -
             y * std::log1p(phi.value / mu);
    case Distribution::NegativeBinomial1: {
      // size k = μ/φ, probability 1/(1 + φ); log Γ(y + k) − log Γ(k) by lgamma (k is not a count).
      const double k = mu / phi.value;
      if (y == 0) return -k * phi.log1p;
      return log_rising_factorial(k, y) - log_factorial(y) - k * phi.log1p + y * (phi.log - phi.log1p);
    }
    case Distribution::Beta: {  // dbeta(y, μφ, (1 − μ)φ)
      const double a = mu * phi.value, b = (1 - mu) * phi.value;
      return phi.lgamma - std::lgamma(a) - std::lgamma(b) + (a - 1) * std::log(y) + (b - 1) * std::log1p(-y);
    }
    case Distribution::Binomial: {  // (zero-inflated: the whole binomial's, k = ny successes of n)
      const double n = trials, k = std::round(n * y);
      if (mu <= 0 || mu >= 1) return (mu <= 0 ? k == 0 : k == n) ? 0.0 : kMinusInfinity;
      return log_factorial(n) - log_factorial(k) - log_factorial(n - k) + k * std::log(mu) + (n - k) * std::log1p(-mu);
    }
    case Distribution::BetaBinomial: {
      // glmmTMB's betabinomial: k = ny successes of n, p ~ Beta(μφ, (1 − μ)φ):
      // log C(n, k) + log B(k + a, n − k + b) − log B(a, b), a = μφ, b = (1 − μ)φ; with
      // log B(k + a, n − k + b) − log B(a, b) = log Γ(k + a) − log Γ(a) + log Γ(n − k + b) − log Γ(b) − log Γ(n + φ) + log Γ(φ).
      const double n = trials, k = std::round(n * y), a = mu * phi.value, b = (1 - mu) * phi.value;
      return log_factorial(n) - log_factorial(k) - log_factorial(n - k) + log_rising_factorial(a, k) +
             log_rising_factorial(b, n - k) - log_rising_factorial(phi.value, n);
    }
    case Distribution::TruncatedPoisson:
    case Distribution::TruncatedNegativeBinomial1:
    case Distribution::TruncatedNegativeBinomial2: {
      if (y < 1) return kMinusInfinity;
      const Distribution base = untruncated(distribution);
      return log_density(base, y, mu, phi) - log1m_exp(log_density(base, 0.0, mu, phi));
    }
    case Distribution::GeneralizedPoisson: {
      // glmmTMB's genpois: θ = μ/√φ, λ = 1 − 1/√φ (mean μ, variance μφ);
      // log p = log θ + (y − 1) log(θ + λy) − θ − λy − log y!.
      const double s = phi.inv_sqrt, lambda = 1 - s, t = mu * s + lambda * y;
      if (t <= 0) return kMinusInfinity;
      return std::log(mu * s) + (y - 1) * std::log(t) - t - log_factorial(y);
    }
    case Distribution::StudentT: {  // r = (y − μ)/σ: ℓ = constant − (ν + 1)/2 log(1 + r²/ν)
      const double r = (y - mu) / phi.value;
      return phi.t_constant - 0.5 * (phi.shape + 1) * std::log1p(r * r / phi.shape);
    }
    case Distribution::Tweedie:
      if (y < 0) return kMinusInfinity;
      return tweedie_log_a(y, phi.value, phi.shape) + tweedie_kernel(y, mu, phi.value, phi.shape);
    case Distribution::Lognormal: {
      if (y <= 0) return kMinusInfinity;
      const LognormalTerms t = lognormal_terms(y, mu, phi.value);
      return -std::log(y) - kLogSqrtTwoPi - 0.5 * std::log(t.v) - t.r * t.r / (2 * t.v);
    }
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

MuDerivatives mu_derivatives(Distribution distribution, double y, double mu, const FamilyParameter& phi, double trials) {
  switch (distribution) {
    case Distribution::Poisson: return {y / mu - 1, -y / (mu * mu)};
    case Distribution::NegativeBinomial: {
      // ℓ(μ) = y log μ − (y + θ) log(μ + θ) + terms without μ.
      const double theta = phi.value, s = mu + theta;
      return {y / mu - (y + theta) / s, -y / (mu * mu) + (y + theta) / (s * s)};
    }
    case Distribution::NegativeBinomial1: {
      // ℓ(μ) = log Γ(y + μ/φ) − log Γ(μ/φ) − (μ/φ) log(1 + φ) + terms without μ.
      const double f = phi.value, k = mu / f;
      const RisingSums s = rising_sums(k, y);
      return {(s.first - phi.log1p) / f, -s.second / (f * f)};
    }
    case Distribution::Beta: {
      // ℓ(μ) = −log Γ(μφ) − log Γ((1−μ)φ) + μφ log y + (1−μ)φ log(1 − y) + terms without μ.
      const Polygamma a = digamma_trigamma(mu * phi.value), b = digamma_trigamma((1 - mu) * phi.value);
      return {phi.value * (std::log(y) - std::log1p(-y) - a.digamma + b.digamma),
              -phi.value * phi.value * (a.trigamma + b.trigamma)};
    }
    case Distribution::Binomial: {
      const double n = trials, k = std::round(n * y);
      return {k / mu - (n - k) / (1 - mu), -k / (mu * mu) - (n - k) / ((1 - mu) * (1 - mu))};
    }
    case Distribution::BetaBinomial: {
      // ∂/∂μ = φ [ψ(k + a) − ψ(a) − ψ(n − k + b) + ψ(b)], ∂²/∂μ² = φ² [ψ'(k + a) − ψ'(a) + ψ'(n − k + b) − ψ'(b)].
      const double n = trials, k = std::round(n * y), f = phi.value, a = mu * f, b = (1 - mu) * f;
      const RisingSums sa = rising_sums(a, k), sb = rising_sums(b, n - k);
      return {f * (sa.first - sb.first), -f * f * (sa.second + sb.second)};
    }
    case Distribution::TruncatedPoisson:
    case Distribution::TruncatedNegativeBinomial1:
    case Distribution::TruncatedNegativeBinomial2: {
      // ℓ = ℓ_base − log(1 − e^L) with L = log P(Y = 0), the base's log-density at 0: its
      // derivatives are ℓ_base's plus ρ L' and ρ L'' + ρ(1 + ρ) L'², ρ = e^L/(1 − e^L).
      const Distribution base = untruncated(distribution);
      const MuDerivatives d = mu_derivatives(base, y, mu, phi), L = mu_derivatives(base, 0.0, mu, phi);
      const double rho = 1 / std::expm1(-log_density(base, 0.0, mu, phi));
      return {d.first + rho * L.first, d.second + rho * L.second + rho * (1 + rho) * L.first * L.first};
    }
    case Distribution::GeneralizedPoisson: {
      const double s = phi.inv_sqrt, t = mu * s + (1 - s) * y;
      return {1 / mu + (y - 1) * s / t - s, -1 / (mu * mu) - (y - 1) * s * s / (t * t)};
    }
    case Distribution::StudentT: {
      // ∂ℓ/∂μ = (ν + 1) r / (σ (ν + r²)), ∂²ℓ/∂μ² = (ν + 1)(r² − ν) / (σ² (ν + r²)²): negative
      // information beyond |r| = √ν (PIRLS's expected weights stand in there while far from a mode).
      const double r = (y - mu) / phi.value, nu = phi.shape, d = nu + r * r;
      return {(nu + 1) * r / (phi.value * d), (nu + 1) * (r * r - nu) / (phi.value * phi.value * d * d)};
    }
    case Distribution::Tweedie: {
      const TweedieSlopes d = tweedie_kernel_slopes(y, mu, phi.value, phi.shape);
      return {d.first, d.second};
    }
    case Distribution::Lognormal: {
      // ℓ = f(v, r) = −½ log v − r²/(2v) + const, v(μ) = log(1 + φ²/μ²), r(μ) = log y − log μ + v/2.
      const LognormalTerms t = lognormal_terms(y, mu, phi.value);
      const double v = t.v, r = t.r, phi2 = phi.value * phi.value, mu2 = mu * mu, c = mu2 + phi2;
      const double dv = -2 * phi2 / (mu * c), d2v = 2 * phi2 * (3 * mu2 + phi2) / (mu2 * c * c);
      const double dr = -1 / mu + dv / 2, d2r = 1 / mu2 + d2v / 2;
      const double f_v = -0.5 / v + r * r / (2 * v * v), f_r = -r / v;
      const double f_vv = 0.5 / (v * v) - r * r / (v * v * v), f_rr = -1 / v, f_rv = r / (v * v);
      return {f_v * dv + f_r * dr, f_vv * dv * dv + 2 * f_rv * dv * dr + f_rr * dr * dr + f_v * d2v + f_r * d2r};
    }
    default:
      return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  }
}

}  // namespace mixedfit
