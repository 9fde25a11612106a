#include "covariance_structure.hpp"

#include <cmath>
#include <string>

#include "errors.hpp"

namespace mixedfit {

namespace {

bool distance_based(CovarianceKind kind) {
  return kind == CovarianceKind::OrnsteinUhlenbeck || kind == CovarianceKind::Exponential ||
         kind == CovarianceKind::Gaussian || kind == CovarianceKind::Matern;
}

// TMB's matern(d, range, smoothness): 2^(1−ν)/Γ(ν) (d/r)^ν K_ν(d/r), 1 at d = 0.
double matern(double d, double range, double smoothness) {
  if (d == 0.0) return 1.0;
  const double x = d / range;
  const double log_value = (1.0 - smoothness) * std::log(2.0) - std::lgamma(smoothness) + smoothness * std::log(x);
  const double k = std::cyl_bessel_k(smoothness, x);
  return k > 0.0 ? std::exp(log_value + std::log(k)) : 0.0;
}

// The lower factor of a positive semi-definite C, column by column: a pivot that rounding has
// left at or below zero (C singular, as at ρ = 1 or a Gaussian correlation of a long range) gives
// a zero column, so the factor stays finite at the structure's boundary.
Eigen::MatrixXd semidefinite_factor(const Eigen::MatrixXd& C) {
  const Index p = C.rows();
  Eigen::MatrixXd L = Eigen::MatrixXd::Zero(p, p);
  for (Index j = 0; j < p; ++j) {
    const double pivot = C(j, j) - L.row(j).head(j).squaredNorm();
    if (!(pivot > 1e-14 * C(j, j))) continue;
    L(j, j) = std::sqrt(pivot);
    for (Index i = j + 1; i < p; ++i) L(i, j) = (C(i, j) - L.row(i).head(j).dot(L.row(j).head(j))) / L(j, j);
  }
  return L;
}

// Autocorrelations r_1 … r_{m} from partial autocorrelations π_1 … π_m (Durbin–Levinson run
// backwards): every π in [−1, 1] gives a positive semi-definite Toeplitz matrix, and every such
// matrix has one.
Eigen::VectorXd autocorrelations(const double* partial, Index m) {
  Eigen::VectorXd r(m), phi = Eigen::VectorXd::Zero(m), previous(m);
  double innovation = 1.0;  // Π (1 − π_i²) so far
  for (Index k = 0; k < m; ++k) {
    double value = partial[k] * innovation;
    for (Index j = 0; j < k; ++j) value += phi[j] * r[k - j - 1];
    r[k] = value;
    previous = phi;
    for (Index j = 0; j < k; ++j) phi[j] = previous[j] - partial[k] * previous[k - 1 - j];
    phi[k] = partial[k];
    innovation *= 1.0 - partial[k] * partial[k];
  }
  return r;
}

}  // namespace

CovarianceStructure::CovarianceStructure(CovarianceKind kind, Index p, Eigen::MatrixXd distances, Index rank)
    : kind_(kind), p_(p), distances_(std::move(distances)), rank_(rank) {
  require(p >= 1, "a covariance structure needs at least one column");
  if (distance_based(kind)) {
    require(distances_.rows() == p && distances_.cols() == p, "a distance-based structure needs p × p distances");
  }
  if (kind == CovarianceKind::ReducedRank) require(rank >= 1 && rank <= p, "rr's rank must be in 1 … p");
  if (kind == CovarianceKind::CompoundSymmetry || kind == CovarianceKind::HomCompoundSymmetry) {
    require(p >= 2, "a compound-symmetry structure needs at least two columns");
  }
}

Index CovarianceStructure::n_params() const {
  switch (kind_) {
    case CovarianceKind::Unstructured:
      return p_ * (p_ + 1) / 2;
    case CovarianceKind::Diagonal:
      return p_;
    case CovarianceKind::HomDiagonal:
      return 1;
    case CovarianceKind::CompoundSymmetry:
      return p_ + 1;
    case CovarianceKind::HomCompoundSymmetry:
    case CovarianceKind::AR1:
    case CovarianceKind::OrnsteinUhlenbeck:
    case CovarianceKind::Exponential:
    case CovarianceKind::Gaussian:
      return 2;
    case CovarianceKind::Toeplitz:
      return 2 * p_ - 1;
    case CovarianceKind::Matern:
      return 3;
    case CovarianceKind::ReducedRank:
      return p_ * rank_ - rank_ * (rank_ - 1) / 2;
  }
  return 0;
}

Eigen::MatrixXd CovarianceStructure::correlation(const double* params) const {
  Eigen::MatrixXd C = Eigen::MatrixXd::Identity(p_, p_);
  switch (kind_) {
    case CovarianceKind::CompoundSymmetry:
    case CovarianceKind::HomCompoundSymmetry: {
      const double rho = params[kind_ == CovarianceKind::CompoundSymmetry ? p_ : 1];
      C.setConstant(rho);
      C.diagonal().setOnes();
      break;
    }
    case CovarianceKind::Toeplitz: {
      const Eigen::VectorXd r = autocorrelations(params + p_, p_ - 1);
      for (Index j = 0; j < p_; ++j) {
        for (Index i = j + 1; i < p_; ++i) C(i, j) = C(j, i) = r[i - j - 1];
      }
      break;
    }
    default: {  // the distance-based kinds
      const double a = std::exp(params[1]);
      for (Index j = 0; j < p_; ++j) {
        for (Index i = j + 1; i < p_; ++i) {
          const double d = distances_(i, j);
          double value = 0.0;
          if (kind_ == CovarianceKind::OrnsteinUhlenbeck) value = std::exp(-a * d);
          if (kind_ == CovarianceKind::Exponential) value = std::exp(-d / a);
          if (kind_ == CovarianceKind::Gaussian) value = std::exp(-(d / a) * (d / a));
          if (kind_ == CovarianceKind::Matern) value = matern(d, a, std::exp(params[2]));
          C(i, j) = C(j, i) = value;
        }
      }
    }
  }
  return C;
}

void CovarianceStructure::factor(const double* params, double* out) const {
  Eigen::MatrixXd T = Eigen::MatrixXd::Zero(p_, p_);
  switch (kind_) {
    case CovarianceKind::Unstructured:
      std::copy(params, params + n_params(), out);
      return;
    case CovarianceKind::Diagonal:
      for (Index i = 0; i < p_; ++i) T(i, i) = params[i];
      break;
    case CovarianceKind::HomDiagonal:
      T.diagonal().setConstant(params[0]);
      break;
    case CovarianceKind::AR1: {
      // Closed form: row i of the factor is ρ^i, then ρ^(i−j) √(1 − ρ²); exact at |ρ| = 1.
      const double rho = params[1], root = std::sqrt(std::max(0.0, 1.0 - rho * rho));
      for (Index i = 0; i < p_; ++i) {
        double power = 1.0;  // ρ^(i − j), for j from i down to 0
        for (Index j = i; j >= 0; --j, power *= rho) T(i, j) = params[0] * power * (j == 0 ? 1.0 : root);
      }
      break;
    }
    case CovarianceKind::ReducedRank: {
      const double* loading = params;
      for (Index j = 0; j < rank_; ++j) {
        for (Index i = j; i < p_; ++i) T(i, j) = *loading++;
      }
      break;
    }
    default: {  // a correlation matrix scaled by SDs: chol(D C D) = D chol(C)
      const bool heterogeneous = kind_ == CovarianceKind::CompoundSymmetry || kind_ == CovarianceKind::Toeplitz;
      T = semidefinite_factor(correlation(params));
      for (Index i = 0; i < p_; ++i) T.row(i) *= params[heterogeneous ? i : 0];
    }
  }
  for (Index j = 0; j < p_; ++j) {
    for (Index i = j; i < p_; ++i) *out++ = T(i, j);
  }
}

CovarianceStructures::CovarianceStructures(std::vector<CovarianceStructure> terms) : terms_(std::move(terms)) {
  for (const CovarianceStructure& term : terms_) {
    identity_ = identity_ && term.kind() == CovarianceKind::Unstructured;
    n_params_ += term.n_params();
    n_factor_ += term.p() * (term.p() + 1) / 2;
  }
}

namespace {

std::vector<CovarianceStructure> structures_of(MapVecI kinds, MapVecI term_shapes, MapVec distances) {
  require(kinds.size() == term_shapes.size(), "kinds must hold (kind, rank) for each term");
  std::vector<CovarianceStructure> terms;
  Index used = 0;
  for (Index t = 0; t < kinds.size() / 2; ++t) {
    const int code = kinds[2 * t];
    if (code < 0 || code > static_cast<int>(CovarianceKind::ReducedRank)) {
      throw std::invalid_argument("unknown covariance structure code " + std::to_string(code));
    }
    const auto kind = static_cast<CovarianceKind>(code);
    const Index p = term_shapes[2 * t];
    Eigen::MatrixXd d;
    if (distance_based(kind)) {
      require(used + p * p <= distances.size(), "too few distances for the distance-based terms");
      d = Eigen::Map<const Eigen::MatrixXd>(distances.data() + used, p, p);
      require(d.allFinite(), "distances must be finite");
      used += p * p;
    }
    terms.emplace_back(kind, p, std::move(d), kinds[2 * t + 1]);
  }
  require(used == distances.size(), "more distances than the distance-based terms need");
  return terms;
}

}  // namespace

CovarianceStructures::CovarianceStructures(MapVecI kinds, MapVecI term_shapes, MapVec distances)
    : CovarianceStructures(structures_of(kinds, term_shapes, distances)) {}

Eigen::VectorXd CovarianceStructures::factor(const Eigen::Ref<const Eigen::VectorXd>& params) const {
  require(params.size() == n_params_, "the covariance parameters have the wrong length");
  Eigen::VectorXd out(n_factor_);
  Index in = 0, at = 0;
  for (const CovarianceStructure& term : terms_) {
    term.factor(params.data() + in, out.data() + at);
    in += term.n_params();
    at += term.p() * (term.p() + 1) / 2;
  }
  return out;
}

}  // namespace mixedfit
