// The predictor module (lme4's merPredD): X, Zt, Λt(θ), the sparse factor L of
// Λ'Z'WZΛ + I (for an LMM of scalar terms, possibly its grouped factorization:
// grouped_first_term.hpp), the dense blocks RZX and RX, and the solution (β, u) of the
// penalized weighted least-squares problem. It knows nothing about the response distribution.
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cholesky.hpp"
#include "covariance_structure.hpp"
#include "errors.hpp"
#include "grouped_first_term.hpp"
#include "types.hpp"

namespace mixedfit {

class BlockedCholesky;

class Predictor {
 public:
  // X (n×p, column-major) and Zt (q×n) are wrapped, not copied: the caller keeps them alive.
  // Lambdat (q×q) is the template whose pattern (explicit zeros included) is fixed for all θ;
  // its value k is θ[Lind[k]]. term_shapes holds (columns p, levels) of each random-effects
  // term in order: Λ's blocks follow from it, and the blocked factorization exploits the first.
  Predictor(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind, MapVecI term_shapes);
  // A copy shares X and Zt (views) and copies everything computed from them: the cross-products,
  // A, the factorization's choice and its symbolic analysis (FactorSlot), so that it factors at
  // its first evaluation without weighing, ordering or analysing again (a helper core for another
  // thread).
  Predictor(const Predictor&) = default;
  Predictor& operator=(const Predictor&) = delete;

  Index n() const { return X_.rows(); }
  Index p() const { return X_.cols(); }
  Index q() const { return Zt_.rows(); }
  // θ: T's elements of every term (lme4's θ), or the terms' structure parameters once
  // set_covariance has given them structures.
  Index n_theta() const { return n_theta_; }
  // How many elements the terms' factors T have (n_theta() for unstructured terms).
  Index n_factor() const { return n_factor_; }
  // Covariance structures for the terms (covariance_structure.hpp): θ becomes their parameters.
  void set_covariance(CovarianceStructures structures);
  // ∂(T's elements)/∂θ at the current θ (n_factor × n_theta): the identity without structures,
  // else central differences of the structures' maps (one-sided where a step leaves a structure's
  // domain, as a correlation on its bound of ±1 does).
  Eigen::MatrixXd factor_jacobian() const;
  // Z' (q × n) and Λ(θ) (q × q, lower triangular), and for each of Λ's stored values the index of
  // the terms' factor element it holds.
  const MapSpMat& Zt() const { return Zt_; }
  const SpMat& Lambda() const { return Lambda_; }
  // A = Λ'Z'WZΛ + I of the last update_L (its lower triangle), where the factorization keeps it
  // (the grouped one does not).
  bool has_A() const { return !grouped_ && A_nnz_ > 0; }
  const SpMat& A() const {
    require(has_A(), "the grouped factorization keeps no A");
    return A_;
  }
  const Eigen::VectorXi& Lind() const { return Lind_; }

  // Weighted cross-products Z'WZ, Z'WX, X'WX; call whenever W changes (w is moved in).
  // allow_negative: some weights may be negative (an observed information at a mode, where
  // Λ'Z'WZΛ + I is still positive definite); otherwise they must be non-negative.
  void set_weights(Eigen::VectorXd w, bool allow_negative = false);
  // X's and Zt's values were overwritten in place, in the same pattern (a whitening transform
  // of the data for residual correlation): the cached products are stale; call set_weights next.
  void values_changed();
  // Λ(θ): writes θ into Λt's fixed pattern.
  void set_theta(const Eigen::Ref<const Eigen::VectorXd>& theta);
  // set_theta, with b = Λu kept (u ← Λ(θ)⁻¹ Λ(θ_old) u): PIRLS's warm start at a new θ, as the
  // conditional modes on the data's scale move less between nearby θ than u does. Where Λ(θ) is
  // singular (θ on its boundary) u is kept instead.
  void set_theta_keeping_b(const Eigen::Ref<const Eigen::VectorXd>& theta);
  // L for the current weights and θ (all that solving for u alone needs).
  void update_L();
  // RZX and RX (after update_L): needed to solve for β too.
  void update_RX();
  // Diagonal of Λ'Z'WZΛ + I (for adaptive quadrature with one scalar term, where it is diagonal).
  Eigen::VectorXd A_diagonal() const { return A_.diagonal(); }

