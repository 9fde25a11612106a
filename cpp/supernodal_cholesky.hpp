// A supernodal sparse Cholesky factor (as CHOLMOD's supernodal mode, written here: CHOLMOD is
// GPL). Columns of L that share their row pattern — with a few explicit zeros allowed, as
// CHOLMOD's relaxed amalgamation does — are stored together as one dense column-major block, so
// that the factorization and the solves run dense kernels (Eigen's matrix products, LLT and
// triangular solves) over blocks instead of one column and one nonzero at a time.
//
// Analysis: AMD ordering (Eigen's), the elimination tree postordered so that each supernode's
// columns are contiguous, column counts from the row subtrees, supernodes, their row patterns, and
// where each of A's values lands in the blocks. Factorization: left-looking — each supernode
// gathers the updates of the supernodes below it that reach its columns (a linked list per
// supernode, as CHOLMOD's), then factors its diagonal block and solves for the rows below.
#pragma once

#include <vector>

#include "cholesky.hpp"

namespace mixedfit {

// A sparse factor is supernodal from this many multiply-adds per nonzero of L on (CHOLMOD's
// default switch). Measured with one objective evaluation each way on this machine: InstEval's
// sparse factor (425 per nonzero) 73 ms simplicial, 20 ms supernodal; subjects × items (157)
// 7.7 and 6.7 ms; at ≤ 12 per nonzero (star, nested, longitudinal, a larger second term) the
// simplicial one is as fast or up to 1.6× faster (its per-column work is smaller).
inline constexpr double kSupernodalFlopsPerNonzero = 40;

class SupernodalCholesky final : public SparseCholesky {
 public:
  // Analysis under an AMD ordering, or under a given fill-reducing ordering (row i of A is row
  // ordering[i] of P A P': a simplicial analysis's, so that the two need one ordering between them).
  void analyze(const SpMat& A) override;
  void analyze(const SpMat& A, const Eigen::VectorXi& ordering);
  // After analyze: the factor's nonzeros and the multiply-adds of one factorization, Σⱼ cⱼ²
  // for cⱼ the nonzeros of column j of L (from the elimination tree's column counts; the
  // explicit zeros of the relaxed supernodes not included).
  double factor_nonzeros() const { return nonzeros_; }
  double flops() const { return flops_; }
  bool factorize(const SpMat& A) override;
  double log_det() const override;
  void set_threads(int threads) override { threads_ = threads < 1 ? 1 : threads; }
  const int* position() const override { return position_.data(); }
  void forward(Eigen::Ref<Eigen::MatrixXd> Bt) const override;
  void backward(Eigen::Ref<Eigen::MatrixXd> Bt) const override;
  std::unique_ptr<SparseCholesky> clone_analysis() const override {
    return std::make_unique<SupernodalCholesky>(*this);
  }

 private:
  using Block = Eigen::Map<Eigen::MatrixXd>;
  using ConstBlock = Eigen::Map<const Eigen::MatrixXd>;
  Index supernodes() const { return static_cast<Index>(first_.size()) - 1; }
  Index width(Index s) const { return first_[s + 1] - first_[s]; }
  Index below_count(Index s) const { return below_start_[s + 1] - below_start_[s]; }
  Index height(Index s) const { return width(s) + below_count(s); }
  Block block(Index s) { return Block(values_.data() + value_start_[s], height(s), width(s)); }
  ConstBlock block(Index s) const { return ConstBlock(values_.data() + value_start_[s], height(s), width(s)); }
  // Subtracts supernode d's update to supernode s (d's rows from position from_[d] of its rows
  // below its columns: those inside s's columns, then the rest) from s's block.
  void apply_update(Index d, Index s, Index inside_end);
  // Factors a supernode's block of w columns and nb rows below them in place; false if its
  // diagonal block is not positive definite.
  bool factor_block(Block& Ls, Index w, Index nb) const;

  std::vector<int> position_;  // row i of A is row position_[i] of the factor's P A P'
  // Supernode s: columns first_[s] … first_[s+1] − 1, then rows below_[below_start_[s] …
  // below_start_[s+1]) (ascending); its block of height × width values starts at value_start_[s].
  std::vector<int> first_, below_start_, below_, supernode_of_;
  std::vector<Index> value_start_;
  std::vector<double> values_;
  // A's lower triangle's values: A.valuePtr()[value_source_[k]] goes to values_[value_target_[k]].
  std::vector<Index> value_source_, value_target_;
  double nonzeros_ = 0.0, flops_ = 0.0;
  // Factorization workspace: the supernodes whose next update goes to s (linked lists: head_[s],
  // next_[d]), where each one's remaining rows start (from_), local rows of the current supernode
  // (local_).
  std::vector<int> head_, next_, from_, local_;
  int threads_ = 1;
};

// The sparse factor of a symmetric matrix's lower triangle S, analysed under AMD: simplicial, or
// supernodal (on `threads`) where its multiply-adds per nonzero reach kSupernodalFlopsPerNonzero;
// its nonzeros and multiply-adds per factorization (the simplicial analysis's) are returned too.
struct AnalysedFactor {
  std::unique_ptr<SparseCholesky> factor;
  double nonzeros = 0.0, flops = 0.0;
  bool supernodal = false;
};
AnalysedFactor analysed_sparse_factor(const SpMat& S, int threads);

}  // namespace mixedfit
