#pragma once
// Seeded weight initializers (platform-independent: our own mapping from
// std::mt19937_64, no std::*_distribution).
#include "qbound/net/network.hpp"

#include <cstdint>
#include <vector>

namespace qbound::net {

// W ~ N(0, 2 / fan_in) per affine layer (fan_in = in features, or
// in_channels / groups * kh * kw); biases ~ N(0, bias_std^2).
void init_he_normal(network& net, std::uint64_t seed, double bias_std = 0.0);

// Every weight and bias ~ U[-a, a].
void init_uniform(network& net, double a, std::uint64_t seed);

// Scale each affine layer (weights and bias together) so that its augmented
// operator norm max_i (sum_j |W_ij| + |b_i|) becomes r_l (for conv layers:
// max_o sum |k_o| + |b_o|, the norm whenever a full receptive field exists).
// `r` has one value per affine layer in node order, or a single value for
// all; r_l < 1 is allowed. The scaling is done in double, so the reached norm
// is r_l up to rounding; the bounds recompute norms rigorously.
void scale_to_operator_norms(network& net, const std::vector<double>& r);

// The augmented operator norm of an affine node, in double (approximate;
// for display and for scale_to_operator_norms).
double approximate_operator_norm(const node& n);

}  // namespace qbound::net
