#include "cumulative_link.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace mixedfit {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kInvSqrtTwoPi = 0.39894228040143267794;
constexpr double kInvSqrtTwo = 0.70710678118654752440;
// Beyond this, eˣ overflows in the Gumbel-minimum's f(x) = exp(x − eˣ) (which is 0 there; the
// Gumbel-maximum's likewise below −700).
constexpr double kExpLimit = 700.0;

}  // namespace

CumulativeLink cumulative_link_from_name(const std::string& name) {
  if (name == "logit") return CumulativeLink::Logit;
  if (name == "probit") return CumulativeLink::Probit;
  if (name == "cloglog") return CumulativeLink::Cloglog;
  if (name == "loglog") return CumulativeLink::Loglog;
  throw std::invalid_argument("unknown cumulative link '" + name + "' (logit, probit, cloglog or loglog)");
}

CumulativeLinkDensity::Point CumulativeLinkDensity::at(double x) const {
  if (std::isinf(x)) return x > 0 ? Point{1.0, 0.0, 0.0, 0.0} : Point{0.0, 1.0, 0.0, 0.0};
  switch (link_) {
    case CumulativeLink::Logit: {
      const double e = std::exp(-std::abs(x)), low = e / (1 + e), high = 1 / (1 + e);
      const double cdf = x >= 0 ? high : low, survival = x >= 0 ? low : high, pdf = low * high;
      return {cdf, survival, pdf, pdf * (survival - cdf)};
    }
    case CumulativeLink::Probit: {
      const double pdf = kInvSqrtTwoPi * std::exp(-0.5 * x * x);
      return {0.5 * std::erfc(-x * kInvSqrtTwo), 0.5 * std::erfc(x * kInvSqrtTwo), pdf, -x * pdf};
    }
    case CumulativeLink::Cloglog: {  // F(x) = 1 − exp(−eˣ)
      if (x > kExpLimit) return {1.0, 0.0, 0.0, 0.0};
      const double ex = std::exp(x), survival = std::exp(-ex), pdf = ex * survival;
      return {-std::expm1(-ex), survival, pdf, -pdf * std::expm1(x)};
    }
    case CumulativeLink::Loglog: {  // F(x) = exp(−e⁻ˣ)
      if (x < -kExpLimit) return {0.0, 1.0, 0.0, 0.0};
      const double em = std::exp(-x), cdf = std::exp(-em), pdf = em * cdf;
      return {cdf, -std::expm1(-em), pdf, pdf * std::expm1(-x)};
    }
  }
  return {0.0, 1.0, 0.0, 0.0};
}

double CumulativeLinkDensity::probability(double lower, const Point& a, const Point& b) {
  return lower > 0 ? a.survival - b.survival : b.cdf - a.cdf;
}

CumulativeLinkDensity::Interval CumulativeLinkDensity::interval(double y) const {
  // A y that is no category (before the cut points are set, GeneralizedLinearMixedModel::set_cuts
  // checks them) has probability 0: an empty interval.
  if (!(y >= 0 && y <= static_cast<double>(cuts_.size()))) return {kInfinity, kInfinity};
  const auto j = static_cast<std::size_t>(y);
  return {j == 0 ? -kInfinity : cuts_[j - 1], j == cuts_.size() ? kInfinity : cuts_[j]};
}

double CumulativeLinkDensity::log_probability(const Interval& cut, double eta) const {
  const double a = cut.lower - eta;
  return std::log(probability(a, at(a), at(cut.upper - eta)));
}

MuDerivatives CumulativeLinkDensity::eta_derivatives(const Interval& cut, double eta) const {
  // P = F(b − η) − F(a − η): P' = −(f(b − η) − f(a − η)), P'' = f'(b − η) − f'(a − η);
  // ℓ' = P'/P and ℓ'' = P''/P − ℓ'².
  const double a = cut.lower - eta;
  const Point low = at(a), high = at(cut.upper - eta);
  const double p = probability(a, low, high), first = -(high.pdf - low.pdf) / p;
  return {first, (high.pdf_slope - low.pdf_slope) / p - first * first};
}

double CumulativeLinkDensity::expected_information(double eta) const {
  // Each cut point's F and f once: category j lies between cuts j − 1 and j.
  double sum = 0.0, lower = -kInfinity;
  Point low = at(lower);
  for (std::size_t j = 0; j <= cuts_.size(); ++j) {
    const double upper = j < cuts_.size() ? cuts_[j] - eta : kInfinity;
    const Point high = at(upper);
    const double p = probability(lower, low, high), slope = high.pdf - low.pdf;
    if (p > 0) sum += slope * slope / p;
    lower = upper;
    low = high;
  }
  return sum;
}

}  // namespace mixedfit
