#include "blocked_cholesky.hpp"

#include <algorithm>
#include <cmath>

#include "errors.hpp"

namespace mixedfit {

BlockedCholesky::BlockedCholesky(Index block_size, Index n_blocks)
    : p_(block_size), n_blocks_(n_blocks), q1_(block_size * n_blocks) {}

bool BlockedCholesky::suits(const SpMat& A, Index block_size, Index n_blocks, Index max_dense) {
  const Index q1 = block_size * n_blocks;
  if (block_size < 1 || q1 > A.cols() || A.cols() - q1 > max_dense) return false;
  for (Index j = 0; j < q1; ++j) {
    const Index block_start = (j / block_size) * block_size;
    for (SpMat::InnerIterator it(A, j); it; ++it) {
      // Within the first term's rows, only the column's own level block may hold entries.
      if (it.row() < q1 && (it.row() < block_start || it.row() >= block_start + block_size)) return false;
    }
    // The columns of one level must share their pattern below the first term, so that
    // L21 = A21 L11⁻ᵀ (which mixes them) keeps A21's pattern.
    if (j > block_start) {
      SpMat::InnerIterator a(A, j), b(A, block_start);
      while (a && a.row() < q1) ++a;
      while (b && b.row() < q1) ++b;
      for (; a && b; ++a, ++b) {
        if (a.row() != b.row()) return false;
      }
      if (a || b) return false;
    }
  }
  return true;
}

void BlockedCholesky::analyze(const SpMat& A) {
  require(A.rows() == A.cols() && A.cols() >= q1_, "blocked Cholesky: A is too small for its first block");
  q2_ = A.cols() - q1_;
  L11_.resize(p_, q1_);
  S_.resize(q2_, q2_);
  // L21 keeps A21's pattern: fix it now and remember where each column's A21 part starts.
  L21_ = A.bottomLeftCorner(q2_, q1_);
  a21_start_.resize(q1_);
  for (Index c = 0; c < q1_; ++c) {
    const int* begin = A.innerIndexPtr() + A.outerIndexPtr()[c];
    const int* end = A.innerIndexPtr() + A.outerIndexPtr()[c + 1];
    a21_start_[c] = static_cast<int>(std::lower_bound(begin, end, static_cast<int>(q1_)) - A.innerIndexPtr());
  }
}

bool BlockedCholesky::factorize(const SpMat& A) {
  // L11: one small dense Cholesky per level.
  Eigen::MatrixXd block(p_, p_);
  for (Index b = 0; b < n_blocks_; ++b) {
    const Index start = b * p_;
    block.setZero();
    for (Index c = 0; c < p_; ++c) {
      for (SpMat::InnerIterator it(A, start + c); it && it.row() < start + p_; ++it) {
        if (it.row() >= start) block(it.row() - start, c) = it.value();
      }
    }
    Eigen::LLT<Eigen::MatrixXd> llt(block);
    if (llt.info() != Eigen::Success) return false;
    L11_.middleCols(start, p_) = llt.matrixL();
  }
  // L21 = A21 L11⁻ᵀ, block column by block column (A21's pattern is kept).
  for (Index c = 0; c < q1_; ++c) {
    std::copy(A.valuePtr() + a21_start_[c], A.valuePtr() + A.outerIndexPtr()[c + 1],
              L21_.valuePtr() + L21_.outerIndexPtr()[c]);
  }
  for (Index b = 0; b < n_blocks_; ++b) {
    const Index start = b * p_;
    if (p_ == 1) {
      const double scale = 1.0 / L11_(0, start);
      for (SpMat::InnerIterator it(L21_, start); it; ++it) it.valueRef() *= scale;
      continue;
    }
    // The block's p columns share one pattern: each stored row is a 1×p vector v ← v L11⁻ᵀ.
    const auto L = L11_.middleCols(start, p_).triangularView<Eigen::Lower>();
    const Index length = L21_.outerIndexPtr()[start + 1] - L21_.outerIndexPtr()[start];
    Eigen::VectorXd v(p_);
    for (Index e = 0; e < length; ++e) {
      for (Index c = 0; c < p_; ++c) v[c] = L21_.valuePtr()[L21_.outerIndexPtr()[start + c] + e];
      L.solveInPlace(v);
      for (Index c = 0; c < p_; ++c) L21_.valuePtr()[L21_.outerIndexPtr()[start + c] + e] = v[c];
    }
  }
  // Schur complement S = A22 − L21 L21' (lower triangle), then its dense Cholesky.
  S_.setZero();
  for (Index j = q1_; j < A.cols(); ++j) {
    for (SpMat::InnerIterator it(A, j); it; ++it) {
      if (it.row() >= j) S_(it.row() - q1_, j - q1_) = it.value();
    }
  }
  for (Index c = 0; c < q1_; ++c) {
    for (SpMat::InnerIterator a(L21_, c); a; ++a) {
      for (SpMat::InnerIterator b(L21_, c); b && b.row() <= a.row(); ++b) {
        S_(a.row(), b.row()) -= a.value() * b.value();
      }
    }
  }
  L22_.compute(S_);
  return L22_.info() == Eigen::Success;
}

double BlockedCholesky::log_det() const {
  double sum = 0.0;
  for (Index b = 0; b < n_blocks_; ++b) {
    for (Index c = 0; c < p_; ++c) sum += std::log(L11_(c, b * p_ + c));
  }
  const Eigen::MatrixXd& L22 = L22_.matrixLLT();
  for (Index i = 0; i < q2_; ++i) sum += std::log(L22(i, i));
  return 2.0 * sum;
}

void BlockedCholesky::solve_L(Eigen::MatrixXd& B) const {
  for (Index b = 0; b < n_blocks_; ++b) {
    auto rows = B.middleRows(b * p_, p_);
    L11_.middleCols(b * p_, p_).triangularView<Eigen::Lower>().solveInPlace(rows);
  }
  if (q2_ == 0) return;
  B.bottomRows(q2_).noalias() -= L21_ * B.topRows(q1_);
  auto B2 = B.bottomRows(q2_);
  L22_.matrixL().solveInPlace(B2);
}

void BlockedCholesky::solve_Lt(Eigen::MatrixXd& B) const {
  if (q2_ > 0) {
    auto B2 = B.bottomRows(q2_);
    L22_.matrixU().solveInPlace(B2);
    B.topRows(q1_).noalias() -= L21_.transpose() * B.bottomRows(q2_);
  }
  for (Index b = 0; b < n_blocks_; ++b) {
    auto rows = B.middleRows(b * p_, p_);
    L11_.middleCols(b * p_, p_).triangularView<Eigen::Lower>().transpose().solveInPlace(rows);
  }
}

}  // namespace mixedfit
