#include "blocked_cholesky.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "dense_cholesky.hpp"
#include "errors.hpp"
#include "parallel.hpp"

namespace mixedfit {

namespace {

// Below this many columns in the Schur complement, its update is not worth a second thread.
constexpr Index kMinParallelSchur = 256;

// Kernels for the first term's p×p blocks (p is 1 to a few): plain loops, because Eigen's
// dynamic-size LLT and triangular solvers allocate or dispatch per call, which dominated the
// factorization with 10⁵ levels. L is column-major p×p, lower triangular.

// Cholesky of the p×p matrix in L (lower triangle read), in place; false if not positive definite.
bool small_cholesky(double* L, Index p) {
  for (Index j = 0; j < p; ++j) {
    double d = L[j + j * p];
    for (Index k = 0; k < j; ++k) d -= L[j + k * p] * L[j + k * p];
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    L[j + j * p] = d;
    for (Index i = j + 1; i < p; ++i) {
      double v = L[i + j * p];
      for (Index k = 0; k < j; ++k) v -= L[i + k * p] * L[j + k * p];
      L[i + j * p] = v / d;
    }
    for (Index i = 0; i < j; ++i) L[i + j * p] = 0.0;
  }
  return true;
}

// x ← L⁻¹ x for x[0], x[stride], …, x[(p−1) stride]. P > 0 fixes p at compile time (the
// solves' loops over levels run these for every level and right-hand side).
template <int P = 0>
void small_solve_L(const double* L, Index p, double* x, Index stride) {
  if constexpr (P > 0) p = P;
  for (Index i = 0; i < p; ++i) {
    double v = x[i * stride];
    for (Index k = 0; k < i; ++k) v -= L[i + k * p] * x[k * stride];
    x[i * stride] = v / L[i + i * p];
  }
}

// x ← L⁻ᵀ x for x[0], x[stride], …, x[(p−1) stride].
template <int P = 0>
void small_solve_Lt(const double* L, Index p, double* x, Index stride) {
  if constexpr (P > 0) p = P;
  for (Index i = p - 1; i >= 0; --i) {
    double v = x[i * stride];
    for (Index k = i + 1; k < p; ++k) v -= L[k + i * p] * x[k * stride];
    x[i * stride] = v / L[i + i * p];
  }
}

// The first term's levels [b0, b1) of the right-hand sides Bt (m × q, transposed: level b's p
// entries of row k are Bt[k + (b p + i) m]) solved with their blocks of L11: forward, x ← L11⁻¹ x,
// or backward, x ← L11⁻ᵀ x.
template <int P>
void solve_levels(const double* L11, Index p, Index b0, Index b1, double* Bt, Index m, bool forward) {
  if constexpr (P > 0) p = P;
  for (Index b = b0; b < b1; ++b) {
    const double* L = L11 + b * p * p;
    double* x = Bt + b * p * m;
    for (Index k = 0; k < m; ++k) {
      if (forward) {
        small_solve_L<P>(L, p, x + k, m);
      } else {
        small_solve_Lt<P>(L, p, x + k, m);
      }
    }
  }
}

void solve_levels(const double* L11, Index p, Index b0, Index b1, double* Bt, Index m, bool forward) {
  const auto solve = p == 1 ? solve_levels<1> : p == 2 ? solve_levels<2> : solve_levels<0>;
  solve(L11, p, b0, b1, Bt, m, forward);
}

// Each of the `length` vectors x[e], x[e + length], …, x[e + (p−1) length] ← L⁻¹ x (L: p × p).
template <int P>
void solve_rows(const double* L, Index p, double* x, Index length) {
  for (Index e = 0; e < length; ++e) small_solve_L<P>(L, p, x + e, length);
}

void solve_rows(const double* L, Index p, double* x, Index length) {
  const auto solve = p == 1 ? solve_rows<1> : p == 2 ? solve_rows<2> : solve_rows<0>;
  solve(L, p, x, length);
}

// With right-hand sides transposed (column c of Bt holds row c's m entries): B2 += sign · L21 B1
// over L21's columns [c0, c1) (forward), and B1 −= L21' B2 there (backward). M > 0 fixes m at
// compile time (m is p + 1 or 1, often 1 to 3: a loop of runtime length, vectorized for longer
// ones, cost the solves ~7 % of an evaluation at -O3).
template <int M>
void add_L21_product(const SpMat& L21, Index c0, Index c1, const double* Bt, Index m, double sign, double* B2) {
  if constexpr (M > 0) m = M;
  for (Index c = c0; c < c1; ++c) {
    const double* x = Bt + c * m;
    for (SpMat::InnerIterator it(L21, c); it; ++it) {
      double* target = B2 + it.row() * m;
      const double v = sign * it.value();
      for (Index k = 0; k < m; ++k) target[k] += v * x[k];
    }
  }
}

template <int M>
void subtract_L21t_product(const SpMat& L21, Index c0, Index c1, double* Bt, Index m, const double* B2) {
  if constexpr (M > 0) m = M;
  for (Index c = c0; c < c1; ++c) {
    double* x = Bt + c * m;
    for (SpMat::InnerIterator it(L21, c); it; ++it) {
      const double* source = B2 + it.row() * m;
      const double v = it.value();
      for (Index k = 0; k < m; ++k) x[k] -= v * source[k];
    }
  }
}

// S −= v v' for one level's p columns of L21, restricted to S's columns [c0, c1): rows and
// values hold the level's `length` stored rows (values column-major, length × p), S is n × n and
// only its upper triangle is updated. P > 0 fixes p at compile time: for the common p of 1 and 2
// the unrolled inner product makes this loop (the Schur update's, run per stored pair) 2× faster.
template <int P>
void schur_update_level(const int* rows, const double* values, Index length, Index p, Index c0, Index c1,
                        double* S, Index n) {
  if constexpr (P > 0) p = P;
  const Index first = std::lower_bound(rows, rows + length, static_cast<int>(c0)) - rows;
  for (Index e = first; e < length && rows[e] < c1; ++e) {
    double* column = S + rows[e] * n;  // S is symmetric: fill its upper triangle's columns
    for (Index f = 0; f <= e; ++f) {
      double sum = 0.0;
      for (Index c = 0; c < p; ++c) sum += values[e + c * length] * values[f + c * length];
      column[rows[f]] -= sum;
    }
  }
}

}  // namespace

BlockedCholesky::BlockedCholesky(Index block_size, Index n_blocks, int threads)
    : p_(block_size), n_blocks_(n_blocks), q1_(block_size * n_blocks), threads_(std::max(1, threads)) {}

bool BlockedCholesky::applies(const SpMat& A, Index block_size, Index n_blocks, Index max_dense) {
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

double BlockedCholesky::Work::scattered_seconds() const {
  const bool in_cache = 8.0 * q2 * q2 <= kSchurCacheBytes;
  return schur_updates / (in_cache ? kSchurUpdatesPerThreadInCache : kSchurUpdatesPerThread);
}

bool BlockedCholesky::Work::dense_update() const {
  return q1 * q2 <= kMaxDenseL21 && dense_update_flops / kDenseFlopsPerThread < scattered_seconds();
}

double BlockedCholesky::Work::update_seconds() const {
  return dense_update() ? dense_update_flops / kDenseFlopsPerThread : scattered_seconds();
}

BlockedCholesky::Work BlockedCholesky::work(const SpMat& A, Index block_size, Index n_blocks) {
  const Index q1 = block_size * n_blocks;
  const double q2 = static_cast<double>(A.cols() - q1);
  Work w;
  w.q1 = static_cast<double>(q1);
  w.q2 = q2;
  w.dense_flops = q2 * q2 * q2 / 3.0;
  w.dense_update_flops = q2 * q2 * w.q1 / 2.0;
  for (Index b = 0; b < n_blocks; ++b) {  // a level with m rows in S updates m (m + 1) / 2 of its entries
    const int* begin = A.innerIndexPtr() + A.outerIndexPtr()[b * block_size];
    const int* end = A.innerIndexPtr() + A.outerIndexPtr()[b * block_size + 1];
    const double m = static_cast<double>(end - std::lower_bound(begin, end, static_cast<int>(q1)));
    w.schur_updates += m * (m + 1) / 2 * static_cast<double>(block_size);
  }
  return w;
}

void BlockedCholesky::analyze(const SpMat& A) {
  require(A.rows() == A.cols() && A.cols() >= q1_, "blocked Cholesky: A is too small for its first block");
  q2_ = A.cols() - q1_;
  L11_.resize(p_, q1_);
  S_.resize(q2_, q2_);
  // L21 keeps A21's pattern: fix it now and remember where each column's A21 part starts.
  L21_ = A.bottomLeftCorner(q2_, q1_);
  dense_update_ = work(A, p_, n_blocks_).dense_update();
  if (dense_update_) L21_dense_ = Eigen::MatrixXd::Zero(q2_, q1_);  // entries off the pattern stay 0
  a21_start_.resize(q1_);
  for (Index c = 0; c < q1_; ++c) {
    const int* begin = A.innerIndexPtr() + A.outerIndexPtr()[c];
    const int* end = A.innerIndexPtr() + A.outerIndexPtr()[c + 1];
    a21_start_[c] = static_cast<int>(std::lower_bound(begin, end, static_cast<int>(q1_)) - A.innerIndexPtr());
  }
}

bool BlockedCholesky::factorize(const SpMat& A) {
  // L11 (one small dense Cholesky per level) and L21 = A21 L11⁻ᵀ (A21's pattern is kept), level
  // by level: the levels are independent, so they are split over threads when there are many.
  const int level_parts = first_term_parts();
  std::vector<char> positive(level_parts, 1);
  parallel_for(level_parts, [&](int t) {
    for (Index b = n_blocks_ * t / level_parts, stop = n_blocks_ * (t + 1) / level_parts; b < stop; ++b) {
      const Index start = b * p_;
      double* L = L11_.data() + start * p_;
      for (Index c = 0; c < p_; ++c) {
        for (Index r = 0; r < p_; ++r) L[r + c * p_] = 0.0;
        for (SpMat::InnerIterator it(A, start + c); it && it.row() < start + p_; ++it) {
          if (it.row() >= start) L[it.row() - start + c * p_] = it.value();
        }
        std::copy(A.valuePtr() + a21_start_[start + c], A.valuePtr() + A.outerIndexPtr()[start + c + 1],
                  L21_.valuePtr() + L21_.outerIndexPtr()[start + c]);
      }
      if (!small_cholesky(L, p_)) {
        positive[t] = 0;
        return;
      }
      double* values = L21_.valuePtr() + L21_.outerIndexPtr()[start];
      const Index length = L21_.outerIndexPtr()[start + 1] - L21_.outerIndexPtr()[start];
      // The block's p columns share one pattern, stored one after another: each stored row is a
      // 1×p vector v (stride = length) with v ← v L11⁻ᵀ, i.e. vᵀ ← L11⁻¹ vᵀ.
      solve_rows(L, p_, values, length);
    }
  });
  if (std::find(positive.begin(), positive.end(), 0) != positive.end()) return false;
  // Schur complement S = A22 − L21 L21' (upper triangle, the only part read later), then its
  // dense Cholesky U22 in place.
  for (Index j = 0; j < q2_; ++j) std::fill(S_.data() + j * q2_, S_.data() + j * q2_ + j + 1, 0.0);
  for (Index j = q1_; j < A.cols(); ++j) {  // from A's lower triangle (the part kept current)
    const int* begin = A.innerIndexPtr() + A.outerIndexPtr()[j];
    const int* end = A.innerIndexPtr() + A.outerIndexPtr()[j + 1];
    const double* values = A.valuePtr() + A.outerIndexPtr()[j];
    for (const int* row = std::lower_bound(begin, end, static_cast<int>(j)); row != end; ++row) {
      S_(j - q1_, *row - q1_) = values[row - begin];
    }
  }
  const int parts = q2_ >= kMinParallelSchur ? threads_ : 1;
  if (dense_update_) {
    update_schur_dense(parts);
    return upper_cholesky_in_place(S_, threads_);
  }
  // A block's p columns share a pattern, so their p outer products go into S in one pass. Each
  // thread owns a range of S's columns (rows are sorted, so a block's entries in it are consecutive).
  parallel_for(parts, [&](int t) {
    const Index c0 = t == 0 ? 0 : triangle_split(q2_, parts, t - 1), c1 = triangle_split(q2_, parts, t);
    const auto update = p_ == 1 ? schur_update_level<1> : p_ == 2 ? schur_update_level<2> : schur_update_level<0>;
    for (Index b = 0; b < n_blocks_; ++b) {
      const Index begin = L21_.outerIndexPtr()[b * p_];
      update(L21_.innerIndexPtr() + begin, L21_.valuePtr() + begin, L21_.outerIndexPtr()[b * p_ + 1] - begin, p_,
             c0, c1, S_.data(), q2_);
    }
  });
  return upper_cholesky_in_place(S_, threads_);
}

void BlockedCholesky::update_schur_dense(int parts) {
  for (Index c = 0; c < q1_; ++c) {
    for (SpMat::InnerIterator it(L21_, c); it; ++it) L21_dense_(it.row(), c) = it.value();
  }
  // Each thread owns a range [c0, c1) of S's columns: the rectangle above its diagonal block by
  // a matrix product, the diagonal block's upper triangle by a rank update.
  parallel_for(parts, [&](int t) {
    const Index c0 = t == 0 ? 0 : triangle_split(q2_, parts, t - 1), c1 = triangle_split(q2_, parts, t);
    const Index width = c1 - c0;
    if (width == 0) return;
    const auto columns = L21_dense_.middleRows(c0, width);
    if (c0 > 0) S_.block(0, c0, c0, width).noalias() -= L21_dense_.topRows(c0) * columns.transpose();
    S_.block(c0, c0, width, width).selfadjointView<Eigen::Upper>().rankUpdate(columns, -1.0);
  });
}

double BlockedCholesky::log_det() const {
  double sum = 0.0;
  for (Index b = 0; b < n_blocks_; ++b) {
    for (Index c = 0; c < p_; ++c) sum += std::log(L11_(c, b * p_ + c));
  }
  for (Index i = 0; i < q2_; ++i) sum += std::log(S_(i, i));
  return 2.0 * sum;
}

int BlockedCholesky::first_term_parts() const {
  return q1_ + L21_.nonZeros() * p_ >= kMinParallelWork ? threads_ : 1;
}

void BlockedCholesky::forward(Eigen::MatrixXd& Bt) const {
  // Each row's entries of the first term's levels (x ← L11⁻¹ x), then their part of
  // B2 −= L21 B1, split over threads by levels; with several parts, each sums its product
  // separately (each touches all of B2) and they are subtracted here.
  const Index m = Bt.rows();
  const int parts = first_term_parts();
  std::vector<Eigen::MatrixXd> products(parts > 1 && q2_ > 0 ? parts : 0);
  parallel_for(parts, [&](int t) {
    const Index b0 = n_blocks_ * t / parts, b1 = n_blocks_ * (t + 1) / parts;
    solve_levels(L11_.data(), p_, b0, b1, Bt.data(), m, true);
    if (q2_ == 0) return;
    double* B2 = Bt.data() + q1_ * m;
    if (parts > 1) {
      products[t] = Eigen::MatrixXd::Zero(m, q2_);
      B2 = products[t].data();
    }
    const double sign = parts > 1 ? 1.0 : -1.0;  // a part's product is subtracted afterwards
    const auto add = m == 1 ? add_L21_product<1> : m == 2 ? add_L21_product<2> : m == 3 ? add_L21_product<3>
                                                                                        : add_L21_product<0>;
    add(L21_, b0 * p_, b1 * p_, Bt.data(), m, sign, B2);
  });
  if (q2_ == 0) return;
  auto B2 = Bt.rightCols(q2_);
  for (const Eigen::MatrixXd& product : products) B2 -= product;
  S_.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(B2);  // B2 ← B2 L22⁻ᵀ, L22 = U22ᵀ
}

void BlockedCholesky::backward(Eigen::MatrixXd& Bt) const {
  const Index m = Bt.rows();
  if (q2_ > 0) {
    auto B2 = Bt.rightCols(q2_);
    S_.triangularView<Eigen::Upper>().transpose().solveInPlace<Eigen::OnTheRight>(B2);  // B2 ← B2 L22⁻¹
  }
  const int parts = first_term_parts();
  parallel_for(parts, [&](int t) {  // B1 −= L21' B2, then the first term's levels: B1 split by levels
    const Index b0 = n_blocks_ * t / parts, b1 = n_blocks_ * (t + 1) / parts;
    if (q2_ > 0) {
      const auto subtract = m == 1 ? subtract_L21t_product<1> : m == 2 ? subtract_L21t_product<2>
                          : m == 3 ? subtract_L21t_product<3> : subtract_L21t_product<0>;
      subtract(L21_, b0 * p_, b1 * p_, Bt.data(), m, Bt.data() + q1_ * m);
    }
    solve_levels(L11_.data(), p_, b0, b1, Bt.data(), m, false);
  });
}

}  // namespace mixedfit