  // Z'W r and X'W r for a working response r under the current weights.
  Eigen::VectorXd ZtW(const Eigen::VectorXd& r) const { return Zt_times(w_.cwiseProduct(r)); }
  // Z'v (by Zt's rows where set_weights keeps them: one sum per level).
  Eigen::VectorXd Zt_times(const Eigen::VectorXd& v) const;
  Eigen::VectorXd XtW(const Eigen::VectorXd& r) const;
  // X'WX for the current weights (with Z'WX, computed when first needed after set_weights).
  const Eigen::MatrixXd& weighted_XtWX() {
    if (!x_products_current_) weighted_x_products();
    return XtWX_;
  }

  // Solve the penalized weighted least-squares problem for (β, u) given Z'Wr and X'Wr. Returns
  // ‖c_u‖² + ‖c_β‖², the part of r'Wr the fit explains: the penalized weighted RSS is
  // r'Wr minus it (the cross-product criterion, with no pass over the rows).
  double solve_beta_u(const Eigen::VectorXd& ZtWr, const Eigen::VectorXd& XtWr);
  // update_RX, then solve_beta_u for the response set by set_response_products (its Z'Wy solved
  // alongside RZX: one pass over L fewer) and X'Wy; u's backward solve is left until u is read
  // (an LMM's criterion needs only the forward solves: of star's evaluation, ~10 % is that
  // backward solve, which the optimizer never reads). The grouped factorization gives the same
  // from its Gram matrix of the solved right-hand sides.
  double update_RX_solve_beta(const Eigen::VectorXd& XtWy);
  // Solve for u alone, β held fixed (r must already have Xβ removed).
  void solve_u(const Eigen::VectorXd& ZtWr);

  Eigen::VectorXd X_beta() const { return X_ * beta_; }
  // Xβ + ZΛu at the current β and u (offset not included).
  Eigen::VectorXd linear_predictor() const;
  // eta += ZΛu at the current u (the random effects' part of the linear predictor).
  void add_random_part(Eigen::VectorXd& eta) const;
  // Σ wᵢ rᵢ² + ‖u‖² for residuals r under the current weights: the penalized weighted RSS.
  double pwrss(const Eigen::VectorXd& r) const { return r.cwiseAbs2().dot(w_) + u().squaredNorm(); }

