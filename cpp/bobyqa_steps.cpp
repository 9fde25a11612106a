#include "bobyqa_steps.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace mixedfit::bobyqa_detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The first t > 0 at which p(t) = a2 t² + a1 t + a0, with p(0) = a0 > 0, becomes negative
// (+inf if it never does): where a rotated step meets a bound.
double first_crossing(double a2, double a1, double a0) {
  if (a2 == 0.0) return a1 < 0.0 ? -a0 / a1 : kInf;
  const double disc = a1 * a1 - 4.0 * a2 * a0;
  if (disc < 0.0) return kInf;
  const double q = -0.5 * (a1 + std::copysign(std::sqrt(disc), a1));  // roots q/a2 and a0/q, stably
  double best = kInf;
  for (double root : {q / a2, q != 0.0 ? a0 / q : kInf}) {
    if (root > 0.0 && root < best) best = root;
  }
  return best;
}

// Fixed variables: -1 at the lower bound, +1 at the upper, 0 free.
using BoundState = Eigen::VectorXi;

double free_dot(const BoundState& fixed, const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  double sum = 0.0;
  for (Index i = 0; i < a.size(); ++i) {
    if (fixed[i] == 0) sum += a[i] * b[i];
  }
  return sum;
}

// The step's variables left free, others zero.
Eigen::VectorXd free_part(const BoundState& fixed, const Eigen::VectorXd& v) {
  return (fixed.array() == 0).select(v, 0.0);
}

// Phase 2 of the trust-region step: d is on the trust region's boundary; rotate its free part
// d_f ← cos θ d_f + sin θ s, with s ⟂ d_f in the plane of d_f and the gradient and |s| = |d_f|,
// as long as each rotation reduces the model by more than 1% of the reduction so far. A rotation
// that meets a bound fixes that variable there. θ = 2 atan t, t ∈ [0, 1].
void rotate_on_boundary(const Eigen::VectorXd& xopt, const Eigen::MatrixXd& G, const Eigen::VectorXd& sl,
                        const Eigen::VectorXd& su, BoundState& fixed, Eigen::VectorXd& d, Eigen::VectorXd& gnew,
                        double& qred) {
  const Index n = d.size();
  // Powell's loop ends on the reductions alone; the cap only guards against a cycle.
  for (Index iteration = 0; iteration < 100 * n; ++iteration) {
    if ((fixed.array() != 0).count() >= n - 1) return;
    const double dredsq = free_dot(fixed, d, d), dredg = free_dot(fixed, d, gnew), gredsq = free_dot(fixed, gnew, gnew);
    const double cross = gredsq * dredsq - dredg * dredg;
    if (cross <= 1e-4 * qred * qred) return;
    const double scale = std::sqrt(cross);
    Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
    for (Index i = 0; i < n; ++i) {
      if (fixed[i] == 0) s[i] = (dredg * d[i] - dredsq * gnew[i]) / scale;
    }
    // A free variable on its bound is fixed there first (and the rotation set up again).
    Index on_bound = -1;
    for (Index i = 0; i < n && on_bound < 0; ++i) {
      if (fixed[i] != 0) continue;
      if (xopt[i] + d[i] <= sl[i]) fixed[i] = -1, on_bound = i;
      else if (xopt[i] + d[i] >= su[i]) fixed[i] = 1, on_bound = i;
    }
    if (on_bound >= 0) continue;
    // The largest t before a free variable leaves its bounds.
    double tmax = 1.0;
    Index hit = -1;
    int hit_side = 0;
    for (Index i = 0; i < n; ++i) {
      if (fixed[i] != 0) continue;
      const double lo = sl[i] - xopt[i], hi = su[i] - xopt[i];
      // x_i(t)(1 + t²) = (1 - t²) d_i + 2 t s_i; the bound is crossed where the slack turns negative.
      const double t_lo = first_crossing(-(d[i] + lo), 2.0 * s[i], d[i] - lo);
      const double t_hi = first_crossing(hi + d[i], -2.0 * s[i], hi - d[i]);
      if (t_lo < tmax) tmax = t_lo, hit = i, hit_side = -1;
      if (t_hi < tmax) tmax = t_hi, hit = i, hit_side = 1;
    }
    const Eigen::VectorXd df = free_part(fixed, d);
    const Eigen::VectorXd hd = G * df, hs = G * s;
    const double sredg = s.dot(gnew), dhd = df.dot(hd), dhs = df.dot(hs), shs = s.dot(hs);
    const auto reduction = [&](double t) {
      const double c1 = (1.0 - t * t) / (1.0 + t * t) - 1.0, sn = 2.0 * t / (1.0 + t * t);
      return -(c1 * dredg + sn * sredg + 0.5 * (c1 * c1 * dhd + 2.0 * c1 * sn * dhs + sn * sn * shs));
    };
    // The best of a grid on [0, tmax], refined by the parabola through it and its neighbours.
    const int points = static_cast<int>(17.0 * tmax + 3.1);
    int best = 0;
    double best_value = 0.0;
    std::vector<double> values(points + 1, 0.0);
    for (int j = 1; j <= points; ++j) {
      values[j] = reduction(tmax * j / points);
      if (values[j] > best_value) best_value = values[j], best = j;
    }
    if (best == 0) return;
    double t = tmax * best / points;
    const bool at_bound = best == points && hit >= 0;
    if (best < points) {  // the vertex of the parabola through the best point and its neighbours
      const double previous = values[best - 1], next = values[best + 1];  // both below best_value
      t = tmax * (best + 0.5 * (next - previous) / (2.0 * best_value - previous - next)) / points;
      best_value = reduction(t);
      if (best_value <= 0.0) return;
    }
    const double c1 = (1.0 - t * t) / (1.0 + t * t) - 1.0, sn = 2.0 * t / (1.0 + t * t);
    d += c1 * df + sn * s;
    gnew += c1 * hd + sn * hs;
    qred += best_value;
    if (at_bound) {
      fixed[hit] = hit_side;
      d[hit] = (hit_side < 0 ? sl[hit] : su[hit]) - xopt[hit];
      continue;
    }
    if (best_value <= 0.01 * qred) return;
  }
}

}  // namespace

