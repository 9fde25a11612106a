// Numerical failures carry the numbers that explain them; Python sees them as
// mixedfit.NumericalError. Size mismatches are std::invalid_argument (Python ValueError).
// A problem too large for the core's index types or the machine is a ResourceError (Python
// mixedfit.ResourceError, as are std::bad_alloc and a thread that cannot start).
#pragma once

#include <stdexcept>
#include <string>

namespace mixedfit {

class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The message is a literal, turned into a string only when the check fails: checks run on the
// hot paths (every evaluation's θ), where building a std::string per call (a heap allocation
// beyond 15 characters) took 15 % of a small model's evaluation. A message that needs numbers
// is built in an explicit `if` at its site.
inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

}  // namespace mixedfit
