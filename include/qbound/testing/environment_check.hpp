#pragma once
// Run-time checks of the floating-point environment that interval_double's
// soundness argument assumes (see interval_double.hpp). `qbound selfcheck`
// runs them; a failure means this binary's enclosures cannot be trusted.
#include <string>
#include <vector>

namespace qbound::testing {

struct environment_finding {
    std::string name;
    bool ok = false;
    std::string detail;
};

// Round-to-nearest mode, subnormals not flushed, no FP contraction of a*b+c,
// the FMA is exact, and the interval of 0.1 + 0.2 (computed both from
// constants the compiler may fold and from values it cannot see) has
// lower < upper and contains the exact sum.
std::vector<environment_finding> check_environment();

}  // namespace qbound::testing
