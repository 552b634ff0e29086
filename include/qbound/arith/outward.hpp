#pragma once
// One step to the next double, for rounding a computed value outward
// without changing the rounding mode. Any rounding error of one IEEE
// operation (in any rounding mode) is below one ulp of the result (the
// smallest subnormal in the subnormal range), so next_up(fl(r)) >= r and
// next_down(fl(r)) <= r.
// Shared by the fast float-sound path (src/fast) and the linear relaxation
// pass (src/verify/linear_relaxation.cpp).
#include <bit>
#include <cstdint>
#include <limits>

namespace qbound::arith {

inline constexpr double smallest_subnormal = 0x1p-1074;  // eta in the error bounds

// The next double above x (x itself for +inf and NaN; the smallest subnormal for +-0).
[[gnu::always_inline]] inline double next_up(double x) {
    if (!(x < std::numeric_limits<double>::infinity())) return x;
    if (x == 0) return smallest_subnormal;
    const auto bits = std::bit_cast<std::uint64_t>(x);
    return std::bit_cast<double>(x > 0 ? bits + 1 : bits - 1);
}
[[gnu::always_inline]] inline double next_down(double x) { return -next_up(-x); }

}  // namespace qbound::arith
