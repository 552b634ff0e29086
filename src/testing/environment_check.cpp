#include "qbound/testing/environment_check.hpp"

#include "qbound/arith/interval_double.hpp"
#include "qbound/arith/rational.hpp"
#include "qbound/testing/operand_generators.hpp"

#include <cfenv>
#include <cfloat>
#include <cmath>

namespace qbound::testing {

using arith::interval_double;
using arith::rational;

namespace {

// Values the optimizer cannot see through.
volatile double opaque_tenth = 0.1;
volatile double opaque_fifth = 0.2;
volatile double opaque_dbl_min = DBL_MIN;
volatile double opaque_three = 3.0;
volatile double opaque_third = 1.0 / 3.0;

environment_finding interval_sum_finding(const char* name, const interval_double& s) {
    const rational exact = rational(0.1) + rational(0.2);
    const bool inside = arith::compare(exact, s.lower()) >= 0 && arith::compare(exact, s.upper()) <= 0;
    environment_finding f{name, s.lower() < s.upper() && inside,
                          "[" + describe(s.lower()) + ", " + describe(s.upper()) + "]"};
    if (!f.ok) f.detail += inside ? " is a point although 0.1 + 0.2 is inexact" : " does not contain the exact sum";
    return f;
}

}  // namespace

std::vector<environment_finding> check_environment() {
    std::vector<environment_finding> out;

    const int mode = std::fegetround();
    out.push_back({"rounding mode is round-to-nearest", mode == FE_TONEAREST,
                   mode == FE_TONEAREST ? "FE_TONEAREST" : "fegetround() = " + std::to_string(mode)});

    const double half_min = opaque_dbl_min / 2;
    out.push_back({"subnormals are preserved (no flush-to-zero)", half_min != 0 && half_min * 2 == DBL_MIN,
                   "DBL_MIN / 2 = " + describe(half_min)});

    // With contraction a*b + c would be one fma; -ffp-contract=off forbids it.
    const double a = opaque_three, b = opaque_third;
    const double unfused = a * b - 1.0;
    const double fused = std::fma(a, b, -1.0);
    out.push_back({"no FP contraction of a*b - c", unfused == 0.0 && fused != 0.0,
                   "3*(1/3) - 1 = " + describe(unfused) + ", fma = " + describe(fused)});

    out.push_back(interval_sum_finding("interval 0.1 + 0.2 (constants)", interval_double(0.1) + interval_double(0.2)));
    out.push_back(interval_sum_finding("interval 0.1 + 0.2 (run-time values)",
                                       interval_double(opaque_tenth) + interval_double(opaque_fifth)));
    return out;
}

}  // namespace qbound::testing
