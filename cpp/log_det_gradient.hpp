// The slope of log det H, H = Λ'Z'WZΛ + I for a diagonal W, in Λ's values, and each observation's
// leverage hᵢ = mᵢ'H⁻¹mᵢ (mᵢ' row i of M = ZΛ): what the Laplace deviance's gradient
// (laplace_gradient.cpp) and the LMM criterion's (lmm.cpp) need of H. With E the pattern of one of
// Λ's values, ∂ log det H = 2 tr(H⁻¹Λ'Z'WZ E) = 2 Σᵢ wᵢ z_ir (H⁻¹mᵢ)_c over that value's (r, c):
// H⁻¹ is needed only at pairs of random effects that share an observation, all in H's pattern,
// and comes from its selected inverse, not from H⁻¹ itself.
#pragma once

#include <vector>

#include "predictor.hpp"
#include "selected_inverse.hpp"
#include "types.hpp"

namespace mixedfit {

class LogDetGradient {
 public:
  // At the predictor's current Λ, for the weights w at which the predictor's A was last formed
  // (H is that A).
  void compute(const Predictor& pred, const Eigen::VectorXd& w);
  // Whether compute() costs about a factorization of H or less than kAffordableFlops: the selected
  // inverse takes the factor's Σⱼ cⱼ² multiply-adds, gathered entry by entry where consecutive
  // columns differ (InstEval's dense Schur complement: seconds per gradient against 5 ms per
  // evaluation). Analyses H's pattern the first time.
  bool affordable(const Predictor& pred);
  static constexpr double kAffordableFlops = 2e7;
  // hᵢ for each observation, and ∂ log det H / ∂ (the terms' factor elements).
  const Eigen::VectorXd& hat() const { return hat_; }
  const Eigen::VectorXd& factor_gradient() const { return factor_gradient_; }
  // M' = (ZΛ)' (q × n) at the last compute, and H⁻¹ b.
  const SpMat& Mt() const { return Mt_; }
  Eigen::VectorXd solve(const Eigen::VectorXd& b) const { return inverse_.solve(b); }

 private:
  // Mt_'s pattern and the contributions z_ir Λ_rc to its values, by observation (once).
  void analyse(const Predictor& pred);
  struct Contribution {
    int mt, zt, lambda;  // positions in Mt_'s, Zt's and Λ's values
  };
  SpMat Mt_;
  std::vector<Contribution> contributions_;
  std::vector<int> contribution_start_;  // observation i's: [start[i], start[i + 1])
  SelectedInverse inverse_;
  std::vector<Index> pair_slots_;  // where each observation's pairs of random effects are in it
  Eigen::VectorXd hat_, factor_gradient_;
  double flops_ = -1.0;  // the selected inverse's multiply-adds (affordable(); < 0: not yet known)
};

// H = M'WM + I from Mt = M' (q × n).
SpMat penalized_information(const SpMat& Mt, const Eigen::VectorXd& w);

// factor_gradient[k] += scale · rows.row(r) · columns.row(c) over Λ's values (r, c) holding the
// factor element k: Σ_(r,c) a_r b_c, the form of every term of a gradient in Λ's values.
void add_lambda_products(const Predictor& pred, const Eigen::Ref<const Eigen::MatrixXd>& rows,
                         const Eigen::Ref<const Eigen::MatrixXd>& columns, double scale,
                         Eigen::VectorXd& factor_gradient);

}  // namespace mixedfit
