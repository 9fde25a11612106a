// The gradient of the Laplace deviance D = −2 Σ ℓᵢ(ηᵢ) + ‖u‖² + log det(Λ'Z'WZΛ + I), for a
// single scalar random-effects term (cbpp's, the families' usual (1 | site)), where that matrix is
// diagonal: Hⱼ = 1 + λ² Σ_{i∈j} zᵢ² Wᵢ for level j.
//
// u is the mode of the penalized log-likelihood, so (envelope theorem) its first two terms
// move with a parameter only through their explicit dependence; log det H moves also through u,
// whose derivative follows from the mode's equations Fⱼ = λ Σ_{i∈j} zᵢ sᵢ − uⱼ = 0 (sᵢ = ∂ℓᵢ/∂ηᵢ):
//   duⱼ = (dλ Σ zᵢ sᵢ + λ Σ zᵢ ∂sᵢ) / Oⱼ,   Oⱼ = 1 + λ² Σ zᵢ² oᵢ,
// where oᵢ = −∂sᵢ/∂ηᵢ is the observed information (W is the expected one for lme4's families with
// a non-canonical link) and ∂sᵢ the change of sᵢ at fixed u. With aⱼ = ∂ log Hⱼ/∂uⱼ =
// λ³ Σ zᵢ³ W'ᵢ / Hⱼ and cⱼ = aⱼ / Oⱼ, a parameter that moves ηᵢ by ∂ηᵢ at fixed u and the family's
// ℓᵢ, sᵢ, Wᵢ by ∂ψ gives
//   dD = Σᵢ eᵢ ∂ηᵢ + Σᵢ [−2 ∂ψℓᵢ + λ²zᵢ²/Hⱼ ∂ψWᵢ + cⱼ λ zᵢ ∂ψsᵢ] + dλ Σⱼ (2λ Σ zᵢ²Wᵢ / Hⱼ + cⱼ Σ zᵢ sᵢ),
//   eᵢ = −2 sᵢ + λ² zᵢ² W'ᵢ / Hⱼ − cⱼ λ zᵢ oᵢ,
// with ∂ηᵢ = xᵢ'dβ + zᵢ uⱼ dλ. The derivatives of each observation's s and W in η, and in the
// family's parameter and the zero model's log-odds, are central differences of the scalar
// functions PIRLS evaluates (so every family, zero-inflated or not, has them without a third
// derivative of its own); a gradient costs about three PIRLS iterations' passes over the data.
#include <cmath>

#include "errors.hpp"
#include "glmm.hpp"

