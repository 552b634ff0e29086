#pragma once
// A network at one input (`qbound eval`): its outputs in plain double and a
// certified enclosure of the exact real outputs, and with a second network,
// a certified enclosure of the difference R_theta'(x) - R_theta(x).
//
// The input is exact (rationals: a decimal like 0.1 is 1/10). Up to
// `exact_limit` multiply-accumulates per pass the outputs are exact
// rationals; above it, interval arithmetic in double with outward rounding
// (arith::interval_double) from an enclosure of x. The double pass runs at
// the double nearest to each coordinate (`point_is_double` says whether that
// is x itself); it is not certified.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace qbound::verify {

struct evaluation {
    std::vector<double> plain;                  // double forward pass at the nearest double point
    std::vector<arith::rational> lower, upper;  // lower[k] <= R(x)_k <= upper[k], certified
    std::string arithmetic;                     // "exact rational" or "interval double"
    bool point_is_double = true;
};

evaluation evaluate_point(const net::network& net, const std::vector<arith::rational>& x, std::size_t exact_limit = 200000);

// Per output: an enclosure of R_theta'(x)_k - R_theta(x)_k from the two evaluations.
struct difference_enclosure {
    std::vector<arith::rational> lower, upper;
};
difference_enclosure enclose_difference(const evaluation& theta, const evaluation& theta_quantized);

}  // namespace qbound::verify
