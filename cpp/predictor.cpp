#include "predictor.hpp"

#include <cmath>
#include <sstream>

#include "blocked_cholesky.hpp"
#include "errors.hpp"

namespace mixedfit {

namespace {

// Past this many columns outside the first term, the dense Schur complement costs more
// (q2³/3 flops and 8 q2² bytes per θ) than a general sparse factorization.
constexpr Index kMaxDenseBlock = 3000;

std::string theta_string(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  std::ostringstream os;
  os << "θ = [";
  for (Index i = 0; i < theta.size(); ++i) os << (i ? ", " : "") << theta[i];
  os << "]";
  return os.str();
}

}  // namespace

Predictor::Predictor(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind, Index first_p, Index first_levels)
    : X_(X),
      Zt_(Zt),
      Lambdat_(Lambdat),
      Lind_(Lind),
      first_p_(first_p),
      first_levels_(first_levels),
      max_dense_block_(kMaxDenseBlock) {
  require(Zt_.cols() == X_.rows(), "Zt must have one column per row of X");
  require(Lambdat_.rows() == Zt_.rows() && Lambdat_.cols() == Zt_.rows(),
          "Lambdat must be q×q with q = rows of Zt");
  require(Lind_.size() == Lambdat_.nonZeros(), "Lind must have one entry per stored value of Lambdat");
  require(Lind_.size() == 0 || Lind_.minCoeff() >= 0, "Lind entries must be non-negative");
  require(first_p >= 1 && first_levels >= 1 && first_p * first_levels <= Zt_.rows(),
          "the first term's size must fit in Zt");
  n_theta_ = Lind_.size() ? Lind_.maxCoeff() + 1 : 0;
  beta_ = Eigen::VectorXd::Zero(p());
  u_ = Eigen::VectorXd::Zero(q());
}

void Predictor::set_weights(const Eigen::VectorXd& w) {
  require(w.size() == n(), "weights must have one entry per observation");
  w_ = w;
  SpMat ZtW = Zt_ * w_.asDiagonal();
  ZtWZ_ = ZtW * SpMat(Zt_.transpose());
  ZtWX_ = ZtW * X_;
  XtWX_ = X_.transpose() * w_.asDiagonal() * X_;
}

void Predictor::set_theta(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  require(theta.size() == n_theta_, "theta has the wrong length");
  theta_ = theta;
  double* lambda = Lambdat_.valuePtr();
  for (Index k = 0; k < Lind_.size(); ++k) lambda[k] = theta[Lind_[k]];
}

void Predictor::update_L() {
  // Products of sparse matrices keep every structural entry, so A's pattern does not
  // depend on θ (zeros in θ give explicit zeros) and the symbolic analysis stays valid.
  A_ = Lambdat_ * ZtWZ_ * SpMat(Lambdat_.transpose());
  for (Index j = 0; j < A_.cols(); ++j) A_.coeffRef(j, j) += 1.0;
  if (A_nnz_ < 0) {
    if (BlockedCholesky::suits(A_, first_p_, first_levels_, max_dense_block_)) {
      chol_ = std::make_unique<BlockedCholesky>(first_p_, first_levels_);
      factorization_ = "blocked";
    } else {
      chol_ = std::make_unique<SimplicialCholesky>();
      factorization_ = "simplicial";
    }
    chol_->analyze(A_);
    A_nnz_ = A_.nonZeros();
  } else if (A_.nonZeros() != A_nnz_) {
    throw NumericalError("the sparsity pattern of Λ'Z'WZΛ + I changed between evaluations");
  }
  if (!chol_->factorize(A_)) {
    throw NumericalError("Cholesky factorization of Λ'Z'WZΛ + I failed at " + theta_string(theta_));
  }
  ldL2_ = chol_->log_det();

  if (!std::isfinite(ldL2_)) throw NumericalError("non-finite log-determinant of L at " + theta_string(theta_));
  RZX_ = Lambdat_ * ZtWX_;
  chol_->solve_L(RZX_);
}

void Predictor::update_RX() {
  Eigen::MatrixXd RXtRX = XtWX_;
  RXtRX.noalias() -= RZX_.transpose() * RZX_;
  Eigen::LLT<Eigen::MatrixXd> llt(RXtRX);
  if (llt.info() != Eigen::Success) {
    throw NumericalError("the fixed-effects block X'WX − RZX'RZX is not positive definite at " +
                         theta_string(theta_));
  }
  RX_ = llt.matrixU();
  ldRX2_ = 2.0 * RX_.diagonal().array().log().sum();
  if (!std::isfinite(ldRX2_)) throw NumericalError("non-finite log-determinant of RX at " + theta_string(theta_));
}

Eigen::VectorXd Predictor::ZtW(const Eigen::VectorXd& r) const { return Zt_ * w_.cwiseProduct(r); }

Eigen::VectorXd Predictor::XtW(const Eigen::VectorXd& r) const {
  return X_.transpose() * w_.cwiseProduct(r);
}

void Predictor::solve_beta_u(const Eigen::VectorXd& ZtWr, const Eigen::VectorXd& XtWr) {
  Eigen::MatrixXd cu = Lambdat_ * ZtWr;
  chol_->solve_L(cu);
  Eigen::VectorXd cbeta = XtWr - RZX_.transpose() * cu.col(0);
  RX_.transpose().triangularView<Eigen::Lower>().solveInPlace(cbeta);
  beta_ = RX_.triangularView<Eigen::Upper>().solve(cbeta);
  cu.col(0).noalias() -= RZX_ * beta_;
  chol_->solve_Lt(cu);
  u_ = cu.col(0);
}

void Predictor::solve_u(const Eigen::VectorXd& ZtWr) {
  Eigen::MatrixXd cu = Lambdat_ * ZtWr;
  chol_->solve_L(cu);
  chol_->solve_Lt(cu);
  u_ = cu.col(0);
}

Eigen::VectorXd Predictor::linear_predictor() const {
  Eigen::VectorXd eta = X_ * beta_;
  eta.noalias() += Zt_.transpose() * b();
  return eta;
}

}  // namespace mixedfit
