// The predictor module (lme4's merPredD): X, Zt, Λt(θ), the sparse factor L of
// Λ'Z'WZΛ + I, the dense blocks RZX and RX, and the solution (β, u) of the penalized
// weighted least-squares problem. It knows nothing about the response distribution.
#pragma once

#include <memory>

#include "cholesky.hpp"
#include "errors.hpp"
#include "types.hpp"

namespace mixedfit {

class Predictor {
 public:
  // X (n×p, column-major) and Zt (q×n) are wrapped, not copied: the caller keeps them alive.
  // Lambdat (q×q) is the template whose pattern (explicit zeros included) is fixed for all θ;
  // its value k is θ[Lind[k]]. The first random-effects term has first_p columns and
  // first_levels levels: the blocked factorization exploits that block's structure.
  Predictor(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind, Index first_p, Index first_levels);

  Index n() const { return X_.rows(); }
  Index p() const { return X_.cols(); }
  Index q() const { return Zt_.rows(); }
  Index n_theta() const { return n_theta_; }

  // Weighted cross-products Z'WZ, Z'WX, X'WX; call whenever W changes.
  void set_weights(const Eigen::VectorXd& w);
  // Λ(θ): writes θ into Λt's fixed pattern.
  void set_theta(const Eigen::Ref<const Eigen::VectorXd>& theta);
  // L and RZX for the current weights and θ (all that solving for u alone needs).
  void update_L();
  // RX from RZX: needed to solve for β too.
  void update_RX();
  const Eigen::VectorXd& theta() const { return theta_; }
  // Diagonal of Λ'Z'WZΛ + I (for adaptive quadrature with one scalar term, where it is diagonal).
  Eigen::VectorXd A_diagonal() const { return A_.diagonal(); }

  // Z'W r and X'W r for a working response r under the current weights.
  Eigen::VectorXd ZtW(const Eigen::VectorXd& r) const;
  Eigen::VectorXd XtW(const Eigen::VectorXd& r) const;

  // Solve the penalized weighted least-squares problem for (β, u) given Z'Wr and X'Wr.
  void solve_beta_u(const Eigen::VectorXd& ZtWr, const Eigen::VectorXd& XtWr);
  // Solve for u alone, β held fixed (r must already have Xβ removed).
  void solve_u(const Eigen::VectorXd& ZtWr);

  Eigen::VectorXd X_beta() const { return X_ * beta_; }
  // Xβ + ZΛu at the current β and u (offset not included).
  Eigen::VectorXd linear_predictor() const;
  // Σ wᵢ rᵢ² + ‖u‖² for residuals r under the current weights: the penalized weighted RSS.
  double pwrss(const Eigen::VectorXd& r) const { return r.cwiseAbs2().dot(w_) + u_.squaredNorm(); }

  double ldL2() const { return ldL2_; }
  double ldRX2() const { return ldRX2_; }
  const Eigen::VectorXd& beta() const { return beta_; }
  const Eigen::VectorXd& u() const { return u_; }
  Eigen::VectorXd b() const { return Lambdat_.transpose() * u_; }
  const Eigen::MatrixXd& RX() const { return RX_; }
  const SpMat& Lambdat() const { return Lambdat_; }
  const double* X_data() const { return X_.data(); }
  // Which factorization the first θ chose: "blocked" or "simplicial".
  const char* factorization() const { return factorization_; }
  // Use the general sparse factorization even where the blocked one applies (for tests that
  // compare the two); only before the first evaluation.
  void force_simplicial() {
    require(A_nnz_ < 0, "the factorization is chosen at the first evaluation; force it before");
    max_dense_block_ = -1;
  }
  const double* Zt_data() const { return Zt_.valuePtr(); }
  void set_beta(const Eigen::Ref<const Eigen::VectorXd>& beta) { beta_ = beta; }
  void set_u(const Eigen::Ref<const Eigen::VectorXd>& u) { u_ = u; }

 private:
  MapMat X_;
  MapSpMat Zt_;
  SpMat Lambdat_;
  Eigen::VectorXi Lind_;
  Index n_theta_;
  Index first_p_, first_levels_;
  Eigen::VectorXd theta_;

  SpMat ZtWZ_;
  Eigen::MatrixXd ZtWX_;
  Eigen::MatrixXd XtWX_;
  Eigen::VectorXd w_;

  SpMat A_;  // Λ'Z'WZΛ + I
  Index A_nnz_ = -1;  // pattern size at analysis, checked at every θ
  std::unique_ptr<SparseCholesky> chol_;
  const char* factorization_ = "none";
  Index max_dense_block_;
  Eigen::MatrixXd RZX_;  // L⁻¹ P Λ'Z'WX
  Eigen::MatrixXd RX_;   // upper triangular, RX'RX = X'WX − RZX'RZX
  double ldL2_ = 0.0, ldRX2_ = 0.0;
  Eigen::VectorXd beta_, u_;
};

}  // namespace mixedfit
