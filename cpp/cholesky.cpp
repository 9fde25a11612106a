#include "cholesky.hpp"

#include <cmath>

#include "errors.hpp"

namespace mixedfit {

SimplicialCholesky::SimplicialCholesky() : llt_(std::make_unique<CountingLLT>()) {}

double SimplicialCholesky::factor_nonzeros() const {
  const auto& counts = llt_->strict_column_counts();
  return static_cast<double>(counts.size()) + counts.cast<double>().sum();
}

double SimplicialCholesky::flops() const {
  const Eigen::ArrayXd with_diagonal = llt_->strict_column_counts().cast<double>().array() + 1.0;
  return with_diagonal.square().sum();
}

void SimplicialCholesky::analyze(const SpMat& A) {
  llt_->analyzePattern(A);
  map_permuted_values(A);
}

void SimplicialCholesky::CountingLLT::analyze_ordered(const SpMat& A, const Eigen::VectorXi& ordering) {
  m_P.indices() = ordering;  // as Eigen's own analysis leaves them, from AMD's inverse permutation
  SpMat upper(A.rows(), A.cols());
  upper.selfadjointView<Eigen::Upper>() = A.selfadjointView<Eigen::Lower>().twistedBy(m_P);
  analyze_permuted(upper, ordering);
}

void SimplicialCholesky::CountingLLT::analyze_permuted(const SpMat& upper, const Eigen::VectorXi& ordering) {
  m_P.indices() = ordering;
  m_Pinv = m_P.inverse();
  analyzePattern_preordered(upper, false);
}

std::unique_ptr<SparseCholesky> SimplicialCholesky::clone_analysis() const {
  auto copy = std::make_unique<SimplicialCholesky>();
  copy->permuted_ = permuted_;
  copy->value_source_ = value_source_;
  copy->llt_->analyze_permuted(permuted_, ordering());
  return copy;
}

void SimplicialCholesky::analyze(const SpMat& A, const Eigen::VectorXi& ordering) {
  require(ordering.size() == A.rows(), "the given ordering must have one entry per row of A");
  llt_->analyze_ordered(A, ordering);
  map_permuted_values(A);
}

void SimplicialCholesky::map_permuted_values(const SpMat& A) {
  if (llt_->info() != Eigen::Success || llt_->permutationP().size() != A.rows()) {
    throw NumericalError("symbolic analysis of Λ'Z'WZΛ + I failed");
  }
  // Permute a copy of A whose values are their own positions: each permuted value then names
  // its source (exactly, as doubles hold integers to 2⁵³).
  SpMat positions = A;
  for (Index k = 0; k < positions.nonZeros(); ++k) positions.valuePtr()[k] = static_cast<double>(k);
  permuted_.resize(A.rows(), A.cols());
  permuted_.selfadjointView<Eigen::Upper>() = positions.selfadjointView<Eigen::Lower>().twistedBy(llt_->permutationP());
  value_source_ = Eigen::Map<const Eigen::VectorXd>(permuted_.valuePtr(), permuted_.nonZeros()).cast<int>();
}

bool SimplicialCholesky::factorize(const SpMat& A) {
  double* values = permuted_.valuePtr();
  for (Index k = 0; k < value_source_.size(); ++k) values[k] = A.valuePtr()[value_source_[k]];
  llt_->factorize_permuted(permuted_);
  return llt_->info() == Eigen::Success;
}

double SimplicialCholesky::log_det() const {
  // Sum of logs of the diagonal, never determinant(): that under/overflows for large q.
  const auto& L = llt_->matrixL().nestedExpression();
  double sum = 0.0;
  for (Index j = 0; j < L.outerSize(); ++j) {
    // Simplicial factors store the diagonal first in each column.
    sum += std::log(L.valuePtr()[L.outerIndexPtr()[j]]);
  }
  return 2.0 * sum;
}

void SimplicialCholesky::forward(Eigen::Ref<Eigen::MatrixXd> Bt) const {
  const auto& L = llt_->matrixL().nestedExpression();  // columns hold the diagonal first
  const int* outer = L.outerIndexPtr();
  const int* inner = L.innerIndexPtr();
  const double* value = L.valuePtr();
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
  const auto& L = llt_->matrixL().nestedExpression();
  const int* outer = L.outerIndexPtr();
  const int* inner = L.innerIndexPtr();
  const double* value = L.valuePtr();
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
