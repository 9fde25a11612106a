// Special functions the families' log-densities and their derivatives need beyond <cmath>:
// ψ and ψ' (the beta's and NB1's scores), log Γ(y + θ) − log Γ(y + 1) without cancellation at
// large counts, log(1 − eˣ) for x < 0.
#pragma once

namespace mixedfit {

// ψ(x) and ψ'(x) for x > 0, accurate to ~1e-15 relative, both at once: the score needs ψ and the
// information ψ' at the same points, and the recurrence's divisions are shared.
struct Polygamma {
  double digamma, trigamma;
};
Polygamma digamma_trigamma(double x);
// log Γ(y + θ) − log Γ(y + 1), exact to rounding also where both log-gammas are ~10⁹.
double log_gamma_ratio(double y, double theta);
// log y! for a count y ≥ 0 (a table below 1024: counts are mostly small, and lgamma costs ~40 ns).
double log_factorial(double y);
// log(1 − eˣ) for x ≤ 0 (R's R_Log1_Exp: log1p or log of expm1, whichever keeps the digits).
double log1m_exp(double x);

}  // namespace mixedfit
