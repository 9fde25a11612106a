#include "bobyqa.hpp"

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>
#include <utility>

#include "bobyqa_steps.hpp"
#include "errors.hpp"

namespace mixedfit {

namespace {

using bobyqa_detail::geometry_step;
using bobyqa_detail::trust_region_step;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// The quadratic model interpolates f at npt = 2n + 1 points; each new point replaces one, and
// the model changes by the least Frobenius norm of its Hessian's change (Powell's report, §2).
// H is the inverse of the interpolation system's KKT matrix W = [A X; X' 0], with
// A_ij = ½((y_i·y_j)²) and X's rows (1, y_i'), for the points y_i relative to the base point.
// Powell stores H's parts factored; n is small for mixed models (the θ of a few terms), so H is
// kept whole, updated by his rank-2 formula, and recomputed from W whenever the base moves.
class Solver {
 public:
  // lower and upper are the caller's bounds; the solver works in x / scale.
  Solver(const Objective& f, const VectorXd& scale, const VectorXd& lower, const VectorXd& upper, int maxeval)
      : f_(f),
        scale_(scale),
        lower_(lower),
        upper_(upper),
        xl_(lower.cwiseQuotient(scale)),
        xu_(upper.cwiseQuotient(scale)),
        n_(static_cast<int>(lower.size())),
        npt_(2 * n_ + 1),
        m_(npt_ + n_ + 1),
        maxeval_(maxeval) {}

  OptimizerResult run(VectorXd x0, double rhobeg, double rhoend, double ftol_abs);

 private:
  enum class Next { kTrustRegion, kGeometry, kReduceRho };

  // Evaluation of f at base + y (within the bounds, exactly on one where y is): false once the
  // evaluations are used up.
  bool evaluate(const VectorXd& y, double& value);
  VectorXd xopt() const { return points_.row(kopt_).transpose(); }
  double fopt() const { return fval_[kopt_]; }

  void place_initial_points(double rho);
  bool evaluate_initial_points(int first);
  bool invert_kkt();
  void move_base_to_xopt();
  bool shift_base() {
    move_base_to_xopt();
    return invert_kkt();
  }
  // The least-Frobenius-norm quadratic with the given values at the points: its gradient at
  // x_opt and its Hessian (coefficients: H's first npt columns times the values).
  std::pair<VectorXd, MatrixXd> least_norm_interpolant(const VectorXd& values) const;
  void adopt_best_point();
  // w(x_opt + d) - w(x_opt)'s product with H, plus e_kopt: H w(x_opt + d), the Lagrange functions'
  // values at the new point (first npt entries); and β of the update formula.
  void denominators(const VectorXd& d);
  double sigma(int k) const { return H_(k, k) * beta_ + vlag_[k] * vlag_[k]; }
  void update_inverse(int knew);
  MatrixXd lagrange_hessian(int k) const {
    return points_.transpose() * H_.col(k).head(npt_).asDiagonal() * points_;
  }
  void replace_point(int knew, const VectorXd& ynew, double f, double diff, const VectorXd& d);
  void consider_least_norm_model();
  int choose_replaced(const VectorXd& from, bool skip_kopt, double delta, bool& cancelled) const;
  bool rescue(double rho);

