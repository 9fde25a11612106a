// The generalized linear mixed model's response module (lme4's glmResp) joined to a
// Predictor: PIRLS for the conditional modes, the Laplace approximation and adaptive
// Gauss–Hermite quadrature for the deviance. One objective call = one C++ call.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "family.hpp"
#include "likelihood.hpp"
#include "log_det_gradient.hpp"
#include "parallel.hpp"
#include "predictor.hpp"
#include "selected_inverse.hpp"

namespace mixedfit {

class GeneralizedLinearMixedModel {
 public:
  // y on the family's scale (binomial: proportions), prior weights, binomial trials n (ones
  // otherwise), offset, and the starting means μ (the family's initialize, as in R);
  // family_theta is the negative binomial's shape.
  GeneralizedLinearMixedModel(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind,
                              MapVecI term_shapes, MapVec y, MapVec weights,
                              MapVec n_trials, MapVec offset, MapVec mustart, const std::string& family,
                              const std::string& link, double family_theta);

  // nAGQ = 0: β and u both by PIRLS at θ; returns the Laplace deviance.
  double objective_theta(const Eigen::Ref<const Eigen::VectorXd>& theta);
  // nAGQ ≥ 1: u by PIRLS at (θ, β); returns the Laplace deviance (one node) or the adaptive
  // Gauss–Hermite deviance for nodes z with weights w summing to one (standard normal rule).
  double objective(const Eigen::Ref<const Eigen::VectorXd>& theta, const Eigen::Ref<const Eigen::VectorXd>& beta,
                   const Eigen::Ref<const Eigen::VectorXd>& gh_z, const Eigen::Ref<const Eigen::VectorXd>& gh_w);

  // A new response (same family, weights, trials and offset) with its starting means; the next
  // PIRLS starts from them. y and mustart must outlive the model, as the constructor's.
  void set_response(MapVec y, MapVec mustart);
  // A new negative binomial shape: the profile over it refits the other parameters at each.
  void set_family_theta(double theta);
  // The Student t's degrees of freedom.
  void set_family_shape(double shape);
  // A dispersion model (glmmTMB's dispformula): each observation's log φ (the family's parameter:
  // NB2's θ, NB1's and genpois's φ, the beta's precision, the t's σ...), one per row of X.
  void set_dispersion(const Eigen::Ref<const Eigen::VectorXd>& log_phi);
  // The ordinal family's cut points (increasing; y must hold the categories 0, 1, …, cuts.size()).
  void set_cuts(const Eigen::Ref<const Eigen::VectorXd>& cuts);
  // Zero-inflation's log-odds per observation (glmmTMB's ziformula: X_zi β_zi), from now on.
  void set_zero_logit(const Eigen::Ref<const Eigen::VectorXd>& logit);

  const Predictor& predictor() const { return pred_; }
  Predictor& predictor() { return pred_; }
  const Eigen::VectorXd& mu() const { return mu_; }
  const Eigen::VectorXd& eta() const { return eta_; }
  // Σ of the deviance residuals at the current μ.
  double deviance() const;
  // Σ prior-weighted squared Pearson residuals.
  double pearson_rss() const;
  // R's family$aic at the current μ: the conditional −2 log-likelihood.
  double aic() const;
  Eigen::VectorXd deviance_residuals() const;
  // dμ/dη and V(μ) at the current η and μ, for working and Pearson residuals.
  const Eigen::VectorXd& mu_eta() const { return mu_eta_; }
  Eigen::VectorXd variance() const;
  int pirls_iterations() const { return pirls_iterations_; }

  // The Laplace deviance's gradient at the current (θ, β) and conditional modes, that is after
  // objective() with one node (laplace_gradient.cpp): in θ, in β, in the log of the family's
  // parameter (family_theta), in its shape's search coordinate (family_shape: the Student t's log
  // degrees of freedom, the Tweedie's logit(p − 1); Family::shape_moved), in each observation's zero-inflation log-odds (zero; the chain rule through the zero
  // model's X is the caller's) and in the ordinal family's cut points (cuts).
  struct GradientParts {
    bool family_theta = false, zero = false, cuts = false, family_shape = false, dispersion = false;
  };
  struct LaplaceGradient {
    Eigen::VectorXd theta, beta;
    double log_family_theta = 0.0, family_shape = 0.0;
    Eigen::VectorXd zero_logit, cuts;
    Eigen::VectorXd log_dispersion;  // in each observation's log φ (dispersion: the chain rule through its X is the caller's)
  };
  // Whether the model has random effects and its gradient costs about an evaluation
  // (LogDetGradient::affordable).
  bool has_laplace_gradient() { return pred_.q() > 0 && log_det_.affordable(pred_); }
  LaplaceGradient laplace_gradient(const GradientParts& parts);
  // RX at the current weights (for β's covariance from the penalized least-squares factor).
  const Eigen::MatrixXd& RX();

