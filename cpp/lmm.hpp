// The linear mixed model's response module (lme4's lmerResp) joined to a Predictor: the
// profiled REML criterion or ML deviance as a function of θ, one call per evaluation.
#pragma once

#include "predictor.hpp"

namespace mixedfit {

class LinearMixedModel {
 public:
  // y has the offset already removed; weights are the prior weights (all > 0).
  LinearMixedModel(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind, MapVecI term_shapes, MapVec y,
                   MapVec weights);

  // The profiled criterion at θ (β, u and σ profiled out); leaves the model at θ.
  double objective(const Eigen::Ref<const Eigen::VectorXd>& theta, bool REML);
  // A new response with the same X, Z and weights (simulation, bootstrap): the symbolic
  // analysis and Z'WZ are kept. y must outlive the model, as the constructor's y.
  void set_response(MapVec y);
  // New prior weights (all > 0) with the same X and Z: a variance function's weights at new
  // parameters. Z'WZ is updated in its pattern; the symbolic analysis is kept.
  void set_weights(const Eigen::Ref<const Eigen::VectorXd>& weights);
  // X's, Zt's and y's values were overwritten in place in the same pattern (the data whitened
  // for a residual correlation structure at new parameters): the cross-products are recomputed.
  void values_changed();
  // The rows are pseudo-observations with the data's cross-products (the data summed out of core):
  // the criterion takes the data's number of observations n and Σ log wᵢ instead of the rows'.
  // Set again after set_weights (which makes the rows the observations again).
  void set_observations(double n, double ldW);
  double observations() const { return observations_ > 0 ? observations_ : static_cast<double>(pred_.n()); }
  // The ML deviance at the current θ (what lme4 reports as deviance for a REML fit too).
  double deviance_ml() const;

  const Predictor& predictor() const { return pred_; }
  Predictor& predictor() { return pred_; }
  double pwrss() const { return pwrss_; }
  // The same from the rows: Σ wᵢ rᵢ² + ‖u‖² at the current β and u (a check of the cross-products).
  double pwrss_rowwise() const;
  double ldW() const { return ldW_; }
  // σ̂ for the criterion last evaluated.
  double sigma(bool REML) const;
  Index n() const { return pred_.n(); }
  const double* y_data() const { return y_.data(); }

 private:
  Predictor pred_;
  MapVec y_;
  // The response's cross-products, from y₀ = y − Xβ_ls (β_ls its weighted least-squares fit on X):
  // the criterion needs y only through Z'Wy₀ (kept by the predictor), X'Wy₀ and y₀'Wy₀, and
  // subtracting the fit first keeps y₀'Wy₀ − ‖c‖² free of cancellation when y's mean is large
  // against its spread.
  void response_products();
  Eigen::VectorXd XtWy_, beta_ls_;
  double yWy_ = 0.0;
  double observations_ = -1.0;  // > 0: set_observations's n
  double ldW_ = 0.0;  // Σ log wᵢ: the prior weights' part of the log-likelihood
  double pwrss_ = 0.0;
};

}  // namespace mixedfit
