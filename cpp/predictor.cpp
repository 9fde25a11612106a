#include "predictor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "blocked_cholesky.hpp"
#include "errors.hpp"
#include "fixed_width.hpp"
#include "parallel.hpp"
#include "supernodal_cholesky.hpp"

namespace mixedfit {

namespace {

// The dense Schur complement takes 8 q2² bytes: past this many columns outside the first term
// (2 GB) it is not considered, whatever the flop counts say.
constexpr Index kMaxDenseBlock = 16000;
// What one factorization costs, measured on this project's 2-core x86-64 machine (one objective
// evaluation each way, forced, on nested, crossed, partially crossed and InstEval designs): the
// blocked path's dense Cholesky of the Schur complement S (~3.5·10¹⁰ flop/s per thread with
// AVX2/FMA, ~1.4·10¹⁰ without), its scattered update (~10⁹ updates/s per thread while S fits in
// 1 MB, ~1.7·10⁸ beyond: cache misses) and ~2 ns per entry of S for clearing, filling and solving
// with it; Eigen's simplicial factor of all of A (one thread) ~4·10⁹ flop/s plus ~5 ns per
// nonzero of L (the supernodal factor's rate is below). The choice matters where the costs differ
// by orders of magnitude (a star-like partially crossed design: 10⁹ dense flops against 3.5·10⁵
// sparse ones, 14 against 1.6 ms per evaluation), so these need not be exact; near a tie either
// choice is about as fast.
// (The dense and update rates are the blocked factorization's, in blocked_cholesky.hpp.)
constexpr double kSecondsPerSchurEntry = 2e-9;
// (When a sparse factor is supernodal: kSupernodalFlopsPerNonzero, supernodal_cholesky.hpp.)
// The supernodal factor's rate, both cores (its large products and dense Cholesky threaded):
// ~2·10¹⁰ multiply-adds per second on InstEval's 2.4·10⁸, ~1.1·10¹⁰ on 5.6·10⁷ of three
// sparsely crossed factors (smaller blocks); the lower one keeps the blocked factorization where
// the two are close.
constexpr double kSupernodalFlops = 1e10;
constexpr double kSparseFlops = 4e9;
constexpr double kSecondsPerSparseNonzero = 5e-9;
// The blocked factorization with a sparse Schur complement: its update's products added into S's
// values (~1 ns each in cache, as the dense scattered update; star: 85 µs for 85,462), and S's
// sparse factor at the rates above. Both blocked kinds: the first term's work, ~5 ns per column
// of A (L11, L21 and their solves). A sparse S is analysed only below this many products (the
// map of their targets takes 4 bytes each).
constexpr double kSecondsPerSparseSchurPair = 1e-9;
constexpr double kSecondsPerFirstTermColumn = 5e-9;
constexpr double kMaxSparseSchurPairs = 5e7;
// An S at least this dense is factored dense: a sparse factor of it does the same flops with more
// overhead after the same update (fully crossed designs; 10⁶ crossed rows with a slope, S full:
// analysing it sparse, to be discarded, cost 0.3 s). InstEval's S, 48 % full, still gains from its
// AMD ordering (6.95 against 8.7 ms per evaluation).
constexpr double kDenseSchurFraction = 0.9;
// The sparse alternative's symbolic analysis (AMD ordering, elimination tree) costs ~150 ns per
// nonzero of A on small matrices and more per nonzero on large crossed ones, whose quotient graph
// grows dense (measured: 2.9 ms for 10⁴ crossed rows, 25 ms for InstEval's 1.7·10⁵ nonzeros, 2.0 s
// for 10⁶ crossed rows' 2·10⁶): modelled as kSecondsPerAnalysedNonzero · nnz · (1 + nnz /
// kAnalysisQuadraticNonzeros). It is run only when the blocked factorization's predicted cost over
// a typical fit (its evaluations and convergence check) exceeds that: otherwise no choice could
// pay for itself.
constexpr double kSecondsPerAnalysedNonzero = 1.5e-7;
constexpr double kAnalysisQuadraticNonzeros = 3e5;
constexpr double kEvaluationsPerFit = 40;
// The grouped factorization is taken where its per-θ work is at most this share of the blocked
// one's that it replaces (choose_grouped): its loops over groups are contiguous where the
// blocked update scatters, but it also recombines every entry of S for every group.
constexpr double kGroupedWorkShare = 0.5;
// More threads than this only add start-up cost for matrices of the size the dense part has.
constexpr int kMaxThreads = 8;
// Below this many observations Z'WZ is formed on one thread (InstEval, in the tests, is above).
constexpr Index kMinParallelRows = 50000;
// Up to this many fixed-effects columns X'WX is summed row by row, in the pass that forms Z'WX;
// with more, one dense product is faster.
constexpr Index kMaxRankOneColumns = 8;
// A's update by value (Predictor::value_row_term_) for models of up to this many scalar terms.
constexpr std::size_t kMaxScalarTermsByValue = 255;
// Entries of PIRLS's observation → Z'WZ map (12 bytes each: 1.5 GB); larger maps are not built.
constexpr Index kMaxPairMap = Index{1} << 27;
// Sparse matrices cross from scipy with int32 indices and Eigen's SpMat<…, int> stores them so.
constexpr Index kMaxSparseEntries = std::numeric_limits<int>::max();

std::string theta_string(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  std::ostringstream os;
  os << "θ = [";
  for (Index i = 0; i < theta.size(); ++i) os << (i ? ", " : "") << theta[i];
  os << "]";
  return os.str();
}

// Z'WZ = Σᵢ wᵢ zᵢ zᵢ', column by column: column j gathers the columns of Zt (observations)
// in which row j is nonzero. Explicit zeros are kept, as in a sparse product, so the pattern does
// not depend on the values. (Eigen's general product took 0.9 s at 10⁶ rows: transposes and
// conversions around it; this is one pass with a dense accumulator, its columns split over
// threads because the gathers are bound by cache misses.)
SpMat weighted_crossproduct(const MapSpMat& Zt, const Eigen::VectorXd& w, int threads) {
  const Index q = Zt.rows();
  const SpMat Z = Zt.transpose();  // n × q: column j lists the observations that touch row j
  struct Part {
    std::vector<int> count, inner;  // entries per column of the part, their rows
    std::vector<double> values;
  };
  const int parts = Zt.cols() >= kMinParallelRows ? threads : 1;
  std::vector<Part> out(parts);
  parallel_for(parts, [&](int t) {  // parts of about equal numbers of observation visits
    Part& part = out[t];
    std::vector<int> rows;
    std::vector<double> sum(q, 0.0);
    std::vector<Index> seen_in(q, -1);
    const Index begin = t == 0 ? 0 : weighted_split(Z.outerIndexPtr(), q, parts, t - 1);
    for (Index j = begin, stop = weighted_split(Z.outerIndexPtr(), q, parts, t); j < stop; ++j) {
      rows.clear();
      for (SpMat::InnerIterator obs(Z, j); obs; ++obs) {
        const Index i = obs.row();
        const double weight = w[i] * obs.value();
        for (MapSpMat::InnerIterator it(Zt, i); it; ++it) {
          const Index r = it.row();
          if (seen_in[r] != j) {
            seen_in[r] = j;
            sum[r] = 0.0;
            rows.push_back(static_cast<int>(r));
          }
          sum[r] += weight * it.value();
        }
      }
      if (rows.size() * 16 < static_cast<std::size_t>(q)) {
        std::sort(rows.begin(), rows.end());
      } else {  // a dense column (a small term's level meets many of a large one's): scan, not sort
        rows.clear();
        for (Index r = 0; r < q; ++r) {
          if (seen_in[r] == j) rows.push_back(static_cast<int>(r));
        }
      }
      for (int r : rows) {
        part.inner.push_back(r);
        part.values.push_back(sum[r]);
      }
      part.count.push_back(static_cast<int>(rows.size()));
    }
  });
  SpMat M(q, q);
  Index nnz = 0;
  for (const Part& part : out) nnz += static_cast<Index>(part.inner.size());
  if (nnz > kMaxSparseEntries) {
    throw ResourceError("Z'WZ has " + std::to_string(nnz) + " nonzeros, more than a sparse matrix with 32-bit "
                        "indices holds (2^31 - 1): the random-effects terms have too many levels or columns");
  }
  M.resizeNonZeros(nnz);
  Index column = 0, position = 0;
  M.outerIndexPtr()[0] = 0;
  for (const Part& part : out) {
    std::copy(part.inner.begin(), part.inner.end(), M.innerIndexPtr() + position);
    std::copy(part.values.begin(), part.values.end(), M.valuePtr() + position);
    position += static_cast<Index>(part.inner.size());
    for (int count : part.count) {
      M.outerIndexPtr()[column + 1] = M.outerIndexPtr()[column] + count;
      ++column;
    }
  }
  return M;
}

// out's columns (leading dimension ldb) <- R Λ, column k of R Λ going to column to[k] (k if to is
// null); R is r × q with leading dimension ldr. (R Λ)'s column k is Σᵢ R's column i · Λ(i, k)
// over the nonzeros of Λ's column k (Λ stores its diagonal: the relative factors' diagonals are
// in its pattern). The first product is stored, not added to zeros: a cleared column read back at
// once stalls (store forwarding fails after memset's wide stores: 3.5× this loop's time, perf on
// the longitudinal model). r (p, p + 1 or 1) is fixed at compile time (fixed_width.hpp).
struct LambdaProducts {
  template <int Rows>
  static void run(const SpMat& Lambda, const double* R, Index ldr, Index r, const int* to, double* out, Index ldb) {
    if constexpr (Rows > 0) r = Rows;
    const int* outer = Lambda.outerIndexPtr();
    const int* inner = Lambda.innerIndexPtr();
    const double* lambda = Lambda.valuePtr();
    for (Index k = 0; k < Lambda.cols(); ++k) {
      double* target = out + (to ? to[k] : k) * ldb;
      const double* first = R + inner[outer[k]] * ldr;
      for (Index c = 0; c < r; ++c) target[c] = lambda[outer[k]] * first[c];
      for (int e = outer[k] + 1; e < outer[k + 1]; ++e) {
        const double* source = R + inner[e] * ldr;
        const double v = lambda[e];
        for (Index c = 0; c < r; ++c) target[c] += v * source[c];
      }
    }
  }
};

// (Z'WX)ᵀ by the rows of Zt (levels): column j of out (p × q) is Σ wᵢ z_ij X[i, :] over row j's
// entries, its p sums in registers; p fixed at compile time (fixed_width.hpp).
struct LevelXProducts {
  template <int P>
  static void run(const Eigen::SparseMatrix<double, Eigen::RowMajor, int>& Zt_rows, const double* w, const double* X,
                  Index n, Index p, double* out) {
    if constexpr (P > 0) p = P;
    for (Index j = 0; j < Zt_rows.outerSize(); ++j) {
      double* column = out + j * p;
      double sum[P > 0 ? P : 1] = {};
      for (Eigen::SparseMatrix<double, Eigen::RowMajor, int>::InnerIterator it(Zt_rows, j); it; ++it) {
        const Index i = it.col();
        const double weight = w[i] * it.value();
        if constexpr (P > 0) {
          for (Index c = 0; c < P; ++c) sum[c] += weight * X[i + c * n];
        } else {
          for (Index c = 0; c < p; ++c) column[c] += weight * X[i + c * n];
        }
      }
      if constexpr (P > 0) {
        for (Index c = 0; c < P; ++c) column[c] = sum[c];
      }
    }
  }
};

// X'WX's lower triangle (into G, p × p column-major, zeroed) for p ≤ kMaxRankOneColumns fixed at
// compile time: its p (p + 1) / 2 sums kept in registers, two sets (even and odd observations)
// so that consecutive additions to one sum do not wait on each other. Summed into the matrix in
// memory, each observation's additions waited on the last's stores (16 % of a Poisson GLMM's
// first-stage evaluation, perf).
struct WeightedGram {
  template <int P>
  static void run(const double* X, const double* w, Index n, Index p, double* G) {
    if constexpr (P == 0 || P > kMaxRankOneColumns) {  // p at run time: the plain loop
      for (Index i = 0; i < n; ++i) {
        for (Index d = 0; d < p; ++d) {
          for (Index c = d; c < p; ++c) G[c + d * p] += w[i] * X[i + d * n] * X[i + c * n];
        }
      }
    } else {
      constexpr int T = P * (P + 1) / 2;
      double even[T] = {}, odd[T] = {};
      const auto add = [&](Index i, double* sums) {
        double x[P];
        for (int c = 0; c < P; ++c) x[c] = X[i + c * n];
        int t = 0;
        for (int d = 0; d < P; ++d) {
          const double wx = w[i] * x[d];
          for (int c = d; c < P; ++c) sums[t++] += wx * x[c];
        }
      };
      Index i = 0;
      for (; i + 1 < n; i += 2) {
        add(i, even);
        add(i + 1, odd);
      }
      if (i < n) add(i, even);
      int t = 0;
      for (int d = 0; d < P; ++d) {
        for (int c = d; c < P; ++c, ++t) G[c + d * p] = even[t] + odd[t];
      }
    }
  }
};

}  // namespace

Predictor::Predictor(MapMat X, MapSpMat Zt, MapSpMat Lambdat, MapVecI Lind, MapVecI term_shapes)
    : X_(X),
      Zt_(Zt),
      pair_map_limit_(kMaxPairMap),
      threads_(std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxThreads)) {
  require(Zt_.cols() == X_.rows(), "Zt must have one column per row of X");
  require(Lambdat.rows() == Zt_.rows() && Lambdat.cols() == Zt_.rows(), "Lambdat must be q×q with q = rows of Zt");
  require(Lind.size() == Lambdat.nonZeros(), "Lind must have one entry per stored value of Lambdat");
  require(Lind.size() == 0 || Lind.minCoeff() >= 0, "Lind entries must be non-negative");
  require(X_.allFinite(), "X has a non-finite value");
  require(MapVec(Zt_.valuePtr(), Zt_.nonZeros()).allFinite(), "Zt has a non-finite value");
  require(term_shapes.size() >= 2 && term_shapes.size() % 2 == 0, "term_shapes must hold (p, levels) pairs");
  Index offset = 0, theta_offset = 0;
  for (Index t = 0; t < term_shapes.size() / 2; ++t) {
    const Index p = term_shapes[2 * t], levels = term_shapes[2 * t + 1];
    require(p >= 1 && levels >= 1, "term_shapes must be positive");
    terms_.push_back({p, levels, offset, theta_offset});
    offset += p * levels;
    theta_offset += p * (p + 1) / 2;
  }
  require(offset == Zt_.rows(), "term_shapes must add up to the rows of Zt");
  row_term_.resize(offset);
  for (Index t = 0; t < static_cast<Index>(terms_.size()); ++t) {
    row_term_.segment(terms_[t].offset, terms_[t].p * terms_[t].levels).setConstant(static_cast<int>(t));
    T_.push_back(Eigen::MatrixXd::Zero(terms_[t].p, terms_[t].p));
  }
  n_theta_ = n_factor_ = Lind.size() ? Lind.maxCoeff() + 1 : 0;
  // Λ is kept, not Λt: its columns are what the products with Λ read. Its values as the
  // positions of Λt's map Lind over to it.
  SpMat value_positions = Lambdat;
  for (Index k = 0; k < Lind.size(); ++k) value_positions.valuePtr()[k] = static_cast<double>(k);
  Lambda_ = value_positions.transpose();
  Lind_.resize(Lambda_.nonZeros());
  for (Index k = 0; k < Lambda_.nonZeros(); ++k) Lind_[k] = Lind[static_cast<Index>(Lambda_.valuePtr()[k])];
  for (Index k = 0; k < q(); ++k) {
    require(Lambda_.outerIndexPtr()[k + 1] > Lambda_.outerIndexPtr()[k], "Lambdat must store its diagonal");
  }
  require(n_factor_ == terms_.back().theta_offset + terms_.back().p * (terms_.back().p + 1) / 2,
          "Lind does not match term_shapes");
  beta_ = Eigen::VectorXd::Zero(p());
  u_ = Eigen::VectorXd::Zero(q());
}

