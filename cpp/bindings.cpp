// pybind11 bindings for mixedfit._core. Arrays are wrapped without copying: the Python side
// converts once (Fortran-ordered float64 X, int32 CSC indices) and these helpers refuse
// anything else rather than let pybind11 copy silently. Objects that wrap arrays keep the
// Python owners alive through keep_alive; every evaluation releases the GIL. Classes are
// module-local: the package ships one build of this module per instruction-set level.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>
#include <new>
#include <string>
#include <system_error>

#include "bobyqa.hpp"
#include "bootstrap.hpp"
#include "covariance_structure.hpp"
#include "errors.hpp"
#include "glmm.hpp"
#include "lmm.hpp"

namespace py = pybind11;
using namespace mixedfit;

namespace {

void check_array(const py::array& a, const std::string& name, const py::dtype& dtype, int ndim) {
  if (!a.dtype().equal(dtype)) {  // equal, not the same object: an unpickled array has its own dtype object
    throw py::type_error(name + " must have dtype " + std::string(py::str(dtype)) + ", got " +
                         std::string(py::str(a.dtype())));
  }
  if (a.ndim() != ndim) throw py::type_error(name + " must have " + std::to_string(ndim) + " dimension(s)");
}

MapMat map_matrix(const py::array& a, const std::string& name) {
  check_array(a, name, py::dtype::of<double>(), 2);
  if (!(a.flags() & py::array::f_style)) throw py::type_error(name + " must be Fortran-ordered (column-major)");
  return MapMat(static_cast<const double*>(a.data()), a.shape(0), a.shape(1));
}

MapVec map_vector(const py::array& a, const std::string& name) {
  check_array(a, name, py::dtype::of<double>(), 1);
  if (!(a.flags() & py::array::c_style)) throw py::type_error(name + " must be contiguous");
  return MapVec(static_cast<const double*>(a.data()), a.shape(0));
}

MapVecI map_index_vector(const py::array& a, const std::string& name) {
  check_array(a, name, py::dtype::of<int>(), 1);
  if (!(a.flags() & py::array::c_style)) throw py::type_error(name + " must be contiguous");
  return MapVecI(static_cast<const int*>(a.data()), a.shape(0));
}

// A scipy.sparse CSC matrix (sorted int32 indices) seen through its three arrays.
MapSpMat map_csc(const py::object& m, const std::string& name) {
  if (std::string(py::str(m.attr("format"))) != "csc") throw py::type_error(name + " must be a CSC matrix");
  const auto shape = m.attr("shape").cast<std::pair<Index, Index>>();
  const MapVec values = map_vector(m.attr("data"), name + ".data");
  const MapVecI inner = map_index_vector(m.attr("indices"), name + ".indices");
  const MapVecI outer = map_index_vector(m.attr("indptr"), name + ".indptr");
  if (outer.size() != shape.second + 1 || inner.size() != values.size()) {
    throw std::invalid_argument(name + ": inconsistent CSC arrays");
  }
  return MapSpMat(shape.first, shape.second, values.size(), outer.data(), inner.data(), values.data());
}

// The predictor's inputs, shared by both model kinds.
struct PredictorInputs {
  MapMat X;
  MapSpMat Zt, Lambdat;
  MapVecI Lind, term_shapes;
};

PredictorInputs map_predictor_inputs(const py::array& X, const py::object& Zt, const py::object& Lambdat,
                                     const py::array& Lind, const py::array& term_shapes) {
  return {map_matrix(X, "X"), map_csc(Zt, "Zt"), map_csc(Lambdat, "Lambdat"), map_index_vector(Lind, "Lind"),
          map_index_vector(term_shapes, "term_shapes")};
}

CovarianceStructures covariance_structures(const py::array& kinds, const py::array& term_shapes,
                                           const py::array& distances) {
  return CovarianceStructures(map_index_vector(kinds, "kinds"), map_index_vector(term_shapes, "term_shapes"),
                              map_vector(distances, "distances"));
}

// Accessors of the predictor's state that both model kinds expose.
template <class Model>
void def_predictor_accessors(py::class_<Model>& cls) {
  cls.def(
         "set_covariance",
         [](Model& self, const py::array& kinds, const py::array& term_shapes, const py::array& distances) {
           self.predictor().set_covariance(covariance_structures(kinds, term_shapes, distances));
         },
         py::arg("kinds"), py::arg("term_shapes"), py::arg("distances"),
         "Covariance structures for the terms ((kind, rank) per term, the distance-based terms' p × p "
         "distances one after another): theta becomes their parameters.")
      .def_property_readonly("ldL2", [](const Model& self) { return self.predictor().ldL2(); })
      .def_property_readonly("factorization", [](const Model& self) { return self.predictor().factorization(); })
      .def_property_readonly("factorization_costs",
                             [](const Model& self) {
                               const auto& c = self.predictor().factorization_costs();
                               return py::dict(py::arg("dense_flops") = c.dense_flops,
                                               py::arg("schur_updates") = c.schur_updates, py::arg("dense_update") = c.dense_update,
                                               py::arg("blocked_seconds") = c.blocked_seconds,
                                               py::arg("sparse_nonzeros") = c.sparse_nonzeros,
                                               py::arg("sparse_flops") = c.sparse_flops,
                                               py::arg("sparse_seconds") = c.sparse_seconds,
                                               py::arg("schur_factor_nonzeros") = c.schur_factor_nonzeros,
                                               py::arg("schur_factor_flops") = c.schur_factor_flops,
                                               py::arg("schur_pairs") = c.schur_pairs,
                                               py::arg("blocked_sparse_seconds") = c.blocked_sparse_seconds,
                                               py::arg("grouped_groups") = c.grouped_groups,
                                               py::arg("grouped_work") = c.grouped_work,
                                               py::arg("grouped_replaced") = c.grouped_replaced);
                             })
      .def_property_readonly("A_in_place", [](const Model& self) { return self.predictor().A_in_place(); })
      .def("_force_factorization",
           [](Model& self, const std::string& name) { self.predictor().force_factorization(name); },
           "Use this factorization ('blocked', 'blocked-sparse', 'simplicial', 'supernodal' or 'grouped', an LMM's) whatever "
           "the costs say; before the first evaluation.")
      .def(
          "_copy",
          [](const Model& self) {
            py::gil_scoped_release release;
            self.predictor().u();  // a pending solve of u needs this model's factor
            return std::make_unique<Model>(self);
          },
          py::keep_alive<0, 1>(),  // the copy views the arrays this model keeps alive
          "A copy for another thread: the same data (shared), cross-products and state (copied), and "
          "this model's factorization choice and symbolic analysis; it factors at its first evaluation.")
      .def_property(
          "threads", [](const Model& self) { return self.predictor().threads(); },
          [](Model& self, int threads) { self.predictor().set_threads(threads); })
      .def_property_readonly("beta", [](const Model& self) { return self.predictor().beta(); })
      .def_property_readonly("u", [](const Model& self) { return self.predictor().u(); })
      .def_property_readonly("factor_weights", [](const Model& self) { return self.predictor().weights(); },
                             "The weights W of the current factorization of Λ'Z'WZΛ + I.")
      .def_property_readonly("b", [](const Model& self) { return self.predictor().b(); });
}

// Whether this CPU runs the x86-64-v3 build (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE), asked of the
// CPU itself (numpy's feature table is private to numpy).
bool cpu_supports_x86_64_v3() {
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("abm") &&
         __builtin_cpu_supports("movbe");
#else
  return false;  // another architecture, or a compiler without the builtin: the baseline build
#endif
}

void set_error(const char* name, const char* what) {
  const py::object cls = py::module_::import("mixedfit.errors").attr(name);
  PyErr_SetString(cls.ptr(), what);
}

// Lets Ctrl-C stop a loop that runs in the core without the GIL (an LMM's whole BOBYQA run): at
// most every kInterruptPoll, between two evaluations, the GIL is taken and Python's signal
// handlers run (on the main thread; elsewhere PyErr_CheckSignals does nothing); the exception a
// handler raises (KeyboardInterrupt) propagates to the caller, whose model restores itself.
class InterruptPoll {
 public:
  void operator()() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    next_ = now + kInterruptPoll;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }

