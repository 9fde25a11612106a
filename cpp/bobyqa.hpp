// Bound-constrained derivative-free minimization: Powell's BOBYQA (M. J. D. Powell, "The BOBYQA
// algorithm for bound constrained optimization without derivatives", DAMTP 2009/NA06), written
// for this project from the report. It is the optimizer lme4 uses (through NLopt), so the core
// carries it itself: every platform, C++ threads without the GIL, no other package's library.
//
// The interface follows NLopt's conventions, which lme4's settings and mixedfit's optsum use:
// NLopt's default initial step, rescaling to equal initial steps, ρ_end from xtol_rel and xtol_abs,
// and the stop on ftol_abs after an improving trust-region step; results carry NLopt's codes.
#pragma once

#include <functional>

#include "types.hpp"

namespace mixedfit {

// NLopt's result codes (nlopt_result), which optsum.return_code names.
enum OptimizerCode : int {
  kSuccess = 1,
  kFtolReached = 3,
  kXtolReached = 4,
  kMaxevalReached = 5,
  kRoundoffLimited = -4,
};

struct OptimizerResult {
  Eigen::VectorXd x;  // the best point evaluated
  double fmin = 0.0;
  int evaluations = 0;
  int code = 0;
};

struct BobyqaSettings {
  Eigen::VectorXd lower, upper;  // upper's entries may be +inf, lower's -inf
  Eigen::VectorXd initial_step;  // empty: NLopt's heuristic (default_initial_step)
  double ftol_abs = 1e-8;
  double xtol_abs = 1e-8;
  int maxeval = 100000;
  // As NLopt: ρ_end is at least xtol_rel times ρ_begin (in the scaled variables). lme4's
  // nloptwrap runs with nloptr's default 1e-4; 0 leaves ρ_end to xtol_abs alone.
  double xtol_rel = 0.0;
};

using Objective = std::function<double(const Eigen::VectorXd&)>;

// Minimize f from x0 within [lower, upper]. Exceptions thrown by f propagate.
OptimizerResult bobyqa(const Objective& f, const Eigen::VectorXd& x0, const BobyqaSettings& settings);

// NLopt's default initial step for x0 within the bounds: a quarter of a finite range, three
// quarters of the distance to a near bound, else |x0|, else 1.
Eigen::VectorXd default_initial_step(const Eigen::VectorXd& x0, const Eigen::VectorXd& lower,
                                     const Eigen::VectorXd& upper);

}  // namespace mixedfit
