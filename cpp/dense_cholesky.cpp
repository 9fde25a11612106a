#include "dense_cholesky.hpp"

#include <algorithm>

#include "parallel.hpp"

namespace mixedfit {

namespace {

constexpr Index kPanel = 128;  // columns per step: the diagonal block and the panel solve are cheap
constexpr Index kMinParallelColumns = 256;

}  // namespace

bool upper_cholesky_in_place(Eigen::MatrixXd& A, int threads) {
  const Index n = A.cols();
  for (Index k = 0; k < n; k += kPanel) {
    const Index b = std::min(kPanel, n - k), rest = n - k - b;
    Eigen::Ref<Eigen::MatrixXd> diagonal = A.block(k, k, b, b);
    const Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>, Eigen::Upper> diagonal_factor(diagonal);  // in place
    if (diagonal_factor.info() != Eigen::Success) return false;
    if (rest == 0) break;
    // U12 = U11⁻ᵀ A12, then A22 −= U12ᵀ U12 (upper triangle), both split by columns of A22.
    const auto U11 = A.block(k, k, b, b).triangularView<Eigen::Upper>();
    const Index start = k + b;
    // Threads pay for themselves only on a large trailing matrix.
    const int parts = rest >= kMinParallelColumns ? threads : 1;
    // The panel solve first: every column of A22's update reads all of U12.
    parallel_for(parts, [&](int t) {
      const Index c0 = rest * t / parts, c1 = rest * (t + 1) / parts;
      auto panel = A.block(k, start + c0, b, c1 - c0);
      U11.transpose().solveInPlace(panel);
    });
    parallel_for(parts, [&](int t) {
      const Index c0 = t == 0 ? 0 : triangle_split(rest, parts, t - 1);
      const Index c1 = triangle_split(rest, parts, t);
      if (c1 <= c0) return;
      const auto U12 = A.block(k, start, b, rest);
      // Rows above this part's columns: a rectangle; the part's own diagonal block: a triangle.
      if (c0 > 0) {
        A.block(start, start + c0, c0, c1 - c0).noalias() -= U12.leftCols(c0).transpose() * U12.middleCols(c0, c1 - c0);
      }
      A.block(start + c0, start + c0, c1 - c0, c1 - c0)
          .selfadjointView<Eigen::Upper>()
          .rankUpdate(U12.middleCols(c0, c1 - c0).transpose(), -1.0);
    });
  }
  return true;
}

}  // namespace mixedfit