void Predictor::set_threads(int threads) {
  require(threads >= 1, "threads must be at least 1");
  threads_ = threads;
  if (chol_) chol_->set_threads(threads);
  if (grouped_) grouped_->set_threads(threads);
}

void Predictor::set_response_products(Eigen::VectorXd ZtWy) {
  require(ZtWy.size() == q(), "Z'Wy must have one entry per random effect");
  response_ZtWy_ = std::move(ZtWy);
  grouped_current_ = false;
  u_pending_ = false;  // (a grouped u reads the response's products)
}

double Predictor::grouped_work(double groups, double S_entries) const {
  const double width = static_cast<double>(p() + 1);
  return groups * (S_entries + static_cast<double>(q() - terms_.front().levels) * width + width * width);
}

bool Predictor::grouped_products_current() {
  if (grouped_current_) return true;
  require(response_ZtWy_.size() == q(), "the grouped factorization needs the response's products");
  if (p() > 0 && !x_products_current_) weighted_x_products();
  grouped_->set_products(ZtWZ_, p() > 0 ? ZtWXt_ : Eigen::MatrixXd(0, q()), response_ZtWy_);
  grouped_current_ = true;
  const double work = grouped_work(static_cast<double>(grouped_->group_count()), static_cast<double>(grouped_->schur_entries()));
  return !forced_.empty() || work <= kGroupedWorkShare * costs_.grouped_replaced;
}

