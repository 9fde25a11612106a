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
    // Threads pay for themselves only on a large trailing matrix. The work is cut into chunks of
    // kPanel columns whatever the thread count, so that U is the same on any number of threads.
    const int parts = rest >= kMinParallelColumns ? threads : 1;
    const Index chunks = (rest + kPanel - 1) / kPanel;
    // The panel solve first: every column of A22's update reads all of U12.
    parallel_chunks(chunks, parts, [&](Index c) {
      const Index c0 = c * kPanel, width = std::min(kPanel, rest - c0);
      auto panel = A.block(k, start + c0, b, width);
      U11.transpose().solveInPlace(panel);
    });
    const auto U12 = A.block(k, start, b, rest);
    // Chunk c: the rectangle above its columns by a matrix product, its diagonal block's upper
    // triangle by a rank update (the later chunks, with the larger rectangles, dealt round robin).
    parallel_chunks(chunks, parts, [&](Index c) {
      const Index c0 = c * kPanel, width = std::min(kPanel, rest - c0);
      if (c0 > 0) {
        A.block(start, start + c0, c0, width).noalias() -= U12.leftCols(c0).transpose() * U12.middleCols(c0, width);
      }
      A.block(start + c0, start + c0, width, width)
          .selfadjointView<Eigen::Upper>()
          .rankUpdate(U12.middleCols(c0, width).transpose(), -1.0);
    });
  }
  return true;
}

}  // namespace mixedfit
