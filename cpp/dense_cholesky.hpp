// The dense Cholesky factor of the Schur complement (the terms after the first), A = U'U with U
// upper triangular: right-looking and blocked, so that each step's trailing update (nearly all
// the flops) is split over threads by columns. Eigen's LLT runs on one core, and this matrix
// (InstEval: 1156 columns) is the largest cost per θ.
#pragma once

#include "types.hpp"

namespace mixedfit {

// Overwrites A's upper triangle with U (A's strict lower triangle is not read or written);
// false if A is not positive definite.
bool upper_cholesky_in_place(Eigen::MatrixXd& A, int threads);

}  // namespace mixedfit