void Predictor::factor_grouped() {
  if (!grouped_->factorize(Lambda_.valuePtr())) {
    throw NumericalError("Cholesky factorization of Λ'Z'WZΛ + I failed at " + theta_string(theta_));
  }
  ldL2_ = grouped_->log_det();
  if (!std::isfinite(ldL2_)) throw NumericalError("non-finite log-determinant of L at " + theta_string(theta_));
}

void Predictor::set_weights(Eigen::VectorXd w, bool allow_negative) {
  require(w.size() == n(), "weights must have one entry per observation");
  if (!w.allFinite() || (!allow_negative && (w.array() < 0.0).any())) {
    throw NumericalError("the weights of the penalized least-squares problem are not finite and non-negative");
  }
  w_ = std::move(w);
  if (weight_updates_ == 1) build_pair_map();
  if (weight_updates_ == 0) {
    ZtWZ_ = weighted_crossproduct(Zt_, w_, threads_);
  } else if (!pair_start_.empty()) {
    double* M = ZtWZ_.valuePtr();
    const Index values = ZtWZ_.nonZeros();
    const int parts = pair_start_[values] >= kMinParallelWork ? threads_ : 1;
    parallel_for(parts, [&](int part) {
      const Index first = values * part / parts, stop = values * (part + 1) / parts;
      if (pair_coef_.size() == 0) {
        sum_pairs<true>(first, stop, M);
      } else {
        sum_pairs<false>(first, stop, M);
      }
    });
  } else {  // no map (too large): the same values, computed again in the same pattern
    const SpMat M = weighted_crossproduct(Zt_, w_, threads_);
    std::copy(M.valuePtr(), M.valuePtr() + M.nonZeros(), ZtWZ_.valuePtr());
  }
  ++weight_updates_;
  grouped_current_ = false;
  x_products_current_ = false;  // Z'WX and X'WX wait until β is solved for (PIRLS for u alone never is)
}

template <bool unit_coef>
void Predictor::sum_pairs(Index first, Index stop, double* values) const {
  const auto term = [&](Index k) { return unit_coef ? w_[pair_obs_[k]] : w_[pair_obs_[k]] * pair_coef_[k]; };
  for (Index t = first; t < stop; ++t) {
    // Four partial sums: a diagonal value gathers all of its level's observations, and one sum
    // would make each addition wait on the last.
    double sum[4] = {};
    Index k = pair_start_[t];
    for (const Index end = pair_start_[t + 1]; k + 4 <= end; k += 4) {
      for (int j = 0; j < 4; ++j) sum[j] += term(k + j);
    }
    for (; k < pair_start_[t + 1]; ++k) sum[0] += term(k);
    values[t] = (sum[0] + sum[1]) + (sum[2] + sum[3]);
  }
}

void Predictor::values_changed() {
  if (!pair_start_.empty()) build_pair_map();  // the map's products z_a z_b and Zt by rows are stale
  x_products_current_ = false;
  grouped_current_ = false;
}