 private:
  static constexpr std::chrono::milliseconds kInterruptPoll{100};
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now() + kInterruptPoll;
};

// The core's own failures as mixedfit's exceptions; running out of memory or threads too (a
// ResourceError is also a MemoryError), so that no failure inside the core is foreign to Python.
void translate_core_errors(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const NumericalError& e) {
    set_error("NumericalError", e.what());
  } catch (const ResourceError& e) {
    set_error("ResourceError", e.what());
  } catch (const std::bad_alloc&) {
    set_error("ResourceError", "out of memory in mixedfit's core");
  } catch (const std::system_error& e) {
    set_error("ResourceError", (std::string("the system refused a resource to mixedfit's core: ") + e.what()).c_str());
  }
}

}  // namespace

PYBIND11_MODULE(MIXEDFIT_MODULE, m) {
  m.doc() = "mixedfit's compiled core: penalized least squares, PIRLS and the profiled criteria.";
  py::register_exception_translator(&translate_core_errors);

  py::class_<LinearMixedModel> lmm(m, "LinearMixedModel", py::module_local(), py::dynamic_attr());
  lmm.def(py::init([](const py::array& X, const py::object& Zt, const py::object& Lambdat, const py::array& Lind,
                      const py::array& term_shapes, const py::array& y, const py::array& weights) {
            const PredictorInputs in = map_predictor_inputs(X, Zt, Lambdat, Lind, term_shapes);
            const MapVec y_ = map_vector(y, "y");
            const MapVec w_ = map_vector(weights, "weights");
            py::gil_scoped_release release;
            return std::make_unique<LinearMixedModel>(in.X, in.Zt, in.Lambdat, in.Lind, in.term_shapes, y_, w_);
          }),
           py::arg("X"), py::arg("Zt"), py::arg("Lambdat"), py::arg("Lind"), py::arg("term_shapes"), py::arg("y"),
           py::arg("weights"), py::keep_alive<1, 2>(), py::keep_alive<1, 3>(), py::keep_alive<1, 7>())
      .def("objective", &LinearMixedModel::objective, py::arg("theta").noconvert(), py::arg("REML"),
           py::call_guard<py::gil_scoped_release>(),
           "Profiled REML criterion or ML deviance at theta; leaves the model at theta.")
      .def(
          "objectives",
          [](LinearMixedModel& self, const Eigen::MatrixXd& thetas, bool REML) {
            Eigen::VectorXd values(thetas.rows());
            for (Index k = 0; k < thetas.rows(); ++k) values[k] = self.objective(thetas.row(k).transpose(), REML);
            return values;
          },
          py::arg("thetas"), py::arg("REML"), py::call_guard<py::gil_scoped_release>(),
          "objective at each row of thetas (finite differences in one call); leaves the model at the last.")
      .def(
          "optimize",
          [](LinearMixedModel& self, const Eigen::VectorXd& x0, const BobyqaSettings& settings, bool REML) {
            InterruptPoll poll;
            return bobyqa(
                [&self, &poll, REML](const Eigen::VectorXd& theta) {
                  poll();
                  return self.objective(theta, REML);
                },
                x0, settings);
          },
          py::arg("x0"), py::arg("settings"), py::arg("REML"), py::call_guard<py::gil_scoped_release>(),
          "BOBYQA over theta from x0, the criterion evaluated here without the GIL (Ctrl-C is seen within "
          "0.1 s and an evaluation); leaves the model at the last theta evaluated.")
      .def(
          "set_response",
          [](py::object self, const py::array& y) {
            const MapVec y_ = map_vector(y, "y");
            self.attr("_response_arrays") = py::make_tuple(y);  // keeps y alive, releases the previous one
            LinearMixedModel& model = self.cast<LinearMixedModel&>();
            py::gil_scoped_release release;
            model.set_response(y_);
          },
          py::arg("y"), "A new response (offset removed) with the same design.")
      .def("set_weights", &LinearMixedModel::set_weights, py::arg("weights").noconvert(),
           py::call_guard<py::gil_scoped_release>(), "New prior weights (a variance function's) with the same design.")
      .def("values_changed", &LinearMixedModel::values_changed, py::call_guard<py::gil_scoped_release>(),
           "X's, Zt's and y's values were overwritten in place (same pattern): recompute the cross-products.")
      .def("set_observations", &LinearMixedModel::set_observations, py::arg("n"), py::arg("ldW"),
           "Rows are pseudo-observations: use the data's n and sum of log weights in the criterion.")
      .def("deviance_ml", &LinearMixedModel::deviance_ml)
      .def("sigma", &LinearMixedModel::sigma, py::arg("REML"))
      .def_property_readonly("pwrss", &LinearMixedModel::pwrss)
      .def("pwrss_rowwise", &LinearMixedModel::pwrss_rowwise,
           "The penalized weighted RSS summed over the rows (pwrss is from the cross-products).")
      .def_property_readonly("ldW", &LinearMixedModel::ldW)
      .def_property_readonly("ldRX2", [](const LinearMixedModel& self) { return self.predictor().ldRX2(); })
      .def_property_readonly("RX", [](const LinearMixedModel& self) { return self.predictor().RX(); })
      .def("_input_addresses", [](const LinearMixedModel& self) {
             // Where the wrapped inputs live, so tests can check that nothing was copied.
             return py::dict(py::arg("X") = reinterpret_cast<std::uintptr_t>(self.predictor().X_data()),
                             py::arg("Zt") = reinterpret_cast<std::uintptr_t>(self.predictor().Zt_data()),
                             py::arg("y") = reinterpret_cast<std::uintptr_t>(self.y_data()));
           });
  def_predictor_accessors(lmm);

  py::class_<GeneralizedLinearMixedModel> glmm(m, "GeneralizedLinearMixedModel", py::module_local(),
                                               py::dynamic_attr());
  glmm.def(py::init([](const py::array& X, const py::object& Zt, const py::object& Lambdat, const py::array& Lind,
                       const py::array& term_shapes, const py::array& y, const py::array& weights,
                       const py::array& n_trials, const py::array& offset, const py::array& mustart,
                       const std::string& family, const std::string& link, double family_theta) {
             const PredictorInputs in = map_predictor_inputs(X, Zt, Lambdat, Lind, term_shapes);
             const MapVec y_ = map_vector(y, "y");
             const MapVec w_ = map_vector(weights, "weights");
             const MapVec n_ = map_vector(n_trials, "n_trials");
             const MapVec offset_ = map_vector(offset, "offset");
             const MapVec mustart_ = map_vector(mustart, "mustart");
             py::gil_scoped_release release;
             return std::make_unique<GeneralizedLinearMixedModel>(in.X, in.Zt, in.Lambdat, in.Lind, in.term_shapes,
                                                                  y_, w_, n_, offset_, mustart_, family, link,
                                                                  family_theta);
           }),
           py::arg("X"), py::arg("Zt"), py::arg("Lambdat"), py::arg("Lind"), py::arg("term_shapes"), py::arg("y"),
           py::arg("weights"), py::arg("n_trials"), py::arg("offset"), py::arg("mustart"), py::arg("family"),
           py::arg("link"), py::arg("family_theta") = 1.0, py::keep_alive<1, 2>(), py::keep_alive<1, 3>(), py::keep_alive<1, 7>(),
           py::keep_alive<1, 8>(), py::keep_alive<1, 9>(), py::keep_alive<1, 10>())
      .def("set_family_theta", &GeneralizedLinearMixedModel::set_family_theta, py::arg("theta"),
           "Set the negative binomial's shape θ.")
      .def("set_family_shape", &GeneralizedLinearMixedModel::set_family_shape, py::arg("shape"),
           "Set the Student t's degrees of freedom or the Tweedie's power.")
      .def("set_cuts", &GeneralizedLinearMixedModel::set_cuts, py::arg("cuts").noconvert(),
           "The ordinal family's cut points (thresholds), increasing; y holds categories 0, 1, ..., len(cuts).")
      .def("set_dispersion", &GeneralizedLinearMixedModel::set_dispersion, py::arg("log_phi").noconvert(),
           "A dispersion model: each row's log of the family's parameter (phi).")
      .def("set_zero_logit", &GeneralizedLinearMixedModel::set_zero_logit, py::arg("logit").noconvert(),
           "Make the family zero-inflated with these log-odds of a structural zero, one per row.")
      .def("objective_theta", &GeneralizedLinearMixedModel::objective_theta, py::arg("theta").noconvert(),
           py::call_guard<py::gil_scoped_release>(), "nAGQ = 0: Laplace deviance with beta and u from PIRLS.")
      .def("objective", &GeneralizedLinearMixedModel::objective, py::arg("theta").noconvert(),
           py::arg("beta").noconvert(), py::arg("gh_z").noconvert(), py::arg("gh_w").noconvert(),
           py::call_guard<py::gil_scoped_release>(),
           "nAGQ >= 1: Laplace (one node) or adaptive Gauss-Hermite deviance with u from PIRLS.")
      .def(
          "set_response",
          [](py::object self, const py::array& y, const py::array& mustart) {
            const MapVec y_ = map_vector(y, "y");
            const MapVec mustart_ = map_vector(mustart, "mustart");
            self.attr("_response_arrays") = py::make_tuple(y, mustart);  // as for the LMM
            GeneralizedLinearMixedModel& model = self.cast<GeneralizedLinearMixedModel&>();
            py::gil_scoped_release release;
            model.set_response(y_, mustart_);
          },
          py::arg("y"), py::arg("mustart"), "A new response with its starting means.")
      .def_property_readonly("has_laplace_gradient", &GeneralizedLinearMixedModel::has_laplace_gradient)
      .def(
          "laplace_gradient",
          [](GeneralizedLinearMixedModel& self, bool with_family_theta, bool with_zero, bool with_cuts,
             bool with_family_shape, bool with_dispersion) {
            GeneralizedLinearMixedModel::LaplaceGradient g;
            {
              py::gil_scoped_release release;
              g = self.laplace_gradient({with_family_theta, with_zero, with_cuts, with_family_shape, with_dispersion});
            }
            return py::make_tuple(g.theta, g.beta, g.log_family_theta, g.zero_logit, g.cuts, g.family_shape,
                                  g.log_dispersion);
          },
          py::arg("with_family_theta"), py::arg("with_zero"), py::arg("with_cuts") = false,
          py::arg("with_family_shape") = false, py::arg("with_dispersion") = false,
          "The Laplace deviance's gradient at the last objective's point: (theta, beta, log family theta, "
          "zero-inflation log-odds per row, ordinal cut points, family shape's search coordinate, log phi per row).")
      .def("deviance", &GeneralizedLinearMixedModel::deviance)
      .def("pearson_rss", &GeneralizedLinearMixedModel::pearson_rss)
      .def("aic", &GeneralizedLinearMixedModel::aic)
      .def("deviance_residuals", &GeneralizedLinearMixedModel::deviance_residuals)
      .def("mu_eta", &GeneralizedLinearMixedModel::mu_eta)
      .def("variance", &GeneralizedLinearMixedModel::variance)
      .def_property_readonly("mu", &GeneralizedLinearMixedModel::mu)
      .def_property_readonly("eta", &GeneralizedLinearMixedModel::eta)
      .def_property_readonly("pirls_iterations", &GeneralizedLinearMixedModel::pirls_iterations)
      .def_property_readonly("RX", &GeneralizedLinearMixedModel::RX)
      .def("_set_pair_map_limit",
           [](GeneralizedLinearMixedModel& self, Index entries) { self.predictor().set_pair_map_limit(entries); });
  def_predictor_accessors(glmm);

  m.def(
      "covariance_factor",
      [](const py::array& kinds, const py::array& term_shapes, const py::array& distances,
         const Eigen::VectorXd& theta) { return covariance_structures(kinds, term_shapes, distances).factor(theta); },
      py::arg("kinds"), py::arg("term_shapes"), py::arg("distances"), py::arg("theta"),
      "The terms' relative factors T (lme4's θ, each lower triangle by column) at the structures' parameters.");
  m.def(
      "lmm_refits",
      [](const py::array& X, const py::object& Zt, const py::object& Lambdat, const py::array& Lind,
         const py::array& term_shapes, const py::array& weights, const py::array& Y, bool REML,
         const Eigen::VectorXd& start, const BobyqaSettings& settings, int n_threads) {
        const PredictorInputs in = map_predictor_inputs(X, Zt, Lambdat, Lind, term_shapes);
        const LmmDesign design{in.X, in.Zt, in.Lambdat, in.Lind, in.term_shapes, map_vector(weights, "weights")};
        const MapMat Y_ = map_matrix(Y, "Y");
        LmmRefits r;
        {
          py::gil_scoped_release release;
          r = lmm_refits(design, Y_, REML, start, settings, n_threads);
        }
        return py::dict(py::arg("theta") = r.theta, py::arg("beta") = r.beta, py::arg("stderr") = r.stderr_beta,
                        py::arg("sigma") = r.sigma,
                        py::arg("objective") = r.objective, py::arg("evaluations") = r.evaluations,
                        py::arg("code") = r.code);
      },
      py::arg("X"), py::arg("Zt"), py::arg("Lambdat"), py::arg("Lind"), py::arg("term_shapes"), py::arg("weights"),
      py::arg("Y"), py::arg("REML"), py::arg("start"), py::arg("settings"), py::arg("n_threads"),
      "Refit an LMM to each column of Y (offset removed) on n_threads C++ threads with the core's BOBYQA.");

  py::class_<BobyqaSettings>(m, "BobyqaSettings", py::module_local(), "Bounds, initial steps and stopping rules of a BOBYQA run.")
      .def(py::init([](Eigen::VectorXd lower, Eigen::VectorXd upper, Eigen::VectorXd initial_step, double ftol_abs,
                       double xtol_abs, int maxeval, double xtol_rel) {
             return BobyqaSettings{std::move(lower), std::move(upper), std::move(initial_step), ftol_abs, xtol_abs,
                                   maxeval, xtol_rel};
           }),
           py::arg("lower"), py::arg("upper"), py::arg("initial_step"), py::arg("ftol_abs"), py::arg("xtol_abs"),
           py::arg("maxeval"), py::arg("xtol_rel") = 0.0, "initial_step empty: NLopt's heuristic.");
  py::class_<OptimizerResult>(m, "OptimizerResult", py::module_local(), "Where BOBYQA stopped.")
      .def_readonly("x", &OptimizerResult::x)
      .def_readonly("fmin", &OptimizerResult::fmin)
      .def_readonly("evaluations", &OptimizerResult::evaluations)
      .def_readonly("code", &OptimizerResult::code, "NLopt's result code");
  m.def(
      "bobyqa",
      [](const py::function& f, const Eigen::VectorXd& x0, const BobyqaSettings& settings) {
        // The objective is Python: it runs with the GIL held, and its exceptions propagate.
        return bobyqa([&f](const Eigen::VectorXd& x) { return f(x).cast<double>(); }, x0, settings);
      },
      py::arg("f"), py::arg("x0"), py::arg("settings"), "Minimize f(x) by BOBYQA from x0.");

  m.def("cpu_supports_x86_64_v3", &cpu_supports_x86_64_v3,
        "Whether this CPU supports the x86-64-v3 instruction set (the optimized build).");

  m.def(
      "log_density",
      [](const std::string& family, const std::string& link, double theta, double shape,
         const Eigen::Ref<const Eigen::VectorXd>& y, const Eigen::Ref<const Eigen::VectorXd>& mu) {
        if (y.size() != mu.size()) throw std::invalid_argument("y and mu must have the same length");
        Family fam = Family::from_names(family, link, theta);
        if (fam.distribution() == Distribution::Ordinal || fam.distribution() == Distribution::BetaBinomial) {
          throw std::invalid_argument("log_density takes families whose density needs only y and mu");
        }
        if (fam.has_shape()) {
          fam.set_shape(shape);
        }
        Eigen::VectorXd out(y.size());
        for (Index i = 0; i < y.size(); ++i) out[i] = fam.log_density(y[i], mu[i], kNoZeroMass);
        return out;
      },
      py::arg("family"), py::arg("link"), py::arg("theta"), py::arg("shape"), py::arg("y"), py::arg("mu"),
      "Each observation's log p(y | mu) under a family of the Laplace engine with its parameter theta (and the "
      "Student t's df or the Tweedie's power as shape): pointwise log-likelihoods.");
  m.def(
      "link_inverse",
      [](const std::string& family, const std::string& link, const Eigen::Ref<const Eigen::VectorXd>& eta) {
        const Family fam = Family::from_names(family, link);
        return Eigen::VectorXd(eta.unaryExpr([&fam](double e) { return fam.linkinv(e); }));
      },
      py::arg("family"), py::arg("link"), py::arg("eta"), "The family's inverse link applied to eta (for predict).");
}
