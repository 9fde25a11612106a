#include "selected_inverse.hpp"

#include <algorithm>

#include "errors.hpp"

namespace mixedfit {

void SelectedInverse::analyse(const SpMat& A) {
  factor_.analyze(A);
  analysed_nonzeros_ = A.nonZeros();
}

bool SelectedInverse::compute(const SpMat& A, bool subset) {
  const bool anew = A.nonZeros() != analysed_nonzeros_;
  if (anew) analyse(A);
  if (!factor_.factorize(A)) throw NumericalError("Λ'Z'WZΛ + I is not positive definite here");
  if (!subset) return anew;
  const Eigen::VectorXi &outer = factor_.L_outer(), &inner = factor_.L_inner();
  const Eigen::VectorXd& L = factor_.L_values();
  const Index q = outer.size() - 1;
  sigma_.setZero(L.size());
  // Σ = A⁻¹ (factor order) from the last column back: with l the strictly lower part of column j
  // divided by its diagonal d, Σ(rows, j) = −Σ(rows, rows) l and Σ(j, j) = 1/d² − l'Σ(rows, j),
  // where rows is column j's pattern, whose Σ entries are all in later columns, already computed.
  // The block Σ(rows, rows) is gathered entry by entry only where it cannot come from the last
  // column's: consecutive columns with the same rows (a grouping factor's levels before the
  // crossed factor's: VerbAgg's subjects) share it, and where column j's rows are j + 1 and then
  // column j + 1's (a dense trailing part), it is the last block bordered by column j + 1 of Σ.
  Eigen::MatrixXd block, bordered;
  Eigen::VectorXi rows, previous_rows;
  for (Index j = q - 1; j >= 0; --j) {
    const Index begin = outer[j], m = outer[j + 1] - begin - 1;
    const double d = L[begin];
    rows = inner.segment(begin + 1, m);
    const bool same = rows.size() == previous_rows.size() && rows == previous_rows;
    const bool chained = m == previous_rows.size() + 1 && m > 0 && rows[0] == j + 1 &&
                         rows.tail(m - 1) == previous_rows;
    if (chained) {
      const Index next = outer[j + 1];  // column j + 1: Σ(j + 1, j + 1), then Σ(previous rows, j + 1)
      bordered.resize(m, m);
      bordered(0, 0) = sigma_[next];
      bordered.col(0).tail(m - 1) = sigma_.segment(next + 1, m - 1);
      bordered.row(0).tail(m - 1) = sigma_.segment(next + 1, m - 1).transpose();
      bordered.bottomRightCorner(m - 1, m - 1) = block;
      block.swap(bordered);
      previous_rows = rows;
    } else if (!same) {
      block.resize(m, m);
      for (Index b = 0; b < m; ++b) {
        for (Index a = b; a < m; ++a) block(a, b) = block(b, a) = sigma_[factor_slot(rows[a], rows[b])];
      }
      previous_rows = rows;
    }
    const Eigen::VectorXd l = L.segment(begin + 1, m) / d;
    const Eigen::VectorXd column = -block * l;
    sigma_.segment(begin + 1, m) = column;
    sigma_[begin] = 1.0 / (d * d) - l.dot(column);
  }
  return anew;
}

Index SelectedInverse::factor_slot(Index row, Index column) const {
  const Eigen::VectorXi &outer = factor_.L_outer(), &inner = factor_.L_inner();
  if (row == column) return outer[column];
  const int* first = inner.data() + outer[column] + 1;
  const int* last = inner.data() + outer[column + 1];
  const int* found = std::lower_bound(first, last, static_cast<int>(row));
  require(found != last && *found == row, "the selected inverse has no entry for this pair");
  return found - inner.data();
}

Index SelectedInverse::slot(Index a, Index b) const {
  const int* position = factor_.position();
  const Index pa = position[a], pb = position[b];
  return factor_slot(std::max(pa, pb), std::min(pa, pb));
}

Eigen::VectorXd SelectedInverse::solve(const Eigen::VectorXd& b) const {
  const int* position = factor_.position();
  Eigen::MatrixXd bt(1, b.size());
  for (Index i = 0; i < b.size(); ++i) bt(0, position[i]) = b[i];
  factor_.forward(bt);
  factor_.backward(bt);
  Eigen::VectorXd x(b.size());
  for (Index i = 0; i < b.size(); ++i) x[i] = bt(0, position[i]);
  return x;
}

}  // namespace mixedfit
