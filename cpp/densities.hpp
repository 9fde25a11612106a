// Log-densities of the families whose Laplace approximation takes the observed information (the
// negative binomials, the beta, the zero-truncated counts, the generalized Poisson, the
// lognormal), in glmmTMB's parametrizations, with their first two derivatives in the mean μ:
// PIRLS's Newton steps and the Laplace factor's weights are these chained with the link.
// φ is the family's own parameter (Family's theta).
#pragma once

#include "family.hpp"

namespace mixedfit {

struct MuDerivatives {
  double first, second;  // ∂ log p/∂μ and ∂² log p/∂μ²
};

// log p(y | μ, φ); −∞ outside the support.
double log_density(Distribution distribution, double y, double mu, double phi);
MuDerivatives mu_derivatives(Distribution distribution, double y, double mu, double phi);
// The same for a zero-inflated distribution: a zero comes from a point mass with probability
// π = 1/(1 + e^(−zero_logit)), or with 1 − π from the distribution (a zero-truncated one: a
// hurdle model, whose zeros are all the point mass's).
double zero_inflated_log_density(Distribution distribution, double y, double mu, double phi, double zero_logit);
MuDerivatives zero_inflated_mu_derivatives(Distribution distribution, double y, double mu, double phi, double zero_logit);
// Whether the distribution is a zero-truncated count (y ≥ 1): its μ is the untruncated mean.
bool zero_truncated(Distribution distribution);

}  // namespace mixedfit
