// Log-densities of the families whose Laplace approximation takes the observed information (the
// negative binomials, the beta, the zero-truncated counts, the generalized Poisson, the
// lognormal, the Student t, the Tweedie; the binomial's where it is zero-inflated), in glmmTMB's parametrizations, with their first two derivatives in the mean μ:
// PIRLS's Newton steps and the Laplace factor's weights are these chained with the link.
// φ is the family's own parameter (Family's theta); the Student t (glmmTMB's t_family: location μ,
// scale σ = φ, degrees of freedom ν) and the Tweedie (variance φμ^p, tweedie.hpp) have a second
// one, their shape: ν and the power p.
#pragma once

namespace mixedfit {

enum class Distribution {
  Binomial, Poisson, Gamma, InverseGaussian, Gaussian, NegativeBinomial, NegativeBinomial1, Beta,
  TruncatedPoisson, TruncatedNegativeBinomial1, TruncatedNegativeBinomial2, GeneralizedPoisson, Lognormal,
  BetaBinomial, StudentT, Tweedie, Ordinal  // Ordinal: cumulative_link.hpp's, through Family
};

// The family's parameter φ with the functions of it the densities take per observation,
// computed once per value; the Student t's also its degrees of freedom ν (shape) and its
// log-density's constant log Γ((ν + 1)/2) − log Γ(ν/2) − ½ log(νπ) − log σ (σ = φ).
struct FamilyParameter {
  explicit FamilyParameter(double phi, double shape = 1.0);
  double value, log, log1p, lgamma, inv_sqrt;
  double shape, t_constant;
};

struct MuDerivatives {
  double first, second;  // ∂ log p/∂μ and ∂² log p/∂μ²
};

// log p(y | μ, φ); −∞ outside the support. trials: the beta-binomial's number of trials n (its y
// is the proportion of successes, as the binomial's); the other distributions ignore it.
double log_density(Distribution distribution, double y, double mu, const FamilyParameter& phi, double trials = 1.0);
MuDerivatives mu_derivatives(Distribution distribution, double y, double mu, const FamilyParameter& phi,
                             double trials = 1.0);
// A zero-inflated observation's log π and log(1 − π), π the probability that its zero is a
// point mass's: computed once per value of the zero model's coefficients.
struct ZeroMass {
  static ZeroMass from_logit(double logit);
  double log_pi, log_1mpi;
};
// The same for a zero-inflated distribution: a zero comes from the point mass with probability
// π, or with 1 − π from the distribution (a zero-truncated one: a hurdle model, whose zeros are
// all the point mass's).
double zero_inflated_log_density(Distribution distribution, double y, double mu, const FamilyParameter& phi,
                                 const ZeroMass& zero, double trials = 1.0);
MuDerivatives zero_inflated_mu_derivatives(Distribution distribution, double y, double mu, const FamilyParameter& phi,
                                           const ZeroMass& zero, double trials = 1.0);
// Whether the distribution is a zero-truncated count (y ≥ 1): its μ is the untruncated mean.
bool zero_truncated(Distribution distribution);

}  // namespace mixedfit
