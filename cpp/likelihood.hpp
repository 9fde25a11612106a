// The deviance and the conditional −2 log-likelihood of a response at μ, as sums over the
// observations: what PIRLS evaluates at every step and the Laplace approximation at its end.
// For the binomial and the Poisson (most GLMMs) every term that does not depend on μ — y log y,
// the log-gamma terms of the binomial coefficient and of y! — is computed once per response, so
// an evaluation costs at most log μ and log(1 − μ) per observation, vectorized (none for the log
// link, one for the logit: Family::log_mu), and gives both sums from the same logarithms. Other
// families sum Family's scalar functions.
#pragma once

#include <limits>
#include <optional>
#include <vector>

#include "family.hpp"
#include "tweedie.hpp"
#include "types.hpp"

namespace mixedfit {

class ResponseLikelihood {
 public:
  // y on the family's scale, binomial trials n, prior weights wt: views the caller keeps alive.
  ResponseLikelihood(const Family& family, MapVec y, MapVec n_trials, MapVec weights);

  struct Sums {
    double deviance, minus_two_log_lik;  // Σ deviance residuals; R's family$aic
  };
  // At η and its μ, for this family (whose negative binomial shape may have changed since
  // construction); zero: a zero-inflated family's probabilities per observation (else empty).
  // parameters: each observation's own family parameter under a dispersion model (else empty).
  Sums at(const Family& family, const Eigen::VectorXd& eta, const Eigen::VectorXd& mu,
          const std::vector<ZeroMass>& zero, const std::vector<FamilyParameter>& parameters = {}) const;
  // The μ-dependent part of the same over the block of observations first, first + 1, … (eta and
  // mu hold theirs), for PIRLS's single pass over the observations: the sums are constants() plus
  // the blocks'. The families of densities.hpp get both from one log-density per observation
  // (constants(): the saturated model's Σ 2 wt log p(y | μ = y), once per value of the family's
  // parameter; the Tweedie's −2 log L also its series' −2 Σ wt log a(y; φ, p), which does not
  // depend on μ: its blocks sum the kernel alone). For the exponential families other than the binomial and the Poisson,
  // constants()'s −2 log L is NaN (their family$aic needs the whole response's deviance; PIRLS's
  // steps need only the deviance), and so is the total.
  Sums block(const Family& family, const Eigen::Ref<const Eigen::VectorXd>& eta,
             const Eigen::Ref<const Eigen::VectorXd>& mu, Index first, const std::vector<ZeroMass>& zero,
             const std::vector<FamilyParameter>& parameters = {}) const;
  Sums constants(const Family& family) const;
  // The Tweedie's Σ wt log a(y; φ, p) and its slopes in log φ and p, at the family's (φ, p)
  // (summed once per value, with constants()).
  const TweedieSeries& tweedie_sums(const Family& family) const;

 private:
  MapVec y_, n_, wt_;
  Distribution distribution_;  // binomial and Poisson: the constants below hold
  // Binomial: deviance = dev0 − Σ 2wy log μ − Σ 2w(1−y) log(1 − μ) and
  // −2 log L = lik0 − Σ a log μ − Σ b log(1 − μ) (R's aic: a, b the trials' successes and failures
  // times wt/m). Poisson: deviance = dev0 − Σ 2wy log μ + Σ 2w μ, and −2 log L the same with lik0.
  double dev0_ = 0.0, lik0_ = 0.0;
  // The sums that depend on the family's parameters but not on μ, and the parameters (φ and the
  // shape) they were summed at: the saturated deviance term of a family of densities.hpp (the
  // Tweedie's without log a, which cancels from its deviance) and the Tweedie's series.
  void sum_parameter_terms(const Family& family) const;
  mutable double saturated_ = 0.0;
  mutable TweedieSeries tweedie_{0.0, 0.0, 0.0};
  mutable std::optional<TweedieTable> tweedie_table_;  // the series' coefficients at the last p
  mutable double summed_theta_ = std::numeric_limits<double>::quiet_NaN(), summed_shape_ = summed_theta_;
  Eigen::ArrayXd two_wy_, two_w_;  // two_w_: the Poisson's coefficient of μ, the binomial's 2w(1 − y)
  Eigen::ArrayXd successes_, failures_;  // binomial: a and b above
};

}  // namespace mixedfit
