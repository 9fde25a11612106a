// Kernels whose innermost loop runs over a small width known only at run time (the right-hand
// sides of a solve, the rows of a product such as (Z'WX)ᵀ): each is instantiated with the width
// fixed at compile time for widths 1 … kMaxFixedWidth, so that loop is unrolled, and chosen per
// call from a table. A loop of run-time length, vectorized with its remainder and aliasing
// checks, took up to twice as long at widths 1 to 3 (perf, the solves' and Λ's products).
#pragma once

#include <array>
#include <utility>

#include "types.hpp"

namespace mixedfit {

inline constexpr Index kMaxFixedWidth = 16;

namespace detail {
template <class Kernel, std::size_t... W>
constexpr auto fixed_width_table(std::index_sequence<W...>) {
  return std::array{&Kernel::template run<static_cast<int>(W)>...};
}
}  // namespace detail

// Kernel::run<W> for this width: W = width up to kMaxFixedWidth, else 0 (the run-time loop).
template <class Kernel>
auto fixed_width(Index width) {
  static constexpr auto table = detail::fixed_width_table<Kernel>(std::make_index_sequence<kMaxFixedWidth + 1>{});
  return table[width >= 0 && width <= kMaxFixedWidth ? width : 0];
}

}  // namespace mixedfit
