#include "blocked_cholesky.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "dense_cholesky.hpp"
#include "errors.hpp"
#include "fixed_width.hpp"
#include "parallel.hpp"
#include "supernodal_cholesky.hpp"

namespace mixedfit {

namespace {

constexpr Index kSchurChunk = 128;  // columns of a dense S per chunk of its update

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

void solve_rows(const double* L, Index p, double* x, Index length) {  // p ≥ 2: p = 1 is factor_scalar_levels'
  const auto solve = p == 2 ? solve_rows<2> : solve_rows<0>;
  solve(L, p, x, length);
}

// With right-hand sides transposed (column c of Bt holds row c's m entries), the products of the
// solves with L21: forward B2 −= L21 B1 (by L21's rows), backward B1 −= L21' B2 (by its columns).
// Both are gathers: each target row of right-hand sides subtracts Σ v · (a source row) over its
// entries, the m sums kept in registers and stored once (adding each product into B2 in place,
// by L21's columns, chained every update to the last through memory when consecutive levels
// share a row of S — students of one teacher —: 9 % of star's evaluation, perf); m (p + 1 or 1
// in a fit, p the fixed effects) fixed at compile time up to kMaxFixedWidth (fixed_width.hpp).
struct Gather {
  const int* start;      // target t's entries: [start[t], start[t + 1])
  const int* source;     // an entry's source row
  const int* value;      // where its value is in values (Indirect; else at the entry's own position)
  const double* values;  // L21's values
};

template <bool Indirect>
struct SubtractGathered {
  template <int M>
  static void run(const Gather& g, Index t0, Index t1, const double* sources, Index m, double* targets) {
    if constexpr (M > 0) m = M;
    for (Index t = t0; t < t1; ++t) {
      double* target = targets + t * m;
      double sum[M > 0 ? M : 1] = {};
      for (int e = g.start[t]; e < g.start[t + 1]; ++e) {
        const double v = g.values[Indirect ? g.value[e] : e];
        const double* x = sources + static_cast<Index>(g.source[e]) * m;
        if constexpr (M > 0) {
          for (Index k = 0; k < M; ++k) sum[k] += v * x[k];
        } else {
          for (Index k = 0; k < m; ++k) target[k] -= v * x[k];
        }
      }
      if constexpr (M > 0) {
        for (Index k = 0; k < M; ++k) target[k] -= sum[k];
      }
    }
  }
};

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

// With a sparse S: S −= v v' for one level's p columns of L21 (rows and values as in
// schur_update_level) restricted to the pairs (e ≥ f, f in [f0, f1)), each product subtracted
// from S's value at the next of `target` (the level's pairs column by column: f, then e ≥ f).
template <int P>
void sparse_schur_update_level(const double* values, Index length, Index p, Index f0, Index f1, double* S,
                               const int* target) {
  if constexpr (P > 0) p = P;
  for (Index f = f0; f < f1; ++f) {
    for (Index e = f; e < length; ++e) {
      double sum = 0.0;
      for (Index c = 0; c < p; ++c) sum += values[e + c * length] * values[f + c * length];
      S[*target++] -= sum;
    }
  }
}

// Where a level's pairs with f = first start among its pairs (column-major: f, then e ≥ f).
Index pairs_before(Index first, Index length) { return first * length - first * (first - 1) / 2; }

// The first term's levels (p columns each) with an entry in row c of S, each with its rows
// (A21's pattern, sorted) and the position k of c among them: visit(b, rows, length, k). Rows c
// are visited in increasing order, so a level's k-th visit is at its k-th row (next_row counts).
template <class Visit>
void visit_levels_at(const SpMat& A21, const SpMat& levels_by_row, Index c, Index p, std::vector<int>& next_row,
                     Visit visit) {
  for (SpMat::InnerIterator level(levels_by_row, c); level; ++level) {
    if (level.row() % p != 0) continue;  // a level's p columns share their rows: its first is enough
    const Index b = level.row() / p;
    const int begin = A21.outerIndexPtr()[b * p];
    visit(b, A21.innerIndexPtr() + begin, A21.outerIndexPtr()[b * p + 1] - begin, next_row[b]++);
  }
}

}  // namespace

BlockedCholesky::BlockedCholesky(Index block_size, Index n_blocks, int threads, bool sparse_schur)
    : p_(block_size), n_blocks_(n_blocks), q1_(block_size * n_blocks), sparse_schur_(sparse_schur),
      threads_(std::max(1, threads)) {}

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

double BlockedCholesky::Work::dense_update_seconds() const {
  return dense_update_flops / (kDenseFlopsPerThread * q2 / (q2 + kDenseUpdateHalfRateColumns));
}

bool BlockedCholesky::Work::dense_update() const {
  return q1 * q2 <= kMaxDenseL21 && dense_update_seconds() < scattered_seconds();
}

double BlockedCholesky::Work::update_seconds() const {
  return dense_update() ? dense_update_seconds() : scattered_seconds();
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
  // L21 keeps A21's pattern: fix it now and remember where each column's A21 part starts.
  L21_ = A.bottomLeftCorner(q2_, q1_);
  a21_start_.resize(q1_);
  for (Index c = 0; c < q1_; ++c) {
    const int* begin = A.innerIndexPtr() + A.outerIndexPtr()[c];
    const int* end = A.innerIndexPtr() + A.outerIndexPtr()[c + 1];
    a21_start_[c] = static_cast<int>(std::lower_bound(begin, end, static_cast<int>(q1_)) - A.innerIndexPtr());
  }
  if (sparse_schur_) {
    analyze_sparse_schur(A);
  } else {
    S_.resize(q2_, q2_);
    const Work w = work(A, p_, n_blocks_);
    dense_update_ = w.dense_update();
    // The scattered update goes on the threads with enough columns to split or enough products
    // (a narrow S from many levels: 50 columns from 5,000 levels take 2.5·10⁵).
    update_parts_ = q2_ >= kMinParallelSchur || (!dense_update_ && w.schur_updates >= kMinParallelWork) ? threads_ : 1;
    if (dense_update_) L21_dense_ = Eigen::MatrixXd::Zero(q2_, q1_);  // entries off the pattern stay 0
  }
  index_L21_by_rows();
}

void BlockedCholesky::index_L21_by_rows() {
  // L21's entries by row (counting sort over its final row numbers: a sparse S renumbers them).
  L21_row_start_.assign(q2_ + 1, 0);
  const int* inner = L21_.innerIndexPtr();
  for (Index k = 0; k < L21_.nonZeros(); ++k) ++L21_row_start_[inner[k] + 1];
  for (Index r = 0; r < q2_; ++r) L21_row_start_[r + 1] += L21_row_start_[r];
  L21_row_column_.resize(L21_.nonZeros());
  L21_row_value_.resize(L21_.nonZeros());
  std::vector<int> next(L21_row_start_.begin(), L21_row_start_.end() - 1);
  for (Index c = 0; c < q1_; ++c) {
    for (int k = L21_.outerIndexPtr()[c]; k < L21_.outerIndexPtr()[c + 1]; ++k) {
      const int i = next[inner[k]]++;
      L21_row_column_[i] = static_cast<int>(c);
      L21_row_value_[i] = k;
    }
  }
}

Index BlockedCholesky::schur_pattern(const SpMat& A, Index p, Index n_blocks, std::vector<int>* outer,
                                    std::vector<int>* inner) {
  // Column by column (rows ≥ the column): A22's lower triangle and every pair of rows that one
  // level's columns share — the levels meeting column c found through A21's transpose, each
  // level's rows from c's position on (visit_levels_at).
  const Index q1 = p * n_blocks, q2 = A.cols() - q1;
  const SpMat A21 = A.bottomLeftCorner(q2, q1);
  const SpMat levels_by_row = A21.transpose();  // row c of S: the first-term columns with an entry in it
  std::vector<int> marker(q2, -1), next_row(n_blocks, 0), column;
  Index nonzeros = 0;
  if (outer) outer->assign(q2 + 1, 0);
  for (Index c = 0; c < q2; ++c) {
    column.clear();
    const auto add = [&](int row) {
      if (marker[row] != c) {
        marker[row] = static_cast<int>(c);
        column.push_back(row);
      }
    };
    add(static_cast<int>(c));  // the diagonal (A22's, which A always stores)
    for (SpMat::InnerIterator it(A, q1 + c); it; ++it) {
      if (it.row() > q1 + c) add(static_cast<int>(it.row() - q1));
    }
    visit_levels_at(A21, levels_by_row, c, p, next_row, [&](Index, const int* rows, Index length, Index k) {
      for (Index e = k + 1; e < length; ++e) add(rows[e]);
    });
    nonzeros += static_cast<Index>(column.size());
    if (inner) {
      std::sort(column.begin(), column.end());
      inner->insert(inner->end(), column.begin(), column.end());
      (*outer)[c + 1] = static_cast<int>(inner->size());
    }
  }
  return nonzeros;
}

double BlockedCholesky::schur_nonzeros(const SpMat& A, Index block_size, Index n_blocks) {
  return static_cast<double>(schur_pattern(A, block_size, n_blocks, nullptr, nullptr));
}

void BlockedCholesky::analyze_sparse_schur(const SpMat& A) {
  require(q2_ > 0, "blocked Cholesky: a sparse Schur complement needs a second term");
  std::vector<int> outer = std::move(given_outer_), inner = std::move(given_inner_);
  given_outer_.clear();
  given_inner_.clear();
  if (outer.empty()) schur_pattern(A, p_, n_blocks_, &outer, &inner);
  const SpMat levels_by_row = L21_.transpose();  // L21 still has A21's pattern and row numbers
  const auto level_length = [&](Index b) { return L21_.outerIndexPtr()[b * p_ + 1] - L21_.outerIndexPtr()[b * p_]; };
  std::vector<int> next_row(n_blocks_, 0);
  const Index nonzeros = static_cast<Index>(inner.size());
  S_sparse_ = Eigen::Map<const SpMat>(q2_, q2_, nonzeros, outer.data(), inner.data(), std::vector<double>(nonzeros, 0.0).data());
  // Where A22's lower values and each level's products (pairs e ≥ f of its rows, column by column
  // as sparse_schur_update_level takes them) go among S's values: S's columns in order again,
  // the position of each of a column's rows scattered into `position`; and the products per
  // column of S, for splitting the update over threads.
  pair_start_.assign(n_blocks_ + 1, 0);
  for (Index b = 0; b < n_blocks_; ++b) pair_start_[b + 1] = pair_start_[b] + level_length(b) * (level_length(b) + 1) / 2;
  pair_target_.resize(pair_start_[n_blocks_]);
  std::vector<Index> column_pairs(q2_ + 1, 0);  // the products going to each column of S
  a22_source_.clear();
  a22_target_.clear();
  std::vector<int> position(q2_);
  for (Index c = 0; c < q2_; ++c) {
    for (int k = outer[c]; k < outer[c + 1]; ++k) position[inner[k]] = k;
    for (SpMat::InnerIterator it(A, q1_ + c); it; ++it) {
      if (it.row() < q1_ + c) continue;
      a22_source_.push_back(static_cast<int>(&it.value() - A.valuePtr()));
      a22_target_.push_back(position[it.row() - q1_]);
    }
    visit_levels_at(L21_, levels_by_row, c, p_, next_row, [&](Index b, const int* rows, Index length, Index f) {
      int* target = pair_target_.data() + pair_start_[b] + pairs_before(f, length);
      for (Index e = f; e < length; ++e) *target++ = position[rows[e]];
      column_pairs[c + 1] += length - f;
    });
  }
  split_sparse_update(column_pairs);
  AnalysedFactor analysed = analysed_sparse_factor(S_sparse_, threads_);
  schur_factor_nonzeros_ = analysed.nonzeros;
  schur_factor_flops_ = analysed.flops;
  schur_supernodal_ = analysed.supernodal;
  schur_factor_ = std::move(analysed.factor);
  // The right-hand sides' rows of S in its factor's order, and L21's rows with them (its values
  // keep their places, so the copies from A in factorize are unchanged).
  const int* order = schur_factor_->position();
  position_.resize(q1_ + q2_);
  for (Index i = 0; i < q1_; ++i) position_[i] = static_cast<int>(i);
  for (Index i = 0; i < q2_; ++i) position_[q1_ + i] = static_cast<int>(q1_) + order[i];
  for (Index k = 0; k < L21_.nonZeros(); ++k) L21_.innerIndexPtr()[k] = order[L21_.innerIndexPtr()[k]];
}

void BlockedCholesky::split_sparse_update(std::vector<Index>& column_pairs) {
  for (Index c = 0; c < q2_; ++c) column_pairs[c + 1] += column_pairs[c];
  const Index pairs = column_pairs[q2_];
  schur_parts_ = pairs >= kMinParallelWork ? threads_ : 1;
  schur_split_.assign(static_cast<std::size_t>(n_blocks_) * (schur_parts_ - 1), 0);
  for (int t = 1; t < schur_parts_; ++t) {
    // The first column of part t: about t / parts of the products go to the columns before it.
    const Index boundary = std::lower_bound(column_pairs.begin(), column_pairs.end(), pairs * t / schur_parts_) -
                           column_pairs.begin();
    for (Index b = 0; b < n_blocks_; ++b) {  // L21's rows are still S's own numbers here
      const int* rows = L21_.innerIndexPtr() + L21_.outerIndexPtr()[b * p_];
      const Index length = L21_.outerIndexPtr()[b * p_ + 1] - L21_.outerIndexPtr()[b * p_];
      schur_split_[b * (schur_parts_ - 1) + t - 1] =
          static_cast<int>(std::lower_bound(rows, rows + length, static_cast<int>(boundary)) - rows);
    }
  }
}

bool BlockedCholesky::factorize_sparse_schur(const SpMat& A) {
  double* S = S_sparse_.valuePtr();
  std::fill(S, S + S_sparse_.nonZeros(), 0.0);
  for (std::size_t k = 0; k < a22_source_.size(); ++k) S[a22_target_[k]] = A.valuePtr()[a22_source_[k]];
  const auto update = p_ == 1 ? sparse_schur_update_level<1> : p_ == 2 ? sparse_schur_update_level<2>
                                                                       : sparse_schur_update_level<0>;
  // Each part owns a range of S's columns: a level's pairs whose column f falls in it (no two
  // threads write one value, so no copies of S to sum).
  const int parts = threads_ >= schur_parts_ ? schur_parts_ : 1;
  parallel_for(parts, [&](int t) {
    for (Index b = 0; b < n_blocks_; ++b) {
      const Index begin = L21_.outerIndexPtr()[b * p_], length = L21_.outerIndexPtr()[b * p_ + 1] - begin;
      const Index f0 = t == 0 ? 0 : schur_split_[b * (parts - 1) + t - 1];
      const Index f1 = t + 1 == parts ? length : schur_split_[b * (parts - 1) + t];
      update(L21_.valuePtr() + begin, length, p_, f0, f1, S, pair_target_.data() + pair_start_[b] + pairs_before(f0, length));
    }
  });
  return schur_factor_->factorize(S_sparse_);
}

bool BlockedCholesky::factor_levels(const SpMat& A, Index b0, Index b1) {
  for (Index b = b0; b < b1; ++b) {
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
    if (!small_cholesky(L, p_)) return false;
    double* values = L21_.valuePtr() + L21_.outerIndexPtr()[start];
    const Index length = L21_.outerIndexPtr()[start + 1] - L21_.outerIndexPtr()[start];
    // The block's p columns share one pattern, stored one after another: each stored row is a
    // 1×p vector v (stride = length) with v ← v L11⁻ᵀ, i.e. vᵀ ← L11⁻¹ vᵀ.
    solve_rows(L, p_, values, length);
  }
  return true;
}

bool BlockedCholesky::factor_scalar_levels(const SpMat& A, Index b0, Index b1) {
  const int* outer = A.outerIndexPtr();
  const double* a = A.valuePtr();
  for (Index b = b0; b < b1; ++b) {
    const double d = a[outer[b]];  // column b's first entry is its diagonal: A11 is diagonal
    if (!(d > 0.0)) return false;
    const double l = std::sqrt(d);
    L11_.data()[b] = l;
    double* target = L21_.valuePtr() + L21_.outerIndexPtr()[b];
    for (int k = a21_start_[b]; k < outer[b + 1]; ++k) *target++ = a[k] / l;
  }
  return true;
}

bool BlockedCholesky::factorize(const SpMat& A) {
  // L11 (one small dense Cholesky per level) and L21 = A21 L11⁻ᵀ (A21's pattern is kept), level
  // by level: the levels are independent, so they are split over threads when there are many.
  const int level_parts = first_term_parts();
  std::vector<char> positive(level_parts, 1);
  parallel_for(level_parts, [&](int t) {
    const Index b0 = n_blocks_ * t / level_parts, b1 = n_blocks_ * (t + 1) / level_parts;
    positive[t] = p_ == 1 ? factor_scalar_levels(A, b0, b1) : factor_levels(A, b0, b1);
  });
  if (std::find(positive.begin(), positive.end(), 0) != positive.end()) return false;
  if (sparse_schur_) return factorize_sparse_schur(A);
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
  const int parts = std::min(update_parts_, threads_);
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
  // Chunks of kSchurChunk columns whatever the thread count (so that S is the same on any
  // number of threads), dealt round robin: the rectangle above a chunk's diagonal block by a
  // matrix product, the diagonal block's upper triangle by a rank update.
  parallel_chunks((q2_ + kSchurChunk - 1) / kSchurChunk, parts, [&](Index c) {
    const Index c0 = c * kSchurChunk, width = std::min(kSchurChunk, q2_ - c0);
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
  sum *= 2.0;
  if (sparse_schur_) return sum + schur_factor_->log_det();
  for (Index i = 0; i < q2_; ++i) sum += 2.0 * std::log(S_(i, i));
  return sum;
}

int BlockedCholesky::first_term_parts() const {
  return q1_ + L21_.nonZeros() * p_ >= kMinParallelWork ? threads_ : 1;
}

void BlockedCholesky::forward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  // Each row's entries of the first term's levels (x ← L11⁻¹ x), split over threads by levels,
  // then B2 −= L21 B1 split by rows of L21.
  const Index m = Bt.rows();
  const int parts = first_term_parts();
  parallel_for(parts, [&](int t) {
    solve_levels(L11_.data(), p_, n_blocks_ * t / parts, n_blocks_ * (t + 1) / parts, Bt.data(), m, true);
  });
  if (q2_ == 0) return;
  const Gather rows{L21_row_start_.data(), L21_row_column_.data(), L21_row_value_.data(), L21_.valuePtr()};
  const auto subtract = fixed_width<SubtractGathered<true>>(m);
  parallel_for(parts, [&](int t) {
    subtract(rows, q2_ * t / parts, q2_ * (t + 1) / parts, Bt.data(), m, Bt.data() + q1_ * m);
  });
  auto B2 = Bt.rightCols(q2_);
  if (sparse_schur_) {
    schur_factor_->forward(B2);
  } else {
    S_.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(B2);  // B2 ← B2 L22⁻ᵀ, L22 = U22ᵀ
  }
}

void BlockedCholesky::backward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  const Index m = Bt.rows();
  if (q2_ > 0) {
    auto B2 = Bt.rightCols(q2_);
    if (sparse_schur_) {
      schur_factor_->backward(B2);
    } else {
      S_.triangularView<Eigen::Upper>().transpose().solveInPlace<Eigen::OnTheRight>(B2);  // B2 ← B2 L22⁻¹
    }
  }
  const int parts = first_term_parts();
  parallel_for(parts, [&](int t) {  // B1 −= L21' B2, then the first term's levels: B1 split by levels
    const Index b0 = n_blocks_ * t / parts, b1 = n_blocks_ * (t + 1) / parts;
    if (q2_ > 0) {
      const Gather columns{L21_.outerIndexPtr(), L21_.innerIndexPtr(), nullptr, L21_.valuePtr()};
      fixed_width<SubtractGathered<false>>(m)(columns, b0 * p_, b1 * p_, Bt.data() + q1_ * m, m, Bt.data());
    }
    solve_levels(L11_.data(), p_, b0, b1, Bt.data(), m, false);
  });
}

}  // namespace mixedfit
