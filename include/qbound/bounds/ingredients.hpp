#pragma once
// Everything the published bounds are made of, for one pair (theta, theta')
// of networks with the same architecture (THEOREMS.md sections 1 and 3),
// computed exactly from the double weights (a double weight is the exact
// weight): operator norms, conv norms, largest entries, Delta_l, widths,
// ||theta - theta'||_inf, and the input bound D after input normalization.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"
#include "qbound/quant/quantize.hpp"

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace qbound::bounds {

// Index into the per-network arrays below.
enum network_side : std::size_t { original = 0, quantized = 1 };

struct layer_ingredients {
    std::size_t node = 0;  // index in the network
    std::string name;
    net::op kind = net::op::dense;
    std::size_t depth = 0;  // l on the main path (1..L), 0 for shortcut projections
    bool main_path = true;
    std::size_t n_in = 0, n_out = 0;                 // N_{l-1}, N_l
    std::size_t kernel_h = 1, kernel_w = 1;          // p_l (dense: 1)
    std::size_t channels_in = 0, groups = 1;         // c_{l-1} (dense: N_{l-1}), g_l
    std::size_t dense_count = 0;                     // p_l^2 c_{l-1}        (no +1)
    std::size_t group_count = 0;                     // p_l^2 c_{l-1} / g_l  (no +1)
    std::size_t row_nonzeros = 0;                    // structural max non-zeros in a row of K_l
    // [original], [quantized]:
    std::array<arith::rational, 2> rho;          // ||[W_l | b_l]||_{inf->inf} of the layer's matrix, exact
    std::array<arith::rational, 2> weight_norm;  // ||W_l||_{inf->inf} (conv: of the matrix K_l), exact
    std::array<arith::rational, 2> conv_norm;    // r_conv = max_o (sum |k_o| + |b_o|) (dense: = rho)
    std::array<arith::rational, 2> max_entry;    // largest |entry| of W_l and b_l
    // Per output channel o (dense: per row): sum |k_o| and |b_o|, exact.
    std::array<std::vector<arith::rational>, 2> channel_abs_sum;
    std::array<std::vector<arith::rational>, 2> channel_abs_bias;
    // Per output channel o: the largest absolute row sum of the layer's matrix
    // K_l over the rows of channel o (one per output pixel; only the taps inside
    // the input count), exact. Dense: = channel_abs_sum. Conv: <= sum |k_o|, with
    // equality when some output pixel sees its whole receptive field.
    // weight_norm = max_o channel_row_sum, rho = max_o (channel_row_sum + |b_o|).
    std::array<std::vector<arith::rational>, 2> channel_row_sum;
    arith::rational delta_weight, delta_bias;    // max |W_l - W'_l|, max |b_l - b'_l|
};

struct pair_ingredients {
    std::string original_name, quantized_name;
    arith::rational D;                 // Omega = [-D, D]^d
    arith::rational D_effective;       // bound on ||x||_inf after the input normalization (= D without one)
    bool has_input_normalization = false;
    std::size_t depth = 0;             // L: affine layers on the main path
    std::size_t width = 0;             // W: largest of the input and every node's output size
    bool has_residual = false, has_pooling = false;
    bool has_biases = false;           // a non-zero bias in either network
    bool biases_changed = false;       // some b_l != b'_l
    arith::rational max_change;        // ||theta - theta'||_inf over weights and biases
    arith::rational max_weight_change; // over weights only
    std::vector<layer_ingredients> layers;  // every affine layer, in network order
    std::vector<std::size_t> main_path;     // indices into `layers` of l = 1..L
};

// Throws model_error when the networks do not have the same architecture
// (naming the first node that differs), when a batch norm is not folded, or
// when a weight is NaN/Inf; invalid_argument when D < 0.
pair_ingredients collect_ingredients(const net::network& theta, const net::network& theta_quantized,
                                     const arith::rational& D);

// The same without holding theta' whole: source(visit) calls visit(i, node)
// once for each affine node i of theta, in any order, with theta''s node i
// (a quantizer streaming its layers: quant::quantize_each). Each node is
// checked as above as it arrives; a node given twice, a node that is not
// an affine layer of theta, or an affine layer never given is a
// model_error. Nodes that hold no weights are theta''s as in theta.
using quantized_layer_visit = std::function<void(std::size_t node, const net::node& quantized)>;
using quantized_layer_source = std::function<void(const quantized_layer_visit& visit)>;
pair_ingredients collect_ingredients(const net::network& theta, const std::string& quantized_name, const quantized_layer_source& source,
                                     const arith::rational& D);

// collect_ingredients(theta, quant::quantize(theta, opt).network, D), the
// same values, with theta' streamed one affine layer at a time
// (quant::quantize_each): the memory of theta plus its largest layer, not
// of two networks. AdaRound, which calibrates on the network quantized so
// far, quantizes the whole network first.
pair_ingredients collect_ingredients(const net::network& theta, const quant::options& opt, const arith::rational& D);

}  // namespace qbound::bounds
