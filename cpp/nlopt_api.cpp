#include "nlopt_api.hpp"

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include <exception>
#include <stdexcept>

namespace mixedfit {

namespace {

// The platform's shared-library calls (where the nlopt module exports no C symbols, as a Windows
// .pyd does not, resolving fails and the callers fall back to Python's optimizer loop).
#ifdef _WIN32
void* open_library(const std::string& path) { return reinterpret_cast<void*>(LoadLibraryA(path.c_str())); }
void* find_symbol(void* handle, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(handle), name));
}
void close_library(void* handle) { FreeLibrary(static_cast<HMODULE>(handle)); }
#else
void* open_library(const std::string& path) { return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); }
void* find_symbol(void* handle, const char* name) { return dlsym(handle, name); }
void close_library(void* handle) { dlclose(handle); }
#endif

template <class F>
void resolve(void* handle, const char* name, F& out) {
  void* symbol = find_symbol(handle, name);
  if (symbol == nullptr) throw std::runtime_error(std::string("NLopt symbol not found: ") + name);
  out = reinterpret_cast<F>(symbol);
}

// What the C callback needs: the objective, and where to keep an exception it throws.
struct Callback {
  const std::function<double(const Eigen::VectorXd&)>* f;
  Eigen::VectorXd x;
  int evaluations = 0;
  std::exception_ptr error;
  void* opt;
  int (*force_stop)(void*);
};

double call_objective(unsigned n, const double* x, double* /*gradient*/, void* data) {
  auto* cb = static_cast<Callback*>(data);
  ++cb->evaluations;
  try {
    cb->x = Eigen::Map<const Eigen::VectorXd>(x, n);
    return (*cb->f)(cb->x);
  } catch (...) {
    cb->error = std::current_exception();
    cb->force_stop(cb->opt);
    return 0.0;
  }
}

}  // namespace

Nlopt::Nlopt(const std::string& library, int algorithm) : algorithm_(algorithm) {
  // The library is already loaded by the nlopt Python package: this finds it, loads nothing new.
  handle_ = open_library(library);
  if (handle_ == nullptr) throw std::runtime_error("cannot open NLopt at " + library);
  try {
    resolve(handle_, "nlopt_create", create_);
    resolve(handle_, "nlopt_destroy", destroy_);
    resolve(handle_, "nlopt_set_min_objective", set_min_objective_);
    resolve(handle_, "nlopt_set_lower_bounds", set_lower_bounds_);
    resolve(handle_, "nlopt_set_ftol_abs", set_ftol_abs_);
    resolve(handle_, "nlopt_set_xtol_abs1", set_xtol_abs1_);
    resolve(handle_, "nlopt_set_maxeval", set_maxeval_);
    resolve(handle_, "nlopt_force_stop", force_stop_);
    resolve(handle_, "nlopt_optimize", optimize_);
  } catch (...) {
    close_library(handle_);
    throw;
  }
}

Nlopt::~Nlopt() { close_library(handle_); }

OptimizerResult Nlopt::minimize(const std::function<double(const Eigen::VectorXd&)>& f, const Eigen::VectorXd& x0,
                                const Eigen::VectorXd& lower, double ftol_abs, double xtol_abs, int maxeval) const {
  const auto n = static_cast<unsigned>(x0.size());
  Opt opt = create_(algorithm_, n);
  if (opt == nullptr) throw std::runtime_error("nlopt_create failed");
  Callback cb{&f, Eigen::VectorXd(n), 0, nullptr, opt, force_stop_};
  set_min_objective_(opt, &call_objective, &cb);
  set_lower_bounds_(opt, lower.data());
  set_ftol_abs_(opt, ftol_abs);
  set_xtol_abs1_(opt, xtol_abs);
  set_maxeval_(opt, maxeval);
  OptimizerResult result;
  result.x = x0;
  result.code = optimize_(opt, result.x.data(), &result.fmin);
  destroy_(opt);
  if (cb.error) std::rethrow_exception(cb.error);
  result.evaluations = cb.evaluations;
  return result;
}

}  // namespace mixedfit