  double ldL2() const { return ldL2_; }
  double ldRX2() const { return ldRX2_; }
  const Eigen::VectorXd& beta() const { return beta_; }
  // u of the last solve (solved now if update_RX_solve_beta left it; a new factorization or
  // RZX before that drops it, and u stays the one solved before).
  const Eigen::VectorXd& u() const {
    if (u_pending_) solve_pending_u();
    return u_;
  }
  Eigen::VectorXd b() const { return Lambda_ * u(); }
  const Eigen::MatrixXd& RX() const { return RX_; }
  const double* X_data() const { return X_.data(); }
  const MapMat& X() const { return X_; }
  // The weights of the penalized least-squares problem (set_weights's).
  const Eigen::VectorXd& weights() const { return w_; }
  // Which factorization the first θ chose: "blocked" (its Schur complement dense),
  // "blocked-sparse" (sparse), "simplicial" or "supernodal" (the sparse factor of all of A), and
  // the costs it weighed.
  const char* factorization() const { return factorization_; }
  struct FactorizationCosts {
    double dense_flops = 0.0, schur_updates = 0.0;  // the blocked factorization's (if it applies)
    bool dense_update = false;                       // its Schur update by a dense product
    double blocked_seconds = std::numeric_limits<double>::infinity();
    double sparse_nonzeros = 0.0, sparse_flops = 0.0;  // the sparse factor's (if analysed)
    double sparse_seconds = std::numeric_limits<double>::infinity();
    // The blocked factorization with a sparse Schur complement (if analysed): S's factor's
    // nonzeros and flops, and the products its update adds into S.
    double schur_factor_nonzeros = 0.0, schur_factor_flops = 0.0, schur_pairs = 0.0;
    double blocked_sparse_seconds = std::numeric_limits<double>::infinity();
    // The grouped factorization (if it applies): its groups, and the multiply-adds per θ it
    // does against those of the blocked factorization it replaces.
    double grouped_groups = 0.0, grouped_work = 0.0, grouped_replaced = 0.0;
  };
  const FactorizationCosts& factorization_costs() const { return costs_; }
  // Whether A is updated in its fixed pattern (no allocation per θ).
  bool A_in_place() const { return in_place_; }
  // Use this factorization ("blocked", "blocked-sparse", "simplicial" or "supernodal") whatever the
  // costs say (for tests that compare them); only before the first evaluation.
  void force_factorization(const std::string& name) {
    require(A_nnz_ < 0, "the factorization is chosen at the first evaluation; force it before");
    require(name == "blocked" || name == "blocked-sparse" || name == "simplicial" || name == "supernodal" ||
                name == "grouped",
            "the factorization is 'blocked', 'blocked-sparse', 'simplicial', 'supernodal' or 'grouped'");
    forced_ = name;
  }
  const double* Zt_data() const { return Zt_.valuePtr(); }
  // Threads one factorization may use (default: the CPUs, at most kMaxThreads); 1 where
  // models already run one per core.
  void set_threads(int threads);
  int threads() const { return threads_; }
  // The largest map from observations to Z'WZ's values that repeated reweighting may build (tests
  // set 0 to check the recomputing path against it).
  void set_pair_map_limit(Index entries) { pair_map_limit_ = entries; }
  void set_beta(const Eigen::Ref<const Eigen::VectorXd>& beta) { beta_ = beta; }
  // An LMM's: its weights are fixed between set_weights calls, so the grouped factorization may
  // be weighed at the first θ.
  void allow_grouped() { grouped_allowed_ = true; }
  // The response's Z'Wy (an LMM's, whenever its response or weights change), which
  // update_RX_solve_beta solves for and the grouped factorization sums by group.
  void set_response_products(Eigen::VectorXd ZtWy);
  void set_u(const Eigen::Ref<const Eigen::VectorXd>& u) {
    u_ = u;
    u_pending_ = false;
  }

 private:
  MapMat X_;
  MapSpMat Zt_;
  SpMat Lambda_;          // Λ (the transpose of the Λt given), pattern fixed, values set from θ
  Eigen::VectorXi Lind_;  // index in the terms' factor elements of each of Λ's stored values
  Index n_theta_, n_factor_;
  CovarianceStructures covariance_;  // θ → the factor elements (the identity by default)
  struct Term {
    Index p, levels, offset, theta_offset;  // offset: first row of the term in Zt
  };
  std::vector<Term> terms_;
  Eigen::VectorXi row_term_;     // term of each row of Zt
  Eigen::VectorXi diagonal_pos_;  // position of A's diagonal entries in its value array
  Eigen::VectorXi lower_prefix_;  // entries updated in place before each column (to split the work)
  bool in_place_ = false;         // A's values computed block by block in M's pattern
  struct RowRun {
    int begin, end, term;  // positions [begin, end) of A's values: rows of one term in one column
  };
  std::vector<RowRun> runs_;        // each column's rows from its level block down, by term
  Eigen::VectorXi column_runs_;     // column j's runs are runs_[column_runs_[j] … column_runs_[j + 1])
  // Scalar terms only: the term of each computed value's row (A's values from each column's
  // level block down), so that A's update is one loop over them (star's runs of a term's rows in
  // a column are one to three values long: walking them cost twice the loop).
  std::vector<unsigned char> value_row_term_;
  std::vector<Eigen::MatrixXd> T_;  // each term's lower-triangular relative factor at θ

