#pragma once
// Rescaling between consecutive affine layers (THEOREMS.md section 4, step 7)
// and cross-layer equalization (CLE; Nagel, van Baalen, Blankevoort and
// Welling, "Data-free quantization through weight equalization and bias
// correction", ICCV 2019).
//
// Let A be an affine node with C output channels and B the affine node its
// output reaches through nodes that act on each channel separately and are
// positively homogeneous (ReLU, identity, max / average / global average
// pooling, flatten). For s_1..s_C > 0,
//   (W_A, b_A, W_B) -> (S^-1 W_A, S^-1 b_A, W_B S),   S = diag(s),
// leaves the network's function unchanged, because relu(t / s) = relu(t) / s
// for s > 0 and each of those nodes commutes with a positive per-channel
// scale. "W_B S" multiplies every weight of B that reads channel c by s_c: a
// column of a dense B, a block of H*W columns when a flatten lies between, or
// an input channel of a conv B (within its group; a depthwise A or B pairs
// channel c with channel c).
//
// It changes the layer norms r_A and r_B, and with them the bounds
// (THEOREMS.md section 3); CLE is the usual choice of S.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace qbound::net {

// The affine node B that compensates a rescaling of `first_affine_node`'s
// output channels (see above). Throws model_error naming the obstacle: a
// node that is not affine, a shape-only network, the output layer, fan-out
// (a node on the way read by more than one node), a residual add, ReLU6
// (min(t, 6) is not positively homogeneous), an unfolded batch norm, or a
// normalize node.
std::size_t rescaling_partner(const network& net, std::size_t first_affine_node);

// Applies (W_A, b_A, W_B) -> (S^-1 W_A, S^-1 b_A, W_B S) with A =
// first_affine_node, B = rescaling_partner(net, A), s.size() == C (A's
// output channels). Every s_c must be finite and > 0. The function is
// unchanged exactly when every s_c is a power of two and no rescaled entry
// becomes subnormal-and-rounded; otherwise each rescaled entry is rounded to
// nearest once (the network then differs by those roundings). Throws
// model_error (network untouched) for a bad structure or scale, or when a
// rescaled entry would overflow.
void rescale_layer_pair(network& net, std::size_t first_affine_node, const std::vector<double>& s);

struct cle_options {
    std::size_t max_sweeps = 16;  // passes over all pairs; stops early when a pass changes nothing
    int max_exponent = 64;        // |log2 s_c| accumulated per channel stays <= this
};

// Norms of one affine layer, exact: rho = max_i (sum_j |W_ij| + |b_i|) and
// the same without biases. For dense layers these are the operator norms of
// [W | b] and W; for conv layers the kernel form max_o (sum |k_o| + |b_o|),
// which is the operator norm as soon as a full receptive field exists.
struct cle_layer_norms {
    std::size_t node = 0;
    std::string name;
    arith::rational rho_before, rho_after;
    arith::rational weight_norm_before, weight_norm_after;
};

// One equalized pair A -> B. range_A(c) = max |W_A| over A's filter c (bias
// excluded), range_B(c) = max |W_B| over B's weights reading channel c.
struct cle_pair {
    std::size_t first = 0, second = 0;  // node indices of A and B
    std::vector<int> exponents;         // s_c = 2^exponents[c], accumulated over all sweeps
    std::size_t limited_channels = 0;   // a step was cut short: exactness (subnormal / overflow) or max_exponent
    std::size_t skipped_channels = 0;   // range_A(c) or range_B(c) is zero: left alone
    // max_c max(range_A(c) / range_B(c), range_B(c) / range_A(c)) over the
    // channels not skipped (1 when there are none), before and after.
    arith::rational imbalance_before, imbalance_after;
};

struct cle_report {
    std::vector<cle_layer_norms> layers;  // every affine node, in node order
    std::vector<cle_pair> pairs;          // in node order of A
    std::vector<std::string> unpaired;    // affine nodes without a partner, and why
    std::size_t sweeps = 0;
    bool converged = false;  // the last sweep changed nothing
};

// Cross-layer equalization with power-of-two scales. For each pair A -> B
// (rescaling_partner) and each channel c it chooses s_c = 2^e_c with e_c the
// integer nearest to log2 sqrt(range_A(c) / range_B(c)) (ties toward zero),
// so both ranges become about sqrt(range_A(c) range_B(c)), and repeats over
// all pairs until a sweep changes nothing or max_sweeps is reached. e_c is
// limited so that every rescaled weight and bias is exact (no rounding into
// or below the subnormals, no overflow): the rescaled network computes
// exactly the same real function. At convergence every channel not skipped
// or limited has range_A(c) / range_B(c) in [1/2, 2]. Biases are rescaled
// with their filters but do not enter the ranges. Throws model_error for a
// shape-only network or an unfolded batch norm.
cle_report cross_layer_equalization(network& net, const cle_options& options = {});

}  // namespace qbound::net