void Predictor::build_pair_map() {
  const int* outer = Zt_.outerIndexPtr();
  const int* inner = Zt_.innerIndexPtr();
  const double* z = Zt_.valuePtr();
  const Index values = ZtWZ_.nonZeros();
  // Each observation's k² products, counted by the value of Z'WZ they go to (positions in 64
  // bits: rows × k² passes 2³¹ at 1.65·10⁶ rows with 50 slopes), then placed in that order.
  Index entries = 0;
  for (Index i = 0; i < n(); ++i) entries += static_cast<Index>(outer[i + 1] - outer[i]) * (outer[i + 1] - outer[i]);
  pair_start_.clear();
  if (entries > pair_map_limit_) return;  // no map: set_weights recomputes Z'WZ
  const int* m_outer = ZtWZ_.outerIndexPtr();
  const int* m_inner = ZtWZ_.innerIndexPtr();
  const auto target = [&](int a, int b) {
    const int* begin = m_inner + m_outer[inner[b]];
    return std::lower_bound(begin, m_inner + m_outer[inner[b] + 1], inner[a]) - m_inner;
  };
  std::vector<Index> start(values + 1, 0);
  for (Index i = 0; i < n(); ++i) {
    for (int b = outer[i]; b < outer[i + 1]; ++b) {
      for (int a = outer[i]; a < outer[i + 1]; ++a) ++start[target(a, b) + 1];
    }
  }
  for (Index t = 0; t < values; ++t) start[t + 1] += start[t];
  pair_obs_.resize(entries);
  pair_coef_.resize(entries);
  std::vector<Index> next(start.begin(), start.end() - 1);
  for (Index i = 0; i < n(); ++i) {
    for (int b = outer[i]; b < outer[i + 1]; ++b) {
      for (int a = outer[i]; a < outer[i + 1]; ++a) {
        const Index k = next[target(a, b)]++;
        pair_obs_[k] = static_cast<int>(i);
        pair_coef_[k] = z[a] * z[b];
      }
    }
  }
  if ((pair_coef_.array() == 1.0).all()) pair_coef_.resize(0);
  pair_start_ = std::move(start);
  Zt_rows_ = Zt_;
}

void Predictor::set_covariance(CovarianceStructures structures) {
  require(structures.n_factor() == n_factor_, "the covariance structures do not match the terms");
  covariance_ = std::move(structures);
  n_theta_ = covariance_.n_params();
}

Eigen::MatrixXd Predictor::factor_jacobian() const {
  if (covariance_.identity()) return Eigen::MatrixXd::Identity(n_factor_, n_theta_);
  constexpr double kStep = 1e-6;  // relative: truncation ~1e-12 and rounding ~1e-10 of each column
  Eigen::MatrixXd J(n_factor_, n_theta_);
  const Eigen::VectorXd at = covariance_.factor(theta_);
  for (Index k = 0; k < n_theta_; ++k) {
    const double h = kStep * (1.0 + std::abs(theta_[k]));
    Eigen::VectorXd up = theta_, down = theta_;
    up[k] += h;
    down[k] -= h;
    const Eigen::VectorXd f_up = covariance_.factor(up), f_down = covariance_.factor(down);
    if (f_up.allFinite() && f_down.allFinite()) {
      J.col(k) = (f_up - f_down) / (2 * h);
    } else {
      J.col(k) = f_up.allFinite() ? Eigen::VectorXd((f_up - at) / h) : Eigen::VectorXd((at - f_down) / h);
    }
  }
  return J;
}

void Predictor::set_theta(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  require(theta.size() == n_theta_, "theta has the wrong length");
  if (!theta.allFinite()) throw std::invalid_argument("theta must be finite, got " + theta_string(theta));
  theta_ = theta;
  // The terms' factor elements: θ itself for unstructured terms (no copy on this hot path).
  Eigen::VectorXd structured;
  if (!covariance_.identity()) structured = covariance_.factor(theta);
  const double* factor = covariance_.identity() ? theta.data() : structured.data();
  double* lambda = Lambda_.valuePtr();
  for (Index k = 0; k < Lind_.size(); ++k) lambda[k] = factor[Lind_[k]];
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    Index k = terms_[t].theta_offset;
    for (Index j = 0; j < terms_[t].p; ++j) {
      for (Index i = j; i < terms_[t].p; ++i) T_[t](i, j) = factor[k++];
    }
  }
}

void Predictor::set_theta_keeping_b(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  const Eigen::VectorXd b_old = b();
  set_theta(theta);
  const int* outer = Lambda_.outerIndexPtr();
  const int* inner = Lambda_.innerIndexPtr();
  const double* lambda = Lambda_.valuePtr();
  for (Index k = 0; k < q(); ++k) {  // Λ is lower triangular: a column's first entry is its diagonal
    if (inner[outer[k]] != k || lambda[outer[k]] == 0.0) return;
  }
  u_ = Lambda_.triangularView<Eigen::Lower>().solve(b_old);
}

bool Predictor::pattern_allows_in_place() const {
  const int* outer = ZtWZ_.outerIndexPtr();
  const int* inner = ZtWZ_.innerIndexPtr();
  for (const Term& term : terms_) {
    for (Index b = 0; b < term.levels; ++b) {
      const Index j0 = term.offset + b * term.p;
      const Index length = outer[j0 + 1] - outer[j0];
      for (Index s = 1; s < term.p; ++s) {
        if (outer[j0 + s + 1] - outer[j0 + s] != length) return false;
        for (Index e = 0; e < length; ++e) {
          if (inner[outer[j0 + s] + e] != inner[outer[j0] + e]) return false;
        }
      }
      for (Index e = 0; e < length;) {  // row blocks must be complete and start at a level boundary
        const Term& rows = terms_[row_term_[inner[outer[j0] + e]]];
        const Index first = inner[outer[j0] + e];
        if ((first - rows.offset) % rows.p != 0 || e + rows.p > length) return false;
        for (Index r = 0; r < rows.p; ++r) {
          if (inner[outer[j0] + e + r] != first + r) return false;
        }
        e += rows.p;
      }
    }
  }
  return true;
}

