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
  // B <- L⁻¹ P B and C <- L⁻¹ P C (one pass over L where the factorization can).
  virtual void solve_L(Eigen::MatrixXd& B, Eigen::MatrixXd& C) const {
    solve_L(B);
    solve_L(C);
  }
  // B <- P' L⁻ᵀ B
  virtual void solve_Lt(Eigen::MatrixXd& B) const = 0;
  // How many threads factorize() may use (a factorization that cannot use them ignores this).
  virtual void set_threads(int) {}
};

// A general sparse factor (simplicial or supernodal) whose solves run on the right-hand sides
// transposed and in the factor's order: one column of Bt per row of P B, so that each nonzero of
// L updates a contiguous row of all right-hand sides at once.
class RowOrderedCholesky : public SparseCholesky {
 public:
  void solve_L(Eigen::MatrixXd& B) const override;
  void solve_L(Eigen::MatrixXd& B, Eigen::MatrixXd& C) const override;
  void solve_Lt(Eigen::MatrixXd& B) const override;

 protected:
  // Row i of A is row position()[i] of P A P'.
  virtual const int* position() const = 0;
  // Bt <- (L⁻¹ Btᵀ)ᵀ and Bt <- (L⁻ᵀ Btᵀ)ᵀ, in the factor's order.
  virtual void forward(Eigen::MatrixXd& Bt) const = 0;
  virtual void backward(Eigen::MatrixXd& Bt) const = 0;

 private:
  // The rows of B, then of C (if given), as the columns of Bt in the factor's order; and back.
  Eigen::MatrixXd to_factor_order(const Eigen::MatrixXd& B, const Eigen::MatrixXd* C) const;
  void from_factor_order(const Eigen::MatrixXd& Bt, Eigen::MatrixXd& B, Eigen::MatrixXd* C) const;
};

// Eigen's simplicial supernode-free LLᵀ with AMD ordering. The permuted matrix P A P' keeps the
// pattern found at analysis, and each factorization only copies A's values into it (Eigen's own
// factorize recomputes the permuted pattern every time); solves with several right-hand sides
// run over L once, each column of L updating a row of all of them (Eigen's run one right-hand
// side after the other, reading L each time).
class SimplicialCholesky final : public RowOrderedCholesky {
 public:
  SimplicialCholesky();
  void analyze(const SpMat& A) override;
  // After analyze: the factor's nonzeros and the multiply-adds of one factorization, Σⱼ cⱼ²
  // for cⱼ the nonzeros of column j of L (from the elimination tree's column counts).
  double factor_nonzeros() const;
  double flops() const;
  // The fill-reducing ordering: row i of A is row ordering()[i] of P A P'.
  const Eigen::VectorXi& ordering() const { return llt_->permutationP().indices(); }
  bool factorize(const SpMat& A) override;
  double log_det() const override;

 private:
  const int* position() const override { return ordering().data(); }
  void forward(Eigen::MatrixXd& Bt) const override;
  void backward(Eigen::MatrixXd& Bt) const override;
  // Eigen's LLT with its column counts and its factorization of a permuted matrix reachable
  // (both are protected in Eigen).
  class CountingLLT : public Eigen::SimplicialLLT<SpMat, Eigen::Lower> {
   public:
    const Eigen::VectorXi& strict_column_counts() const { return m_nonZerosPerCol; }
    void factorize_permuted(const SpMat& upper) { factorize_preordered<false>(upper); }
  };
  // Eigen's solvers are neither copyable nor movable.
  std::unique_ptr<CountingLLT> llt_;
  SpMat permuted_;                    // upper triangle of P A P', pattern fixed at analysis
  Eigen::VectorXi value_source_;      // permuted_'s k-th value is A's value_source_[k]-th
};

}  // namespace mixedfit
