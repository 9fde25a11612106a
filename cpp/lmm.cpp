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
  pred_.allow_grouped();
  require(y.size() == pred_.n(), "y must have one entry per row of X");
  require(y.allFinite(), "y has a non-finite value");
  set_weights(weights);
}

void LinearMixedModel::set_weights(const Eigen::Ref<const Eigen::VectorXd>& weights) {
  require(weights.size() == pred_.n(), "weights must have one entry per row of X");
  require((weights.array() > 0.0).all() && weights.allFinite(), "weights must be positive and finite");
  pred_.set_weights(weights);
  response_products();
  ldW_ = weights.array().log().sum();
  observations_ = -1.0;  // the rows are the observations again
}

void LinearMixedModel::set_observations(double n, double ldW) {
  require(std::isfinite(n) && n > static_cast<double>(pred_.p()) && std::isfinite(ldW),
          "the number of observations must exceed the number of fixed effects, and Σ log w be finite");
  observations_ = n;
  ldW_ = ldW;
}

void LinearMixedModel::response_products() {
  const Eigen::VectorXd& w = pred_.weights();
  const MapMat& X = pred_.X();
  beta_ls_ = Eigen::VectorXd::Zero(pred_.p());
  Eigen::VectorXd y0 = y_;
  if (pred_.p() > 0) {
    const Eigen::LLT<Eigen::MatrixXd> llt(pred_.weighted_XtWX());
    if (llt.info() == Eigen::Success) {  // else (X nearly singular) no shift: the plain products
      beta_ls_ = llt.solve(pred_.XtW(y0));
      y0.noalias() -= X * beta_ls_;
    }
  }
  pred_.set_response_products(pred_.ZtW(y0));
  XtWy_ = pred_.XtW(y0);
  yWy_ = (y0.array().square() * w.array()).sum();
}

void LinearMixedModel::set_response(MapVec y) {
  require(y.size() == pred_.n(), "y must have one entry per row of X");
  require(y.allFinite(), "y has a non-finite value");
  new (&y_) MapVec(y.data(), y.size());  // rebind the map: Eigen::Map has no assignment of its target
  response_products();
}

void LinearMixedModel::values_changed() {
  require(y_.allFinite(), "y has a non-finite value");
  pred_.values_changed();
  const Eigen::VectorXd w = pred_.weights();
  // New values of the same rows: what they stand for (set_observations's n and Σ log w) holds.
  const double observations = observations_, ldW = ldW_;
  set_weights(w);
  if (observations > 0) set_observations(observations, ldW);
}

double LinearMixedModel::objective(const Eigen::Ref<const Eigen::VectorXd>& theta, bool REML) {
  pred_.set_theta(theta);
  pred_.update_L();
  // The penalized weighted RSS from the cross-products alone: y₀'Wy₀ − ‖c‖², no pass over the
  // rows, so an evaluation costs the same for 10⁴ or 10⁶ rows with the same levels.
  pwrss_ = yWy_ - pred_.update_RX_solve_beta(XtWy_);
  pred_.set_beta(pred_.beta() + beta_ls_);  // β for y, not for y₀
  if (!(pwrss_ > 0.0)) {
    throw NumericalError("the penalized residual sum of squares is not positive: the model fits the "
                         "data exactly, so σ cannot be estimated");
  }
  const double n = observations();
  const double nmp = n - static_cast<double>(pred_.p());
  require(nmp > 0, "the REML criterion needs more observations than fixed effects");
  const double value = REML ? pred_.ldL2() - ldW_ + pred_.ldRX2() + residual_term(pwrss_, nmp)
                            : pred_.ldL2() - ldW_ + residual_term(pwrss_, n);
  if (!std::isfinite(value)) throw NumericalError("the criterion is not finite at this θ");
  return value;
}

double LinearMixedModel::pwrss_rowwise() const { return pred_.pwrss(y_ - pred_.linear_predictor()); }

double LinearMixedModel::deviance_ml() const {
  return pred_.ldL2() - ldW_ + residual_term(pwrss_, observations());
}

double LinearMixedModel::sigma(bool REML) const {
  const double dof = observations() - static_cast<double>(REML ? pred_.p() : 0);
  return std::sqrt(pwrss_ / dof);
}

}  // namespace mixedfit
