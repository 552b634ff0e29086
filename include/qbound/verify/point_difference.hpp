#pragma once
// A certified value of ||R_theta'(x) - R_theta(x)||_inf at one input x.
//
// The arithmetic is chosen by the size of one forward pass (multiply-
// accumulates of the affine layers): exact rationals up to `exact_limit`,
// MPFI intervals at `bits` (default 256) up to `fast_limit`, and above it the
// fast float-sound path (fast/enclosure.hpp: binary64 with a-priori error
// bounds, residual-corrected; see fast_path_macs for the fallbacks). Every way,
// `lower <= ||R_theta'(x) - R_theta(x)||_inf <= upper` holds for the exact
// real networks (a double weight is the exact weight), and `arithmetic` names
// the path that produced the numbers.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace qbound::verify {

struct point_difference {
    std::vector<double> x;
    arith::rational lower, upper;  // certified bracket on the inf-norm of the difference
    std::size_t output = 0;        // the output coordinate attaining `lower`
    // Per output k: output_lower[k] <= |R_theta'(x)_k - R_theta(x)_k| <= output_upper[k].
    std::vector<arith::rational> output_lower, output_upper;
    std::string arithmetic;        // "exact rational", "MPFI <bits>-bit" or a fast::*arithmetic_name
};

// Multiply-accumulates of one forward pass (affine layers), to choose the arithmetic.
std::size_t forward_cost(const net::network& net);

// Above fast_path_macs MACs per forward pass the fast path certifies (the
// ImageNet zoo models at any resolution), in refined mode at 100 bits and,
// while no non-zero difference is certified, at more bits (as many as the
// last enclosure's width asks for, up to fast::max_refined_bits; the
// arithmetic names the bits). If its enclosure is still too wide to
// give a non-zero lower value (or overflows), MPFI is used after all when
// the network has at most mpfi_limit MACs (about a minute at 256 bits);
// above that the fast result stands (or MPFI runs if it overflowed).
inline constexpr std::size_t fast_path_macs = 5'000'000;
inline constexpr std::size_t mpfi_limit = 50'000'000;

// Exact when forward_cost <= exact_limit, MPFI at `bits` up to fast_limit,
// else the fast float-sound path (refined mode, see fast/enclosure.hpp).
point_difference certify_difference(const net::network& theta, const net::network& theta_quantized,
                                    const std::vector<double>& x, long bits = 256, std::size_t exact_limit = 200000,
                                    std::size_t fast_limit = fast_path_macs);

// ||R_theta'(x) - R_theta(x)||_inf in plain double (for searching; not
// certified); by the fast engine's kernels above 200,000 MACs.
// With `output` < the output count: |R_theta'(x)_output - R_theta(x)_output| only.
double approximate_difference(const net::network& theta, const net::network& theta_quantized, const std::vector<double>& x,
                              std::size_t output = static_cast<std::size_t>(-1));

}  // namespace qbound::verify
