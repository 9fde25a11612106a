// Refits of a linear mixed model to many responses (the parametric bootstrap) on C++ threads,
// each with its own model (one symbolic analysis per thread) and the core's BOBYQA, no GIL.
#pragma once

#include "lmm.hpp"
#include "bobyqa.hpp"

namespace mixedfit {

struct LmmRefits {
  Eigen::MatrixXd theta;  // one column per response
  Eigen::MatrixXd beta;
  Eigen::MatrixXd stderr_beta;  // β's standard errors, σ √diag((RX'RX)⁻¹)
  Eigen::VectorXd sigma, objective;
  Eigen::VectorXi evaluations, code;  // code: the optimizer's (NLopt's codes); kNumericalFailure if the criterion failed
};

constexpr int kNumericalFailure = -100;

struct LmmDesign {
  MapMat X;
  MapSpMat Zt, Lambdat;
  MapVecI Lind, term_shapes;
  MapVec weights;
};

// Each column of Y (offset removed) is fitted from start; the results do not depend on n_threads.
LmmRefits lmm_refits(const LmmDesign& design, MapMat Y, bool REML, const Eigen::VectorXd& start,
                     const BobyqaSettings& settings, int n_threads);

}  // namespace mixedfit
