// The sparse Cholesky factorization of A = Λ'Z'WZΛ + I behind one small interface:
// analyze the pattern once, factorize for each θ, and solve with the factor. A blocked,
// structure-aware factorization can replace the general one without touching its users.
#pragma once

#include <memory>

#include <Eigen/SparseCholesky>

#include "types.hpp"

namespace mixedfit {

// P A P' = L L' for a fill-reducing permutation P.
class SparseCholesky {
 public:
  virtual ~SparseCholesky() = default;
  // Symbolic analysis; every later factorize() must see the same sparsity pattern.
  virtual void analyze(const SpMat& A) = 0;
  // Numeric factorization; false when A is not numerically positive definite.
  virtual bool factorize(const SpMat& A) = 0;
  // log det(A) = 2 Σ log L_ii.
  virtual double log_det() const = 0;
  // B <- L⁻¹ P B
  virtual void solve_L(Eigen::MatrixXd& B) const = 0;
  // B <- P' L⁻ᵀ B
  virtual void solve_Lt(Eigen::MatrixXd& B) const = 0;
  // How many threads factorize() may use (a factorization that cannot use them ignores this).
  virtual void set_threads(int) {}
};

// Eigen's simplicial supernode-free LLᵀ with AMD ordering.
class SimplicialCholesky final : public SparseCholesky {
 public:
  SimplicialCholesky();
  void analyze(const SpMat& A) override;
  bool factorize(const SpMat& A) override;
  double log_det() const override;
  void solve_L(Eigen::MatrixXd& B) const override;
  void solve_Lt(Eigen::MatrixXd& B) const override;

 private:
  // Eigen's solvers are neither copyable nor movable.
  std::unique_ptr<Eigen::SimplicialLLT<SpMat, Eigen::Lower>> llt_;
};

}  // namespace mixedfit
