#pragma once
// Exact sums of absolute values of doubles, fast enough for ResNet-scale
// weight tensors (tens of millions of entries per second).
//
// Each |x| = m * 2^e (m < 2^53) is added, as an integer, into one of 64
// 128-bit bins by e / 32, so no addition rounds and no bin can overflow
// before 2^44 additions; the bins are combined exactly in GMP at the end.
#include "qbound/arith/rational.hpp"

#include <span>

namespace qbound::arith {

// sum_i |x_i| exactly. Throws domain_error naming `what` and the index on a
// NaN or infinite entry.
rational exact_abs_sum(std::span<const double> x, const char* what = "entry");

// max_i |a_i - b_i| exactly (sizes must match); 0 for empty spans.
rational exact_max_abs_difference(std::span<const double> a, std::span<const double> b, const char* what = "entry");

}  // namespace qbound::arith
