// The sparse Cholesky factorization of A = Λ'Z'WZΛ + I behind one small interface:
// analyze the pattern once, factorize for each θ, and solve with the factor. A blocked,
// structure-aware factorization can replace the general one without touching its users.
#pragma once

#include <memory>

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
  // The solves run on right-hand sides held transposed and in the factor's order: row i of B is
  // column position()[i] of Bt (nullptr: the identity). Each nonzero of L then updates a
  // contiguous column of all right-hand sides at once, and the model builds and reads its
  // right-hand sides in this order, with no reordering per solve.
  virtual const int* position() const = 0;
  // Bt <- (L⁻¹ Btᵀ)ᵀ and Bt <- (L⁻ᵀ Btᵀ)ᵀ, in the factor's order.
  virtual void forward(Eigen::Ref<Eigen::MatrixXd> Bt) const = 0;
  virtual void backward(Eigen::Ref<Eigen::MatrixXd> Bt) const = 0;
  // How many threads factorize() may use (a factorization that cannot use them ignores this).
  virtual void set_threads(int) {}
  // A factor with this one's symbolic analysis, ready for factorize() with a matrix of the same
  // pattern (its numeric values are its own from then on).
  virtual std::unique_ptr<SparseCholesky> clone_analysis() const = 0;
};

// Owns a model's factorization. A copy gets the analysis, not the numeric factor: a copied
// model (the convergence check's extra cores, refit replicas) factors at its own θ without
// repeating the ordering and symbolic work (InstEval's: ~85 ms).
class FactorSlot {
 public:
  FactorSlot() = default;
  FactorSlot(const FactorSlot& other) : factor_(other.factor_ ? other.factor_->clone_analysis() : nullptr) {}
  FactorSlot& operator=(const FactorSlot& other) {
    if (this != &other) factor_ = other.factor_ ? other.factor_->clone_analysis() : nullptr;
    return *this;
  }
  FactorSlot(FactorSlot&&) = default;
  FactorSlot& operator=(FactorSlot&&) = default;
  FactorSlot& operator=(std::unique_ptr<SparseCholesky> factor) {
    factor_ = std::move(factor);
    return *this;
  }
  SparseCholesky* operator->() const { return factor_.get(); }
  explicit operator bool() const { return factor_ != nullptr; }

 private:
  std::unique_ptr<SparseCholesky> factor_;
};

// A simplicial (supernode-free) LLᵀ under AMD's ordering, analysed by Eigen's SimplicialLLT (the
// ordering, the elimination tree, the column counts). The permuted matrix P A P' keeps the
// pattern found at analysis, and each factorization only copies A's values into it (Eigen's own
// factorize recomputes the permuted pattern every time). The numeric factorization is Eigen's
// up-looking algorithm with each row's pattern of L, and where its values go, computed once at
// the first factorization (Eigen walks the elimination tree for every row of every factorization:
// star's Schur complement's factor went from 15.6 to 11.2 % of an evaluation without it). Solves
// with several right-hand sides run over L once, each column of L updating all of them (Eigen's
// run one right-hand side after the other, reading L each time).
class SimplicialCholesky final : public SparseCholesky {
 public:
  void analyze(const SpMat& A) override;
  // The analysis under a given fill-reducing ordering (another analysis's ordering() of a matrix
  // with A's pattern): no AMD, which is most of the analysis's cost.
  void analyze(const SpMat& A, const Eigen::VectorXi& ordering);
  // After analyze: the factor's nonzeros and the multiply-adds of one factorization, Σⱼ cⱼ²
  // for cⱼ the nonzeros of column j of L (from the elimination tree's column counts).
  double factor_nonzeros() const;
  double flops() const;
  // The fill-reducing ordering: row i of A is row ordering()[i] of P A P'.
  const Eigen::VectorXi& ordering() const { return ordering_; }
  bool factorize(const SpMat& A) override;
  double log_det() const override;
  const int* position() const override { return ordering_.data(); }
  void forward(Eigen::Ref<Eigen::MatrixXd> Bt) const override;
  void backward(Eigen::Ref<Eigen::MatrixXd> Bt) const override;
  // L after a factorization, in the factor's order: column j's entries are
  // [L_outer()[j], L_outer()[j + 1]), its diagonal first, then its rows in increasing order.
  const Eigen::VectorXi& L_outer() const { return L_outer_; }
  const Eigen::VectorXi& L_inner() const { return L_inner_; }
  const Eigen::VectorXd& L_values() const { return L_values_; }
  // A plain copy: the analysis is kept in vectors (Eigen's solver only runs it).
  std::unique_ptr<SparseCholesky> clone_analysis() const override { return std::make_unique<SimplicialCholesky>(*this); }

 private:
  // Keeps an analysis of A under `ordering` (its elimination tree and strict column counts):
  // the permuted pattern and where its values come from.
  void keep_analysis(const SpMat& A, const Eigen::VectorXi& ordering, const Eigen::VectorXi& parent,
                     const Eigen::VectorXi& strict_counts);
  // L's pattern (columns hold their diagonal first, then their rows in increasing order), and
  // for each row k of L its columns j < k (increasing) with the position of L(k, j) in L.
  void compute_row_patterns();
  Eigen::VectorXi ordering_, parent_, strict_counts_;  // the analysis: ordering, elimination tree, counts
  SpMat permuted_;                    // upper triangle of P A P', pattern fixed at analysis
  Eigen::VectorXi value_source_;      // permuted_'s k-th value is A's value_source_[k]-th
  Eigen::VectorXi L_outer_, L_inner_;  // L's pattern (empty until the first factorization)
  Eigen::VectorXd L_values_;
  Eigen::VectorXi row_start_, row_column_, row_slot_;  // row k's entries: [row_start_[k], row_start_[k + 1])
  Eigen::VectorXd work_;                               // the up-looking solve's row, zero between rows
};

}  // namespace mixedfit
