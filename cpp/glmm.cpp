#include "glmm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "errors.hpp"

namespace mixedfit {

namespace {
constexpr int kMaxPirlsIterations = 200;
// Fisher scoring (non-canonical links) converges only linearly; past this many iterations a
// negligible change in the deviance is accepted without the step criterion.
constexpr int kPatientIterations = 50;
constexpr int kMaxHalvings = 20;
// Tighter than lme4's 1e-7 on purpose: the objective must be smooth for BOBYQA and for the
// finite-difference Hessian. The deviance change alone is not enough: for families with a
// dispersion the objective depends on the deviance itself, which is first-order in u's error,
// and so is log det L through the weights, so the Newton step must also have become negligible.
constexpr double kPirlsTolerance = 1e-11;
constexpr double kPirlsStepTolerance = 1e-11;

double finite(double deviance) {
  if (!std::isfinite(deviance)) throw NumericalError("the deviance is not finite at this θ and β");
  return deviance;
}

}  // namespace

GeneralizedLinearMixedModel::GeneralizedLinearMixedModel(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind,
                                                         MapVecI term_shapes, MapVec y, MapVec weights, MapVec n_trials, MapVec offset,
                                                         MapVec mustart, const std::string& family,
                                                         const std::string& link, double family_theta)
    : pred_(X, Zt, Lambdat, Lind, term_shapes),
      family_(Family::from_names(family, link, family_theta)),
      y_(y),
      weights_(weights),
      n_trials_(n_trials),
      offset_(offset) {
  const Index n = pred_.n();
  require(y.size() == n && weights.size() == n && n_trials.size() == n && offset.size() == n && mustart.size() == n,
          "y, weights, n_trials, offset and mustart must have one entry per row of X");
  require(y.allFinite() && weights.allFinite() && n_trials.allFinite() && offset.allFinite() && mustart.allFinite(),
          "y, weights, n_trials, offset and mustart must be finite");
  require((weights.array() >= 0.0).all(), "weights must be non-negative");
  require(std::isfinite(family_theta) && family_theta > 0, "the family's θ must be positive and finite");
  likelihood_.emplace(family_, y, n_trials, weights);
  eta_.resize(n);
  start_from(mustart);
  // With one scalar term each column of Zt holds exactly one entry: its row is the level.
  single_scalar_term_ = pred_.n_factor() == 1 && pred_.q() > 0;
  level_of_obs_.resize(n);
  for (Index i = 0; i < n; ++i) {
    const int begin = Zt.outerIndexPtr()[i], end = Zt.outerIndexPtr()[i + 1];
    single_scalar_term_ = single_scalar_term_ && end - begin == 1;
    level_of_obs_[i] = end > begin ? Zt.innerIndexPtr()[begin] : 0;
  }
}

void GeneralizedLinearMixedModel::set_family_theta(double theta) {
  require(std::isfinite(theta) && theta > 0, "the family's θ must be positive and finite");
  family_.set_theta(theta);
}

void GeneralizedLinearMixedModel::set_family_shape(double shape) {
  require(std::isfinite(shape) && shape > 0, "the family's shape must be positive and finite");
  require(family_.distribution() != Distribution::Tweedie || (shape > 1 && shape < 2),
          "the Tweedie's power must lie strictly between 1 and 2");
  family_.set_shape(shape);
  if (!dispersion_.empty()) set_dispersion(log_dispersion_);  // (each observation's parameter holds the shape too)
}

void GeneralizedLinearMixedModel::set_dispersion(const Eigen::Ref<const Eigen::VectorXd>& log_phi) {
  require(log_phi.size() == pred_.n(), "the dispersion model's log φ must have one entry per row of X");
  require(log_phi.allFinite(), "the dispersion model's log φ must be finite");
  require(family_.distribution() != Distribution::Ordinal, "the ordinal family has no dispersion parameter");
  const Eigen::VectorXd copy = log_phi;  // (log_phi may be log_dispersion_ itself)
  log_dispersion_ = copy;
  dispersion_.clear();
  dispersion_.reserve(static_cast<std::size_t>(copy.size()));
  for (Index i = 0; i < copy.size(); ++i) dispersion_.emplace_back(std::exp(copy[i]), family_.shape());
  family_.set_dispersion_modeled(true);
}

void GeneralizedLinearMixedModel::set_cuts(const Eigen::Ref<const Eigen::VectorXd>& cuts) {
  require(family_.distribution() == Distribution::Ordinal, "only the ordinal family has cut points");
  for (Index j = 0; j < cuts.size(); ++j) {
    require(std::isfinite(cuts[j]), "the cut points must be finite");
    require(j == 0 || cuts[j] > cuts[j - 1], "the cut points must increase");
  }
  // The response's categories are checked when their number changes (the first cut points, not at
  // every evaluation of the search, which moves the same number).
  const auto count = static_cast<std::size_t>(cuts.size());
  if (count != family_.ordinal().cuts().size()) check_categories(y_, count);
  family_.set_cuts(std::vector<double>(cuts.data(), cuts.data() + cuts.size()));
}

void GeneralizedLinearMixedModel::check_categories(const Eigen::Ref<const Eigen::VectorXd>& y, std::size_t cut_count) {
  const auto categories = static_cast<double>(cut_count);
  for (Index i = 0; i < y.size(); ++i) {
    require(y[i] >= 0 && y[i] <= categories && y[i] == std::floor(y[i]),
            "an ordinal response must hold the categories 0, 1, ..., number of cut points");
  }
}

void GeneralizedLinearMixedModel::set_zero_logit(const Eigen::Ref<const Eigen::VectorXd>& logit) {
  require(logit.size() == pred_.n(), "the zero-inflation log-odds must have one entry per row of X");
  require(!logit.array().isNaN().any(), "the zero-inflation log-odds must not be NaN");
  zero_logit_ = logit;
  zero_mass_.resize(logit.size());
  for (Index i = 0; i < logit.size(); ++i) zero_mass_[i] = ZeroMass::from_logit(logit[i]);
  family_.set_zero_inflated(true);
}

void GeneralizedLinearMixedModel::start_from(const Eigen::Ref<const Eigen::VectorXd>& mustart) {
  for (Index i = 0; i < mustart.size(); ++i) eta_[i] = family_.linkfun(mustart[i]);
  eta_start_ = eta_;
  update_mu();
  from_mustart_ = true;
}

void GeneralizedLinearMixedModel::set_response(MapVec y, MapVec mustart) {
  require(y.size() == pred_.n() && mustart.size() == pred_.n(), "y and mustart must have one entry per row of X");
  require(y.allFinite() && mustart.allFinite(), "y and mustart must be finite");
  if (family_.distribution() == Distribution::Ordinal && !family_.ordinal().cuts().empty()) {
    check_categories(y, family_.ordinal().cuts().size());
  }
  new (&y_) MapVec(y.data(), y.size());  // rebind the map: Eigen::Map has no assignment of its target
  likelihood_.emplace(family_, y_, n_trials_, weights_);
  start_from(mustart);
}

void GeneralizedLinearMixedModel::update_mu() {
  const Index n = eta_.size();
  mu_.resize(n);
  mu_eta_.resize(n);
  sums_ = likelihood_->constants(family_);  // (its caches filled before the blocks run)
  // Block by block, so that η, μ and dμ/dη stay in the cache between the inverse link, the
  // validity check and the likelihood's sums (one pass over the observations instead of four);
  // the blocks' sums added in their order.
  const std::size_t blocks = static_cast<std::size_t>((n + kObservationBlock - 1) / kObservationBlock);
  std::vector<ResponseLikelihood::Sums> parts(blocks, {0.0, 0.0});
  std::vector<char> valid(blocks, 1);
  for_observation_blocks([&](Index first, Index m) {
    const std::size_t b = static_cast<std::size_t>(first / kObservationBlock);
    const auto eta = eta_.segment(first, m);
    const auto mu = mu_.segment(first, m);
    family_.linkinv(eta, mu_.segment(first, m), mu_eta_.segment(first, m));
    valid[b] = family_.all_valid(eta, mu);
    // (an invalid block makes the penalized deviance infinite; μ is still wanted whole)
    if (valid[b]) parts[b] = likelihood_->block(family_, eta, mu, first, zero_mass_, dispersion_);
  });
  valid_ = std::all_of(valid.begin(), valid.end(), [](char v) { return v != 0; });
  for (const ResponseLikelihood::Sums& part : parts) {
    sums_.deviance += part.deviance;
    sums_.minus_two_log_lik += part.minus_two_log_lik;
  }
}

double GeneralizedLinearMixedModel::minus_two_log_lik() const {
  return std::isnan(sums_.minus_two_log_lik) ? aic() : sums_.minus_two_log_lik;
}

Eigen::VectorXd GeneralizedLinearMixedModel::linear_predictor(bool with_beta) const {
  Eigen::VectorXd eta = with_beta ? Eigen::VectorXd(pred_.X_beta() + offset_) : fixed_eta_;
  pred_.add_random_part(eta);
  return eta;
}

void GeneralizedLinearMixedModel::update_eta_mu(bool with_beta) {
  eta_ = linear_predictor(with_beta);
  update_mu();
}

Eigen::VectorXd GeneralizedLinearMixedModel::deviance_residuals() const {
  Eigen::VectorXd d(y_.size());
  for (Index i = 0; i < d.size(); ++i) {
    d[i] = family_.dev_resid(y_[i], mu_[i], weights_[i], zero_mass(i), n_trials_[i], parameter(i));
  }
  return d;
}

Eigen::VectorXd GeneralizedLinearMixedModel::variance() const {
  if (dispersion_.empty()) return family_.variance(mu_).matrix();
  Eigen::VectorXd v(mu_.size());
  for (Index i = 0; i < v.size(); ++i) v[i] = family_.variance(mu_[i], parameter(i));
  return v;
}

// At the current μ under the current family (a new negative binomial shape changes both).
double GeneralizedLinearMixedModel::deviance() const {
  return likelihood_->at(family_, eta_, mu_, zero_mass_, dispersion_).deviance;
}

double GeneralizedLinearMixedModel::pearson_rss() const {
  double sum = 0.0;
  for (Index i = 0; i < y_.size(); ++i) {
    const double r = y_[i] - mu_[i];
    sum += weights_[i] * r * r / family_.variance(mu_[i], parameter(i));
  }
  return sum;
}

double GeneralizedLinearMixedModel::aic() const {
  return likelihood_->at(family_, eta_, mu_, zero_mass_, dispersion_).minus_two_log_lik;
}

double GeneralizedLinearMixedModel::penalized_deviance() const {
  return valid_ ? sums_.deviance + pred_.u().squaredNorm() : std::numeric_limits<double>::infinity();
}

void GeneralizedLinearMixedModel::exponential_family_weights(Eigen::VectorXd& w, bool with_beta, bool with_residual) {
  // w = prior weight · (dμ/dη)²/V(μ), and the working response z = η − offset + (y − μ)/(dμ/dη)
  // (less Xβ where β is fixed) times w, block by block.
  const Index n = eta_.size();
  for (Index first = 0; first < n; first += kObservationBlock) {
    const Index m = std::min(kObservationBlock, n - first);
    const auto mu = mu_.segment(first, m).array(), mu_eta = mu_eta_.segment(first, m).array();
    auto wb = w.segment(first, m).array();
    wb = weights_.segment(first, m).array() * mu_eta.square() / family_.variance(mu_.segment(first, m));
    if (!with_residual) continue;
    const Eigen::Map<const Eigen::ArrayXd> base((with_beta ? offset_.data() : fixed_eta_.data()) + first, m);
    weighted_residual_.segment(first, m).array() =
        wb * (eta_.segment(first, m).array() - base + (y_.segment(first, m).array() - mu) / mu_eta);
  }
}

void GeneralizedLinearMixedModel::reweight(bool with_beta, bool observed, bool with_residual) {
  const Index n = eta_.size();
  Eigen::VectorXd w(n), h(observed ? n : 0);  // h: each observation's observed information
  if (with_residual) weighted_residual_.resize(n);
  const double* base = with_beta ? offset_.data() : fixed_eta_.data();
  if (family_.has_own_score()) {
    score_.resize(n);
    // Weights from the expected information and the right-hand side w (η − base) + the score,
    // all from one evaluation of the log-density's derivatives per observation.
    for_observation_blocks([&](Index first, Index m) {
      for (Index i = first; i < first + m; ++i) {
        const Family::Information t =
            family_.information(y_[i], mu_[i], eta_[i], mu_eta_[i], zero_mass(i), n_trials_[i], parameter(i));
        w[i] = weights_[i] * t.expected;
        score_[i] = weights_[i] * t.score;
        if (observed) h[i] = weights_[i] * t.observed;
        if (with_residual) weighted_residual_[i] = w[i] * (eta_[i] - base[i]) + weights_[i] * t.score;
      }
    });
  } else {
    exponential_family_weights(w, with_beta, with_residual);
    for (Index i = 0; observed && i < n; ++i) h[i] = weights_[i] * family_.observed_information(y_[i], mu_[i], eta_[i]);
  }
  if (observed) {
    // Newton's step and, at the mode, the Laplace approximation's factor take the exact
    // curvature: each observation's observed information even where it is negative (the beta's
    // far from its mean, the generalized Poisson's and NB1's outlying counts; glmmTMB's Hessian
    // has them too). Near a mode Λ'Z'WZΛ + I is positive definite all the same, and Newton's
    // steps converge quadratically (the generalized Poisson took 11 iterations per evaluation
    // with the expected information standing in for the negative ones). Where the factorization
    // fails (far from the mode), the expected information stands in where the observed is not
    // positive, as below.
    const Eigen::VectorXd exact = h.array().isFinite().select(h, w);
    try {
      pred_.set_weights(exact, true);
      pred_.update_L();
      if (with_beta) pred_.update_RX();
      if (with_residual) {
        for (Index i = 0; i < n; ++i) weighted_residual_[i] += (exact[i] - w[i]) * (eta_[i] - base[i]);
      }
      weights_exact_ = true;
      return;
    } catch (const NumericalError&) {
    }
  }
  weights_exact_ = true;
  for (Index i = 0; observed && i < n; ++i) {
    weights_exact_ = weights_exact_ && h[i] > 0 && std::isfinite(h[i]);
    // Far from the data (an identity or √ link; the beta's tails) the observed information can be
    // ≤ 0: there the expected one stands in, so that each Newton step's matrix is positive definite.
    if (!(h[i] > 0 && std::isfinite(h[i]))) continue;
    // A Newton step: the right-hand side is h (η − base) + the score, whose part w (η − base)
    // the pass above already holds with the expected weight w.
    if (with_residual) weighted_residual_[i] += (h[i] - w[i]) * (eta_[i] - base[i]);
    w[i] = h[i];
  }
  pred_.set_weights(std::move(w));
  pred_.update_L();
  if (with_beta) pred_.update_RX();
}

const Eigen::MatrixXd& GeneralizedLinearMixedModel::RX() {
  pred_.update_RX();
  return pred_.RX();
}

void GeneralizedLinearMixedModel::pirls(bool with_beta) {
  if (!with_beta) fixed_eta_ = pred_.X_beta() + offset_;
  double pdev_old = std::numeric_limits<double>::infinity();
  // Warm start from the previous modes, except where the link is not one-to-one (√: η and −η
  // give the same μ), where a warm start can land in the mirrored mode and make the deviance
  // depend on the path the optimizer took; there every evaluation starts from μ_start.
  const bool warm = !from_mustart_ && family_.link_one_to_one();
  if (warm) {
    update_eta_mu(with_beta);
    pdev_old = penalized_deviance();
  }
  // Whether η is the linear predictor at the current β and u (not so where PIRLS starts from μ_start).
  bool eta_at_modes = std::isfinite(pdev_old);
  if (!eta_at_modes) {
    // Start from the family's starting means (also when the previous modes are invalid here).
    eta_ = eta_start_;
    update_mu();
    pred_.set_u(Eigen::VectorXd::Zero(pred_.q()));
  }
  from_mustart_ = false;
  // Steps: Fisher scoring (the expected information), which for a canonical link is Newton's
  // method; where the Laplace approximation takes the observed information (the negative
  // binomials' log link and the beta's links, non-canonical), Newton's steps with it: Fisher
  // scoring converges only linearly there, and on badly conditioned designs (an uncentred
  // covariate: grouseticks' YEAR as 95–97) or counts of 10⁹ and more it had not converged in 200
  // iterations. (Where the observed information fails the factorization, the family's expected
  // weights stand in: the Student t's are its IRLS weights, see Family::expected_information.)
  const bool newton = family_.laplace_uses_observed_information();
  for (pirls_iterations_ = 1; pirls_iterations_ <= kMaxPirlsIterations; ++pirls_iterations_) {
    reweight(with_beta, newton, true);
    const Eigen::VectorXd beta_old = pred_.beta(), u_old = pred_.u();
    if (with_beta) {
      pred_.solve_beta_u(pred_.Zt_times(weighted_residual_), pred_.X().transpose() * weighted_residual_);
    } else {
      pred_.solve_u(pred_.Zt_times(weighted_residual_));
    }
    const Eigen::VectorXd beta_new = pred_.beta(), u_new = pred_.u();
    const double u_step = (u_new - u_old).lpNorm<Eigen::Infinity>();
    const double full_step = std::max(u_step, with_beta ? (beta_new - beta_old).lpNorm<Eigen::Infinity>() : 0.0);
    // β's step as it moves the objective: each observation's change in η weighted by its working
    // weight (the deviance and log det L move by about wᵢ Δηᵢ). A factor level whose responses are
    // all at the boundary (quasi-separation: all zeros) has weights ~1e-16 and an estimate that
    // runs to −∞ by a constant step per iteration; measured this way, that step is negligible, as
    // the data say, and PIRLS stops instead of walking β out to where exp(η) overflows.
    double weighted_step = u_step;
    if (with_beta) {
      const Eigen::VectorXd delta_eta = pred_.X() * (beta_new - beta_old);
      weighted_step = std::max(weighted_step, (delta_eta.array().abs() * pred_.weights().array()).maxCoeff());
    }
    const double scale = 1.0 + std::max(u_new.lpNorm<Eigen::Infinity>(), with_beta ? beta_new.lpNorm<Eigen::Infinity>() : 0.0);
    // η is linear in the step: from η at the step's start and at the full step, a halved step's η
    // costs one pass over the observations, without the products by X and Z.
    const Eigen::VectorXd eta_full = linear_predictor(with_beta);
    Eigen::VectorXd eta_old;
    if (eta_at_modes) {
      eta_old = eta_;
    } else {
      pred_.set_beta(beta_old);
      pred_.set_u(u_old);
      eta_old = linear_predictor(with_beta);
    }
    double pdev = std::numeric_limits<double>::infinity();
    double step = 1.0;
    for (int h = 0; h <= kMaxHalvings; ++h, step *= 0.5) {
      if (h == 0) {
        pred_.set_beta(beta_new);
        pred_.set_u(u_new);
        eta_ = eta_full;
      } else {
        pred_.set_beta(beta_old + step * (beta_new - beta_old));
        pred_.set_u(u_old + step * (u_new - u_old));
        eta_ = eta_old + step * (eta_full - eta_old);
      }
      update_mu();
      pdev = penalized_deviance();
      // (sign-safe: a beta's "deviance" against μ = y can be negative)
      if (std::isfinite(pdev) && (!std::isfinite(pdev_old) || pdev <= pdev_old + kPirlsTolerance * std::abs(pdev_old))) break;
    }
    eta_at_modes = true;
    if (!std::isfinite(pdev)) {
      std::ostringstream os;
      os << "PIRLS step produced an invalid mean at iteration " << pirls_iterations_;
      throw NumericalError(os.str());
    }
    if (std::abs(pdev_old - pdev) <= kPirlsTolerance * (std::abs(pdev) + 1.0) &&
        (std::min(full_step, weighted_step) <= kPirlsStepTolerance * scale || pirls_iterations_ >= kPatientIterations)) {
      // The factor at the converged μ, for the log-determinant (and β's covariance).
      reweight(with_beta, family_.laplace_uses_observed_information(), false);
      return;
    }
    pdev_old = pdev;
  }
  std::ostringstream os;
  os << "PIRLS did not converge in " << kMaxPirlsIterations << " iterations";
  throw NumericalError(os.str());
}

double GeneralizedLinearMixedModel::laplace() const {
  return pred_.ldL2() + pred_.u().squaredNorm() + minus_two_log_lik();
}

double GeneralizedLinearMixedModel::objective_theta(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  pred_.set_theta_keeping_b(theta);
  pirls(true);
  return finite(laplace());
}

double GeneralizedLinearMixedModel::objective(const Eigen::Ref<const Eigen::VectorXd>& theta,
                                              const Eigen::Ref<const Eigen::VectorXd>& beta,
                                              const Eigen::Ref<const Eigen::VectorXd>& gh_z,
                                              const Eigen::Ref<const Eigen::VectorXd>& gh_w) {
  require(beta.size() == pred_.p(), "beta has the wrong length");
  require(beta.allFinite(), "beta must be finite");
  require(gh_z.size() == gh_w.size() && gh_z.size() >= 1, "quadrature nodes and weights must match");
  pred_.set_theta_keeping_b(theta);
  pred_.set_beta(beta);
  pirls(false);
  return finite(gh_z.size() == 1 ? laplace() : adaptive_quadrature(gh_z, gh_w));
}

double GeneralizedLinearMixedModel::adaptive_quadrature(const Eigen::Ref<const Eigen::VectorXd>& gh_z,
                                                        const Eigen::Ref<const Eigen::VectorXd>& gh_w) {
  // −2 log L = Laplace − 2 Σⱼ log Mⱼ with Mⱼ = Σₖ wₖ exp(−Δⱼₖ/2 + zₖ²/2), where Δⱼₖ is the change in
  // level j's penalized deviance when its mode moves to ûⱼ + zₖ sⱼ and sⱼ = 1/√Aⱼⱼ its scale.
  require(single_scalar_term_, "adaptive Gauss-Hermite quadrature needs a single scalar random-effects term");
  const Index q = pred_.q();
  const double laplace0 = laplace();
  const Eigen::VectorXd u0 = pred_.u();
  const Eigen::VectorXd sd = pred_.A_diagonal().cwiseSqrt().cwiseInverse();
  auto deviance_by_level = [&]() {
    Eigen::VectorXd dev = pred_.u().cwiseAbs2();
    const Eigen::VectorXd d = deviance_residuals();
    for (Index i = 0; i < d.size(); ++i) dev[level_of_obs_[i]] += d[i];
    return dev;
  };
  const Eigen::VectorXd dev0 = deviance_by_level();
  Eigen::VectorXd M = Eigen::VectorXd::Zero(q);
  for (Index k = 0; k < gh_z.size(); ++k) {
    if (gh_z[k] == 0.0) {
      M.array() += gh_w[k];
      continue;
    }
    pred_.set_u(u0 + gh_z[k] * sd);
    update_eta_mu(false);
    M.array() += gh_w[k] * (-0.5 * (deviance_by_level() - dev0).array() + 0.5 * gh_z[k] * gh_z[k]).exp();
  }
  pred_.set_u(u0);
  update_eta_mu(false);
  // lme4 reports the quadrature deviance relative to the saturated model (deviance residuals
  // in place of the family's −2 log-likelihood); we do the same so the numbers compare.
  return laplace0 - minus_two_log_lik() + sums_.deviance - 2.0 * M.array().log().sum();
}

}  // namespace mixedfit
