// Running work on a few threads: the parts of one factorization (on the machine's cores; one
// inside the bootstrap, whose refits already run one per core) or the bootstrap's refits.
#pragma once

#include <algorithm>
#include <cmath>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

#include "types.hpp"

namespace mixedfit {

// Below about this many entries (values read or written) a second thread does not pay for its
// start (~50 µs): such loops run on the calling thread.
constexpr Index kMinParallelWork = 200000;

// Runs work(t) for t = 0 … threads − 1, t = 0 on the calling thread; rethrows a worker's exception.
// A thread that cannot start (the process is at its limit of threads or address space) never
// aborts the process: the started threads run and are joined, and the parts that found no thread
// run on the calling thread after its own, so the result is the same.
template <class Work>
void parallel_for(int threads, const Work& work) {
  if (threads <= 1) {
    work(0);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  const auto run = [&](int t) {
    try {
      work(t);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  int started = 1;
  for (; started < threads; ++started) {
    try {
      workers.emplace_back(run, started);
    } catch (const std::system_error&) {
      break;  // no thread for parts started … threads − 1: they run below
    }
  }
  run(0);
  for (int t = started; t < threads; ++t) run(t);
  for (auto& w : workers) w.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
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
