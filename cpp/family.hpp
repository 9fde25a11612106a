// Distributions and link functions for GLMMs (lme4's glmFamily): the inverse link and its
// derivative, the variance function, deviance residuals and the conditional −2 log-likelihood
// ("aic", as R's family objects define it; the negative binomial's as MASS's
// negative.binomial(theta)). Families outside the exponential family (beta, NB1, the
// zero-truncated counts, the generalized Poisson, the lognormal: densities.hpp) also give each
// observation's score and information in η, from which PIRLS takes its steps.
#pragma once

#include <limits>
#include <string>

#include "cumulative_link.hpp"
#include "densities.hpp"
#include "types.hpp"

namespace mixedfit {

enum class Link { Logit, Probit, Cloglog, Cauchit, Log, Sqrt, Identity, Inverse, InverseSquare };

Distribution distribution_from_name(const std::string& name);
Link link_from_name(const std::string& name);

// π = 0: what a family without zero-inflation is passed.
inline constexpr ZeroMass kNoZeroMass{-std::numeric_limits<double>::infinity(), 0.0};

class Family {
 public:
  // theta: the negative binomial's shape (NB2: V(μ) = μ + μ²/θ), NB1's dispersion φ (glmmTMB's
  // nbinom1: size μ/φ, V(μ) = μ(1 + φ)), the beta's precision φ (glmmTMB's beta_family:
  // y ~ Beta(μφ, (1 − μ)φ), V(μ) = μ(1 − μ)/(1 + φ)), the same for the zero-truncated NB2 and
  // NB1 (μ the untruncated mean), the generalized Poisson's φ (V(μ) = μφ) or the lognormal's
  // standard deviation φ on the data scale, the Student t's scale σ = φ (its degrees of freedom
  // are set_shape's), the Tweedie's dispersion φ (variance φμ^p, its power p set_shape's);
  // ignored by the others.
  Family(Distribution dist, Link link, double theta = 1.0) : dist_(dist), link_(link), parameter_(theta) {}
  // From the names R and glmmTMB use; "ordinal" with the cumulative link's name ("logit",
  // "probit", "cloglog") is the cumulative link model, whose μ is η (identity link).
  static Family from_names(const std::string& family, const std::string& link, double theta = 1.0);