  const Objective& f_;
  VectorXd scale_, lower_, upper_, xl_, xu_;  // xl_, xu_: the bounds scaled
  int n_, npt_, m_, maxeval_;
  int nf_ = 0;
  VectorXd xbase_, sl_, su_;  // base point, and the bounds relative to it
  MatrixXd points_;           // npt × n, relative to the base point
  VectorXd fval_;
  int kopt_ = 0;
  MatrixXd H_;
  VectorXd gopt_;  // the model's gradient at x_opt and its Hessian (its value there is fopt)
  MatrixXd G_;
  VectorXd vlag_;
  double beta_ = 0.0;
  int itest_ = 0;
  VectorXd best_x_;
  double best_f_ = std::numeric_limits<double>::infinity();
};

bool Solver::evaluate(const VectorXd& y, double& value) {
  if (nf_ >= maxeval_) return false;
  // Within the caller's bounds (unscaling can round past them), exactly on one where y is.
  VectorXd unscaled(n_);
  for (int i = 0; i < n_; ++i) {
    unscaled[i] = std::clamp((xbase_[i] + y[i]) * scale_[i], lower_[i], upper_[i]);
    if (y[i] == sl_[i]) unscaled[i] = lower_[i];
    if (y[i] == su_[i]) unscaled[i] = upper_[i];
  }
  ++nf_;
  value = f_(unscaled);
  if (!std::isfinite(value)) {  // the quadratic model cannot take it in
    std::ostringstream what;
    what << "the objective is " << value << " at (" << unscaled.transpose() << ")";
    throw NumericalError(what.str());
  }
  if (value < best_f_) best_f_ = value, best_x_ = unscaled;
  return true;
}

// The base point and base ± ρ e_i; where a bound is nearer than ρ both steps go the other way
// (ρ and 2ρ, or up to the far bound). The bounds are at least 2ρ apart.
void Solver::place_initial_points(double rho) {
  points_ = MatrixXd::Zero(npt_, n_);
  for (int i = 0; i < n_; ++i) {
    const double a = su_[i] >= rho ? rho : -rho;
    double b = std::max(-2.0 * rho, sl_[i]);
    if (a > 0.0) b = sl_[i] <= -rho ? -rho : std::min(2.0 * rho, su_[i]);
    points_(i + 1, i) = a;
    points_(n_ + i + 1, i) = b;
  }
}

// Evaluates the points from `first` on, in Powell's order; where both steps of a variable went
// the same way and the farther point is better, the two swap places (as his PRELIM does).
bool Solver::evaluate_initial_points(int first) {
  for (int k = first; k < npt_; ++k) {
    if (!evaluate(points_.row(k).transpose(), fval_[k])) return false;
    const int i = k - n_ - 1;
    if (i >= 0 && points_(k, i) * points_(i + 1, i) > 0.0 && fval_[k] < fval_[i + 1]) {
      points_.row(k).swap(points_.row(i + 1));
      std::swap(fval_[k], fval_[i + 1]);
    }
  }
  return true;
}

// H = W⁻¹, computed in coordinates scaled by the points' largest distance from the base point,
// which keeps W's entries of order one: W = D Ŵ D with D = diag(r² I, r⁻², r⁻¹ I).
bool Solver::invert_kkt() {
  const double r = points_.rowwise().norm().maxCoeff();
  if (!(r > 0.0) || !std::isfinite(r)) return false;
  const MatrixXd Y = points_ / r;
  MatrixXd W = MatrixXd::Zero(m_, m_);
  W.topLeftCorner(npt_, npt_) = 0.5 * (Y * Y.transpose()).array().square().matrix();
  W.block(0, npt_, npt_, 1).setOnes();
  W.block(0, npt_ + 1, npt_, n_) = Y;
  W.block(npt_, 0, 1, npt_).setOnes();
  W.block(npt_ + 1, 0, n_, npt_) = Y.transpose();
  const Eigen::FullPivLU<MatrixXd> lu(W);
  if (lu.rank() < m_ || lu.rcond() < 1e-14) return false;
  VectorXd dinv(m_);
  dinv.head(npt_).setConstant(1.0 / (r * r));
  dinv[npt_] = r * r;
  dinv.tail(n_).setConstant(r);
  H_ = dinv.asDiagonal() * lu.inverse() * dinv.asDiagonal();
  H_ = 0.5 * (H_ + H_.transpose()).eval();
  return true;
}

// Moves the base point to x_opt, where cancellation in W's entries is least (Powell shifts when
// |x_opt| ≫ the step; H is then recomputed). The model is held at x_opt and does not change.
void Solver::move_base_to_xopt() {
  const VectorXd xo = xopt();
  xbase_ += xo;
  points_.rowwise() -= xo.transpose();
  points_.row(kopt_).setZero();
  sl_ -= xo;
  su_ -= xo;
}

std::pair<VectorXd, MatrixXd> Solver::least_norm_interpolant(const VectorXd& values) const {
  const VectorXd coef = H_.leftCols(npt_) * values;
  MatrixXd hessian = points_.transpose() * coef.head(npt_).asDiagonal() * points_;
  VectorXd gradient = coef.tail(n_) + hessian * xopt();
  return {std::move(gradient), std::move(hessian)};
}

// After new points were placed around x_opt (the first point): the best becomes x_opt.
void Solver::adopt_best_point() {
  Eigen::Index best;
  fval_.minCoeff(&best);
  if (best == kopt_) return;
  gopt_ += G_ * (points_.row(best) - points_.row(kopt_)).transpose();
  kopt_ = static_cast<int>(best);
}

void Solver::denominators(const VectorXd& d) {
  const VectorXd xo = xopt();
  VectorXd dw = VectorXd::Zero(m_);
  for (int k = 0; k < npt_; ++k) {
    const double a = points_.row(k).dot(d), b = points_.row(k).dot(xo);
    dw[k] = a * (0.5 * a + b);
  }
  dw.tail(n_) = d;
  vlag_ = H_ * dw;
  const double quadratic = dw.dot(vlag_);  // dw' H dw
  vlag_[kopt_] += 1.0;
  const double xoptsq = xo.squaredNorm(), dx = d.dot(xo), dsq = d.squaredNorm();
  // ½|x_opt + d|⁴ - ½|x_opt|⁴ - 2 w(x_opt)'... expanded so that nothing of order |x_opt|⁴ cancels.
  beta_ = dx * dx + dsq * (xoptsq + 2.0 * dx + 0.5 * dsq) - quadratic;
}

// Powell's formula for H after the knew-th point is replaced by the one denominators() saw:
// H⁺ = H + σ⁻¹[α u u' - β h h' + τ(h u' + u h')], u = e_t - Hw, h = H e_t, α = h_t, τ = (Hw)_t.
void Solver::update_inverse(int knew) {
  const double alpha = H_(knew, knew), tau = vlag_[knew];
  const double sig = alpha * beta_ + tau * tau;
  VectorXd u = -vlag_;
  u[knew] += 1.0;
  const VectorXd h = H_.col(knew);
  H_ += (alpha / sig) * u * u.transpose() - (beta_ / sig) * h * h.transpose() +
        (tau / sig) * (h * u.transpose() + u * h.transpose());
}

// The knew-th point becomes ynew = x_opt + d with value f; the model gains diff = f - Q(ynew)
// times the new knew-th Lagrange function, so that it interpolates f there.
void Solver::replace_point(int knew, const VectorXd& ynew, double f, double diff, const VectorXd& d) {
  const double previous_fopt = fopt();
  const VectorXd xo = xopt();  // the knew-th point may be x_opt itself
  update_inverse(knew);
  points_.row(knew) = ynew.transpose();
  fval_[knew] = f;
  const MatrixXd hessian = lagrange_hessian(knew);
  gopt_ += diff * (H_.col(knew).tail(n_) + hessian * xo);
  G_ += diff * hessian;
  if (f < previous_fopt) {
    kopt_ = knew;
    gopt_ += G_ * d;
  }
}

// If the model's projected gradient stays much larger than that of the least-Frobenius-norm
// interpolant to the same values for three trust-region steps, use that interpolant instead.
void Solver::consider_least_norm_model() {
  auto [gradient, hessian] = least_norm_interpolant((fval_.array() - fopt()).matrix());
  const VectorXd xo = xopt();
  double gqsq = 0.0, gisq = 0.0;
  for (int i = 0; i < n_; ++i) {
    double gq = gopt_[i], gi = gradient[i];
    if (xo[i] == sl_[i]) gq = std::min(0.0, gq), gi = std::min(0.0, gi);
    if (xo[i] == su_[i]) gq = std::max(0.0, gq), gi = std::max(0.0, gi);
    gqsq += gq * gq;
    gisq += gi * gi;
  }
  ++itest_;
  if (gqsq < 10.0 * gisq) itest_ = 0;
  if (itest_ >= 3) {
    gopt_ = std::move(gradient);
    G_ = std::move(hessian);
    itest_ = 0;
  }
}

// The point to replace by a trust-region step's new point: the largest update denominator σ,
// weighted by the point's distance from `from` (relative to the trust region) to the fourth.
// cancelled reports when rounding has damaged H (Powell's test for calling RESCUE).
int Solver::choose_replaced(const VectorXd& from, bool skip_kopt, double delta, bool& cancelled) const {
  double scaden = 0.0, biglsq = 0.0;
  int knew = -1;
  for (int k = 0; k < npt_; ++k) {
    if (skip_kopt && k == kopt_) continue;
    const double distsq = (points_.row(k).transpose() - from).squaredNorm();
    const double weight = std::max(1.0, std::pow(distsq / (delta * delta), 2));
    if (weight * sigma(k) > scaden) scaden = weight * sigma(k), knew = k;
    biglsq = std::max(biglsq, weight * vlag_[k] * vlag_[k]);
  }
  cancelled = knew < 0 || scaden <= 0.5 * biglsq;
  return knew;
}

// Powell's RESCUE restores H when rounding has damaged it. Here: recompute H from W at x_opt;
// if W itself is (nearly) singular, put the other points back at x_opt ± ρ e_i (new
// evaluations) and keep the model, corrected to interpolate them.
bool Solver::rescue(double rho) {
  if (shift_base()) return true;
  const double fo = fopt();  // the base point is now x_opt
  place_initial_points(rho);
  fval_.setConstant(fo);
  kopt_ = 0;
  if (!evaluate_initial_points(1) || !invert_kkt()) return false;
  VectorXd residuals(npt_);  // of the model, which the correction interpolates
  for (int k = 0; k < npt_; ++k) {
    const VectorXd y = points_.row(k).transpose();
    residuals[k] = fval_[k] - fo - gopt_.dot(y) - 0.5 * y.dot(G_ * y);
  }
  const auto [gradient, hessian] = least_norm_interpolant(residuals);
  gopt_ += gradient;
  G_ += hessian;
  adopt_best_point();
  return true;
}

OptimizerResult Solver::run(VectorXd x0, double rhobeg, double rhoend, double ftol_abs) {
  OptimizerResult result;
  result.code = kSuccess;
  best_x_ = x0.cwiseProduct(scale_).cwiseMax(lower_).cwiseMin(upper_);
  // A start within ρ of a bound moves onto it or to ρ from it, so that the first points are
  // within the bounds (Powell's report, §2).
  sl_.resize(n_), su_.resize(n_);
  for (int i = 0; i < n_; ++i) {
    const double lo = xl_[i] - x0[i], hi = xu_[i] - x0[i];
    if (lo >= -rhobeg) {
      x0[i] = lo >= 0.0 ? xl_[i] : xl_[i] + rhobeg;
    } else if (hi <= rhobeg) {
      x0[i] = hi <= 0.0 ? xu_[i] : xu_[i] - rhobeg;
    }
    sl_[i] = xl_[i] - x0[i];  // exactly 0 on a bound
    su_[i] = xu_[i] - x0[i];
  }
  xbase_ = x0;
  place_initial_points(rhobeg);
  fval_.resize(npt_);
  const auto finish = [&](int code) {
    result.code = code;
    result.x = best_x_;
    result.fmin = best_f_;
    result.evaluations = nf_;
    return result;
  };
  if (!evaluate_initial_points(0)) return finish(kMaxevalReached);
  if (!invert_kkt()) throw NumericalError("BOBYQA: the initial interpolation points are degenerate");
  kopt_ = 0;
  std::tie(gopt_, G_) = least_norm_interpolant((fval_.array() - fval_[0]).matrix());
  adopt_best_point();

  double rho = rhobeg, delta = rhobeg, ratio = 1.0, dnorm = 0.0, adelt = 0.0, distsq_limit = 0.0, crvmin = -1.0;
  double diffa = 0.0, diffb = 0.0, diffc = 0.0;
  int ntrits = 0, nfsav = nf_, nresc = nf_, knew = -1;
  VectorXd d = VectorXd::Zero(n_), ynew = xopt(), gnew;
  Next next = Next::kTrustRegion;
  while (true) {
    if (next == Next::kTrustRegion) {
      const auto step = trust_region_step(xopt(), gopt_, G_, sl_, su_, delta);
      ynew = step.xnew;
      d = ynew - xopt();
      gnew = step.gnew;
      crvmin = step.crvmin;
      dnorm = std::min(delta, d.norm());
      if (dnorm < 0.5 * rho) {
        // Too short to try: unless the model's errors, or the curvature at a bound, say the
        // points are not good enough to trust the model at this ρ, ρ can go down.
        ntrits = -1;
        distsq_limit = std::pow(10.0 * rho, 2);
        next = Next::kReduceRho;
        const double errbig = std::max({diffa, diffb, diffc});
        if (nf_ <= nfsav + 2 || (crvmin > 0.0 && errbig > 0.125 * rho * rho * crvmin)) {
          next = Next::kGeometry;
        } else {
          const double bdtol = errbig / rho;
          for (int j = 0; j < n_; ++j) {
            double bdtest = bdtol;
            if (ynew[j] == sl_[j]) bdtest = gnew[j];
            if (ynew[j] == su_[j]) bdtest = -gnew[j];
            if (bdtest < bdtol && bdtest + 0.5 * G_(j, j) * rho < bdtol) {
              next = Next::kGeometry;
              break;
            }
          }
        }
        continue;
      }
      ++ntrits;
    } else if (next == Next::kGeometry) {
      // The point farthest from x_opt, if beyond distsq_limit, is moved by a geometry step.
      knew = -1;
      double farthest = distsq_limit;
      for (int k = 0; k < npt_; ++k) {
        const double distsq = (points_.row(k) - points_.row(kopt_)).squaredNorm();
        if (distsq > farthest) farthest = distsq, knew = k;
      }
      if (knew < 0) {
        if (ntrits == -1) {
          next = Next::kReduceRho;
        } else if (ratio > 0.0 || std::max(delta, dnorm) > rho) {
          next = Next::kTrustRegion;
        } else {
          next = Next::kReduceRho;
        }
        continue;
      }
      const double dist = std::sqrt(farthest);
      if (ntrits == -1) {
        delta = std::min(0.1 * delta, 0.5 * dist);
        if (delta <= 1.5 * rho) delta = rho;
      }
      ntrits = 0;
      adelt = std::max(std::min(0.1 * dist, delta), rho);
      d = VectorXd::Zero(n_);  // the step is chosen after a possible shift of the base point
    } else if (next == Next::kReduceRho) {
      if (rho > rhoend) {
        delta = 0.5 * rho;
        const double r = rho / rhoend;
        rho = r <= 16.0 ? rhoend : (r <= 250.0 ? std::sqrt(r) * rhoend : 0.1 * rho);
        delta = std::max(delta, rho);
        ntrits = 0;
        nfsav = nf_;
        next = Next::kTrustRegion;
        continue;
      }
      if (ntrits == -1) {  // the last, short, trust-region step has not been tried: try it
        double f;
        if (!evaluate(ynew, f)) return finish(kMaxevalReached);
        return finish(kXtolReached);
      }
      return finish(kSuccess);
    }

    // A trust-region step (ntrits > 0) or a geometry step (ntrits == 0) from x_opt.
    const double dsq = ntrits == 0 ? adelt * adelt : d.squaredNorm();
    if (dsq <= 1e-3 * xopt().squaredNorm()) {
      const VectorXd xo = xopt();
      if (!shift_base()) {
        if (nf_ <= nresc || !rescue(rho)) return finish(kRoundoffLimited);
        nresc = nf_;
        next = Next::kTrustRegion;
        continue;
      }
      ynew -= xo;
    }
    if (ntrits == 0) {
      // The line step, unless the Cauchy step's ℓ² beats its denominator (Powell's choice).
      const MatrixXd hessian = lagrange_hessian(knew);
      const VectorXd gradient = H_.col(knew).tail(n_) + hessian * xopt();
      const auto step = geometry_step(points_, kopt_, knew, gradient, hessian, H_(knew, knew), adelt, sl_, su_);
      ynew = step.line;
      denominators(ynew - xopt());
      if (sigma(knew) < step.cauchy_value) {
        ynew = step.cauchy;
        denominators(ynew - xopt());
      }
      d = ynew - xopt();
      if (!(sigma(knew) > 0.5 * vlag_[knew] * vlag_[knew])) {
        if (nf_ <= nresc || !rescue(rho)) return finish(kRoundoffLimited);
        nresc = nf_;
        next = Next::kTrustRegion;
        continue;
      }
    } else {
      denominators(d);
      bool cancelled = false;
      knew = choose_replaced(xopt(), true, delta, cancelled);
      if (cancelled) {
        if (nf_ <= nresc || !rescue(rho)) return finish(kRoundoffLimited);
        nresc = nf_;
        next = Next::kTrustRegion;
        continue;
      }
    }

    double f;
    if (!evaluate(ynew, f)) return finish(kMaxevalReached);
    const double fo = fopt();
    const double vquad = gopt_.dot(d) + 0.5 * d.dot(G_ * d);
    const double diff = f - fo - vquad;
    diffc = diffb, diffb = diffa, diffa = std::abs(diff);
    if (dnorm > rho) nfsav = nf_;
    if (ntrits > 0) {
      if (vquad >= 0.0) return finish(kRoundoffLimited);  // the step failed to reduce the model
      ratio = (f - fo) / vquad;
      if (ratio <= 0.1) {
        delta = std::min(0.5 * delta, dnorm);
      } else if (ratio <= 0.7) {
        delta = std::max(0.5 * delta, dnorm);
      } else {
        delta = std::max(0.5 * delta, 2.0 * dnorm);
      }
      if (delta <= 1.5 * rho) delta = rho;
      if (f < fo) {  // the new point becomes x_opt: choose the replaced one relative to it
        bool cancelled = false;
        const int k = choose_replaced(ynew, false, delta, cancelled);
        if (!cancelled) knew = k;
      }
    }
    replace_point(knew, ynew, f, diff, d);
    if (f < fo && fo - f < ftol_abs) return finish(kFtolReached);
    if (ntrits > 0) consider_least_norm_model();
    if (ntrits == 0 || f <= fo + 0.1 * vquad) {
      next = Next::kTrustRegion;
      continue;
    }
    distsq_limit = std::max(std::pow(2.0 * delta, 2), std::pow(10.0 * rho, 2));
    next = Next::kGeometry;
  }
}

}  // namespace

VectorXd default_initial_step(const VectorXd& x0, const VectorXd& lower, const VectorXd& upper) {
  VectorXd step(x0.size());
  for (Index i = 0; i < x0.size(); ++i) {
    const double lo = lower[i], hi = upper[i], x = x0[i];
    double s = std::numeric_limits<double>::infinity();
    if (std::isfinite(hi) && std::isfinite(lo) && hi > lo) s = std::min(s, 0.25 * (hi - lo));
    if (std::isfinite(hi) && hi > x && hi - x < s) s = 0.75 * (hi - x);
    if (std::isfinite(lo) && x > lo && x - lo < s) s = 0.75 * (x - lo);
    if (std::isinf(s)) {
      if (std::isfinite(hi) && std::abs(hi - x) < std::abs(s)) s = 1.1 * (hi - x);
      if (std::isfinite(lo) && std::abs(x - lo) < std::abs(s)) s = 1.1 * (x - lo);
    }
    if (std::isinf(s) || std::abs(s) < 1e-300) s = x;
    if (std::isinf(s) || s == 0.0) s = 1.0;
    step[i] = std::abs(s);
  }
  return step;
}

OptimizerResult bobyqa(const Objective& f, const VectorXd& x0, const BobyqaSettings& settings) {
  const Index n = x0.size();
  require(n > 0, "BOBYQA needs at least one variable");
  require(settings.lower.size() == n && settings.upper.size() == n, "the bounds must have one entry per variable");
  require(settings.maxeval > 0, "maxeval must be positive");
  require(settings.xtol_rel >= 0.0 && std::isfinite(settings.xtol_rel), "xtol_rel must be a non-negative number");
  require(x0.allFinite(), "the start must be finite");
  for (Index i = 0; i < n; ++i) {
    require(!std::isnan(settings.lower[i]) && !std::isnan(settings.upper[i]) &&
                settings.lower[i] < settings.upper[i],
            "each lower bound must be below its upper bound");
    require(x0[i] >= settings.lower[i] && x0[i] <= settings.upper[i], "the start must be within the bounds");
  }
  const VectorXd step = settings.initial_step.size() == 0
                            ? default_initial_step(x0, settings.lower, settings.upper)
                            : settings.initial_step.cwiseAbs();
  require(step.size() == n && step.allFinite() && (step.array() > 0.0).all(),
          "the initial steps must be positive and finite");
  // As NLopt: the variables are scaled so that the initial steps are equal (to 1), unless they
  // already are; ρ ends at xtol_rel times its start or at xtol_abs in the scaled variables,
  // whichever is larger.
  const bool equal = (step.array() == step[0]).all();
  const VectorXd scale = equal ? VectorXd::Ones(n) : step;
  double rhobeg = equal ? step[0] : 1.0;
  // Powell's method needs room for its first points: 2ρ between the bounds.
  rhobeg = std::min(rhobeg, 0.5 * (settings.upper - settings.lower).cwiseQuotient(scale).minCoeff());
  double rhoend = settings.xtol_rel * rhobeg;
  for (Index i = 0; i < n; ++i) rhoend = std::max(rhoend, settings.xtol_abs / scale[i]);
  rhoend = std::min(rhoend, rhobeg);
  Solver solver(f, scale, settings.lower, settings.upper, settings.maxeval);
  return solver.run(x0.cwiseQuotient(scale), rhobeg, rhoend, settings.ftol_abs);
}

}  // namespace mixedfit
