#pragma once
// A certified upper bound on sup_{x in box} ||R_theta'(x) - R_theta(x)||_inf
// by symbolic (linear) differential propagation, in the spirit of NeuroDiff
// (Paulsen, Wang, Wang and Wang, ASE 2020): every node carries, besides the
// interval enclosures of verify/differential.hpp, linear lower and upper
// bounds in the input x for theta's value z, theta''s value z' and the
// difference d = z' - z. Through an affine layer
//   d_out = W' d + (W' - W) a + (b' - b)
// is applied to the linear bounds themselves, so the input dependence that
// (W' - W) a shares with W' d cancels instead of adding up as intervals do.
// ReLU on d = relu(z + d) - relu(z) uses the exact cases (both networks
// active: d; both inactive: 0; one switches: -z or z') and otherwise the
// chords of min(0, d) and max(0, d) on [d_lo, d_hi], sharpened when one
// network is stable (z >= 0 active gives d_out >= d, ...). Nodes without a
// linear rule (max pooling, ReLU6) become constant bounds from the interval
// enclosures. Every concrete bound is intersected with the interval
// enclosure, so the result is never looser than verify/differential.hpp.
//
// Soundness: coefficients are interval_double (sound in round-to-nearest),
// so each linear bound is a set of linear functions containing the exact
// one; a concrete bound is the interval evaluation of that set on the box.
#include "qbound/verify/differential.hpp"

#include <cstddef>
#include <vector>

namespace qbound::verify {

// Per output coordinate k: an enclosure of {R_theta'(x)_k - R_theta(x)_k : x in box}.
// Throws core::unsound_error when a symbolic bound and the interval pass's
// enclosure of the same values do not overlap. narrow_for_test (test only)
// is applied to the interval pass's difference enclosures before use.
std::vector<arith::interval_double> symbolic_difference_enclosures(const net::network& theta, const net::network& theta_quantized,
                                                                  const input_box& box, const narrow_hook& narrow_for_test = {});

// Per output coordinate: an upper bound on sup_{x in box} |R_theta'(x)_k - R_theta(x)_k|.
std::vector<double> symbolic_difference_bounds(const net::network& theta, const net::network& theta_quantized, const input_box& box);

// max_k of the above (>= the exact sup of the inf-norm of the difference).
double symbolic_difference_bound(const net::network& theta, const net::network& theta_quantized, const input_box& box);

// Work of one symbolic pass, in coefficient operations: (multiply-accumulates
// + neurons) x (inputs + 1). Branch and bound uses the symbolic pass when
// this is below its budget.
std::size_t symbolic_cost(const net::network& net);

}  // namespace qbound::verify
