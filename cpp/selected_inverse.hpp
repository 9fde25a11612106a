// Entries of A⁻¹ where A's Cholesky factor has its nonzeros (the sparse inverse subset), by
// Takahashi's recurrence over the factor's columns from the last: what the Laplace gradient's
// log-determinant terms need (each observation's pairs of random effects are in A's pattern),
// without A⁻¹ itself.
#pragma once

#include "cholesky.hpp"
#include "types.hpp"

namespace mixedfit {

class SelectedInverse {
 public:
  // Factorizes A (symmetric positive definite; its lower triangle is read) with the analysis kept
  // from the last call if A's pattern is the same, and computes the subset (unless subset is
  // false: solves only). Throws NumericalError where A is not positive definite.
  // Returns whether A was analysed anew (then earlier slot() positions are void).
  bool compute(const SpMat& A, bool subset = true);
  // The analysis alone (kept for compute() with A's pattern), and what the subset costs: its
  // multiply-adds, Σⱼ cⱼ² for cⱼ the nonzeros of the factor's column j (a factorization's).
  void analyse(const SpMat& A);
  double flops() const { return factor_.flops(); }
  // Where (A⁻¹)_ab is held, for a pair in the factor's pattern (every pair in A's pattern is), and
  // the value there: positions stay valid while A's pattern does.
  Index slot(Index a, Index b) const;
  double at(Index slot) const { return sigma_[slot]; }
  // A⁻¹ b.
  Eigen::VectorXd solve(const Eigen::VectorXd& b) const;

 private:
  SimplicialCholesky factor_;
  Index analysed_nonzeros_ = -1;
  Eigen::VectorXd sigma_;  // A⁻¹'s entries in the pattern of L (factor order)
  // Position of the factor's entry (row, column) in its value arrays (row ≥ column, factor order).
  Index factor_slot(Index row, Index column) const;
};

}  // namespace mixedfit
