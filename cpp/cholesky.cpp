#include "cholesky.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/SparseCholesky>

#include "errors.hpp"

namespace mixedfit {

namespace {

// Eigen's SimplicialLLT for its symbolic analysis alone (AMD, elimination tree, column counts:
// protected in Eigen), run on a permuted upper triangle under a given ordering where one is given.
class AnalysingLLT : public Eigen::SimplicialLLT<SpMat, Eigen::Lower> {
 public:
  const Eigen::VectorXi& strict_column_counts() const { return m_nonZerosPerCol; }
  const Eigen::VectorXi& elimination_tree() const { return m_parent; }
  void analyze_ordered(const SpMat& A, const Eigen::VectorXi& ordering) {
    m_P.indices() = ordering;  // as Eigen's own analysis leaves them, from AMD's inverse permutation
    m_Pinv = m_P.inverse();
    SpMat upper(A.rows(), A.cols());
    upper.selfadjointView<Eigen::Upper>() = A.selfadjointView<Eigen::Lower>().twistedBy(m_P);
    analyzePattern_preordered(upper, false);
  }
};

}  // namespace

double SimplicialCholesky::factor_nonzeros() const {
  return static_cast<double>(strict_counts_.size()) + strict_counts_.cast<double>().sum();
}

double SimplicialCholesky::flops() const {
  return (strict_counts_.cast<double>().array() + 1.0).square().sum();
}

void SimplicialCholesky::analyze(const SpMat& A) {
  AnalysingLLT llt;
  llt.analyzePattern(A);
  if (llt.info() != Eigen::Success) throw NumericalError("symbolic analysis of Λ'Z'WZΛ + I failed");
  keep_analysis(A, llt.permutationP().indices(), llt.elimination_tree(), llt.strict_column_counts());
}

void SimplicialCholesky::analyze(const SpMat& A, const Eigen::VectorXi& ordering) {
  require(ordering.size() == A.rows(), "the given ordering must have one entry per row of A");
  AnalysingLLT llt;
  llt.analyze_ordered(A, ordering);
  if (llt.info() != Eigen::Success) throw NumericalError("symbolic analysis of Λ'Z'WZΛ + I failed");
  keep_analysis(A, ordering, llt.elimination_tree(), llt.strict_column_counts());
}

void SimplicialCholesky::keep_analysis(const SpMat& A, const Eigen::VectorXi& ordering, const Eigen::VectorXi& parent,
                                       const Eigen::VectorXi& strict_counts) {
  if (ordering.size() != A.rows()) throw NumericalError("symbolic analysis of Λ'Z'WZΛ + I failed");
  ordering_ = ordering;
  parent_ = parent;
  strict_counts_ = strict_counts;
  L_outer_.resize(0);  // row patterns again at the next factorization
  // Permute a copy of A whose values are their own positions: each permuted value then names
  // its source (exactly, as doubles hold integers to 2⁵³).
  SpMat positions = A;
  for (Index k = 0; k < positions.nonZeros(); ++k) positions.valuePtr()[k] = static_cast<double>(k);
  const Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int> P(ordering_);
  permuted_.resize(A.rows(), A.cols());
  permuted_.selfadjointView<Eigen::Upper>() = positions.selfadjointView<Eigen::Lower>().twistedBy(P);
  value_source_ = Eigen::Map<const Eigen::VectorXd>(permuted_.valuePtr(), permuted_.nonZeros()).cast<int>();
}

void SimplicialCholesky::compute_row_patterns() {
  const Index n = permuted_.cols();
  L_outer_.resize(n + 1);
  L_outer_[0] = 0;
  for (Index j = 0; j < n; ++j) L_outer_[j + 1] = L_outer_[j] + 1 + strict_counts_[j];
  L_inner_.resize(L_outer_[n]);
  L_values_.resize(L_outer_[n]);
  row_start_.resize(n + 1);
  row_column_.resize(L_outer_[n] - n);
  row_slot_.resize(L_outer_[n] - n);
  std::vector<int> mark(n, -1), filled(n, 0);
  std::vector<int> pattern;
  const int* outer = permuted_.outerIndexPtr();
  const int* inner = permuted_.innerIndexPtr();
  Index entries = 0;
  for (Index k = 0; k < n; ++k) {
    // Row k's pattern: every path up the elimination tree from a row i < k of A's column k (the
    // upper triangle of P A P') to k itself.
    pattern.clear();
    mark[k] = static_cast<int>(k);
    for (int p = outer[k]; p < outer[k + 1]; ++p) {
      for (int j = inner[p]; j < k && mark[j] != k; j = parent_[j]) {
        mark[j] = static_cast<int>(k);
        pattern.push_back(j);
      }
    }
    std::sort(pattern.begin(), pattern.end());  // increasing: a valid order for the row's solve
    row_start_[k] = static_cast<int>(entries);
    for (int j : pattern) {
      const int slot = L_outer_[j] + 1 + filled[j]++;
      L_inner_[slot] = static_cast<int>(k);
      row_column_[entries] = j;
      row_slot_[entries++] = slot;
    }
    L_inner_[L_outer_[k]] = static_cast<int>(k);
  }
  row_start_[n] = static_cast<int>(entries);
  if (entries != L_outer_[n] - n) throw NumericalError("the symbolic factorization's row patterns disagree with its column counts");
  work_ = Eigen::VectorXd::Zero(n);
}

bool SimplicialCholesky::factorize(const SpMat& A) {
  double* values = permuted_.valuePtr();
  for (Index k = 0; k < value_source_.size(); ++k) values[k] = A.valuePtr()[value_source_[k]];
  if (L_outer_.size() == 0) compute_row_patterns();
  const int* outer = permuted_.outerIndexPtr();
  const int* inner = permuted_.innerIndexPtr();
  const int* L_outer = L_outer_.data();
  const int* L_inner = L_inner_.data();
  double* L = L_values_.data();
  double* y = work_.data();
  for (Index k = 0; k < permuted_.cols(); ++k) {
    // Up-looking: row k of L solves L(0:k, 0:k) l = A(0:k, k); its diagonal is what remains.
    double d = 0.0;
    for (int p = outer[k]; p < outer[k + 1]; ++p) {
      if (inner[p] == k) {
        d += values[p];
      } else {
        y[inner[p]] += values[p];
      }
    }
    for (int e = row_start_[k]; e < row_start_[k + 1]; ++e) {
      const int j = row_column_[e], slot = row_slot_[e];
      const double l = y[j] / L[L_outer[j]];
      y[j] = 0.0;
      for (int p = L_outer[j] + 1; p < slot; ++p) y[L_inner[p]] -= L[p] * l;  // rows j < i < k of column j
      L[slot] = l;
      d -= l * l;
    }
    if (!(d > 0.0)) return false;  // y is zero again: the row's solve cleared each entry it read
    L[L_outer[k]] = std::sqrt(d);
  }
  return true;
}

double SimplicialCholesky::log_det() const {
  // Sum of logs of the diagonal (each column's first value), never determinant(): that
  // under/overflows for large q.
  double sum = 0.0;
  for (Index j = 0; j + 1 < L_outer_.size(); ++j) sum += std::log(L_values_[L_outer_[j]]);
  return 2.0 * sum;
}

void SimplicialCholesky::forward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  const int* outer = L_outer_.data();  // columns hold the diagonal first
  const int* inner = L_inner_.data();
  const double* value = L_values_.data();
  const Index m = Bt.rows();
  for (Index j = 0; j < Bt.cols(); ++j) {
    double* bj = Bt.col(j).data();
    const double d = value[outer[j]];
    for (Index c = 0; c < m; ++c) bj[c] /= d;
    for (int k = outer[j] + 1; k < outer[j + 1]; ++k) {
      double* bi = Bt.col(inner[k]).data();
      const double v = value[k];
      for (Index c = 0; c < m; ++c) bi[c] -= v * bj[c];
    }
  }
}

void SimplicialCholesky::backward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  const int* outer = L_outer_.data();
  const int* inner = L_inner_.data();
  const double* value = L_values_.data();
  const Index m = Bt.rows();
  for (Index j = Bt.cols() - 1; j >= 0; --j) {
    double* bj = Bt.col(j).data();
    for (int k = outer[j] + 1; k < outer[j + 1]; ++k) {
      const double* bi = Bt.col(inner[k]).data();
      const double v = value[k];
      for (Index c = 0; c < m; ++c) bj[c] -= v * bi[c];
    }
    const double d = value[outer[j]];
    for (Index c = 0; c < m; ++c) bj[c] /= d;
  }
}

}  // namespace mixedfit