void Predictor::update_A_in_place() {
  const int* outer = ZtWZ_.outerIndexPtr();
  const double* M = ZtWZ_.valuePtr();
  double* A = A_.valuePtr();
  // A = Λ'MΛ with Λ = diag(T_k) block diagonal, in two passes along contiguous values (the
  // loops vectorize): N = MΛ combines the columns of one level, which share a pattern; then
  // A = Λ'N combines, within each column, the rows of one level, which are consecutive.
  // Only rows from each column's level block down are computed: the factorizations read A's
  // lower triangle (and the diagonal blocks), and the rows above are most of A's entries.
  // Both passes split the columns over threads by their entries (memory-bound: 10⁶ rows with a
  // slope have 4·10⁶), at level boundaries for the first.
  const int parts = ZtWZ_.nonZeros() >= kMinParallelWork ? threads_ : 1;
  const int* work = lower_prefix_.data();
  const auto part_begin = [&](int t) {
    const Index split = t == 0 ? 0 : weighted_split(work, q(), parts, t - 1);
    return split >= q() ? q() : level_start(split);
  };
  const auto part_end = [&](int t) { return t + 1 == parts ? q() : part_begin(t + 1); };
  if (!value_row_term_.empty()) {
    // Scalar terms only (Λ diagonal): A = λ_row (M λ_column) in one pass over the same entries
    // (the two passes' products in their order: the same values to the last bit).
    double lambda[kMaxScalarTermsByValue];
    for (std::size_t t = 0; t < terms_.size(); ++t) lambda[t] = T_[t](0, 0);
    const unsigned char* row_term = value_row_term_.data();
    parallel_for(parts, [&](int part) {
      for (Index j = part_begin(part), stop = part_end(part); j < stop; ++j) {
        // A scalar term's level block is its diagonal entry: the computed rows start there.
        const double column = lambda[row_term_[j]];
        const int diagonal = diagonal_pos_[j];
        A[diagonal] = (M[diagonal] * column) * column + 1.0;
        for (int f = diagonal + 1; f < outer[j + 1]; ++f) A[f] = (M[f] * column) * lambda[row_term[f]];
      }
    });
    return;
  }
  parallel_for(parts, [&](int part) {
    for (Index j0 = part_begin(part), stop = part_end(part); j0 < stop;) {  // N = MΛ, level by level
      const Term& term = terms_[row_term_[j0]];
      const Eigen::MatrixXd& T = T_[row_term_[j0]];
      const Index skip = rows_above_level(j0);  // the level's rows start here in each column
      const Index length = outer[j0 + 1] - outer[j0] - skip;
      for (Index s = 0; s < term.p; ++s) {  // N[:, s] = Σ_{s' ≥ s} M[:, s'] T(s', s)
        double* out = A + outer[j0 + s] + skip;
        const double* m = M + outer[j0 + s] + skip;
        const double diagonal = T(s, s);
        for (Index e = 0; e < length; ++e) out[e] = m[e] * diagonal;
        for (Index s2 = s + 1; s2 < term.p; ++s2) {
          const double below = T(s2, s);
          const double* m2 = M + outer[j0 + s2] + skip;
          for (Index e = 0; e < length; ++e) out[e] += m2[e] * below;
        }
      }
      j0 += term.p;
    }
  });
  parallel_for(parts, [&](int part) {
    for (Index j = part_begin(part), stop = part_end(part); j < stop; ++j) {  // A = Λ'N, column by column
      for (int r = column_runs_[j]; r < column_runs_[j + 1]; ++r) {  // one term's rows at a time
        const RowRun& run = runs_[r];
        const Eigen::MatrixXd& T = T_[run.term];
        const Index p = T.rows();
        if (p == 1) {
          const double lambda = T(0, 0);
          for (int f = run.begin; f < run.end; ++f) A[f] *= lambda;
        } else {
          for (int f = run.begin; f < run.end; f += static_cast<int>(p)) {  // a[r] = Σ_{r' ≥ r} T(r', r) a[r'], r ascending
            for (Index i = 0; i < p; ++i) {
              double sum = T(i, i) * A[f + i];
              for (Index i2 = i + 1; i2 < p; ++i2) sum += T(i2, i) * A[f + i2];
              A[f + i] = sum;
            }
          }
        }
      }
      A[diagonal_pos_[j]] += 1.0;
    }
  });
}

Index Predictor::level_start(Index j) const {
  const Term& term = terms_[row_term_[j]];
  return j - (j - term.offset) % term.p;
}

Index Predictor::rows_above_level(Index j) const {
  const Index j0 = level_start(j);  // the level's columns share one pattern: count in its first
  return diagonal_pos_[j0] - ZtWZ_.outerIndexPtr()[j0];
}

bool Predictor::choose_in_place() {
  if (!pattern_allows_in_place()) return false;
  diagonal_pos_.resize(q());
  for (Index j = 0; j < q(); ++j) {
    const int* begin = ZtWZ_.innerIndexPtr() + ZtWZ_.outerIndexPtr()[j];
    const int* end = ZtWZ_.innerIndexPtr() + ZtWZ_.outerIndexPtr()[j + 1];
    const int* diagonal = std::lower_bound(begin, end, static_cast<int>(j));
    if (diagonal == end || *diagonal != j) return false;
    diagonal_pos_[j] = static_cast<int>(diagonal - ZtWZ_.innerIndexPtr());
  }
  lower_prefix_.resize(q() + 1);
  lower_prefix_[0] = 0;
  const int* outer = ZtWZ_.outerIndexPtr();
  const int* inner = ZtWZ_.innerIndexPtr();
  for (Index j = 0; j < q(); ++j) {
    lower_prefix_[j + 1] = lower_prefix_[j] + outer[j + 1] - outer[j] - static_cast<int>(rows_above_level(j));
  }
  // Each column's computed rows (from its level block down) in runs of one term's rows: the
  // second pass of update_A_in_place walks these instead of looking up every row's term.
  runs_.clear();
  column_runs_.resize(q() + 1);
  for (Index j = 0; j < q(); ++j) {
    column_runs_[j] = static_cast<int>(runs_.size());
    for (int e = outer[j] + static_cast<int>(rows_above_level(j)); e < outer[j + 1];) {
      const int term = row_term_[inner[e]];
      const int term_end = static_cast<int>(terms_[term].offset + terms_[term].p * terms_[term].levels);
      int stop = e;
      while (stop < outer[j + 1] && inner[stop] < term_end) ++stop;
      runs_.push_back({e, stop, term});
      e = stop;
    }
  }
  column_runs_[q()] = static_cast<int>(runs_.size());
  value_row_term_.clear();
  const bool scalar_terms = std::all_of(terms_.begin(), terms_.end(), [](const Term& t) { return t.p == 1; });
  if (scalar_terms && terms_.size() <= kMaxScalarTermsByValue) {
    value_row_term_.resize(ZtWZ_.nonZeros());
    for (const RowRun& run : runs_) std::fill(value_row_term_.begin() + run.begin, value_row_term_.begin() + run.end, run.term);
  }
  return true;
}

void Predictor::update_L() {
  u_pending_ = false;  // its solve needs the factor it was left with
  if (grouped_) {
    if (grouped_products_current()) {
      factor_grouped();
      return;
    }
    // New weights (a variance function's) split the first term's levels into too many groups:
    // the factorizations are weighed again, at this θ.
    grouped_.reset();
    A_nnz_ = -1;
  }
  const bool first_theta = A_nnz_ < 0;
  if (first_theta) {
    costs_ = FactorizationCosts{};
    if (choose_grouped()) {  // (weighed first: it needs neither A nor its in-place update)
      A_nnz_ = 0;
      grouped_products_current();
      factor_grouped();
      return;
    }
  }
  if (first_theta && choose_in_place()) {
    in_place_ = true;
    A_ = ZtWZ_;  // A takes Z'WZ's pattern; its values are computed in place at every θ
  }
  if (in_place_) {
    update_A_in_place();
  } else {
    // Products of sparse matrices keep every structural entry, so A's pattern does not
    // depend on θ (zeros in θ give explicit zeros) and the symbolic analysis stays valid.
    A_ = SpMat(Lambda_.transpose()) * ZtWZ_ * Lambda_;
    for (Index j = 0; j < A_.cols(); ++j) A_.coeffRef(j, j) += 1.0;
  }
  if (first_theta) {
    choose_factorization();
    A_nnz_ = A_.nonZeros();
    std::vector<int>().swap(schur_outer_);  // (if no analysis took them)
    std::vector<int>().swap(schur_inner_);
  } else if (A_.nonZeros() != A_nnz_) {
    throw NumericalError("the sparsity pattern of Λ'Z'WZΛ + I changed between evaluations");
  }
  if (!chol_->factorize(A_)) {
    throw NumericalError("Cholesky factorization of Λ'Z'WZΛ + I failed at " + theta_string(theta_));
  }
  ldL2_ = chol_->log_det();

  if (!std::isfinite(ldL2_)) throw NumericalError("non-finite log-determinant of L at " + theta_string(theta_));
}

