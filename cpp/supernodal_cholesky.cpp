#include "supernodal_cholesky.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/OrderingMethods>

#include "dense_cholesky.hpp"
#include "parallel.hpp"

namespace mixedfit {

namespace {

// Relaxed amalgamation (CHOLMOD's defaults): a supernode merges into its parent when the merged
// one has at most kRelaxed[0] columns, or at most kRelaxed[i] columns and a fraction of explicit
// zeros below kZeros[i - 1]; any size merges below kZeros[2]. Small blocks cost more in the
// bookkeeping around each dense kernel than the zeros they add.
constexpr Index kRelaxed[3] = {4, 16, 48};
constexpr double kZeros[3] = {0.8, 0.1, 0.05};
// Updates with at most this many multiply-adds are computed and scattered in one loop; larger
// ones go through Eigen's matrix product, whose packing into blocks pays only on larger ones.
constexpr Index kSmallUpdate = 64;
// Larger updates are computed in panels of this many columns (only the lower trapezoid), split
// over the worker pool from this many multiply-adds on (2·10⁶ while each part started a thread;
// with the pool, InstEval's evaluation 5.7-6.0 -> 4.9-5.2 ms at 2·10⁵).
constexpr Index kUpdatePanel = 64;
constexpr double kMinParallelUpdate = 2e5;
// Diagonal blocks from this many columns are factored by the threaded dense Cholesky.
constexpr Index kMinThreadedDiagonal = 256;
constexpr Index kSolveRows = 256;  // rows of L21 per chunk of its triangular solve
// Supernodes up to this many columns are factored and solved with column by column loops.
constexpr Index kSmallWidth = 4;

// Column j's rows i < j (the upper triangle) of the symmetric matrix whose lower triangle is
// A's (A's strict upper triangle, if stored, is not read), after the permutation `position` (old index → new), as adjacency lists in CSC form.
void upper_pattern(const SpMat& A, const std::vector<int>& position, std::vector<int>& start, std::vector<int>& rows) {
  const Index n = A.cols();
  start.assign(n + 1, 0);
  for (Index c = 0; c < n; ++c) {
    for (SpMat::InnerIterator it(A, c); it; ++it) {
      const int i = position[it.row()], j = position[c];
      if (it.row() > c) ++start[std::max(i, j) + 1];
    }
  }
  for (Index j = 0; j < n; ++j) start[j + 1] += start[j];
  rows.resize(start[n]);
  std::vector<int> fill(start.begin(), start.end() - 1);
  for (Index c = 0; c < n; ++c) {
    for (SpMat::InnerIterator it(A, c); it; ++it) {
      const int i = position[it.row()], j = position[c];
      if (it.row() > c) rows[fill[std::max(i, j)]++] = std::min(i, j);
    }
  }
}

// The elimination tree (Liu's algorithm with path compression): parent[j], −1 at roots.
std::vector<int> elimination_tree(const std::vector<int>& start, const std::vector<int>& rows) {
  const Index n = static_cast<Index>(start.size()) - 1;
  std::vector<int> parent(n, -1), ancestor(n, -1);
  for (Index k = 0; k < n; ++k) {
    for (int p = start[k]; p < start[k + 1]; ++p) {
      for (int r = rows[p]; r != -1 && r < k;) {
        const int next = ancestor[r];
        ancestor[r] = static_cast<int>(k);
        if (next == -1) parent[r] = static_cast<int>(k);
        r = next;
      }
    }
  }
  return parent;
}

// A postorder of the forest (children in ascending order): post[j] is node j's new index.
std::vector<int> postorder(const std::vector<int>& parent) {
  const Index n = static_cast<Index>(parent.size());
  std::vector<int> head(n, -1), next(n, -1), post(n), stack(n);  // the stack holds a path: ≤ n
  for (Index j = n - 1; j >= 0; --j) {  // children linked in ascending order
    if (parent[j] != -1) {
      next[j] = head[parent[j]];
      head[parent[j]] = static_cast<int>(j);
    }
  }
  int k = 0;
  for (Index root = 0; root < n; ++root) {
    if (parent[root] != -1) continue;
    Index top = 0;
    stack[0] = static_cast<int>(root);
    while (top >= 0) {
      const int j = stack[top];
      if (head[j] != -1) {  // descend to the next unvisited child
        const int child = head[j];
        head[j] = next[child];
        stack[++top] = child;
      } else {
        post[j] = k++;
        --top;
      }
    }
  }
  return post;
}

}  // namespace

void SupernodalCholesky::analyze(const SpMat& A) {
  // AMD on the full symmetric pattern, as Eigen's simplicial factorizations order it.
  const SpMat full = A.selfadjointView<Eigen::Lower>();
  Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int> inverse;
  Eigen::AMDOrdering<int>()(full, inverse);
  const Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int> amd = inverse.inverse();
  analyze(A, amd.indices());
}

void SupernodalCholesky::analyze(const SpMat& A, const Eigen::VectorXi& ordering) {
  const Index n = A.cols();
  position_.assign(ordering.data(), ordering.data() + n);
  // Postorder the elimination tree (neither fill nor flops change): each subtree, hence each
  // supernode, then has contiguous columns.
  // The tree itself is only relabelled: the postordered one is derived, not recomputed.
  std::vector<int> start, rows;
  upper_pattern(A, position_, start, rows);
  std::vector<int> parent(n);
  {
    const std::vector<int> tree = elimination_tree(start, rows);
    const std::vector<int> post = postorder(tree);
    for (Index j = 0; j < n; ++j) parent[post[j]] = tree[j] == -1 ? -1 : post[tree[j]];
    for (int& p : position_) p = post[p];
  }
  upper_pattern(A, position_, start, rows);

  // Column counts (strictly below the diagonal): row k of L holds the columns met walking up
  // the tree from each i < k with A(i, k) ≠ 0 until k.
  std::vector<int> count(n, 0), mark(n, -1);
  for (Index k = 0; k < n; ++k) {
    mark[k] = static_cast<int>(k);
    for (int p = start[k]; p < start[k + 1]; ++p) {
      for (int r = rows[p]; mark[r] != k; r = parent[r]) {
        ++count[r];
        mark[r] = static_cast<int>(k);
      }
    }
  }
  nonzeros_ = flops_ = 0.0;
  for (int c : count) {
    nonzeros_ += c + 1.0;
    flops_ += (c + 1.0) * (c + 1.0);
  }

  // Fundamental supernodes: column j joins j − 1's when it is j − 1's parent and L's column j − 1
  // is column j with one row more.
  std::vector<int> fundamental;
  for (Index j = 0; j < n; ++j) {
    if (j == 0 || parent[j - 1] != j || count[j - 1] != count[j] + 1) fundamental.push_back(static_cast<int>(j));
  }
  const Index nf = static_cast<Index>(fundamental.size());
  fundamental.push_back(static_cast<int>(n));
  // Relaxed amalgamation, from the last supernode down: f merges with the (possibly already
  // merged) supernode that starts right after it when that one holds its parent column. The
  // merged pattern is f's columns followed by the other's rows (a column's pattern below its
  // parent is within its parent's), so only sizes are needed here.
  std::vector<char> merges(nf, 0);
  std::vector<double> actual(nf), top_height(nf), end(nf);  // of the merged supernode starting at f
  for (Index f = nf - 1; f >= 0; --f) {
    const int c0 = fundamental[f], c1 = fundamental[f + 1];
    actual[f] = 0.0;
    for (int c = c0; c < c1; ++c) actual[f] += count[c] + 1.0;
    top_height[f] = count[c0] + 1.0;
    end[f] = c1;
    if (f + 1 == nf || parent[c1 - 1] == -1 || parent[c1 - 1] >= end[f + 1]) continue;
    const double columns = end[f + 1] - c0, merged_height = (c1 - c0) + top_height[f + 1];
    const double stored = columns * merged_height - columns * (columns - 1) / 2;
    const double zeros = (stored - actual[f] - actual[f + 1]) / stored;
    if (columns <= kRelaxed[0] || (columns <= kRelaxed[1] && zeros < kZeros[0]) ||
        (columns <= kRelaxed[2] && zeros < kZeros[1]) || zeros < kZeros[2]) {
      merges[f] = 1;
      actual[f] += actual[f + 1];
      top_height[f] = merged_height;
      end[f] = end[f + 1];
    }
  }
  first_.clear();
  for (Index f = 0; f < nf; ++f) {
    if (f == 0 || !merges[f - 1]) first_.push_back(fundamental[f]);
  }
  first_.push_back(static_cast<int>(n));
  const Index ns = supernodes();
  supernode_of_.resize(n);
  for (Index s = 0; s < ns; ++s) std::fill(supernode_of_.begin() + first_[s], supernode_of_.begin() + first_[s + 1], s);

  // Rows below each supernode: its columns' rows in A's lower triangle and its children's rows,
  // past its last column (children come first in the postorder).
  std::vector<int> lower_start(n + 1, 0), lower_rows(rows.size());  // A's lower triangle by column
  for (int r : rows) ++lower_start[r + 1];
  for (Index j = 0; j < n; ++j) lower_start[j + 1] += lower_start[j];
  {
    std::vector<int> fill(lower_start.begin(), lower_start.end() - 1);
    for (Index k = 0; k < n; ++k) {
      for (int p = start[k]; p < start[k + 1]; ++p) lower_rows[fill[rows[p]]++] = static_cast<int>(k);
    }
  }
  std::vector<std::vector<int>> children(ns);
  for (Index s = 0; s < ns; ++s) {
    const int up = parent[first_[s + 1] - 1];
    if (up != -1) children[supernode_of_[up]].push_back(static_cast<int>(s));
  }
  below_start_.assign(1, 0);
  below_.clear();
  std::fill(mark.begin(), mark.end(), -1);
  for (Index s = 0; s < ns; ++s) {
    const int last = first_[s + 1] - 1;
    const Index begin = static_cast<Index>(below_.size());
    const auto add = [&](int r) {
      if (r > last && mark[r] != s) {
        mark[r] = static_cast<int>(s);
        below_.push_back(r);
      }
    };
    for (int c = first_[s]; c <= last; ++c) {
      for (int p = lower_start[c]; p < lower_start[c + 1]; ++p) add(lower_rows[p]);
    }
    for (int child : children[s]) {
      for (int p = below_start_[child]; p < below_start_[child + 1]; ++p) add(below_[p]);
    }
    std::sort(below_.begin() + begin, below_.end());
    below_start_.push_back(static_cast<int>(below_.size()));
  }

  value_start_.assign(ns + 1, 0);
  for (Index s = 0; s < ns; ++s) value_start_[s + 1] = value_start_[s] + height(s) * width(s);
  values_.assign(value_start_[ns], 0.0);
  // Where each of A's values in its lower triangle goes: column lo of P A P', local row by its
  // place in the supernode. (A's strict upper triangle, if stored, is not read.)
  value_source_.clear();
  value_target_.clear();
  for (Index c = 0; c < n; ++c) {
    for (SpMat::InnerIterator it(A, c); it; ++it) {
      if (it.row() < c) continue;
      const int i = position_[it.row()], j = position_[c];
      const int lo = std::min(i, j), hi = std::max(i, j);
      const Index s = supernode_of_[lo];
      Index local = hi - first_[s];
      if (hi >= first_[s + 1]) {
        const int* b = below_.data() + below_start_[s];
        local = width(s) + (std::lower_bound(b, b + below_count(s), hi) - b);
      }
      value_source_.push_back(static_cast<Index>(&it.value() - A.valuePtr()));
      value_target_.push_back(value_start_[s] + (lo - first_[s]) * height(s) + local);
    }
  }
  head_.assign(ns, -1);
  next_.assign(ns, -1);
  from_.assign(ns, 0);
  local_.assign(n, 0);
}

void SupernodalCholesky::apply_update(Index d, Index s, Index inside_end) {
  const int* rows = below_.data() + below_start_[d];
  const Index begin = from_[d], m = below_count(d) - begin, k = inside_end - begin, w = width(d);
  const ConstBlock Ld = static_cast<const SupernodalCholesky*>(this)->block(d);
  Block Ls = block(s);
  const Index f = first_[s];
  const double* L = Ld.data() + w + begin;  // row `begin` of d's rows below, column 0
  const Index stride = Ld.rows();
  if (m * k * w <= kSmallUpdate) {
    for (Index jj = 0; jj < k; ++jj) {
      double* target = Ls.col(rows[begin + jj] - f).data();
      for (Index ii = jj; ii < m; ++ii) {
        double sum = 0.0;
        for (Index c = 0; c < w; ++c) sum += L[ii + c * stride] * L[jj + c * stride];
        target[local_[rows[begin + ii]]] -= sum;
      }
    }
    return;
  }
  // The lower trapezoid of the product, by panels of columns (each panel's rows from its first
  // column down), the panels dealt round-robin to the threads when there is enough work; each
  // panel scatters into its own columns of s.
  const Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>> rows_below(L, m, w, Eigen::OuterStride<>(stride));
  const Index panels = (k + kUpdatePanel - 1) / kUpdatePanel;
  const int parts = static_cast<double>(m) * k * w >= kMinParallelUpdate ? std::min<Index>(threads_, panels) : 1;
  parallel_for(parts, [&](int t) {
    Eigen::MatrixXd product;
    for (Index panel = t; panel < panels; panel += parts) {
      const Index c0 = panel * kUpdatePanel, width = std::min(kUpdatePanel, k - c0);
      product.noalias() = rows_below.bottomRows(m - c0) * rows_below.middleRows(c0, width).transpose();
      for (Index jj = 0; jj < width; ++jj) {
        double* target = Ls.col(rows[begin + c0 + jj] - f).data();
        const double* column = product.col(jj).data();
        for (Index ii = jj; ii < m - c0; ++ii) target[local_[rows[begin + c0 + ii]]] -= column[ii];
      }
    }
  });
}

bool SupernodalCholesky::factorize(const SpMat& A) {
  std::fill(values_.begin(), values_.end(), 0.0);
  const double* a = A.valuePtr();
  for (size_t k = 0; k < value_target_.size(); ++k) values_[value_target_[k]] = a[value_source_[k]];
  std::fill(head_.begin(), head_.end(), -1);
  const Index ns = supernodes();
  for (Index s = 0; s < ns; ++s) {
    const Index f = first_[s], w = width(s), nb = below_count(s);
    const int* rows = below_.data() + below_start_[s];
    for (Index i = 0; i < w; ++i) local_[f + i] = static_cast<int>(i);
    for (Index i = 0; i < nb; ++i) local_[rows[i]] = static_cast<int>(w + i);
    for (int d = head_[s]; d != -1;) {
      const int after = next_[d];
      const int* drows = below_.data() + below_start_[d];
      const Index dcount = below_count(d);
      Index inside_end = from_[d];
      while (inside_end < dcount && drows[inside_end] < f + w) ++inside_end;
      apply_update(d, s, inside_end);
      from_[d] = static_cast<int>(inside_end);
      if (inside_end < dcount) {  // d's next update goes to the supernode of its next row
        const int t = supernode_of_[drows[inside_end]];
        next_[d] = head_[t];
        head_[t] = d;
      }
      d = after;
    }
    Block Ls = block(s);
    if (w <= kSmallWidth) {
      // Left-looking over the block's columns: the diagonal block's factor and the rows below in
      // one pass of axpys down whole columns (Eigen's LLT and triangular solve cost more in set-up
      // than in work at these widths).
      const Index h = w + nb;
      for (Index j = 0; j < w; ++j) {
        double* column = Ls.col(j).data();
        for (Index c = 0; c < j; ++c) {
          const double* earlier = Ls.col(c).data();
          const double v = earlier[j];
          for (Index r = j; r < h; ++r) column[r] -= v * earlier[r];
        }
        if (!(column[j] > 0.0)) return false;
        const double root = std::sqrt(column[j]);
        column[j] = root;
        for (Index r = j + 1; r < h; ++r) column[r] /= root;
      }
    } else if (!factor_block(Ls, w, nb)) {
      return false;
    }
    if (nb > 0) {
      from_[s] = 0;
      const int t = supernode_of_[rows[0]];
      next_[s] = head_[t];
      head_[t] = static_cast<int>(s);
    }
  }
  return true;
}

bool SupernodalCholesky::factor_block(Block& Ls, Index w, Index nb) const {
  Eigen::Ref<Eigen::MatrixXd> diagonal = Ls.topRows(w);
  // A wide diagonal block takes the threaded dense Cholesky on any thread count (its result
  // does not depend on the count; Eigen's LLT rounds differently). It works on an upper
  // triangle: the block's transpose.
  if (w >= kMinThreadedDiagonal) {
    Eigen::MatrixXd upper = diagonal.transpose();
    if (!upper_cholesky_in_place(upper, threads_)) return false;
    diagonal.triangularView<Eigen::Lower>() = upper.transpose();
  } else {
    Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>, Eigen::Lower> in_place(diagonal);
    if (in_place.info() != Eigen::Success) return false;
  }
  if (nb == 0) return true;
  // L21 = A21 L11⁻ᵀ, in chunks of rows whatever the thread count (dealt to the threads when large).
  const int parts = static_cast<double>(nb) * w * w >= kMinParallelUpdate ? threads_ : 1;
  parallel_chunks((nb + kSolveRows - 1) / kSolveRows, parts, [&](Index c) {
    auto under = Ls.middleRows(w + c * kSolveRows, std::min(kSolveRows, nb - c * kSolveRows));
    diagonal.triangularView<Eigen::Lower>().transpose().solveInPlace<Eigen::OnTheRight>(under);
  });
  return true;
}

double SupernodalCholesky::log_det() const {
  double sum = 0.0;  // of logs, never the determinant itself (it under/overflows for large q)
  for (Index s = 0; s < supernodes(); ++s) {
    const ConstBlock Ls = block(s);
    for (Index i = 0; i < width(s); ++i) sum += std::log(Ls(i, i));
  }
  return 2.0 * sum;
}

// With B's rows as columns of Bt, supernode s's rows are Bt's columns f … f + w − 1 (X) and its
// rows below; forward: X ← X L11⁻ᵀ, then each row below −= X times its row of L21.
void SupernodalCholesky::forward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  const Index m = Bt.rows();
  Eigen::MatrixXd product;
  for (Index s = 0; s < supernodes(); ++s) {
    const Index f = first_[s], w = width(s), nb = below_count(s);
    const int* rows = below_.data() + below_start_[s];
    const ConstBlock Ls = block(s);
    if (w <= kSmallWidth) {  // column by column, as a simplicial factor
      for (Index c = 0; c < w; ++c) {
        double* x = Bt.col(f + c).data();
        const double* column = Ls.col(c).data();
        for (Index r = 0; r < m; ++r) x[r] /= column[c];
        for (Index i = c + 1; i < w + nb; ++i) {
          double* target = Bt.col(i < w ? f + i : rows[i - w]).data();
          const double v = column[i];
          for (Index r = 0; r < m; ++r) target[r] -= v * x[r];
        }
      }
      continue;
    }
    auto X = Bt.middleCols(f, w);
    Ls.topRows(w).triangularView<Eigen::Lower>().transpose().solveInPlace<Eigen::OnTheRight>(X);
    if (nb > 0) {
      product.noalias() = X * Ls.bottomRows(nb).transpose();
      for (Index i = 0; i < nb; ++i) Bt.col(rows[i]) -= product.col(i);
    }
  }
}

