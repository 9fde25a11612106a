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
  if (llt_->info() != Eigen::Success) throw NumericalError("symbolic analysis of Λ'Z'WZΛ + I failed");
}

bool SimplicialCholesky::factorize(const SpMat& A) {
  llt_->factorize(A);
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

void SimplicialCholesky::solve_L(Eigen::MatrixXd& B) const {
  B = llt_->permutationP() * B;
  llt_->matrixL().solveInPlace(B);
}

void SimplicialCholesky::solve_Lt(Eigen::MatrixXd& B) const {
  llt_->matrixU().solveInPlace(B);
  B = llt_->permutationPinv() * B;
}

}  // namespace mixedfit
