// NLopt's C API, resolved at run time from the library the `nlopt` Python package already
// loaded (its extension module exports the C functions). This lets the core run BOBYQA in its
// own threads, without the GIL, for bootstrap refits; NLopt stays a single dependency, from PyPI.
#pragma once

#include <functional>
#include <string>

#include "types.hpp"

namespace mixedfit {

struct OptimizerResult {
  Eigen::VectorXd x;
  double fmin = 0.0;
  int evaluations = 0;
  int code = 0;  // NLopt's nlopt_result (> 0 success, 5 = maximum evaluations reached)
};

// The NLopt functions mixedfit uses, from the shared object at `library` (dlopen/dlsym).
// Throws std::runtime_error if the library or a symbol is missing.
class Nlopt {
 public:
  Nlopt(const std::string& library, int algorithm);
  ~Nlopt();
  Nlopt(const Nlopt&) = delete;
  Nlopt& operator=(const Nlopt&) = delete;

  // Minimize f from x0 with lower bounds, NLopt's tolerances ftol_abs and xtol_abs and a cap
  // on evaluations (lme4's nloptwrap settings). Exceptions thrown by f stop the optimization
  // and are rethrown.
  OptimizerResult minimize(const std::function<double(const Eigen::VectorXd&)>& f, const Eigen::VectorXd& x0,
                           const Eigen::VectorXd& lower, double ftol_abs, double xtol_abs, int maxeval) const;

 private:
  void* handle_ = nullptr;  // one reference to the library, released by the destructor
  using Opt = void*;
  using Func = double (*)(unsigned, const double*, double*, void*);
  Opt (*create_)(int, unsigned) = nullptr;
  void (*destroy_)(Opt) = nullptr;
  int (*set_min_objective_)(Opt, Func, void*) = nullptr;
  int (*set_lower_bounds_)(Opt, const double*) = nullptr;
  int (*set_ftol_abs_)(Opt, double) = nullptr;
  int (*set_xtol_abs1_)(Opt, double) = nullptr;
  int (*set_maxeval_)(Opt, int) = nullptr;
  int (*force_stop_)(Opt) = nullptr;
  int (*optimize_)(Opt, double*, double*) = nullptr;
  int algorithm_;
};

}  // namespace mixedfit
