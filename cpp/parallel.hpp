// Running work on a few threads: the parts of one factorization (on the machine's cores; one
// inside the bootstrap, whose refits already run one per core) or the bootstrap's refits.
#pragma once

#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

#include "types.hpp"

namespace mixedfit {

// Below about this many entries (values read or written) handing part of a loop to a pool worker
// does not pay: such loops run on the calling thread. (2·10⁵ while each part started a thread;
// with the pool, 2·10⁴ measured best: per evaluation star 1.1 -> 0.92 ms, 10⁴ subjects with
// slopes 0.68 -> 0.58, a poisson crossed GLMM's 2.46 -> 2.15; at 8·10³ a nested model's 0.063
// ms evaluation took 0.075.)
constexpr Index kMinParallelWork = 20000;

namespace detail {
// Runs run(work, t) for t = 0 … parts − 1: part 0 on the calling thread, the others on the
// process's pool of worker threads (started as parts first need them, at most the cores less one)
// or, where no worker is free to take one, on the calling thread too; returns when every part
// has returned.
void run_on_pool(int parts, void (*run)(const void* work, int t), const void* work);
}  // namespace detail

// Runs work(t) for t = 0 … threads − 1, t = 0 on the calling thread; rethrows a worker's exception.
// The other parts run on a pool of threads kept for the process: starting a thread per part cost
// ~50 µs each time, which a supernodal factor with a few large fronts paid dozens of times per
// factorization. A part no worker takes runs on the calling thread, so the result is the same
// with fewer (or no) workers, and calls from several threads at once, or nested ones, cannot
// wait on each other.
template <class Work>
void parallel_for(int threads, const Work& work) {
  if (threads <= 1) {
    work(0);
    return;
  }
  struct Context {
    const Work* work;
    std::vector<std::exception_ptr>* errors;
  };
  std::vector<std::exception_ptr> errors(threads);
  const Context context{&work, &errors};
  detail::run_on_pool(threads, [](const void* c, int t) {
    const auto* ctx = static_cast<const Context*>(c);
    try {
      (*ctx->work)(t);
    } catch (...) {
      (*ctx->errors)[t] = std::current_exception();
    }
  }, &context);
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Runs work(chunk) for chunk = 0 … chunks − 1 on up to `threads` threads, the chunks dealt round
// robin (chunk c on part c mod parts). Where a chunk's result does not depend on how the others are
// grouped, the whole is the same on any number of threads: a fit must not change with the thread
// count (a different rounding in the last bit sends BOBYQA down another path: InstEval took 72
// evaluations on one thread and 68 on two).
template <class Work>
void parallel_chunks(Index chunks, int threads, const Work& work) {
  const int parts = static_cast<int>(std::min<Index>(std::max(threads, 1), chunks));
  parallel_for(parts, [&](int t) {
    for (Index c = t; c < chunks; c += parts) work(c);
  });
}

// Where part t of `parts` ends among items [0, n) whose cumulative work is prefix[0 … n]
// (non-decreasing, prefix[0] = 0; a sparse matrix's outer index): about equal work per part.
inline Index weighted_split(const int* prefix, Index n, int parts, int t) {
  if (t + 1 >= parts) return n;
  const double target = static_cast<double>(prefix[n]) * (t + 1) / parts;
  return std::lower_bound(prefix, prefix + n, target, [](int a, double b) { return a < b; }) - prefix;
}

// Column boundaries that give each of `threads` parts the same share of an upper triangle's
// columns [0, n): work up to column m grows as m², so part t ends at n √((t + 1) / threads).
inline Index triangle_split(Index n, int threads, int t) {
  if (t + 1 >= threads) return n;
  return static_cast<Index>(std::lround(static_cast<double>(n) * std::sqrt(static_cast<double>(t + 1) / threads)));
}

}  // namespace mixedfit