 private:
  void start_from(const Eigen::Ref<const Eigen::VectorXd>& mustart);
  // That y holds the ordinal family's categories 0, 1, …, cut_count (require()).
  static void check_categories(const Eigen::Ref<const Eigen::VectorXd>& y, std::size_t cut_count);
  // μ, dμ/dη, their validity and the likelihood's sums from the current η.
  void update_mu();
  // Xβ + ZΛu + offset at the current β and u; with_beta false: β is PIRLS's fixed one, whose part
  // is fixed_eta_.
  Eigen::VectorXd linear_predictor(bool with_beta) const;
  // η from the current β and u (and the offset), then update_mu.
  void update_eta_mu(bool with_beta);
  double penalized_deviance() const;
  // Working weights and the decomposition at the current μ (RX only if β is solved for);
  // observed: the observed information instead of the expected one (see Family); with_residual:
  // also weighted_residual_, in the same pass.
  void reweight(bool with_beta, bool observed, bool with_residual);
  // Observations per block of the passes that compute several values each (μ, dμ/dη and the
  // likelihood; the weights and the working residual): small enough for the block's vectors to
  // stay in the L1 cache between them.
  static constexpr Index kObservationBlock = 512;
  // Runs work(first, m) on each block of observations [first, first + m): on the predictor's
  // threads where each observation's work is the family's own log-density or derivatives
  // (special functions: ~1 ms per pass over 10⁴ rows), else on this one.
  template <class Work>
  void for_observation_blocks(const Work& work) const {
    const Index n = pred_.n(), blocks = (n + kObservationBlock - 1) / kObservationBlock;
    const int threads = family_.has_own_score() && n >= kMinParallelObservations ? pred_.threads() : 1;
    parallel_chunks(blocks, threads, [&](Index b) {
      const Index first = b * kObservationBlock;
      work(first, std::min(kObservationBlock, n - first));
    });
  }
  // Σ over the blocks of work(first, m), added in the blocks' order whatever the threads (a fit
  // must not depend on the thread count).
  template <class Work>
  double sum_over_observation_blocks(const Work& work) const {
    const Index blocks = (pred_.n() + kObservationBlock - 1) / kObservationBlock;
    std::vector<double> parts(static_cast<std::size_t>(blocks), 0.0);
    for_observation_blocks([&](Index first, Index m) {
      parts[static_cast<std::size_t>(first / kObservationBlock)] = work(first, m);
    });
    double sum = 0.0;
    for (const double part : parts) sum += part;
    return sum;
  }
  // Below this many observations one thread does the per-observation passes (two blocks' worth
  // of work does not pay for handing one to a worker).
  static constexpr Index kMinParallelObservations = 2048;
  const ZeroMass& zero_mass(Index i) const { return zero_mass_.empty() ? kNoZeroMass : zero_mass_[i]; }
  // Observation i's own family parameter under a dispersion model (else nullptr: the family's);
  // parameter_of: the same with a family's shape (a family moved for the gradient's differences).
  const FamilyParameter* parameter(Index i) const { return dispersion_.empty() ? nullptr : &dispersion_[i]; }
  FamilyParameter parameter_of(const Family& family, Index i) const {
    if (dispersion_.empty()) return family.parameter();
    return family.shape() == dispersion_[i].shape ? dispersion_[i] : FamilyParameter(dispersion_[i].value, family.shape());
  }
  // reweight's pass for an exponential family: w from V(μ) and, with_residual, W times the
  // working response in weighted_residual_.
  void exponential_family_weights(Eigen::VectorXd& w, bool with_beta, bool with_residual);
  void pirls(bool with_beta);
  // Observation i's score ∂ℓ/∂η and the weight W the Laplace approximation's factor takes (as
  // reweight computes them; prior weight included) at η, with μ and dμ/dη there, under a family and
  // zero mass.
  struct Slope {
    double score, weight;
  };
  Slope slope_from(const Family& family, Index i, double eta, double mu, double mu_eta, const ZeroMass& zero,
                   const FamilyParameter* parameter) const;
  // The gradient's log det Λ'Z'WZΛ + I part and the factor of Λ'Z'OZΛ + I where the observed
  // information O differs from W (their analyses kept between gradients).
  LogDetGradient log_det_;
  SelectedInverse observed_inverse_;
  double laplace() const;
  double adaptive_quadrature(const Eigen::Ref<const Eigen::VectorXd>& gh_z,
                             const Eigen::Ref<const Eigen::VectorXd>& gh_w);

  Predictor pred_;
  Family family_;
  MapVec y_, weights_, n_trials_, offset_;
  std::optional<ResponseLikelihood> likelihood_;  // of the current response (set_response replaces it)
  Eigen::VectorXd eta_, mu_, mu_eta_;  // mu_eta_: dμ/dη
  Eigen::VectorXd fixed_eta_;          // Xβ + offset while PIRLS holds β fixed
  std::vector<ZeroMass> zero_mass_;    // zero-inflation's probabilities per observation (empty: none)
  Eigen::VectorXd zero_logit_;         // and the log-odds they came from
  std::vector<FamilyParameter> dispersion_;  // each observation's φ under a dispersion model (empty: none)
  Eigen::VectorXd log_dispersion_;            // and the log φ they came from
  Eigen::VectorXd score_;              // ∂ℓ/∂η at the last reweighting (the families of has_own_score)
  // Whether the factor's weights are those slope_from computes (not so where the observed
  // information failed the factorization and the expected one stood in).
  bool weights_exact_ = true;
  // W times the working response (less Xβ where β is fixed), for PIRLS's right-hand side.
  Eigen::VectorXd weighted_residual_;
  bool valid_ = true;                  // every η and μ valid (Family::all_valid)
  // At the current μ; PIRLS's steps need only the deviance, so a family whose −2 log L costs
  // extra leaves it NaN there, and minus_two_log_lik() computes it when the Laplace value is due.
  ResponseLikelihood::Sums sums_{0.0, 0.0};
  double minus_two_log_lik() const;
  Eigen::VectorXd eta_start_;  // the link of the family's starting means
  Eigen::VectorXi level_of_obs_;  // for quadrature: the level of each observation
  bool single_scalar_term_ = false;
  bool from_mustart_ = true;  // the first PIRLS starts from the family's starting μ
  int pirls_iterations_ = 0;
};

}  // namespace mixedfit
