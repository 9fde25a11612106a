#include "bootstrap.hpp"

#include <algorithm>
#include <limits>

#include "errors.hpp"
#include "parallel.hpp"

namespace mixedfit {

namespace {

void refit_columns(const LmmDesign& d, MapMat Y, bool REML, const Eigen::VectorXd& start,
                   const BobyqaSettings& settings, int first, int stride, LmmRefits& out) {
  const Index n = Y.rows();
  LinearMixedModel model(d.X, d.Zt, d.Lambdat, d.Lind, d.term_shapes, MapVec(Y.col(first).data(), n), d.weights);
  model.predictor().set_threads(1);  // the refits already run one per core
  const auto criterion = [&model, REML](const Eigen::VectorXd& theta) { return model.objective(theta, REML); };
  for (Index k = first; k < Y.cols(); k += stride) {
    try {
      model.set_response(MapVec(Y.col(k).data(), n));
      const OptimizerResult r = bobyqa(criterion, start, settings);
      out.objective[k] = model.objective(r.x, REML);  // leaves the model at the optimum
      out.theta.col(k) = r.x;
      out.beta.col(k) = model.predictor().beta();
      out.sigma[k] = model.sigma(REML);
      const Eigen::MatrixXd& RX = model.predictor().RX();
      if (RX.size() > 0) {  // rows of RX⁻¹ (upper triangular): their norms give diag((RX'RX)⁻¹)
        const Eigen::MatrixXd inverse =
            RX.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd::Identity(RX.rows(), RX.cols()));
        out.stderr_beta.col(k) = out.sigma[k] * inverse.rowwise().norm();
      }
      out.evaluations[k] = r.evaluations;
      out.code[k] = r.code;
    } catch (const NumericalError&) {
      constexpr double nan = std::numeric_limits<double>::quiet_NaN();
      out.theta.col(k).setConstant(nan);
      out.beta.col(k).setConstant(nan);
      out.stderr_beta.col(k).setConstant(nan);
      out.sigma[k] = out.objective[k] = nan;
      out.code[k] = kNumericalFailure;
    }
  }
}

}  // namespace

LmmRefits lmm_refits(const LmmDesign& design, MapMat Y, bool REML, const Eigen::VectorXd& start,
                     const BobyqaSettings& settings, int n_threads) {
  require(Y.rows() == design.X.rows(), "Y must have one row per observation");
  require(start.size() == settings.lower.size(), "start and lower must have the same length");
  require(start.allFinite() && (start.array() >= settings.lower.array()).all(),
          "the refits' start must be finite and within the lower bounds");
  const Index nsim = Y.cols();
  LmmRefits out;
  out.theta.resize(start.size(), nsim);
  out.beta.resize(design.X.cols(), nsim);
  out.stderr_beta.resize(design.X.cols(), nsim);
  out.sigma.resize(nsim);
  out.objective.resize(nsim);
  out.evaluations = Eigen::VectorXi::Zero(nsim);
  out.code.resize(nsim);
  if (nsim == 0) return out;
  const int threads = static_cast<int>(std::clamp<Index>(n_threads, 1, nsim));
  // Workers write disjoint columns of out; an exception other than NumericalError is carried back.
  parallel_for(threads, [&](int t) { refit_columns(design, Y, REML, start, settings, t, threads, out); });
  return out;
}

}  // namespace mixedfit