void Predictor::choose_factorization() {
  // The candidates' work per θ, from their symbolic structure: the blocked factorization with its
  // Schur complement S dense (its update and dense Cholesky) or sparse (S's pattern and its
  // factor under its own AMD ordering), against the sparse factor of all of A under an AMD
  // ordering (exact nonzeros and flops from the elimination trees' column counts). The cheapest
  // is analysed once and used for every θ. The sparse factor of A is supernodal where its
  // columns are long enough for dense kernels to pay, simplicial otherwise.
  const Term& first = terms_.front();
  const int threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, threads_);
  const bool sparse_forced = forced_ == "simplicial" || forced_ == "supernodal";
  const bool blocked_applies = BlockedCholesky::applies(A_, first.p, first.levels, kMaxDenseBlock);
  const double first_term_seconds = static_cast<double>(A_.cols()) * kSecondsPerFirstTermColumn;
  if (!sparse_forced && blocked_applies) {
    const BlockedCholesky::Work work = BlockedCholesky::work(A_, first.p, first.levels);
    costs_.dense_flops = work.dense_flops;
    costs_.schur_updates = work.schur_updates;
    costs_.dense_update = work.dense_update();
    // As BlockedCholesky splits its update: by S's columns, or (scattered) by its products.
    const bool split_update = work.q2 >= kMinParallelSchur || (!work.dense_update() && work.schur_updates >= kMinParallelWork);
    const int update_threads = split_update ? threads : 1;
    costs_.blocked_seconds = work.dense_flops / kDenseFlopsPerThread / threads + work.update_seconds() / update_threads +
                             work.q2 * work.q2 * kSecondsPerSchurEntry + first_term_seconds;
  }
  require(forced_.rfind("blocked", 0) != 0 || blocked_applies,
          "the blocked factorization does not apply to this model's structure");
  if (forced_ == "blocked") {
    use_blocked(false);
    return;
  }
  // A sparse S is analysed where it could be cheaper than a dense one: its update (one product
  // per pair of a level's rows), first term and S's nonzeros (its factor has at least as many)
  // must cost less; the pairs are counted first, S's pattern next, each a pass over the pairs
  // (its targets and ordering cost several: crossed designs' pattern alone rules most out).
  std::unique_ptr<BlockedCholesky> blocked_sparse;
  const double pairs = costs_.schur_updates / first.p;  // a level's p columns share each pair
  const double sparse_update_seconds = costs_.schur_updates * kSecondsPerSparseSchurPair + first_term_seconds;
  const bool second_terms = A_.cols() > first.p * first.levels;
  double S_nonzeros = std::numeric_limits<double>::infinity();
  const auto could_be_cheaper = [&]() {
    if (pairs > kMaxSparseSchurPairs || sparse_update_seconds >= costs_.blocked_seconds) return false;
    S_nonzeros = schur_outer_.empty() ? BlockedCholesky::schur_nonzeros(A_, first.p, first.levels)
                                      : static_cast<double>(schur_inner_.size());
    const double q2 = static_cast<double>(A_.cols() - first.p * first.levels);
    if (S_nonzeros >= kDenseSchurFraction * q2 * (q2 + 1) / 2) return false;
    return sparse_update_seconds + S_nonzeros * kSecondsPerSparseNonzero < costs_.blocked_seconds;
  };
  const bool analyse_sparse_schur =
      forced_ == "blocked-sparse" || (forced_.empty() && blocked_applies && second_terms && could_be_cheaper());
  // The sparse factor of all of A is analysed unless a blocked factorization is cheap enough that
  // the analysis could not pay for itself over a fit. Where that holds whatever S's analysis
  // finds (its cost is at least its update's and S's nonzeros'), both analyses run at once, on
  // two threads (InstEval's first evaluation: ~32 and ~27 ms of analysis).
  const double nnz = static_cast<double>(A_.nonZeros());
  const double analysis_seconds = kSecondsPerAnalysedNonzero * nnz * (1.0 + nnz / kAnalysisQuadraticNonzeros);
  const auto analysis_pays = [&](double blocked_seconds) {
    return !forced_.empty() || blocked_seconds * kEvaluationsPerFit >= analysis_seconds;
  };
  const double blocked_sparse_bound = analyse_sparse_schur ? sparse_update_seconds + S_nonzeros * kSecondsPerSparseNonzero
                                                          : std::numeric_limits<double>::infinity();
  const bool analyse_all = forced_ != "blocked-sparse" && analysis_pays(std::min(costs_.blocked_seconds, blocked_sparse_bound));
  std::unique_ptr<SimplicialCholesky> simplicial;
  const auto analyse_all_of_A = [&] {
    simplicial = std::make_unique<SimplicialCholesky>();
    simplicial->analyze(A_);
  };
  parallel_for(analyse_sparse_schur && analyse_all && threads_ > 1 ? 2 : 1, [&](int part) {
    if (part == 1) {
      analyse_all_of_A();
    } else if (analyse_sparse_schur) {
      blocked_sparse = std::make_unique<BlockedCholesky>(first.p, first.levels, threads_, true);
      if (!schur_outer_.empty()) blocked_sparse->set_schur_pattern(std::move(schur_outer_), std::move(schur_inner_));
      blocked_sparse->analyze(A_);
    }
  });
  if (analyse_sparse_schur) {
    costs_.schur_factor_nonzeros = blocked_sparse->schur_factor_nonzeros();
    costs_.schur_factor_flops = blocked_sparse->schur_factor_flops();
    costs_.schur_pairs = pairs;
    costs_.blocked_sparse_seconds =
        sparse_update_seconds +
        costs_.schur_factor_flops / (blocked_sparse->schur_supernodal() ? kSupernodalFlops : kSparseFlops) +
        costs_.schur_factor_nonzeros * kSecondsPerSparseNonzero;
    if (forced_ == "blocked-sparse") {
      use_blocked(true, std::move(blocked_sparse));
      return;
    }
  }
  const double best_blocked = std::min(costs_.blocked_seconds, costs_.blocked_sparse_seconds);
  const bool sparse_schur = costs_.blocked_sparse_seconds < costs_.blocked_seconds;
  if (!analysis_pays(best_blocked)) {
    use_blocked(sparse_schur, sparse_schur ? std::move(blocked_sparse) : nullptr);
    return;
  }
  if (!simplicial) analyse_all_of_A();  // (a concurrent analysis implies this one pays: its bound is lower)
  costs_.sparse_nonzeros = simplicial->factor_nonzeros();
  costs_.sparse_flops = simplicial->flops();
  const bool supernodal = forced_.empty() ? costs_.sparse_flops >= kSupernodalFlopsPerNonzero * costs_.sparse_nonzeros
                                          : forced_ == "supernodal";
  costs_.sparse_seconds = costs_.sparse_flops / (supernodal ? kSupernodalFlops : kSparseFlops) +
                          costs_.sparse_nonzeros * kSecondsPerSparseNonzero;
  if (sparse_forced || costs_.sparse_seconds <= best_blocked) {
    use_sparse(supernodal, std::move(simplicial));
  } else {
    use_blocked(sparse_schur, sparse_schur ? std::move(blocked_sparse) : nullptr);
  }
}

