// A structure-aware Cholesky factor for mixed models (as MixedModels.jl's blocked L):
//   A = [A11 A12; A21 A22],  L = [L11 0; L21 L22]
// where A11 belongs to the first random-effects term (the one with the most levels). A
// grouping factor puts every observation in exactly one level, so A11 is block diagonal with
// one p×p block per level and factors block by block; L21 = A21 L11⁻ᵀ keeps A21's sparsity;
// the Schur complement S = A22 − L21 L21' of the remaining terms is factored dense where it fills
// in (crossed designs), or sparse — in its pattern, fixed at analysis, by a simplicial or
// supernodal factor under its own AMD ordering — where it stays sparse (partially crossed and
// nested designs, InstEval).
#pragma once

#include <vector>

#include "cholesky.hpp"

namespace mixedfit {

// Rates of this factorization's kernels, measured on this project's 2-core x86-64 machine (see
// Predictor::choose_factorization): the dense Cholesky and matrix products ~3.5·10¹⁰ multiply-adds
// per second per thread with AVX2/FMA, ~1.4·10¹⁰ without; the scattered Schur update ~10⁹ updates
// per second per thread while S fits in cache (1 MB), ~1.7·10⁸ beyond (cache misses).
#ifdef __AVX2__
inline constexpr double kDenseFlopsPerThread = 3.5e10;
#else
inline constexpr double kDenseFlopsPerThread = 1.4e10;
#endif
inline constexpr double kSchurUpdatesPerThreadInCache = 1e9;
inline constexpr double kSchurUpdatesPerThread = 1.7e8;
inline constexpr double kSchurCacheBytes = 1 << 20;
// The dense update's copy of L21 is kept below this many entries (32 MB).
inline constexpr double kMaxDenseL21 = 1 << 22;
// The dense update's product has a q2 × q2 result over q1 terms: with few columns in S its
// packing dominates, rate × q2 / (q2 + kDenseUpdateHalfRateColumns) (measured 1.5·10¹⁰ at q2 = 50,
// q1 = 5,000, where a larger second term's update was 0.4 ms instead of the 0.18 at the full rate).
inline constexpr double kDenseUpdateHalfRateColumns = 64;
// Below this many columns in the Schur complement, its update is not worth a second thread.
inline constexpr Index kMinParallelSchur = 256;

class BlockedCholesky final : public SparseCholesky {
 public:
  // block_size: columns of the first term (p); n_blocks: its number of levels; threads: how many
  // the Schur complement's update and factorization may use; sparse_schur: S factored sparse.
  BlockedCholesky(Index block_size, Index n_blocks, int threads, bool sparse_schur = false);

  // Whether A's pattern has the structure this factorization needs (a block-diagonal first
  // term whose levels' columns share their pattern) and a dense part of at most max_dense columns.
  static bool applies(const SpMat& A, Index block_size, Index n_blocks, Index max_dense);
  // The work of one factorization: the dense Cholesky's multiply-adds (q2³/3) and the Schur
  // complement's update S −= L21 L21', either scattered (one update per level, pair of its rows
  // in S and column of the term) or dense (L21 made a dense q2 × q1 matrix, then multiply-adds of
  // a matrix product over S's upper triangle, q2² q1 / 2) — the dense one wins where each level
  // meets most of S, as in fully crossed designs (MixedModels.jl densifies such blocks too).
  struct Work {
    double dense_flops = 0.0, schur_updates = 0.0, dense_update_flops = 0.0, q1 = 0.0, q2 = 0.0;
    double scattered_seconds() const;  // one thread's, for the scattered update
    double dense_update_seconds() const;  // one thread's, for the dense one
    bool dense_update() const;         // cheaper, and L21 fits in kMaxDenseL21 entries
    double update_seconds() const;     // one thread's, the chosen update's
  };
  static Work work(const SpMat& A, Index block_size, Index n_blocks);
  // The stored entries of S's lower triangle, were it kept sparse (one pass over the pairs of
  // each level's rows): S's sparse factor has at least as many.
  static double schur_nonzeros(const SpMat& A, Index block_size, Index n_blocks);
  // S's lower pattern (CSC arrays, rows sorted), or with null arrays only its count.
  static Index schur_pattern(const SpMat& A, Index p, Index n_blocks, std::vector<int>* outer, std::vector<int>* inner);