  // Functions of an observation's density take an optional `parameter`: that observation's own
  // (φ from a dispersion model, glmmTMB's dispformula), else the family's.
  double linkfun(double mu) const;
  double linkinv(double eta) const;
  double mu_eta(double eta) const;  // dμ/dη
  double variance(double mu, const FamilyParameter* parameter = nullptr) const;
  // The same over a block of observations: μ and dμ/dη from η in one pass (the logit and log
  // links get both from one exponential, evaluated by Eigen's vectorized exp; the other links by
  // the scalar functions above; mu and mu_eta have η's length), and V(μ).
  void linkinv(const Eigen::Ref<const Eigen::VectorXd>& eta, Eigen::Ref<Eigen::VectorXd> mu,
               Eigen::Ref<Eigen::VectorXd> mu_eta) const;
  Eigen::ArrayXd variance(const Eigen::Ref<const Eigen::VectorXd>& mu) const;
  // log μ over a block (μ = linkinv(η)), and log(1 − μ) if log_1mmu is given, from η where the
  // link gives them without a logarithm (log: log μ = η; logit: log(1 − μ) = log μ − η): the
  // likelihood's sums at every PIRLS step are mostly these logarithms.
  void log_mu(const Eigen::Ref<const Eigen::VectorXd>& eta, const Eigen::Ref<const Eigen::VectorXd>& mu,
              Eigen::ArrayXd& log_mu, Eigen::ArrayXd* log_1mmu) const;
  // Whether every η and μ is valid: μ inside the distribution's support (the deviance is finite
  // there), η where the inverse link is defined and monotone — 1/μ² needs η > 0, 1/μ needs
  // η ≠ 0 (R's valideta); the √ link allows any η, as lme4 does (μ = η²).
  bool all_valid(const Eigen::Ref<const Eigen::VectorXd>& eta, const Eigen::Ref<const Eigen::VectorXd>& mu) const;
  // Unit deviance times the prior weight (zero: the observation's zero-inflation probability,
  // read only if the family is zero-inflated).
  double dev_resid(double y, double mu, double wt, const ZeroMass& zero = kNoZeroMass, double trials = 1.0,
                   const FamilyParameter* parameter = nullptr) const;
  // log p(y | μ) and the saturated model's log p(y | μ = y) of the families of has_own_score
  // (densities.hpp): their deviance residual is 2 wt [saturated − log p(y | μ)]. A zero-inflated
  // family's saturated term is 0 (its deviance is −2 log L).
  // trials: the beta-binomial's number of trials (see densities.hpp).
  double log_density(double y, double mu, const ZeroMass& zero, double trials = 1.0,
                     const FamilyParameter* parameter = nullptr) const;
  double saturated_log_density(double y) const;
  // R's family$aic: −2 log-likelihood of y given μ (+2 for a scale parameter), where n is
  // the binomial number of trials and dev the total deviance (for the dispersion estimate).
  double aic(const Eigen::Ref<const Eigen::VectorXd>& y, const Eigen::Ref<const Eigen::VectorXd>& n,
             const Eigen::Ref<const Eigen::VectorXd>& mu, const Eigen::Ref<const Eigen::VectorXd>& wt,
             double dev) const;
  Distribution distribution() const { return dist_; }
  // False for √, whose inverse η ↦ η² maps η and −η to the same μ.
  bool link_one_to_one() const { return link_ != Link::Sqrt; }
  void set_theta(double theta) { parameter_ = FamilyParameter(theta, parameter_.shape); }
  // The Student t's degrees of freedom ν or the Tweedie's power p (the second parameter).
  void set_shape(double shape) { parameter_ = FamilyParameter(parameter_.value, shape); }
  double shape() const { return parameter_.shape; }
  // Whether the family has a second parameter (its shape): the Student t's ν, the Tweedie's p.
  bool has_shape() const { return dist_ == Distribution::StudentT || dist_ == Distribution::Tweedie; }
  // Whether the likelihood may sum the Tweedie's series once per (φ, p) apart from its kernel
  // (tweedie.hpp): a Tweedie with one φ for every observation and no zero-inflation.
  bool tweedie_series_apart() const {
    return dist_ == Distribution::Tweedie && !zero_inflated_ && !dispersion_modeled_;
  }
  // The shape moved by `step` along the coordinate the outer search takes it in (mixedfit's
  // Family.shape_to_search): log ν for the Student t, logit(p − 1) for the Tweedie (glmmTMB's ψ,
  // p = 1 + plogis(ψ)), so that the Laplace gradient's differences stay inside (1, 2).
  double shape_moved(double step) const;
  // Zero-inflation (glmmTMB's ziformula): each observation's zero is a point mass's with a
  // probability the callers pass per observation; PIRLS takes the mixture's score
  // and observed information.
  void set_zero_inflated(bool zero_inflated) { zero_inflated_ = zero_inflated; }
  bool zero_inflated() const { return zero_inflated_; }
  // The ordinal family's cut points (thresholds), in increasing order; its y is the category 0, 1, ….
  void set_cuts(std::vector<double> cuts) { ordinal_.set_cuts(std::move(cuts)); }
  const CumulativeLinkDensity& ordinal() const { return ordinal_; }
  double theta() const { return parameter_.value; }
  // The negative binomial's Laplace approximation takes the observed information −∂²log p/∂η²
  // (glmmTMB's, the exact Laplace) in its log-determinant instead of the expected one lme4 uses
  // for every family; the two differ for a non-canonical link, as NB2's log link is.
  bool laplace_uses_observed_information() const {
    return dist_ == Distribution::NegativeBinomial || has_own_score();
  }
  // −∂²log p(y | μ(η))/∂η² per unit prior weight (the families of laplace_uses_observed_information).
  double observed_information(double y, double mu, double eta) const;
  // Whether the score in η is not the exponential family's (y − μ) μ_η / V(μ): then PIRLS takes
  // information() instead of V(μ) and the working response.
  bool has_own_score() const {
    return zero_inflated_ || dispersion_modeled_ ||
           (dist_ != Distribution::Binomial && dist_ != Distribution::Poisson && dist_ != Distribution::Gamma &&
            dist_ != Distribution::InverseGaussian && dist_ != Distribution::Gaussian &&
            dist_ != Distribution::NegativeBinomial);
  }
  // ∂log p(y | μ(η))/∂η, its expected negative derivative (the Student t: its IRLS weight, a
  // majorizer's curvature) and the observed one (as
  // observed_information), per unit prior weight, from μ and dμ/dη at η (which PIRLS holds
  // already) and one evaluation of the log-density's μ-derivatives (the families of has_own_score).
  struct Information {
    double score, expected, observed;
  };
  Information information(double y, double mu, double eta, double mu_eta, const ZeroMass& zero,
                          double trials = 1.0, const FamilyParameter* parameter = nullptr) const;
  // The family's parameter (φ, and the shape), as the densities take it.
  const FamilyParameter& parameter() const { return parameter_; }
  // Whether each observation has its own φ (a dispersion model): then the family takes its own
  // score and information (the negative binomial too) and has no saturated model (its deviance
  // is −2 log L, as a zero-inflated family's).
  void set_dispersion_modeled(bool modeled) { dispersion_modeled_ = modeled; }
  bool dispersion_modeled() const { return dispersion_modeled_; }

 private:
  // d²μ/dη² at η (μ = linkinv(η) and dμ/dη given).
  double mu_eta2(double eta, double mu, double mu_eta) const;
  double expected_information(double y, double mu, double mu_eta, const FamilyParameter& parameter) const;
  // σ²ν/(ν − 2), the Student t's variance (NaN for ν ≤ 2: none).
  double student_t_variance(const FamilyParameter& parameter) const;

  Distribution dist_;
  Link link_;
  FamilyParameter parameter_;  // θ with the functions of it the densities take
  CumulativeLinkDensity ordinal_;  // the ordinal family's distribution and cut points
  bool zero_inflated_ = false;
  bool dispersion_modeled_ = false;
};

}  // namespace mixedfit