TrustRegionStep trust_region_step(const Eigen::VectorXd& xopt, const Eigen::VectorXd& gopt, const Eigen::MatrixXd& G,
                                  const Eigen::VectorXd& sl, const Eigen::VectorXd& su, double delta) {
  const Index n = xopt.size();
  TrustRegionStep out{xopt, gopt, -1.0};
  Eigen::VectorXd d = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd& gnew = out.gnew;
  // Variables on a bound that the gradient pushes against stay there.
  BoundState fixed = BoundState::Zero(n);
  for (Index i = 0; i < n; ++i) {
    if (xopt[i] <= sl[i] && gopt[i] >= 0.0) fixed[i] = -1;
    if (xopt[i] >= su[i] && gopt[i] <= 0.0) fixed[i] = 1;
  }
  double delsq = delta * delta, qred = 0.0, beta = 0.0, gredsq = 0.0, ggsav = 0.0;
  Index iterations = 0, max_iterations = 0;
  Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
  bool on_boundary = false;
  while (true) {
    for (Index i = 0; i < n; ++i) s[i] = fixed[i] != 0 ? 0.0 : beta * s[i] - gnew[i];
    const double stepsq = s.squaredNorm();
    if (stepsq == 0.0) break;
    if (beta == 0.0) {
      gredsq = stepsq;
      max_iterations = iterations + n - (fixed.array() != 0).count();
    }
    if (gredsq * delsq <= 1e-4 * qred * qred) break;
    const double resid = delsq - free_dot(fixed, d, d);
    if (resid <= 0.0) {
      on_boundary = true;
      break;
    }
    const Eigen::VectorXd hs = G * s;
    const double ds = free_dot(fixed, d, s), shs = s.dot(hs);
    const double root = std::sqrt(stepsq * resid + ds * ds);
    const double to_boundary = ds < 0.0 ? (root - ds) / stepsq : resid / (root + ds);
    double step = to_boundary;
    if (shs > 0.0) step = std::min(step, gredsq / shs);
    Index hit = -1;
    for (Index i = 0; i < n; ++i) {
      if (s[i] == 0.0) continue;
      const double room = (s[i] > 0.0 ? su[i] : sl[i]) - xopt[i] - d[i];
      if (room / s[i] < step) step = room / s[i], hit = i;
    }
    double sdec = 0.0;
    if (step > 0.0) {
      ++iterations;
      const double curvature = shs / stepsq;
      if (hit < 0 && curvature > 0.0) out.crvmin = out.crvmin < 0.0 ? curvature : std::min(out.crvmin, curvature);
      ggsav = gredsq;
      gnew += step * hs;
      d += step * s;
      gredsq = free_dot(fixed, gnew, gnew);
      sdec = std::max(step * (ggsav - 0.5 * step * shs), 0.0);
      qred += sdec;
    }
    if (hit >= 0) {  // the step met a bound: fix the variable there and restart the gradients
      fixed[hit] = s[hit] > 0.0 ? 1 : -1;
      delsq -= d[hit] * d[hit];
      if (delsq <= 0.0) {
        on_boundary = true;
        break;
      }
      beta = 0.0;
      continue;
    }
    if (step < to_boundary) {
      if (iterations == max_iterations || sdec <= 0.01 * qred) break;
      beta = gredsq / ggsav;
      continue;
    }
    on_boundary = true;
    break;
  }
  if (on_boundary) {
    out.crvmin = 0.0;
    rotate_on_boundary(xopt, G, sl, su, fixed, d, gnew, qred);
  }
  // Exactly on the bounds where the step meets them (the main loop tests equality).
  for (Index i = 0; i < n; ++i) {
    out.xnew[i] = std::clamp(xopt[i] + d[i], sl[i], su[i]);
    if (fixed[i] == -1) out.xnew[i] = sl[i];
    if (fixed[i] == 1) out.xnew[i] = su[i];
  }
  return out;
}