  void analyze(const SpMat& A) override;
  // With a sparse S: its lower pattern (schur_pattern's arrays) where the caller already has it,
  // taken by the next analyze instead of being found again.
  void set_schur_pattern(std::vector<int> outer, std::vector<int> inner) {
    given_outer_ = std::move(outer);
    given_inner_ = std::move(inner);
  }
  // With a sparse S, after analyze: its factor's nonzeros and multiply-adds (from the elimination
  // tree's column counts), whether that factor is supernodal (by kSupernodalFlopsPerNonzero, as
  // for all of A).
  double schur_factor_nonzeros() const { return schur_factor_nonzeros_; }
  double schur_factor_flops() const { return schur_factor_flops_; }
  bool schur_supernodal() const { return schur_supernodal_; }
  bool factorize(const SpMat& A) override;
  double log_det() const override;
  // A's own order, except that a sparse S's rows are in its factor's order.
  const int* position() const override { return position_.empty() ? nullptr : position_.data(); }
  void forward(Eigen::Ref<Eigen::MatrixXd> Bt) const override;
  void backward(Eigen::Ref<Eigen::MatrixXd> Bt) const override;
  std::unique_ptr<SparseCholesky> clone_analysis() const override { return std::make_unique<BlockedCholesky>(*this); }
  void set_threads(int threads) override {
    threads_ = threads < 1 ? 1 : threads;
    if (schur_factor_) schur_factor_->set_threads(threads_);
  }

 private:
  Index p_, n_blocks_, q1_, q2_ = 0;
  Eigen::MatrixXd L11_;  // p × q1: the lower factor of level j's block in columns [j p, (j+1) p)
  SpMat L21_;            // q2 × q1, pattern fixed at analysis
  // L21's entries by row, for the forward solve: row r's are [start[r], start[r + 1]), each with
  // its column and the position of its value in L21_.
  std::vector<int> L21_row_start_, L21_row_column_, L21_row_value_;
  void index_L21_by_rows();
  bool dense_update_ = false;
  int update_parts_ = 1;  // threads for a dense S's update (at most threads_ when factorizing)
  Eigen::MatrixXd L21_dense_;  // with the dense update: L21 as a dense q2 × q1 matrix
  Eigen::VectorXi a21_start_;  // where column c's rows below the first term start in A's values
  Eigen::MatrixXd S_;    // the Schur complement, then its factor U22 (upper: the update runs down S's columns)
  // A sparse S: its lower triangle in a pattern fixed at analysis and its factor; where A22's lower
  // values (a22_source_ in A's values) and each level's products (pair_target_, in the update's
  // order) go among S's values; L21's rows are renumbered in the factor's order.
  bool sparse_schur_;
  SpMat S_sparse_;
  FactorSlot schur_factor_;
  double schur_factor_nonzeros_ = 0.0, schur_factor_flops_ = 0.0;
  bool schur_supernodal_ = false;
  std::vector<int> a22_source_, a22_target_, pair_target_;
  std::vector<Index> pair_start_;  // level b's products: pair_target_[pair_start_[b] …]
  // The sparse update on schur_parts_ threads (with enough products), each owning a range of S's
  // columns: level b's pairs for part t start at its f = schur_split_[b (parts − 1) + t − 1].
  int schur_parts_ = 1;
  std::vector<int> schur_split_;
  std::vector<int> position_;
  std::vector<int> given_outer_, given_inner_;  // set_schur_pattern's, until analyze
  void analyze_sparse_schur(const SpMat& A);
  // From the products per column of S (column_pairs[c + 1], made a running sum here).
  void split_sparse_update(std::vector<Index>& column_pairs);
  bool factorize_sparse_schur(const SpMat& A);
  // S −= L21 L21' through L21_dense_ on `parts` threads.
  void update_schur_dense(int parts);
  // L11's blocks and L21 = A21 L11⁻ᵀ for the first term's levels [b0, b1); false if a block is
  // not positive definite. The scalar one (p = 1: a square root and a division per value, the
  // same arithmetic) skips the general one's copying and searching (star: 4.4 % of an evaluation
  // against 7.6 % for the general one and its solve, perf).
  bool factor_levels(const SpMat& A, Index b0, Index b1);
  bool factor_scalar_levels(const SpMat& A, Index b0, Index b1);
  // Threads for the work per level of the first term: all of them when there is enough of it.
  int first_term_parts() const;
  int threads_;
};

}  // namespace mixedfit
