// The gradient of the Laplace deviance D = −2 Σ ℓᵢ(ηᵢ) + ‖u‖² + log det H, H = M'WM + I with
// M = ZΛ, at the conditional modes u.
//
// u maximizes the penalized log-likelihood, so (envelope theorem) its first two terms move with a
// parameter only through their explicit dependence; log det H moves also through u, whose
// derivative follows from the modes' equations Λ'Z's − u = 0 (sᵢ = ∂ℓᵢ/∂ηᵢ):
//   du = H_O⁻¹ (dΛ'Z's + M'∂s),   H_O = M'OM + I,
// where O holds the observed information −∂sᵢ/∂ηᵢ (W is the expected one for lme4's families with
// a non-canonical link; elsewhere O = W and H_O = H) and ∂s the change of s at fixed u. With
// hᵢ = mᵢ'H⁻¹mᵢ (mᵢ' row i of M), a = M'(h ∘ W') (the slope of log det H in u) and v = H_O⁻¹ a, a
// parameter that moves ηᵢ by ∂ηᵢ at fixed u and the family's ℓᵢ, sᵢ, Wᵢ by ∂ψ gives
//   dD = Σᵢ eᵢ ∂ηᵢ + Σᵢ [−2 ∂ψℓᵢ + hᵢ ∂ψWᵢ + (Mv)ᵢ ∂ψsᵢ] + v'dΛ'Z's + 2 tr(H⁻¹Λ'Z'WZ dΛ),
//   eᵢ = −2 sᵢ + hᵢ W'ᵢ − (Mv)ᵢ Oᵢ,
// with ∂η = X dβ + Z dΛ u. hᵢ and the trace need H⁻¹ only at pairs of random effects that share
// an observation, all in H's pattern: its selected inverse. The derivatives of each observation's
// s and W in η and in the family's parameter are central differences of the scalar functions
// PIRLS evaluates, so every family, zero-inflated or not, has them without third derivatives of
// its own (those in the zero model's log-odds have a closed form); a gradient costs about three
// PIRLS iterations' passes over the data, one more factorization and the selected inverse.
#include <cmath>

#include "errors.hpp"
#include "glmm.hpp"
#include "log_det_gradient.hpp"

