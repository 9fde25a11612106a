#include "log_det_gradient.hpp"

#include <algorithm>

#include "errors.hpp"

namespace mixedfit {

SpMat penalized_information(const SpMat& Mt, const Eigen::VectorXd& w) {
  SpMat identity(Mt.rows(), Mt.rows());
  identity.setIdentity();
  return SpMat(Mt * w.asDiagonal() * Mt.transpose()) + identity;
}

void add_lambda_products(const Predictor& pred, const Eigen::Ref<const Eigen::MatrixXd>& rows,
                         const Eigen::Ref<const Eigen::MatrixXd>& columns, double scale,
                         Eigen::VectorXd& factor_gradient) {
  const SpMat& Lambda = pred.Lambda();
  const Eigen::VectorXi& Lind = pred.Lind();
  for (Index c = 0; c < Lambda.outerSize(); ++c) {
    for (int t = Lambda.outerIndexPtr()[c]; t < Lambda.outerIndexPtr()[c + 1]; ++t) {
      factor_gradient[Lind[t]] += scale * rows.row(Lambda.innerIndexPtr()[t]).dot(columns.row(c));
    }
  }
}

void LogDetGradient::analyse(const Predictor& pred) {
  const SpMat& Lambda = pred.Lambda();
  const MapSpMat& Zt = pred.Zt();
  Mt_ = Lambda.transpose() * Zt;
  std::vector<std::vector<std::pair<int, int>>> lambda_rows(pred.q());  // (column c, value t) by row
  for (Index c = 0; c < Lambda.outerSize(); ++c) {
    for (int t = Lambda.outerIndexPtr()[c]; t < Lambda.outerIndexPtr()[c + 1]; ++t) {
      lambda_rows[Lambda.innerIndexPtr()[t]].push_back({static_cast<int>(c), t});
    }
  }
  contributions_.clear();
  contribution_start_.assign(1, 0);
  for (Index i = 0; i < Zt.outerSize(); ++i) {
    for (int p = Zt.outerIndexPtr()[i]; p < Zt.outerIndexPtr()[i + 1]; ++p) {
      for (const auto& [c, t] : lambda_rows[Zt.innerIndexPtr()[p]]) {
        // Mt's column i holds c (the product's pattern keeps every structural entry)
        const int* first = Mt_.innerIndexPtr() + Mt_.outerIndexPtr()[i];
        const int* last = Mt_.innerIndexPtr() + Mt_.outerIndexPtr()[i + 1];
        const int* found = std::find(first, last, c);
        require(found != last, "(ZΛ)' lacks an entry of its own product");
        contributions_.push_back({static_cast<int>(found - Mt_.innerIndexPtr()), p, t});
      }
    }
    contribution_start_.push_back(static_cast<int>(contributions_.size()));
  }
}

bool LogDetGradient::affordable(const Predictor& pred) {
  if (flops_ < 0) {  // (an analysis of H's pattern of its own: compute() analyses the H it is given)
    if (contribution_start_.empty()) analyse(pred);
    SelectedInverse pattern;
    pattern.analyse(penalized_information(Mt_, Eigen::VectorXd::Ones(pred.n())));
    flops_ = pattern.flops();
  }
  return flops_ <= kAffordableFlops;
}

void LogDetGradient::compute(const Predictor& pred, const Eigen::VectorXd& w) {
  if (contribution_start_.empty()) analyse(pred);
  const Index n = pred.n();
  const MapSpMat& Zt = pred.Zt();
  const double* lambda = pred.Lambda().valuePtr();
  const double* z = Zt.valuePtr();
  Eigen::Map<Eigen::VectorXd>(Mt_.valuePtr(), Mt_.nonZeros()).setZero();
  for (const Contribution& k : contributions_) Mt_.valuePtr()[k.mt] += z[k.zt] * lambda[k.lambda];
  const int* outer = Mt_.outerIndexPtr();
  const int* rows = Mt_.innerIndexPtr();
  const double* m = Mt_.valuePtr();
  // (the selected inverse's positions of each observation's pairs are found once per analysis)
  if (inverse_.compute(pred.A())) {
    pair_slots_.clear();
    for (Index i = 0; i < n; ++i) {
      for (int a = outer[i]; a < outer[i + 1]; ++a) {
        for (int b = outer[i]; b < outer[i + 1]; ++b) pair_slots_.push_back(inverse_.slot(rows[a], rows[b]));
      }
    }
  }
  // gᵢ = H⁻¹mᵢ at observation i's random effects (in Mt's value order), hᵢ = mᵢ'gᵢ.
  hat_.resize(n);
  std::vector<double> g(Mt_.nonZeros());
  const Index* pair_slot = pair_slots_.data();
  for (Index i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int a = outer[i]; a < outer[i + 1]; ++a) {
      double value = 0.0;
      for (int b = outer[i]; b < outer[i + 1]; ++b) value += inverse_.at(*pair_slot++) * m[b];
      g[a] = value;
      sum += m[a] * value;
    }
    hat_[i] = sum;
  }
  // The trace: each of observation i's contributions z_ir Λ_rc names z_ir, Λ's value (r, c)
  // and gᵢ's entry for c.
  const Eigen::VectorXi& Lind = pred.Lind();
  factor_gradient_ = Eigen::VectorXd::Zero(pred.n_factor());
  for (Index i = 0; i < n; ++i) {
    for (int k = contribution_start_[i]; k < contribution_start_[i + 1]; ++k) {
      const Contribution& term = contributions_[k];
      factor_gradient_[Lind[term.lambda]] += 2 * w[i] * z[term.zt] * g[term.mt];
    }
  }
}

}  // namespace mixedfit
