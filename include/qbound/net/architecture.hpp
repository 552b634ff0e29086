#pragma once
// What the bounds need to know about a network's shape (THEOREMS.md 1, 3, 5).
//
// Per affine layer: depth index l (affine layers on the main path, counted as
// in the spec: shortcut projections are listed but not counted; an input
// normalization node is reported separately), N_{l-1} and N_l (flattened sizes), kernel p_l, input
// channels c_{l-1}, groups g_l, the exact structural maximum of non-zeros in
// a row of the layer's matrix (kernel taps that can fall inside the input for
// some output pixel, times c_{l-1} / g_l), and the paper's dense count
// p^2 c_{l-1} + 1 next to the group-aware count p^2 c_{l-1} / g + 1.
#include "qbound/net/network.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace qbound::net {

struct affine_layer_info {
    std::size_t node_index = 0;
    std::string name;
    op kind = op::dense;
    std::size_t depth = 0;  // l in 1..L on the main path; 0 when not counted
    bool main_path = true;
    std::size_t n_in = 0, n_out = 0;      // N_{l-1}, N_l
    std::size_t kernel_h = 1, kernel_w = 1;  // p_l (dense: 1)
    std::size_t channels_in = 0;          // c_{l-1} (dense: N_{l-1})
    std::size_t groups = 1;               // g_l
    std::size_t max_row_nonzeros = 0;     // structural, exact for this geometry
    std::size_t dense_count = 0;          // p^2 c_{l-1} + 1 (paper)
    std::size_t group_count = 0;          // p^2 c_{l-1} / g + 1
};

struct architecture {
    std::string name;
    shape3 input, output;
    std::size_t depth = 0;  // L
    std::vector<affine_layer_info> layers;  // every affine layer, in order
    std::size_t largest_feature_map = 0;    // max node output size (input excluded)
    std::size_t max_width = 0;              // max N_l over counted layers and the input
    std::size_t max_dense_count = 0, max_group_count = 0;  // over counted layers
    std::size_t parameters = 0;
    bool has_residual = false, has_pooling = false;
    bool has_input_normalization = false;  // a `normalize` node (not counted in L)
    bool is_plain_chain() const { return !has_residual && !has_pooling; }
};

architecture describe_architecture(const network& net);

// Marks the shortcut projections of residual additions as off the main path
// (node::main_path = false), from the graph alone: at each add, the branch
// back to the nearest common ancestor of its two inputs with fewer affine
// nodes is the shortcut (an identity shortcut has none); equal counts mark
// nothing. This is what the zoo's builders set by hand (a ResNet's
// downsample conv), so a network read from a file counts L as the paper
// does. Returns the number of nodes marked.
std::size_t mark_shortcut_projections(network& net);

}  // namespace qbound::net
