// The cumulative link model of an ordered response (ordinal's clm/clmm): with cut points
// c_0 < c_1 < … < c_{K−2}, P(Y ≤ j | η) = F(c_j − η), so category j has probability
// F(c_j − η) − F(c_{j−1} − η) (c_{−1} = −∞, c_{K−1} = +∞), F the logistic, the normal, the
// Gumbel-minimum (cloglog: 1 − exp(−eˣ)) or the Gumbel-maximum (loglog: exp(−e⁻ˣ)) distribution
// function. The GLMM engine sees it as a family whose "mean" is η itself
// (identity link): it takes the log-probability and its first two η-derivatives per observation
// (the gradient in the cut points differentiates these, laplace_gradient.cpp).
#pragma once

#include <string>
#include <vector>

#include "densities.hpp"

namespace mixedfit {

enum class CumulativeLink { Logit, Probit, Cloglog, Loglog };

CumulativeLink cumulative_link_from_name(const std::string& name);

class CumulativeLinkDensity {
 public:
  CumulativeLinkDensity() = default;
  explicit CumulativeLinkDensity(CumulativeLink link) : link_(link) {}

  // The interval (lower, upper] of the latent variable's cut points that category y (0, 1, …)
  // occupies, −∞ and +∞ at the ends; empty (+∞, +∞] for a y that is no category.
  struct Interval {
    double lower, upper;
  };
  Interval interval(double y) const;
  void set_cuts(std::vector<double> cuts) { cuts_ = std::move(cuts); }
  const std::vector<double>& cuts() const { return cuts_; }

  // log P(lower < latent ≤ upper) at η, and its first and second derivatives in η.
  double log_probability(const Interval& cut, double eta) const;
  MuDerivatives eta_derivatives(const Interval& cut, double eta) const;
  // E[−∂²ℓ/∂η²] over the categories at η: Σ_j (f(c_j − η) − f(c_{j−1} − η))² / P_j.
  double expected_information(double eta) const;

 private:
  // F, 1 − F (accurate in the upper tail), the density f and its slope f' at x, from one
  // exponential (the normal's: two erfc and one): each observation's derivatives need them at its
  // two cut points only.
  struct Point {
    double cdf, survival, pdf, pdf_slope;
  };
  Point at(double x) const;
  // P(lower < latent ≤ upper) from the points at lower and upper: from the survival functions
  // where the interval lies above 0 (F's difference would cancel there).
  static double probability(double lower, const Point& a, const Point& b);

  CumulativeLink link_ = CumulativeLink::Logit;
  std::vector<double> cuts_;
};

}  // namespace mixedfit