namespace mixedfit {

namespace {
// Relative steps of the per-observation central differences: their truncation error (~step²) and
// rounding (~1e-16 / step) both stay near 1e-9 of the derivative.
constexpr double kEtaStep = 1e-4;
constexpr double kParameterStep = 1e-4;

double step_at(double x) { return kEtaStep * (1.0 + std::abs(x)); }

}  // namespace

GeneralizedLinearMixedModel::Slope GeneralizedLinearMixedModel::slope_from(const Family& family, Index i, double eta,
                                                                            double mu, double mu_eta,
                                                                            const ZeroMass& zero,
                                                                            const FamilyParameter* parameter) const {
  const double wt = weights_[i];
  if (family.has_own_score()) {
    const Family::Information t = family.information(y_[i], mu, eta, mu_eta, zero, n_trials_[i], parameter);
    return {wt * t.score, wt * (std::isfinite(t.observed) ? t.observed : t.expected)};
  }
  const double variance = family.variance(mu);
  double weight = mu_eta * mu_eta / variance;  // the expected information
  if (family.laplace_uses_observed_information()) {
    const double observed = family.observed_information(y_[i], mu, eta);
    if (std::isfinite(observed)) weight = observed;
  }
  return {wt * (y_[i] - mu) * mu_eta / variance, wt * weight};
}

GeneralizedLinearMixedModel::LaplaceGradient GeneralizedLinearMixedModel::laplace_gradient(
    const GradientParts& parts) {
  const bool with_family_theta = parts.family_theta, with_zero = parts.zero, with_cuts = parts.cuts;
  require(pred_.q() > 0, "the Laplace gradient needs random effects");
  require(!with_zero || zero_logit_.size() == pred_.n(), "the model has no zero-inflation");
  require(!with_cuts || family_.distribution() == Distribution::Ordinal, "only the ordinal family has cut points");
  require(!parts.dispersion || !dispersion_.empty(), "the model has no dispersion model");
  require(!(parts.dispersion && with_family_theta), "a dispersion model replaces the family's parameter");
  require(!parts.family_shape || family_.has_shape(), "only the Student t and the Tweedie have a shape");
  if (!weights_exact_) throw NumericalError("the Laplace factor took expected weights for negative observed ones");
  const Index n = pred_.n();
  const Eigen::VectorXd& u = pred_.u();

  // Each observation's score, weight, observed information and weight's slope in η; μ and dμ/dη
  // at η ± h by the vectorized inverse link, at η itself as PIRLS left them.
  Eigen::VectorXd s(n), w(n), o(n), w_slope(n);
  const bool own_score = family_.has_own_score();
  const Eigen::VectorXd step = kEtaStep * (1.0 + eta_.array().abs());
  const Eigen::VectorXd eta_up = eta_ + step, eta_down = eta_ - step;
  Eigen::VectorXd mu_up(n), mu_eta_up(n), mu_down(n), mu_eta_down(n);
  family_.linkinv(eta_up, mu_up, mu_eta_up);
  family_.linkinv(eta_down, mu_down, mu_eta_down);
  for_observation_blocks([&](Index first, Index m) {
    for (Index i = first; i < first + m; ++i) {
      const ZeroMass& mass = zero_mass(i);
      const FamilyParameter* own = parameter(i);
      const Slope up = slope_from(family_, i, eta_up[i], mu_up[i], mu_eta_up[i], mass, own),
                  down = slope_from(family_, i, eta_down[i], mu_down[i], mu_eta_down[i], mass, own);
      // (the last reweighting's values where they cost special functions)
      const Slope at = own_score ? Slope{score_[i], pred_.weights()[i]}
                                 : slope_from(family_, i, eta_[i], mu_[i], mu_eta_[i], mass, own);
      s[i] = at.score;
      w[i] = at.weight;
      o[i] = -(up.score - down.score) / (2 * step[i]);
      w_slope[i] = (up.weight - down.weight) / (2 * step[i]);
    }
  });

  // hᵢ and the log-determinant's slope in Λ (H is the predictor's A, factored at these weights by
  // the last reweighting).
  log_det_.compute(pred_, w);
  const Eigen::VectorXd& hat = log_det_.hat();
  const SpMat& Mt = log_det_.Mt();

  // v = H_O⁻¹ M'(h ∘ W'), with H's factor where O = W (up to the differences' rounding).
  const Eigen::VectorXd a = Mt * hat.cwiseProduct(w_slope);
  Eigen::VectorXd v;
  if ((o - w).lpNorm<Eigen::Infinity>() <= 1e-6 * (1.0 + w.lpNorm<Eigen::Infinity>())) {
    v = log_det_.solve(a);
  } else {
    observed_inverse_.compute(penalized_information(Mt, o), false);
    v = observed_inverse_.solve(a);
  }
  const Eigen::VectorXd Mv = Mt.transpose() * v;

  LaplaceGradient result;
  Eigen::VectorXd e(n);
  for (Index i = 0; i < n; ++i) e[i] = -2 * s[i] + hat[i] * w_slope[i] - Mv[i] * o[i];
  result.beta = pred_.X().transpose() * e;

  // Λ's values (r, c): ∂η = Z dΛ u and du's dΛ'Z's give (Z'e)_r u_c + (Z's)_r v_c, and log det H
  // its own slope.
  Eigen::VectorXd factor_gradient = log_det_.factor_gradient();
  add_lambda_products(pred_, pred_.Zt() * e, u, 1.0, factor_gradient);
  add_lambda_products(pred_, pred_.Zt() * s, v, 1.0, factor_gradient);
  result.theta = pred_.factor_jacobian().transpose() * factor_gradient;  // θ: structures' parameters

  // A parameter ψ of the density: Σᵢ [−2 ∂ψℓᵢ + hᵢ ∂ψWᵢ + (Mv)ᵢ ∂ψsᵢ], the last two from the
  // slopes at ψ ± its step (differences up − down; the step's division is the caller's).
  auto density_terms = [&](Index i, const Slope& up, const Slope& down) {
    return hat[i] * (up.weight - down.weight) + Mv[i] * (up.score - down.score);
  };
  // The same with −2 ∂ψℓᵢ from the log-densities, for a family of has_own_score moved to up and
  // down. The Tweedie's differences take its kernel alone: its series' slopes, which do not depend
  // on μ, are the likelihood's sums (tweedie_slope below).
  const bool tweedie = family_.tweedie_series_apart();
  // Observation i's −2 ∂ψℓᵢ + hᵢ ∂ψWᵢ + (Mv)ᵢ ∂ψsᵢ times the step, between the family (its cut
  // points moved, say) and parameter up and down.
  auto parameter_terms = [&](Index i, const Family& up, const FamilyParameter& up_parameter, const Family& down,
                             const FamilyParameter& down_parameter) {
    const ZeroMass& mass = zero_mass(i);
    const double change =
        tweedie ? tweedie_kernel(y_[i], mu_[i], up_parameter.value, up_parameter.shape) -
                      tweedie_kernel(y_[i], mu_[i], down_parameter.value, down_parameter.shape)
                : up.log_density(y_[i], mu_[i], mass, n_trials_[i], &up_parameter) -
                      down.log_density(y_[i], mu_[i], mass, n_trials_[i], &down_parameter);
    return -2 * weights_[i] * change +
           density_terms(i, slope_from(up, i, eta_[i], mu_[i], mu_eta_[i], mass, &up_parameter),
                         slope_from(down, i, eta_[i], mu_[i], mu_eta_[i], mass, &down_parameter));
  };
  auto own_density_terms = [&](Index i, const Family& up, const Family& down) {
    return parameter_terms(i, up, parameter_of(up, i), down, parameter_of(down, i));
  };
  // Σᵢ own_density_terms over every observation, block by block.
  auto own_density_sum = [&](const Family& up, const Family& down) {
    return sum_over_observation_blocks([&](Index first, Index m) {
      double part = 0.0;
      for (Index i = first; i < first + m; ++i) part += own_density_terms(i, up, down);
      return part;
    });
  };
  // −2 Σ wᵢ ∂ log aᵢ along a parameter's coordinate, from the series' slopes in log φ and in p.
  auto tweedie_slope = [&](double d_log_phi, double d_power) {
    if (!tweedie) return 0.0;
    const TweedieSeries& sums = likelihood_->tweedie_sums(family_);
    return -2 * (sums.d_log_phi * d_log_phi + sums.d_power * d_power);
  };
  if (with_family_theta && tweedie) {
    // The kernel, the score and the information all scale as 1/φ: their slopes in log φ are minus
    // themselves (differences cost a third of the gradient).
    result.log_family_theta = tweedie_slope(1.0, 0.0) + sum_over_observation_blocks([&](Index first, Index m) {
      double part = 0.0;
      for (Index i = first; i < first + m; ++i) {
        part += 2 * weights_[i] * tweedie_kernel(y_[i], mu_[i], family_.theta(), family_.shape()) - hat[i] * w[i] -
                Mv[i] * s[i];
      }
      return part;
    });
  } else if (with_family_theta) {
    const double phi = family_.theta();
    Family up = family_, down = family_;
    up.set_theta(phi * std::exp(kParameterStep));
    down.set_theta(phi * std::exp(-kParameterStep));
    double sum = 0.0;
    if (own_score) {
      // −2 Σ ∂ψℓᵢ in the same pass (the likelihood's sums would also recompute the saturated terms at each φ)
      sum = own_density_sum(up, down);
    } else {  // the negative binomial: its −2 log L is R's family$aic
      sum = likelihood_->at(up, eta_, mu_, zero_mass_).minus_two_log_lik -
            likelihood_->at(down, eta_, mu_, zero_mass_).minus_two_log_lik;
      for (Index i = 0; i < n; ++i) {
        sum += density_terms(i, slope_from(up, i, eta_[i], mu_[i], mu_eta_[i], kNoZeroMass, nullptr),
                             slope_from(down, i, eta_[i], mu_[i], mu_eta_[i], kNoZeroMass, nullptr));
      }
    }
    result.log_family_theta = sum / (2 * kParameterStep);
  }
  if (parts.family_shape) {  // the Student t's ν or the Tweedie's p, in the search's coordinate
    Family up = family_, down = family_;
    up.set_shape(family_.shape_moved(kParameterStep));
    down.set_shape(family_.shape_moved(-kParameterStep));
    const double sum = own_density_sum(up, down);
    // (dp/dψ from the same difference: exact to ~1e-8 relative, far below the gradient's needs)
    result.family_shape =
        sum / (2 * kParameterStep) + tweedie_slope(0.0, (up.shape() - down.shape()) / (2 * kParameterStep));
  }
  if (with_cuts) {
    // Cut point j bounds the categories j (above) and j + 1 (below): only their observations move.
    const std::vector<double>& cuts = family_.ordinal().cuts();
    result.cuts = Eigen::VectorXd::Zero(static_cast<Index>(cuts.size()));
    for (std::size_t j = 0; j < cuts.size(); ++j) {
      const double h = step_at(cuts[j]);
      std::vector<double> moved = cuts;
      Family up = family_, down = family_;
      moved[j] = cuts[j] + h;
      up.set_cuts(moved);
      moved[j] = cuts[j] - h;
      down.set_cuts(moved);
      const double below = static_cast<double>(j), above = below + 1;
      double sum = 0.0;
      for (Index i = 0; i < n; ++i) {
        if (y_[i] == below || y_[i] == above) sum += own_density_terms(i, up, down);
      }
      result.cuts[static_cast<Index>(j)] = sum / (2 * h);
    }
  }
  if (with_zero) {
    // In closed form but where a zero's observed information is not finite (its weight is then
    // the expected one): a positive count's ℓ = log(1 − π) + log f(y) moves by −π per unit of the
    // log-odds, its s and W not at all; a hurdle's zero (ℓ = log π) by 1 − π. A zero-inflated
    // zero has ℓ = log p₀, p₀ = π + (1 − π) f₀, s = q ℓ₀' and W = q o₀ − q(1 − q) ℓ₀'², q = (1 − π) f₀/p₀
    // the probability that it is the counts' (ℓ₀', o₀ the counts' own score and information at 0),
    // and ∂q = −q(1 − q) per unit of the log-odds.
    result.zero_logit.resize(n);
    Family counts = family_;
    counts.set_zero_inflated(false);
    const bool hurdle = zero_truncated(family_.distribution());
    for (Index i = 0; i < n; ++i) {
      const double pi = std::exp(zero_mass_[i].log_pi), wt = weights_[i];
      if (y_[i] != 0 || hurdle) {
        result.zero_logit[i] = -2 * wt * (y_[i] != 0 ? -pi : 1 - pi);
        continue;
      }
      const Family::Information t =
          counts.information(0.0, mu_[i], eta_[i], mu_eta_[i], kNoZeroMass, n_trials_[i], parameter(i));
      if (std::isfinite(t.observed)) {
        const double f0 = std::exp(counts.log_density(0.0, mu_[i], kNoZeroMass, n_trials_[i], parameter(i)));
        const double p0 = pi + (1 - pi) * f0, q = (1 - pi) * f0 / p0, qq = q * (1 - q);
        const double score_slope = -qq * t.score;
        const double weight_slope = -qq * (t.observed - (1 - 2 * q) * t.score * t.score);
        result.zero_logit[i] = wt * (-2 * pi * (1 - pi) * (1 - f0) / p0 + hat[i] * weight_slope + Mv[i] * score_slope);
        continue;
      }
      const double h = step_at(zero_logit_[i]);
      const ZeroMass up = ZeroMass::from_logit(zero_logit_[i] + h), down = ZeroMass::from_logit(zero_logit_[i] - h);
      const FamilyParameter* own = parameter(i);
      const double log_lik_change = weights_[i] * (family_.log_density(y_[i], mu_[i], up, n_trials_[i], own) -
                                                   family_.log_density(y_[i], mu_[i], down, n_trials_[i], own));
      result.zero_logit[i] =
          (-2 * log_lik_change + density_terms(i, slope_from(family_, i, eta_[i], mu_[i], mu_eta_[i], up, own),
                                               slope_from(family_, i, eta_[i], mu_[i], mu_eta_[i], down, own))) /
          (2 * h);
    }
  }
  if (parts.dispersion) {  // each observation's log φ, as the family's log φ above
    result.log_dispersion.resize(n);
    for_observation_blocks([&](Index first, Index m) {
      for (Index i = first; i < first + m; ++i) {
        const FamilyParameter& own = dispersion_[static_cast<std::size_t>(i)];
        const FamilyParameter up(own.value * std::exp(kParameterStep), own.shape),
            down(own.value * std::exp(-kParameterStep), own.shape);
        result.log_dispersion[i] = parameter_terms(i, family_, up, family_, down) / (2 * kParameterStep);
      }
    });
  }
  return result;
}

}  // namespace mixedfit