  // Whether Z'WZ's pattern lets A = Λ'(Z'WZ)Λ + I be computed in its pattern: every level's
  // columns share one pattern and every touched row block is dense.
  bool pattern_allows_in_place() const;
  // At the first θ: whether A will be updated in place (the pattern allows it and Z'WZ's
  // diagonal is structural); records the diagonal's positions.
  bool choose_in_place();
  // The first column of column j's level, and how many of column j's rows in Z'WZ lie above
  // that level's diagonal block (A's in-place update starts below them; after choose_in_place).
  Index level_start(Index j) const;
  Index rows_above_level(Index j) const;
  void update_A_in_place();
  Eigen::VectorXd theta_;

  SpMat ZtWZ_;
  // For repeated reweighting (PIRLS), built at the second set_weights: Z'WZ's values as sums over
  // the observations' products z_a z_b, grouped by the value they go to (value t of Z'WZ is
  // Σ w_obs · coef over entries [pair_start_[t], pair_start_[t + 1])), so each sum stays in a
  // register; by observation, consecutive observations of one level added into the same values,
  // each addition waiting on the last (a quarter of a nested Poisson GLMM's time, perf). It holds
  // Σᵢ kᵢ² entries (kᵢ: observation i's nonzeros in Zt), 12 bytes each; past pair_map_limit_
  // entries Z'WZ is recomputed instead at every reweighting. With it, Zt by rows (Zt_rows_), so
  // that Z'W r sums each level's observations in a register too. Where every coef is 1 (terms of
  // intercepts alone: most GLMMs) pair_coef_ is left empty, and the sums read w alone.
  std::vector<Index> pair_start_;
  Eigen::VectorXi pair_obs_;
  Eigen::VectorXd pair_coef_;
  template <bool unit_coef>
  void sum_pairs(Index first, Index stop, double* values) const;
  Eigen::SparseMatrix<double, Eigen::RowMajor, int> Zt_rows_;
  int weight_updates_ = 0;
  Index pair_map_limit_;
  void build_pair_map();
  // Z'WX and X'WX for the current weights.
  void weighted_x_products();
  Eigen::MatrixXd ZtWXt_;  // (Z'WX)ᵀ, p × q
  bool x_products_current_ = false;  // Z'WX and X'WX belong to the current weights
  Eigen::MatrixXd XtWX_;
  Eigen::VectorXd w_;

