// An LMM's factorization for models whose random-effects terms are all scalar, the first term's
// levels grouped by their diagonal value d of Z'WZ.
//
// With a scalar first term, A = Λ'Z'WZΛ + I has the diagonal first block λ₁²d_c + 1, and level c
// enters everything the criterion needs beyond it — the Schur complement S of the other terms,
// their right-hand sides L⁻¹Λ'Z'W[X y], and RZX₁'RZX₁ — through its own products times one
// factor w = λ₁² / (λ₁²d_c + 1) that only d_c and θ decide. Levels with equal d share w, so their
// products are summed once per group (when the weights or the response change), and a θ costs
// work proportional to the groups times S's entries and the other terms' levels, instead of to
// each level's pairs of rows, its right-hand sides and its diagonal. Unit weights give as many
// groups as distinct level sizes (star's 10,732 students: 4), so where levels are many and
// their sizes few this is exact and several times cheaper than the blocked factorization (the
// predictor weighs the two). S itself is factored as the blocked factorization's sparse S is.
//
// Only the LMM criterion's uses are served: log det A, the Gram matrix of the solved right-hand
// sides (from which RX, β and the penalized RSS follow) and u for a given β. Derivation: with
// l_c² = λ₁²d_c + 1, L21[r, c] = λ_r λ₁ M[r, c] / l_c (M = Z'WZ), so
//   S = Λ₂'(M₂₂ − Σ_k w_k M_k)Λ₂ + I,        M_k = Σ_{c in k} M[·, c] M[·, c]'
//   B₂ = L₂₂⁻¹ Λ₂'(G₂ − Σ_k w_k N_k),          N_k = Σ_{c in k} M[·, c] G_c'
//   B₁'B₁ = Σ_k w_k P_k,                        P_k = Σ_{c in k} G_c G_c'
// for G = Z'W[X y] (G_c: level c's row), and u₁_c = (λ₁ / l_c²)(G_c,y − G_c,X β − Σ_r λ_r M[r, c] u₂_r).
#pragma once

#include <vector>

#include "cholesky.hpp"
#include "types.hpp"

namespace mixedfit {

class GroupedFirstTerm {
 public:
  // How many distinct values the first q1 entries of M's diagonal take (M: Z'WZ, its full
  // symmetric pattern, the first term's q1 levels first).
  static Index groups(const SpMat& M, Index q1);
  // Whether M's first q1 columns have no entry in the first q1 rows but their diagonal (a scalar
  // term's, unless a residual correlation's whitening mixed the rows of its levels).
  static bool applies(const SpMat& M, Index q1);

  // At the first θ, in two steps (the predictor weighs the work from S's entries between them):
  // S's pattern (M₂₂'s lower triangle and every pair of a first-term level's rows); then where
  // each level's products go in it, and the analysis of S's sparse factor.
  void analyze_pattern(const SpMat& M, Index q1);
  void analyze_factor(int threads);
  // S's factor's nonzeros and multiply-adds, and S's stored entries (after analyze).
  double schur_factor_nonzeros() const { return factor_nonzeros_; }
  double schur_factor_flops() const { return factor_flops_; }
  Index schur_entries() const { return S_.nonZeros(); }
  Index group_count() const { return static_cast<Index>(group_size_.size()); }
  // S's lower pattern as CSC arrays (after analyze_pattern): the blocked factorization's sparse S
  // has the same, for a predictor that weighs this one and then takes that.
  std::vector<int> schur_outer() const { return {S_.outerIndexPtr(), S_.outerIndexPtr() + q2_ + 1}; }
  std::vector<int> schur_inner() const { return {S_.innerIndexPtr(), S_.innerIndexPtr() + S_.nonZeros()}; }

  // The group sums from the current cross-products: M = Z'WZ (the analysed pattern), ZtWXt =
  // (Z'WX)ᵀ (p × q) and ZtWy (q): again whenever the weights, X or y change.
  void set_products(const SpMat& M, const Eigen::MatrixXd& ZtWXt, const Eigen::VectorXd& ZtWy);

  // At θ, with lambda the diagonal of Λ (one value per column of Z): S and its factor; false
  // where S is not positive definite. log det A = log_det().
  bool factorize(const double* lambda);
  double log_det() const { return log_det_; }
  // H = B'B for B = L⁻¹Λ'Z'W[X y] ((p + 1) × (p + 1)); keeps B's second block for u.
  void gram(const double* lambda, Eigen::MatrixXd& H);
  // u (Z's order) for the fixed effects beta, after gram at the same θ.
  void u(const double* lambda, const Eigen::VectorXd& beta, Eigen::VectorXd& u) const;
  void set_threads(int threads);

 private:
  Index q1_ = 0, q2_ = 0, width_ = 0;  // width_: right-hand sides, p + 1
  // Each first-term level's rows below the first block (0-based in the second block) and their
  // values in M, at [level_start_[c], level_start_[c + 1]); where each pair (rows e ≥ f) of a
  // level's rows goes among S's values, the pairs column-major from pair_start_[c].
  std::vector<int> level_start_, level_row_;
  std::vector<double> level_value_;
  std::vector<Index> pair_start_;
  std::vector<int> pair_target_;
  SpMat S_;                         // S's lower triangle, pattern fixed at analysis
  std::vector<double> a22_;         // M₂₂'s value at each of S's entries (0 where only pairs reach)
  std::vector<int> entry_column_;   // the column of each of S's entries
  FactorSlot factor_;
  double factor_nonzeros_ = 0.0, factor_flops_ = 0.0;
  // The groups: each level's, each group's diagonal value d and number of levels.
  std::vector<int> group_;
  std::vector<double> group_d_, group_size_;
  // The sums: M_k at each of S's entries (entry-major, k fastest), N_k (row-major over the second
  // block's rows, then right-hand sides, k fastest), P_k (width² per group), and G's rows.
  std::vector<double> M_sum_, N_sum_, P_sum_;
  Eigen::MatrixXd G1_, G2_;  // width × q1 and width × q2: Z'W[X y]'s rows for each block
  std::vector<double> w_;    // λ₁² / (λ₁²d_k + 1) at the last θ
  double log_det_ = 0.0;
  Eigen::MatrixXd B2_;  // width × q2, in the factor's order: B's second block, solved
};

}  // namespace mixedfit
