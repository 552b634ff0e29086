#pragma once
// A certified value of ||R_theta'(x) - R_theta(x)||_inf at one input x.
//
// Small networks are evaluated in exact rationals; larger ones with MPFI
// intervals at `bits` (default 256), whose enclosures contain the exact
// outputs. Either way `lower <= ||R_theta'(x) - R_theta(x)||_inf <= upper`
// holds for the exact real networks (a double weight is the exact weight).
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
    std::string arithmetic;        // "exact rational" or "MPFI <bits>-bit"
};

// Multiply-accumulates of one forward pass (affine layers), to choose the arithmetic.
std::size_t forward_cost(const net::network& net);

// Exact when forward_cost <= exact_limit, else MPFI at `bits`.
point_difference certify_difference(const net::network& theta, const net::network& theta_quantized,
                                    const std::vector<double>& x, long bits = 256, std::size_t exact_limit = 200000);

// ||R_theta'(x) - R_theta(x)||_inf in plain double (for searching; not certified).
double approximate_difference(const net::network& theta, const net::network& theta_quantized, const std::vector<double>& x);

}  // namespace qbound::verify