namespace {

// The best step along the line x_opt + a u through another point x_k = x_opt + u, a ∈ [lo, hi]:
// there ℓ is the quadratic with ℓ(0) = 0 (x_opt is another point), slope ∇ℓ·u and ℓ(1) = [k =
// knew]. Returns a and ℓ(a), which maximizes |ℓ| (ends first, lo before hi on ties).
std::pair<double, double> best_on_line(double slope, bool through_knew, double lo, double hi) {
  const double quad = (through_knew ? 1.0 : 0.0) - slope;
  const auto ell = [&](double a) { return a * (slope + a * quad); };
  double a = std::abs(ell(hi)) > std::abs(ell(lo)) ? hi : lo;
  if (quad != 0.0) {
    const double stationary = -slope / (2.0 * quad);
    if (stationary > lo && stationary < hi && std::abs(ell(stationary)) > std::abs(ell(a))) a = stationary;
  }
  return {a, ell(a)};
}

// A step of length adelt down the gradient g of ±ℓ from x_opt, variables that would leave their
// bounds held on them (those already on a bound g pushes against do not move), shortened to
// where ℓ's modulus peaks along it if that comes first. Returns the point and ℓ² there.
std::pair<Eigen::VectorXd, double> projected_gradient_step(const Eigen::VectorXd& xopt, const Eigen::VectorXd& g,
                                                           const Eigen::MatrixXd& hessian, double curvature_sign,
                                                           double adelt, const Eigen::VectorXd& sl,
                                                           const Eigen::VectorXd& su) {
  const Index n = xopt.size();
  enum State { kStill, kFree, kHeld };
  std::vector<State> state(n, kStill);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(n);
  double ggfree = 0.0;
  for (Index i = 0; i < n; ++i) {
    if ((xopt[i] > sl[i] && g[i] > 0.0) || (xopt[i] < su[i] && g[i] < 0.0)) state[i] = kFree, ggfree += g[i] * g[i];
  }
  if (ggfree == 0.0) return {xopt, 0.0};
  double held = 0.0, step = 0.0;
  while (adelt * adelt - held > 0.0) {  // hold what the step would push out, then lengthen the rest
    const double before = held;
    step = std::sqrt((adelt * adelt - held) / ggfree);
    ggfree = 0.0;
    for (Index i = 0; i < n; ++i) {
      if (state[i] != kFree) continue;
      const double x = xopt[i] - step * g[i];
      if (x <= sl[i] || x >= su[i]) {
        w[i] = (x <= sl[i] ? sl[i] : su[i]) - xopt[i];
        state[i] = kHeld;
        held += w[i] * w[i];
      } else {
        ggfree += g[i] * g[i];
      }
    }
    if (!(held > before && ggfree > 0.0)) break;
  }
  Eigen::VectorXd xalt = xopt;
  for (Index i = 0; i < n; ++i) {
    if (state[i] == kFree) {
      w[i] = -step * g[i];
      xalt[i] = std::clamp(xopt[i] + w[i], sl[i], su[i]);
    } else if (state[i] == kHeld) {
      xalt[i] = g[i] > 0.0 ? sl[i] : su[i];
    }
  }
  const double gw = g.dot(w), curvature = curvature_sign * w.dot(hessian * w);
  if (curvature > -gw && curvature < -(1.0 + std::sqrt(2.0)) * gw) {  // |ℓ| peaks before the end
    const double scale = -gw / curvature;
    return {(xopt + scale * w).cwiseMax(sl).cwiseMin(su), std::pow(0.5 * gw * scale, 2)};
  }
  return {xalt, std::pow(gw + 0.5 * curvature, 2)};
}

}  // namespace