// Backward: X −= (rows below) times L21, then X ← X L11⁻¹.
void SupernodalCholesky::backward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  const Index m = Bt.rows();
  Eigen::MatrixXd gathered;
  for (Index s = supernodes() - 1; s >= 0; --s) {
    const Index f = first_[s], w = width(s), nb = below_count(s);
    const int* rows = below_.data() + below_start_[s];
    const ConstBlock Ls = block(s);
    if (w <= kSmallWidth) {
      for (Index c = w - 1; c >= 0; --c) {
        double* x = Bt.col(f + c).data();
        const double* column = Ls.col(c).data();
        for (Index i = c + 1; i < w + nb; ++i) {
          const double* source = Bt.col(i < w ? f + i : rows[i - w]).data();
          const double v = column[i];
          for (Index r = 0; r < m; ++r) x[r] -= v * source[r];
        }
        for (Index r = 0; r < m; ++r) x[r] /= column[c];
      }
      continue;
    }
    auto X = Bt.middleCols(f, w);
    if (nb > 0) {
      gathered.resize(m, nb);
      for (Index i = 0; i < nb; ++i) gathered.col(i) = Bt.col(rows[i]);
      X.noalias() -= gathered * Ls.bottomRows(nb);
    }
    Ls.topRows(w).triangularView<Eigen::Lower>().solveInPlace<Eigen::OnTheRight>(X);
  }
}

AnalysedFactor analysed_sparse_factor(const SpMat& S, int threads) {
  auto simplicial = std::make_unique<SimplicialCholesky>();
  simplicial->analyze(S);
  AnalysedFactor result;
  result.nonzeros = simplicial->factor_nonzeros();
  result.flops = simplicial->flops();
  result.supernodal = result.flops >= kSupernodalFlopsPerNonzero * result.nonzeros;
  if (result.supernodal) {
    auto supernodal = std::make_unique<SupernodalCholesky>();
    supernodal->analyze(S, simplicial->ordering());
    supernodal->set_threads(threads);
    result.factor = std::move(supernodal);
  } else {
    result.factor = std::move(simplicial);
  }
  return result;
}

}  // namespace mixedfit
