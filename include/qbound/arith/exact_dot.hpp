#pragma once
// The exact dot product of two double vectors, as a rational: the reference
// the enclosure properties compare against. Uses a fixed-point GMP integer
// accumulator (every product of doubles is an integer times 2^-2148), so
// long vectors cost O(n) big-integer additions and no rational
// normalisation until the end.
#include "qbound/arith/rational.hpp"

#include <span>

namespace qbound::arith {

// sum_i a_i b_i exactly. Throws domain_error on NaN/inf entries and
// core::invalid_argument when the sizes differ.
rational exact_dot(std::span<const double> a, std::span<const double> b);

}  // namespace qbound::arith