namespace mixedfit {

namespace {
// Relative steps of the per-observation central differences: their truncation error (~step²) and
// rounding (~1e-16 / step) both stay near 1e-9 of the derivative.
constexpr double kEtaStep = 1e-4;
constexpr double kParameterStep = 1e-4;

double step_at(double x) { return kEtaStep * (1.0 + std::abs(x)); }
}  // namespace

GeneralizedLinearMixedModel::Slope GeneralizedLinearMixedModel::slope_at(const Family& family, Index i, double eta,
                                                                          const ZeroMass& zero) const {
  const double mu = family.linkinv(eta), mu_eta = family.mu_eta(eta), wt = weights_[i];
  if (family.has_own_score()) {
    const Family::Information t = family.information(y_[i], mu, eta, mu_eta, zero, n_trials_[i]);
    return {wt * t.score, wt * (std::isfinite(t.observed) ? t.observed : t.expected)};
  }
  const double variance = family.variance(mu);
  const double expected = mu_eta * mu_eta / variance;
  double weight = expected;
  if (family.laplace_uses_observed_information()) {
    const double observed = family.observed_information(y_[i], mu, eta);
    if (std::isfinite(observed)) weight = observed;
  }
  return {wt * (y_[i] - mu) * mu_eta / variance, wt * weight};
}

GeneralizedLinearMixedModel::LaplaceGradient GeneralizedLinearMixedModel::laplace_gradient(bool with_family_theta,
                                                                                           bool with_zero) {
  require(has_laplace_gradient(), "the Laplace gradient needs a single scalar, unstructured random-effects term");
  require(!with_zero || zero_logit_.size() == pred_.n(), "the model has no zero-inflation");
  if (!weights_exact_) throw NumericalError("the Laplace factor took expected weights for negative observed ones");
  const Index n = pred_.n(), q = pred_.q();
  const double lambda = pred_.theta()[0], lambda2 = lambda * lambda;
  const Eigen::VectorXd& u = pred_.u();
  const double* z = pred_.Zt_data();  // one entry per observation (column of Zt)

  // Each observation's score, weight, observed information and weight's slope in η.
  Eigen::VectorXd s(n), w(n), o(n), w_slope(n);
  const bool own_score = family_.has_own_score();
  const Eigen::VectorXd& weights = pred_.weights();
  for (Index i = 0; i < n; ++i) {
    const double h = step_at(eta_[i]);
    const ZeroMass& mass = zero_mass(i);
    const Slope up = slope_at(family_, i, eta_[i] + h, mass), down = slope_at(family_, i, eta_[i] - h, mass);
    // At η itself the last reweighting's values where they cost special functions.
    const Slope at = own_score ? Slope{score_[i], weights[i]} : slope_at(family_, i, eta_[i], mass);
    s[i] = at.score;
    w[i] = at.weight;
    o[i] = -(up.score - down.score) / (2 * h);
    w_slope[i] = (up.weight - down.weight) / (2 * h);
  }
  // By level: Σ z²W, the observed Oⱼ, Σ z³W', Σ z s.
  Eigen::VectorXd zzw = Eigen::VectorXd::Zero(q), observed = Eigen::VectorXd::Ones(q);
  Eigen::VectorXd zzzw = Eigen::VectorXd::Zero(q), zs = Eigen::VectorXd::Zero(q);
  for (Index i = 0; i < n; ++i) {
    const Index j = level_of_obs_[i];
    zzw[j] += z[i] * z[i] * w[i];
    observed[j] += lambda2 * z[i] * z[i] * o[i];
    zzzw[j] += z[i] * z[i] * z[i] * w_slope[i];
    zs[j] += z[i] * s[i];
  }
  if ((observed.array() <= 0).any()) throw NumericalError("the conditional modes are not a maximum here");
  const Eigen::ArrayXd H = 1.0 + lambda2 * zzw.array();
  const Eigen::ArrayXd c = lambda2 * lambda * zzzw.array() / (H * observed.array());

  LaplaceGradient g;
  Eigen::VectorXd e(n);
  double theta_slope = (2 * lambda * zzw.array() / H + c * zs.array()).sum();
  for (Index i = 0; i < n; ++i) {
    const Index j = level_of_obs_[i];
    e[i] = -2 * s[i] + lambda2 * z[i] * z[i] * w_slope[i] / H[j] - c[j] * lambda * z[i] * o[i];
    theta_slope += e[i] * z[i] * u[j];
  }
  g.theta = Eigen::VectorXd::Constant(1, theta_slope);
  g.beta = pred_.X().transpose() * e;

  // A parameter ψ of the density: Σᵢ [−2 ∂ψℓᵢ + λ²zᵢ²/Hⱼ ∂ψWᵢ + cⱼ λ zᵢ ∂ψsᵢ], the last two from
  // the slopes at ψ ± its step (differences = up − down; the step's division is the caller's).
  auto density_terms = [&](Index i, const Slope& up, const Slope& down) {
    const Index j = level_of_obs_[i];
    return lambda2 * z[i] * z[i] / H[j] * (up.weight - down.weight) + c[j] * lambda * z[i] * (up.score - down.score);
  };
  if (with_family_theta) {
    const double phi = family_.theta();
    Family up = family_, down = family_;
    up.set_theta(phi * std::exp(kParameterStep));
    down.set_theta(phi * std::exp(-kParameterStep));
    double sum = 0.0;
    if (family_.has_own_score()) {  // −2 Σ ∂ψℓᵢ in the same pass (the likelihood's sums would also
      for (Index i = 0; i < n; ++i) {  // recompute the saturated terms at each φ)
        const ZeroMass& mass = zero_mass(i);
        sum += -2 * weights_[i] * (up.log_density(y_[i], mu_[i], mass, n_trials_[i]) -
                                   down.log_density(y_[i], mu_[i], mass, n_trials_[i])) +
               density_terms(i, slope_at(up, i, eta_[i], mass), slope_at(down, i, eta_[i], mass));
      }
    } else {  // the negative binomial: its −2 log L is R's family$aic
      sum = likelihood_->at(up, eta_, mu_, zero_mass_).minus_two_log_lik -
            likelihood_->at(down, eta_, mu_, zero_mass_).minus_two_log_lik;
      for (Index i = 0; i < n; ++i) {
        sum += density_terms(i, slope_at(up, i, eta_[i], kNoZeroMass), slope_at(down, i, eta_[i], kNoZeroMass));
      }
    }
    g.log_family_theta = sum / (2 * kParameterStep);
  }
  if (with_zero) {
    g.zero_logit.resize(n);
    for (Index i = 0; i < n; ++i) {
      const double h = step_at(zero_logit_[i]);
      const ZeroMass up = ZeroMass::from_logit(zero_logit_[i] + h), down = ZeroMass::from_logit(zero_logit_[i] - h);
      const double log_lik_change = weights_[i] * (family_.log_density(y_[i], mu_[i], up, n_trials_[i]) -
                                                   family_.log_density(y_[i], mu_[i], down, n_trials_[i]));
      g.zero_logit[i] = (-2 * log_lik_change + density_terms(i, slope_at(family_, i, eta_[i], up),
                                                             slope_at(family_, i, eta_[i], down))) / (2 * h);
    }
  }
  return g;
}

}  // namespace mixedfit