  SpMat A_;  // Λ'Z'WZΛ + I; updated in place, only its lower triangle and diagonal blocks are current
  Index A_nnz_ = -1;  // pattern size at analysis, checked at every θ
  FactorSlot chol_;  // a copy gets the analysis, not the numeric factor (see FactorSlot)
  const char* factorization_ = "none";
  FactorizationCosts costs_;
  // Bt's rows [row, row + R.rows()) <- R Λ = (Λ'Rᵀ)ᵀ in the factor's order (see
  // SparseCholesky::position), for R a p × q or 1 × q product such as (Z'WX)ᵀ; every column of
  // Bt is written.
  void lambda_to_factor_order(const Eigen::Ref<const Eigen::MatrixXd>& R, Eigen::MatrixXd& Bt, Index row) const;
  // The row vector (Λ'Z'Wr)ᵀ in the factor's order.
  Eigen::MatrixXd lambda_to_factor_order(const Eigen::VectorXd& ZtWr) const;
  // update_RX; with ZtWr, also (L⁻¹ P Λ'Z'Wr)ᵀ in the same solve, as rhs_'s last row.
  void update_RX_with(const Eigen::VectorXd* ZtWr);
  // β and u from cu = (L⁻¹ P Λ'Z'Wr)ᵀ in the factor's order and X'Wr; returns ‖c_u‖² + ‖c_β‖²
  // (see solve_beta_u). With defer_u, u's backward solve waits in pending_cu_ until u is read.
  double beta_u_from(Eigen::MatrixXd& cu, const Eigen::VectorXd& XtWr, bool defer_u = false);
  // u from cu once β is known: cu's row minus β'RZX, the factor's backward solve, u_ set.
  void u_from(Eigen::MatrixXd& cu, const Eigen::VectorXd& beta) const;
  void solve_pending_u() const;
  // u_ from the solution of the factor's backward solve.
  void set_u_from_factor_order(const Eigen::MatrixXd& ut) const;
  // At the first θ: weigh the blocked and the sparse factorization by their work per θ.
  void choose_factorization();
  // The chosen factorization, analysed: the blocked one (its analysis may be passed in), or the
  // sparse one of all of A from the simplicial analysis (supernodal: under its ordering).
  void use_blocked(bool sparse_schur, std::unique_ptr<BlockedCholesky> analysed = nullptr);
  void use_sparse(bool supernodal, std::unique_ptr<SimplicialCholesky> analysed);
  // Whether the grouped factorization is taken (at the first θ; analysed if so).
  bool choose_grouped();
  // Its multiply-adds per θ for this many groups and entries of S.
  double grouped_work(double groups, double S_entries) const;
  // Its group sums brought up to date; false where new weights split the first term's levels
  // into groups whose work exceeds kGroupedWorkShare of the blocked work it replaces (then the
  // factorizations are weighed again).
  bool grouped_products_current();
  // Its factorization at the current θ, and the solve for β with u left pending
  // (update_RX_solve_beta's).
  void factor_grouped();
  double grouped_solve_beta(const Eigen::VectorXd& XtWr);
  bool grouped_allowed_ = false;
  std::optional<GroupedFirstTerm> grouped_;
  bool grouped_current_ = false;  // its sums belong to the current weights and response
  Eigen::VectorXd response_ZtWy_;
  // S's pattern as the grouped factorization's analysis found it before being turned down: the
  // blocked factorization's sparse S has the same (its count and analysis reuse it).
  std::vector<int> schur_outer_, schur_inner_;
  // RX_ and ldRX2_ from RX'RX = X'WX − RZX'RZX.
  void set_RX(const Eigen::MatrixXd& RXtRX);
  std::string forced_;  // empty: chosen by cost
  int threads_;
  // The right-hand sides of update_RX's solve, solved: its first p rows are RZXᵀ = (L⁻¹ P Λ'Z'WX)ᵀ
  // in the factor's order (then, for an LMM, the response's row).
  Eigen::MatrixXd rhs_;
  auto RZXt() const { return rhs_.topRows(p()); }
  Eigen::MatrixXd RX_;   // upper triangular, RX'RX = X'WX − RZX'RZX
  double ldL2_ = 0.0, ldRX2_ = 0.0;
  Eigen::VectorXd beta_;
  // u_ and its pending solve change on reading u() (see update_RX_solve_beta): mutable.
  mutable Eigen::VectorXd u_;
  mutable Eigen::MatrixXd pending_cu_;
  Eigen::VectorXd pending_beta_;  // β of the solve that left u pending
  // Whether u waits for its solve. A copy does not inherit the wait: its factor is analysed, not
  // computed (FactorSlot), so it keeps u as last solved (a model's _copy solves it first).
  struct PendingU {
    bool value = false;
    PendingU() = default;
    PendingU(const PendingU&) {}
    PendingU& operator=(bool pending) {
      value = pending;
      return *this;
    }
    explicit operator bool() const { return value; }
  };
  mutable PendingU u_pending_;
};

}  // namespace mixedfit