bool Predictor::choose_grouped() {
  // The grouped factorization (LMMs whose terms are all scalar) replaces the blocked one's
  // per-θ work on the first term — the Schur update's pairs, L21 against the p + 1 right-hand
  // sides, RZX₁'RZX₁ — by work per group of equal first-block diagonals: the groups times S's
  // entries and the other terms' right-hand sides (grouped_first_term.hpp). Both factor the same
  // S, so the two are weighed by the work they differ in (multiply-adds), and the grouped one
  // taken where it is at most half.
  const bool all_scalar = std::all_of(terms_.begin(), terms_.end(), [](const Term& t) { return t.p == 1; });
  const Index q1 = terms_.front().levels, q2 = q() - q1;
  if (!grouped_allowed_ || !all_scalar || !GroupedFirstTerm::applies(ZtWZ_, q1) ||
      !(forced_.empty() || forced_ == "grouped")) {
    require(forced_ != "grouped",
            "the grouped factorization needs an LMM whose terms are all scalar, two or more, and a diagonal first block");
    return false;
  }
  const double width = static_cast<double>(p() + 1);
  double pairs = 0.0, a21 = 0.0;  // (the first term's levels, with their diagonal, are M's first columns)
  for (Index c = 0; c < q1; ++c) {
    const double m = ZtWZ_.outerIndexPtr()[c + 1] - ZtWZ_.outerIndexPtr()[c] - 1;
    pairs += m * (m + 1) / 2;
    a21 += m;
  }
  costs_.grouped_replaced = pairs + a21 * width + static_cast<double>(q1) * width * width / 2;
  const double groups = static_cast<double>(GroupedFirstTerm::groups(ZtWZ_, q1));
  costs_.grouped_groups = groups;
  if (forced_.empty() && grouped_work(groups, static_cast<double>(q2)) > kGroupedWorkShare * costs_.grouped_replaced) {
    return false;  // (S has at least its diagonal)
  }
  grouped_.emplace();
  grouped_->analyze_pattern(ZtWZ_, q1);
  costs_.grouped_work = grouped_work(groups, static_cast<double>(grouped_->schur_entries()));
  if (forced_.empty() && costs_.grouped_work > kGroupedWorkShare * costs_.grouped_replaced) {
    schur_outer_ = grouped_->schur_outer();  // for the blocked factorization's sparse S
    schur_inner_ = grouped_->schur_inner();
    grouped_.reset();
    return false;
  }
  grouped_->analyze_factor(threads_);
  costs_.schur_factor_nonzeros = grouped_->schur_factor_nonzeros();
  costs_.schur_factor_flops = grouped_->schur_factor_flops();
  chol_ = nullptr;
  factorization_ = "grouped";
  return true;
}

void Predictor::use_blocked(bool sparse_schur, std::unique_ptr<BlockedCholesky> analysed) {
  if (!analysed) {
    analysed = std::make_unique<BlockedCholesky>(terms_.front().p, terms_.front().levels, threads_, sparse_schur);
    if (sparse_schur && !schur_outer_.empty()) analysed->set_schur_pattern(std::move(schur_outer_), std::move(schur_inner_));
    analysed->analyze(A_);
  }
  chol_ = std::move(analysed);
  factorization_ = sparse_schur ? "blocked-sparse" : "blocked";
}

void Predictor::use_sparse(bool supernodal, std::unique_ptr<SimplicialCholesky> analysed) {
  if (supernodal) {
    auto factor = std::make_unique<SupernodalCholesky>();
    factor->analyze(A_, analysed->ordering());
    factor->set_threads(threads_);
    chol_ = std::move(factor);
    factorization_ = "supernodal";
    return;
  }
  chol_ = std::move(analysed);
  factorization_ = "simplicial";
}

void Predictor::update_RX() { update_RX_with(nullptr); }

void Predictor::lambda_to_factor_order(const Eigen::Ref<const Eigen::MatrixXd>& R, Eigen::MatrixXd& Bt,
                                       Index row) const {
  const Index r = R.rows();
  fixed_width<LambdaProducts>(r)(Lambda_, R.data(), R.outerStride(), r, chol_->position(), &Bt(row, 0), Bt.rows());
}

Eigen::MatrixXd Predictor::lambda_to_factor_order(const Eigen::VectorXd& ZtWr) const {
  Eigen::MatrixXd cu(1, q());
  lambda_to_factor_order(Eigen::Map<const Eigen::MatrixXd>(ZtWr.data(), 1, q()), cu, 0);
  return cu;
}

void Predictor::set_u_from_factor_order(const Eigen::MatrixXd& ut) const {
  const int* to = chol_->position();
  u_.resize(q());
  for (Index i = 0; i < q(); ++i) u_[i] = ut(0, to ? to[i] : i);
  u_pending_ = false;
}

void Predictor::update_RX_with(const Eigen::VectorXd* ZtWr) {
  require(!grouped_, "the grouped factorization serves the LMM criterion alone");
  u_pending_ = false;  // its solve needs the RZX it was left with
  if (p() > 0 && !x_products_current_) weighted_x_products();
  rhs_.resize(p() + (ZtWr ? 1 : 0), q());
  if (p() > 0) lambda_to_factor_order(ZtWXt_, rhs_, 0);
  if (ZtWr) lambda_to_factor_order(Eigen::Map<const Eigen::MatrixXd>(ZtWr->data(), 1, q()), rhs_, p());
  if (rhs_.rows() > 0) chol_->forward(rhs_);
  if (p() == 0) {  // no fixed effects: an empty RX, log det 0 (Eigen's solvers must not see empty maps)
    RX_.resize(0, 0);
    ldRX2_ = 0.0;
    return;
  }
  // X'WX − RZX'RZX by a symmetric rank update (half a general product's work: the lower
  // triangle, the only one LLT reads).
  Eigen::MatrixXd RXtRX = XtWX_;
  RXtRX.selfadjointView<Eigen::Lower>().rankUpdate(RZXt(), -1.0);
  set_RX(RXtRX);
}

