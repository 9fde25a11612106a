// The two kinds of step BOBYQA takes from its best point x_opt (Powell's report, sections 3 and
// 4): the trust-region step that minimizes the quadratic model within the trust region and the
// bounds, and the candidates for a geometry step that keeps the interpolation points well
// placed. Coordinates are relative to the base point; sl and su are the bounds in them.
#pragma once

#include "types.hpp"

namespace mixedfit::bobyqa_detail {

struct TrustRegionStep {
  Eigen::VectorXd xnew;  // x_opt + d, exactly on a bound where the step meets one
  Eigen::VectorXd gnew;  // the model's gradient at x_opt + d
  double crvmin;         // least curvature of the model seen along the step: 0 if the step reached
                         // the trust region's boundary, -1 if no curvature was measured
};

// Truncated conjugate gradients in the free variables, fixing a variable when the step meets its
// bound, then (on the boundary) rotations of the step in the plane of it and the gradient.
TrustRegionStep trust_region_step(const Eigen::VectorXd& xopt, const Eigen::VectorXd& gopt, const Eigen::MatrixXd& G,
                                  const Eigen::VectorXd& sl, const Eigen::VectorXd& su, double delta);

// Where to move the point knew (not x_opt) so that the interpolation points stay well placed:
// within adelt of x_opt and the bounds, making its Lagrange function ℓ large (Powell's ALTMOV).
struct GeometryStep {
  Eigen::VectorXd line;    // on the line through x_opt and another point, the largest predicted
                           // update denominator
  Eigen::VectorXd cauchy;  // along ℓ's projected gradient (either sign), the largest |ℓ|
  double cauchy_value;     // ℓ² there (0 if there is no such step)
};

// lagrange_gradient and lagrange_hessian are ℓ's at x_opt; alpha is H's diagonal entry for knew.
// The points are returned as x_opt + d, exactly on a bound where they meet one.
GeometryStep geometry_step(const Eigen::MatrixXd& points, int kopt, int knew, const Eigen::VectorXd& lagrange_gradient,
                           const Eigen::MatrixXd& lagrange_hessian, double alpha, double adelt,
                           const Eigen::VectorXd& sl, const Eigen::VectorXd& su);

}  // namespace mixedfit::bobyqa_detail
