#include "grouped_first_term.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "blocked_cholesky.hpp"
#include "errors.hpp"
#include "supernodal_cholesky.hpp"

namespace mixedfit {

namespace {

// The distinct values of d, increasing: the groups' diagonal values.
std::vector<double> distinct(std::vector<double> d) {
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  return d;
}

}  // namespace

Index GroupedFirstTerm::groups(const SpMat& M, Index q1) {
  std::vector<double> d(q1);
  for (Index c = 0; c < q1; ++c) d[c] = M.coeff(c, c);
  return static_cast<Index>(distinct(std::move(d)).size());
}

bool GroupedFirstTerm::applies(const SpMat& M, Index q1) {
  if (q1 <= 0 || q1 >= M.cols()) return false;
  for (Index c = 0; c < q1; ++c) {
    for (int k = M.outerIndexPtr()[c]; k < M.outerIndexPtr()[c + 1]; ++k) {
      if (M.innerIndexPtr()[k] < q1 && M.innerIndexPtr()[k] != c) return false;
    }
  }
  return true;
}

void GroupedFirstTerm::analyze_pattern(const SpMat& M, Index q1) {
  require(applies(M, q1), "the grouped factorization needs a diagonal first block and a second term");
  q1_ = q1;
  q2_ = M.cols() - q1;
  const int* outer = M.outerIndexPtr();
  const int* inner = M.innerIndexPtr();
  level_start_.assign(q1_ + 1, 0);
  level_row_.clear();
  for (Index c = 0; c < q1_; ++c) {
    for (int k = outer[c]; k < outer[c + 1]; ++k) {
      if (inner[k] >= q1_) level_row_.push_back(inner[k] - static_cast<int>(q1_));
    }
    level_start_[c + 1] = static_cast<int>(level_row_.size());
  }
  std::vector<int> s_outer, s_inner;
  BlockedCholesky::schur_pattern(M, 1, q1_, &s_outer, &s_inner);
  const Index entries = static_cast<Index>(s_inner.size());
  S_ = Eigen::Map<const SpMat>(q2_, q2_, entries, s_outer.data(), s_inner.data(),
                               std::vector<double>(entries, 0.0).data());
  entry_column_.resize(entries);
  for (Index s = 0; s < q2_; ++s) std::fill(entry_column_.begin() + s_outer[s], entry_column_.begin() + s_outer[s + 1], s);
}

void GroupedFirstTerm::analyze_factor(int threads) {
  const int* s_outer = S_.outerIndexPtr();
  const int* s_inner = S_.innerIndexPtr();
  const auto entry = [&](int row, int column) {  // S's entry (row ≥ column), which the pattern holds
    return static_cast<int>(std::lower_bound(s_inner + s_outer[column], s_inner + s_outer[column + 1], row) - s_inner);
  };
  a22_.assign(S_.nonZeros(), 0.0);  // (values at set_products)
  pair_start_.assign(q1_ + 1, 0);
  for (Index c = 0; c < q1_; ++c) {
    const Index m = level_start_[c + 1] - level_start_[c];
    pair_start_[c + 1] = pair_start_[c] + m * (m + 1) / 2;
  }
  pair_target_.resize(pair_start_[q1_]);
  for (Index c = 0; c < q1_; ++c) {
    int* target = pair_target_.data() + pair_start_[c];
    for (int f = level_start_[c]; f < level_start_[c + 1]; ++f) {
      for (int e = f; e < level_start_[c + 1]; ++e) *target++ = entry(level_row_[e], level_row_[f]);
    }
  }
  AnalysedFactor analysed = analysed_sparse_factor(S_, threads);
  factor_nonzeros_ = analysed.nonzeros;
  factor_flops_ = analysed.flops;
  factor_ = std::move(analysed.factor);
}

void GroupedFirstTerm::set_threads(int threads) {
  if (factor_) factor_->set_threads(threads);
}

void GroupedFirstTerm::set_products(const SpMat& M, const Eigen::MatrixXd& ZtWXt, const Eigen::VectorXd& ZtWy) {
  const int* outer = M.outerIndexPtr();
  const int* inner = M.innerIndexPtr();
  const double* value = M.valuePtr();
  width_ = ZtWXt.rows() + 1;
  // The groups, by the first block's diagonal.
  std::vector<double> d(q1_);
  level_value_.resize(level_row_.size());
  for (Index c = 0; c < q1_; ++c) {
    int v = level_start_[c];
    for (int k = outer[c]; k < outer[c + 1]; ++k) {
      if (inner[k] == c) {
        d[c] = value[k];
      } else {
        level_value_[v++] = value[k];
      }
    }
  }
  group_d_ = distinct(d);
  const Index K = static_cast<Index>(group_d_.size());
  group_.resize(q1_);
  group_size_.assign(K, 0.0);
  for (Index c = 0; c < q1_; ++c) {
    group_[c] = static_cast<int>(std::lower_bound(group_d_.begin(), group_d_.end(), d[c]) - group_d_.begin());
    group_size_[group_[c]] += 1.0;
  }
  std::vector<int> group_start(K + 1, 0);
  for (Index k = 0; k < K; ++k) group_start[k + 1] = group_start[k] + static_cast<int>(group_size_[k]);
  std::vector<int> by_group(q1_);  // the levels, group by group
  for (Index c = 0; c < q1_; ++c) by_group[group_start[group_[c]]++] = static_cast<int>(c);
  // G's rows: (Z'WX)ᵀ's columns and Z'Wy.
  G1_.resize(width_, q1_);
  G2_.resize(width_, q2_);
  G1_.topRows(width_ - 1) = ZtWXt.leftCols(q1_);
  G1_.bottomRows(1) = ZtWy.head(q1_).transpose();
  G2_.topRows(width_ - 1) = ZtWXt.rightCols(q2_);
  G2_.bottomRows(1) = ZtWy.tail(q2_).transpose();
  // M₂₂'s lower values at S's entries.
  const int* s_outer = S_.outerIndexPtr();
  const int* s_inner = S_.innerIndexPtr();
  for (Index s = 0; s < q2_; ++s) {
    int e = s_outer[s];
    for (int k = outer[q1_ + s]; k < outer[q1_ + s + 1]; ++k) {
      const int row = inner[k] - static_cast<int>(q1_);
      if (row < s) continue;
      while (s_inner[e] < row) a22_[e++] = 0.0;
      a22_[e++] = value[k];
    }
    for (; e < s_outer[s + 1]; ++e) a22_[e] = 0.0;
  }
  // The group sums.
  M_sum_.assign(static_cast<std::size_t>(S_.nonZeros()) * K, 0.0);
  N_sum_.assign(static_cast<std::size_t>(q2_) * width_ * K, 0.0);
  P_sum_.assign(static_cast<std::size_t>(width_) * width_ * K, 0.0);
  for (Index c = 0; c < q1_; ++c) {
    const Index k = group_[c];
    const int* target = pair_target_.data() + pair_start_[c];
    const double* g = G1_.col(c).data();
    for (int f = level_start_[c]; f < level_start_[c + 1]; ++f) {
      const double vf = level_value_[f];
      for (int e = f; e < level_start_[c + 1]; ++e) M_sum_[*target++ * K + k] += level_value_[e] * vf;
      double* n = N_sum_.data() + static_cast<std::size_t>(level_row_[f]) * width_ * K + k;
      for (Index j = 0; j < width_; ++j) n[j * K] += vf * g[j];
    }
  }
  // P_k as one product per group of its levels' rows of G, gathered (q1 (p + 1)² / 2 multiply-adds,
  // which one level at a time ran at a fraction of a matrix product's rate).
  Eigen::MatrixXd members;
  for (Index k = 0, first = 0; k < K; first += static_cast<Index>(group_size_[k]), ++k) {
    members.resize(width_, static_cast<Index>(group_size_[k]));
    for (Index i = 0; i < members.cols(); ++i) members.col(i) = G1_.col(by_group[first + i]);
    Eigen::Map<Eigen::MatrixXd> P(P_sum_.data() + static_cast<std::size_t>(k) * width_ * width_, width_, width_);
    P.selfadjointView<Eigen::Lower>().rankUpdate(members);
  }
  w_.assign(K, 0.0);
}

bool GroupedFirstTerm::factorize(const double* lambda) {
  const Index K = static_cast<Index>(group_d_.size());
  const double lambda1_sq = lambda[0] * lambda[0];
  w_.resize(K);
  double log_det_11 = 0.0;
  for (Index k = 0; k < K; ++k) {
    const double a = lambda1_sq * group_d_[k] + 1.0;
    w_[k] = lambda1_sq / a;
    log_det_11 += group_size_[k] * std::log(a);
  }
  const double* lambda2 = lambda + q1_;
  const int* s_inner = S_.innerIndexPtr();
  double* S = S_.valuePtr();
  const double* M_sum = M_sum_.data();
  for (Index e = 0; e < S_.nonZeros(); ++e) {
    double sum = a22_[e];
    for (Index k = 0; k < K; ++k) sum -= w_[k] * M_sum[e * K + k];
    const int row = s_inner[e], column = entry_column_[e];
    S[e] = lambda2[row] * lambda2[column] * sum + (row == column ? 1.0 : 0.0);
  }
  if (!factor_->factorize(S_)) return false;
  log_det_ = log_det_11 + factor_->log_det();
  return true;
}

void GroupedFirstTerm::gram(const double* lambda, Eigen::MatrixXd& H) {
  const Index K = static_cast<Index>(group_d_.size());
  const double* lambda2 = lambda + q1_;
  const int* position = factor_->position();
  B2_.resize(width_, q2_);
  const double* N = N_sum_.data();
  for (Index r = 0; r < q2_; ++r) {
    double* b = B2_.col(position[r]).data();
    for (Index j = 0; j < width_; ++j, N += K) {
      double sum = G2_(j, r);
      for (Index k = 0; k < K; ++k) sum -= w_[k] * N[k];
      b[j] = lambda2[r] * sum;
    }
  }
  factor_->forward(B2_);
  H = Eigen::MatrixXd::Zero(width_, width_);
  for (Index k = 0; k < K; ++k) {
    H += w_[k] * Eigen::Map<const Eigen::MatrixXd>(P_sum_.data() + static_cast<std::size_t>(k) * width_ * width_,
                                                   width_, width_);
  }
  H.selfadjointView<Eigen::Lower>().rankUpdate(B2_);
  H = H.selfadjointView<Eigen::Lower>();
}

void GroupedFirstTerm::u(const double* lambda, const Eigen::VectorXd& beta, Eigen::VectorXd& u) const {
  const Index p = width_ - 1;
  Eigen::MatrixXd v = B2_.bottomRows(1);
  if (p > 0) v.noalias() -= beta.transpose() * B2_.topRows(p);
  factor_->backward(v);
  const int* position = factor_->position();
  u.resize(q1_ + q2_);
  for (Index r = 0; r < q2_; ++r) u[q1_ + r] = v(0, position[r]);
  const double lambda1_sq = lambda[0] * lambda[0];
  for (Index c = 0; c < q1_; ++c) {
    double sum = G1_(p, c);
    for (Index j = 0; j < p; ++j) sum -= G1_(j, c) * beta[j];
    for (int e = level_start_[c]; e < level_start_[c + 1]; ++e) {
      sum -= lambda[q1_ + level_row_[e]] * level_value_[e] * u[q1_ + level_row_[e]];
    }
    u[c] = lambda[0] / (lambda1_sq * group_d_[group_[c]] + 1.0) * sum;
  }
}

}  // namespace mixedfit
