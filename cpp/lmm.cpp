#include "lmm.hpp"

#include <cmath>

#include "errors.hpp"

namespace mixedfit {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;

// n (1 + log(2π pwrss / n)): the profiled residual part of −2 log L.
double residual_term(double pwrss, double dof) { return dof * (1.0 + std::log(kTwoPi * pwrss / dof)); }
}  // namespace

LinearMixedModel::LinearMixedModel(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind,
                                   MapVecI term_shapes, MapVec y, MapVec weights)
    : pred_(X, Zt, Lambdat, Lind, term_shapes), y_(y) {
  require(y.size() == pred_.n(), "y must have one entry per row of X");
  require(y.allFinite(), "y has a non-finite value");
  set_weights(weights);
}

void LinearMixedModel::set_weights(const Eigen::Ref<const Eigen::VectorXd>& weights) {
  require(weights.size() == pred_.n(), "weights must have one entry per row of X");
  require((weights.array() > 0.0).all() && weights.allFinite(), "weights must be positive and finite");
  pred_.set_weights(weights);
  ZtWy_ = pred_.ZtW(y_);
  XtWy_ = pred_.XtW(y_);
  ldW_ = weights.array().log().sum();
}

void LinearMixedModel::set_response(MapVec y) {
  require(y.size() == pred_.n(), "y must have one entry per row of X");
  require(y.allFinite(), "y has a non-finite value");
  new (&y_) MapVec(y.data(), y.size());  // rebind the map: Eigen::Map has no assignment of its target
  ZtWy_ = pred_.ZtW(y_);
  XtWy_ = pred_.XtW(y_);
}

void LinearMixedModel::values_changed() {
  require(y_.allFinite(), "y has a non-finite value");
  pred_.values_changed();
  const Eigen::VectorXd w = pred_.weights();
  set_weights(w);
}

double LinearMixedModel::objective(const Eigen::Ref<const Eigen::VectorXd>& theta, bool REML) {
  pred_.set_theta(theta);
  pred_.update_L();
  pred_.update_RX();
  pred_.solve_beta_u(ZtWy_, XtWy_);
  // Summing squared residuals, rather than subtracting c'c from y'Wy, avoids cancellation
  // when the mean of y is large relative to its spread.
  pwrss_ = pred_.pwrss(y_ - pred_.linear_predictor());
  if (!(pwrss_ > 0.0)) {
    throw NumericalError("the penalized residual sum of squares is not positive: the model fits the "
                         "data exactly, so σ cannot be estimated");
  }
  const double n = static_cast<double>(pred_.n());
  const double nmp = n - static_cast<double>(pred_.p());
  require(nmp > 0, "the REML criterion needs more observations than fixed effects");
  const double value = REML ? pred_.ldL2() - ldW_ + pred_.ldRX2() + residual_term(pwrss_, nmp)
                            : pred_.ldL2() - ldW_ + residual_term(pwrss_, n);
  if (!std::isfinite(value)) throw NumericalError("the criterion is not finite at this θ");
  return value;
}

double LinearMixedModel::deviance_ml() const {
  return pred_.ldL2() - ldW_ + residual_term(pwrss_, static_cast<double>(pred_.n()));
}

double LinearMixedModel::sigma(bool REML) const {
  const double dof = static_cast<double>(pred_.n() - (REML ? pred_.p() : 0));
  return std::sqrt(pwrss_ / dof);
}

}  // namespace mixedfit