void Predictor::set_RX(const Eigen::MatrixXd& RXtRX) {
  Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> llt(RXtRX);
  if (llt.info() != Eigen::Success) {
    throw NumericalError("the fixed-effects block X'WX − RZX'RZX is not positive definite at " +
                         theta_string(theta_));
  }
  RX_ = llt.matrixU();
  ldRX2_ = 2.0 * RX_.diagonal().array().log().sum();
  if (!std::isfinite(ldRX2_)) throw NumericalError("non-finite log-determinant of RX at " + theta_string(theta_));
}

void Predictor::weighted_x_products() {
  // Without the n × p temporary W X that Eigen's products make (PIRLS forms these at every
  // iteration): X'WX's lower triangle summed in registers while p is small (a matrix product
  // beyond), and Z'WX transposed, one contiguous p-vector per row of Zt — by Zt's rows where
  // they are kept (each level's sums in registers, see pair_start_), else added observation by
  // observation.
  const Index P = p(), N = n();
  const double* X = X_.data();
  Eigen::MatrixXd ZtWXt = Eigen::MatrixXd::Zero(P, q());
  if (!pair_start_.empty()) {
    fixed_width<LevelXProducts>(P)(Zt_rows_, w_.data(), X, N, P, ZtWXt.data());
  } else {
    const int* outer = Zt_.outerIndexPtr();
    const int* inner = Zt_.innerIndexPtr();
    const double* z = Zt_.valuePtr();
    for (Index i = 0; i < N; ++i) {
      for (int a = outer[i]; a < outer[i + 1]; ++a) {
        double* column = ZtWXt.col(inner[a]).data();
        const double weight = w_[i] * z[a];
        for (Index c = 0; c < P; ++c) column[c] += weight * X[i + c * N];
      }
    }
  }
  ZtWXt_ = std::move(ZtWXt);
  if (P <= kMaxRankOneColumns) {
    Eigen::MatrixXd XtWX = Eigen::MatrixXd::Zero(P, P);
    fixed_width<WeightedGram>(P)(X, w_.data(), N, P, XtWX.data());
    XtWX_ = XtWX.selfadjointView<Eigen::Lower>();
  } else {
    XtWX_.noalias() = X_.transpose() * w_.asDiagonal() * X_;
  }
  x_products_current_ = true;
}

Eigen::VectorXd Predictor::Zt_times(const Eigen::VectorXd& v) const {
  if (pair_start_.empty()) return Zt_ * v;
  return Zt_rows_ * v;  // by rows: one sum per level (see pair_start_)
}

Eigen::VectorXd Predictor::XtW(const Eigen::VectorXd& r) const {
  return X_.transpose() * w_.cwiseProduct(r);
}

double Predictor::solve_beta_u(const Eigen::VectorXd& ZtWr, const Eigen::VectorXd& XtWr) {
  require(!grouped_, "the grouped factorization serves the LMM criterion alone");
  Eigen::MatrixXd cu = lambda_to_factor_order(ZtWr);
  chol_->forward(cu);
  return beta_u_from(cu, XtWr);
}

double Predictor::update_RX_solve_beta(const Eigen::VectorXd& XtWy) {
  require(response_ZtWy_.size() == q(), "the response's products are not set");
  if (grouped_) return grouped_solve_beta(XtWy);
  update_RX_with(&response_ZtWy_);
  Eigen::MatrixXd cu = rhs_.bottomRows(1);
  return beta_u_from(cu, XtWy, true);
}

double Predictor::beta_u_from(Eigen::MatrixXd& cu, const Eigen::VectorXd& XtWr, bool defer_u) {
  double explained = cu.squaredNorm();
  if (p() > 0) {
    Eigen::VectorXd cbeta = XtWr;
    cbeta.noalias() -= RZXt() * cu.row(0).transpose();
    RX_.transpose().triangularView<Eigen::Lower>().solveInPlace(cbeta);
    explained += cbeta.squaredNorm();
    beta_ = RX_.triangularView<Eigen::Upper>().solve(cbeta);
  } else {
    beta_.resize(0);
  }
  if (defer_u) {
    pending_cu_ = std::move(cu);
    pending_beta_ = beta_;  // the caller may shift β (an LMM's, by y's least-squares fit)
    u_pending_ = true;
  } else {
    u_from(cu, beta_);
  }
  return explained;
}

void Predictor::u_from(Eigen::MatrixXd& cu, const Eigen::VectorXd& beta) const {
  if (p() > 0) cu.row(0).noalias() -= beta.transpose() * RZXt();
  chol_->backward(cu);
  set_u_from_factor_order(cu);
}

void Predictor::solve_pending_u() const {
  if (grouped_) {
    grouped_->u(Lambda_.valuePtr(), pending_beta_, u_);
    u_pending_ = false;
    return;
  }
  u_from(pending_cu_, pending_beta_);
  pending_cu_.resize(0, 0);
}

double Predictor::grouped_solve_beta(const Eigen::VectorXd& XtWr) {
  // The Gram matrix H of L⁻¹Λ'Z'W[X y] gives RZX'RZX (its X block), RZX'c_u (X against y) and
  // ‖c_u‖² (y's diagonal): the same quantities as the solves of update_RX_with and beta_u_from.
  u_pending_ = false;
  if (p() > 0 && !x_products_current_) weighted_x_products();
  Eigen::MatrixXd H;
  grouped_->gram(Lambda_.valuePtr(), H);
  const Index P = p();
  double explained = H(P, P);
  if (P > 0) {
    set_RX(XtWX_ - H.topLeftCorner(P, P));
    Eigen::VectorXd cbeta = XtWr - H.topRightCorner(P, 1);
    RX_.transpose().triangularView<Eigen::Lower>().solveInPlace(cbeta);
    explained += cbeta.squaredNorm();
    beta_ = RX_.triangularView<Eigen::Upper>().solve(cbeta);
  } else {
    RX_.resize(0, 0);
    ldRX2_ = 0.0;
    beta_.resize(0);
  }
  pending_beta_ = beta_;
  u_pending_ = true;
  return explained;
}

void Predictor::solve_u(const Eigen::VectorXd& ZtWr) {
  require(!grouped_, "the grouped factorization serves the LMM criterion alone");
  Eigen::MatrixXd cu = lambda_to_factor_order(ZtWr);
  chol_->forward(cu);
  chol_->backward(cu);
  set_u_from_factor_order(cu);
}

Eigen::VectorXd Predictor::linear_predictor() const {
  Eigen::VectorXd eta = X_ * beta_;
  add_random_part(eta);
  return eta;
}

void Predictor::add_random_part(Eigen::VectorXd& eta) const {
  const Eigen::VectorXd random = b();
  const int parts = Zt_.nonZeros() >= kMinParallelWork ? threads_ : 1;
  parallel_for(parts, [&](int t) {  // by rows: each observation's value is its own
    const Index r0 = n() * t / parts, rows = n() * (t + 1) / parts - r0;
    eta.segment(r0, rows).noalias() += Zt_.middleCols(r0, rows).transpose() * random;
  });
}

}  // namespace mixedfit