GeometryStep geometry_step(const Eigen::MatrixXd& points, int kopt, int knew, const Eigen::VectorXd& lagrange_gradient,
                           const Eigen::MatrixXd& lagrange_hessian, double alpha, double adelt,
                           const Eigen::VectorXd& sl, const Eigen::VectorXd& su) {
  const Index n = points.cols();
  const Eigen::VectorXd xopt = points.row(kopt).transpose();
  GeometryStep out{xopt, xopt, 0.0};
  // Each line's best step, scored by Powell's prediction of the update denominator there,
  // ℓ²(ℓ² + ½α (a(1-a)|u|²)²); the step's end is put exactly on the bound that limited it.
  double best_prediction = 0.0;
  for (Index k = 0; k < points.rows(); ++k) {
    if (k == kopt) continue;
    const Eigen::VectorXd u = points.row(k).transpose() - xopt;
    const double distsq = u.squaredNorm();
    if (distsq == 0.0) continue;
    double hi = adelt / std::sqrt(distsq), lo = -hi;
    const double least_hi = std::min(1.0, hi);  // x_k itself is within the bounds
    Index lo_bound = -1, hi_bound = -1;         // the variable that limits each end, if any
    for (Index i = 0; i < n; ++i) {
      if (u[i] == 0.0) continue;
      const double to_low = (sl[i] - xopt[i]) / u[i], to_high = (su[i] - xopt[i]) / u[i];
      const double lo_limit = u[i] > 0.0 ? to_low : to_high, hi_limit = u[i] > 0.0 ? to_high : to_low;
      if (lo_limit > lo) lo = lo_limit, lo_bound = i;
      if (hi_limit < hi) hi = std::max(least_hi, hi_limit), hi_bound = i;
    }
    const auto [a, value] = best_on_line(lagrange_gradient.dot(u), k == knew, lo, hi);
    const double spread = a * (1.0 - a) * distsq;
    const double prediction = value * value * (value * value + 0.5 * alpha * spread * spread);
    if (prediction > best_prediction) {
      best_prediction = prediction;
      out.line = (xopt + a * u).cwiseMax(sl).cwiseMin(su);
      const Index bound = a == lo ? lo_bound : a == hi ? hi_bound : -1;
      if (bound >= 0) out.line[bound] = (a * u[bound] > 0.0) ? su[bound] : sl[bound];
    }
  }
  // Down ℓ's gradient, then down −ℓ's: the larger ℓ² (the second on a tie).
  const auto [down, down_value] = projected_gradient_step(xopt, lagrange_gradient, lagrange_hessian, 1.0, adelt, sl, su);
  const auto [up, up_value] = projected_gradient_step(xopt, -lagrange_gradient, lagrange_hessian, -1.0, adelt, sl, su);
  if (down_value > up_value) {
    out.cauchy = down, out.cauchy_value = down_value;
  } else {
    out.cauchy = up, out.cauchy_value = up_value;
  }
  return out;
}

}  // namespace mixedfit::bobyqa_detail
