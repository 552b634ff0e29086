#pragma once
// Exact sums of absolute values of doubles, fast enough for ResNet-scale
// weight tensors (tens of millions of entries per second).
//
// Each |x| = m * 2^e (m < 2^53) is added, as an integer, into one of 64
// 128-bit bins by e / 32, so no addition rounds and no bin can overflow
// before 2^44 additions; the bins are combined exactly in GMP at the end.
//
// Why exact_dot (exact_dot.hpp) keeps its own accumulator: a product of two
// doubles has a 106-bit mantissa, up to 137 bits once shifted within a 32-bit
// bin, more than a 128-bit bin holds; exact_dot therefore adds each product
// into one GMP fixed-point integer. That design would serve |x| too, exactly,
// but about 16x slower per term (measured on 4 million doubles: 165 vs 10
// million terms per second), which the weight tensors summed here cannot
// afford. The refined point engine's TwoSum cascade (src/fast/refined.cpp)
// is a third design on purpose: it returns a double expansion plus a rigorous
// error bound at double speed, inside vectorized per-cell loops, not an exact
// rational; either exact accumulator there would change its enclosures (and
// so the reports) and cost GMP work per term.
#include "qbound/arith/rational.hpp"

#include <span>

namespace qbound::arith {

// sum_i |x_i| exactly. Throws domain_error naming `what` and the index on a
// NaN or infinite entry.
rational exact_abs_sum(std::span<const double> x, const char* what = "entry");

// max_i |a_i - b_i| exactly (sizes must match); 0 for empty spans.
rational exact_max_abs_difference(std::span<const double> a, std::span<const double> b, const char* what = "entry");

}  // namespace qbound::arith
