// Covariance structures of random-effects terms (glmmTMB's us, diag, homdiag, cs, homcs, ar1,
// toep, ou, exp, gau, mat, rr): each maps its parameters to the lower-triangular factor T of the
// term's relative covariance Σ = T T' (relative to σ² for an LMM), which the Predictor writes
// into Λ's fixed pattern. An unstructured term's parameters are T's elements themselves (lme4's
// θ), so a model of unstructured terms only is the identity map.
//
// Parameters are chosen so that the boundary of each structure is reachable, as lme4's θ ≥ 0
// reaches a zero variance: standard deviations ≥ 0 and correlations in their closed interval;
// ranges and decay rates, whose limits are not boundaries of the model, are on the log scale,
// and rr's loadings are free. The Python side states the bounds.
#pragma once

#include <vector>

#include "types.hpp"

namespace mixedfit {

enum class CovarianceKind : int {
  Unstructured = 0,
  Diagonal = 1,            // p SDs
  HomDiagonal = 2,         // one SD
  CompoundSymmetry = 3,    // p SDs, ρ ∈ [−1/(p−1), 1]
  HomCompoundSymmetry = 4, // one SD, ρ
  AR1 = 5,                 // one SD, ρ ∈ [−1, 1]: correlation ρ^|i−j| (equally spaced levels)
  Toeplitz = 6,            // p SDs, p − 1 partial autocorrelations ∈ [−1, 1]
  OrnsteinUhlenbeck = 7,   // one SD, log decay rate κ: correlation exp(−κ d)
  Exponential = 8,         // one SD, log range r: exp(−d / r)
  Gaussian = 9,            // one SD, log range r: exp(−d² / r²)
  Matern = 10,             // one SD, log range r, log smoothness ν (TMB's matern(d, r, ν))
  ReducedRank = 11,        // p × d lower-trapezoidal loadings, by column
};

class CovarianceStructure {
 public:
  // distances: the p × p distances between the term's levels (the distance-based kinds only);
  // rank: rr's d.
  CovarianceStructure(CovarianceKind kind, Index p, Eigen::MatrixXd distances, Index rank);
  CovarianceKind kind() const { return kind_; }
  Index p() const { return p_; }
  Index n_params() const;
  // T's lower triangle, column-major (p(p+1)/2 values, lme4's θ order), at params.
  void factor(const double* params, double* out) const;

 private:
  CovarianceKind kind_;
  Index p_;
  Eigen::MatrixXd distances_;
  Index rank_;
  // The correlation matrix of the kinds that define one (all but us, diag, homdiag, ar1, rr).
  Eigen::MatrixXd correlation(const double* params) const;
};

// The structures of all of a model's terms, in term order: params of all terms → T's elements
// of all terms.
class CovarianceStructures {
 public:
  CovarianceStructures() = default;
  explicit CovarianceStructures(std::vector<CovarianceStructure> terms);
  // From the Python side's arrays: kinds holds (kind, rank) per term, term_shapes (p, levels)
  // per term, distances the distance-based terms' p × p matrices one after another (column-major).
  CovarianceStructures(MapVecI kinds, MapVecI term_shapes, MapVec distances);
  bool identity() const { return identity_; }
  Index n_params() const { return n_params_; }
  Index n_factor() const { return n_factor_; }
  Eigen::VectorXd factor(const Eigen::Ref<const Eigen::VectorXd>& params) const;

 private:
  std::vector<CovarianceStructure> terms_;
  bool identity_ = true;
  Index n_params_ = 0, n_factor_ = 0;
};

}  // namespace mixedfit
