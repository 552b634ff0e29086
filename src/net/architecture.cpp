#include "qbound/net/architecture.hpp"

#include <algorithm>
#include <map>

namespace qbound::net {

namespace {

// Along one axis: the largest number of kernel taps that land inside the
// input, over all output positions.
std::size_t max_taps_inside(std::size_t in, std::size_t out, std::size_t kernel, std::size_t stride, std::size_t before,
                            std::size_t dilation) {
    std::size_t best = 0;
    for (std::size_t o = 0; o < out; ++o) {
        std::size_t count = 0;
        for (std::size_t k = 0; k < kernel; ++k) {
            const auto pos = static_cast<std::ptrdiff_t>(o * stride + k * dilation) - static_cast<std::ptrdiff_t>(before);
            count += pos >= 0 && pos < static_cast<std::ptrdiff_t>(in);
        }
        best = std::max(best, count);
        if (best == kernel) break;
    }
    return best;
}

}  // namespace

architecture describe_architecture(const network& net) {
    architecture a;
    a.name = net.name();
    a.input = net.input_shape();
    a.output = net.output_shape();
    a.parameters = net.parameter_count();
    a.max_width = a.input.size();
    const auto& nodes = net.nodes();
    for (std::size_t i = 1; i < nodes.size(); ++i) {
        const node& n = nodes[i];
        a.largest_feature_map = std::max(a.largest_feature_map, n.output.size());
        if (n.kind == op::add) a.has_residual = true;
        if (n.kind == op::max_pool || n.kind == op::avg_pool || n.kind == op::global_avg_pool) a.has_pooling = true;
        if (n.kind == op::normalize) a.has_input_normalization = true;
        if (!n.is_affine()) continue;
        const shape3& in = nodes[n.inputs.at(0)].output;
        affine_layer_info l;
        l.node_index = i;
        l.name = n.name;
        l.kind = n.kind;
        l.main_path = n.main_path;
        l.n_in = in.size();
        l.n_out = n.output.size();
        if (n.kind == op::dense) {
            l.channels_in = in.size();
            l.max_row_nonzeros = in.size();
        } else {
            l.kernel_h = n.conv.kernel_h;
            l.kernel_w = n.conv.kernel_w;
            l.channels_in = in.channels;
            l.groups = n.conv.groups;
            l.max_row_nonzeros =
                max_taps_inside(in.height, n.output.height, n.conv.kernel_h, n.conv.stride, n.conv.padding.top, n.conv.dilation) *
                max_taps_inside(in.width, n.output.width, n.conv.kernel_w, n.conv.stride, n.conv.padding.left, n.conv.dilation) *
                (in.channels / n.conv.groups);
        }
        const std::size_t taps = l.kernel_h * l.kernel_w;
        l.dense_count = taps * l.channels_in + 1;
        l.group_count = taps * (l.channels_in / l.groups) + 1;
        if (l.main_path) {
            l.depth = ++a.depth;
            a.max_dense_count = std::max(a.max_dense_count, l.dense_count);
            a.max_group_count = std::max(a.max_group_count, l.group_count);
            a.max_width = std::max(a.max_width, l.n_out);
        }
        a.layers.push_back(l);
    }
    return a;
}

std::size_t mark_shortcut_projections(network& net) {
    std::size_t marked = 0;
    const auto& nodes = net.nodes();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].kind != op::add) continue;
        // Walk back from both inputs in decreasing node order (nodes are
        // topologically ordered): the first node reached from both is the
        // nearest common ancestor; the nodes reached from one side only
        // before it form that side's branch.
        std::map<std::size_t, unsigned> frontier;  // node -> sides (bit 0: input 0, bit 1: input 1)
        frontier[nodes[i].inputs.at(0)] |= 1u;
        frontier[nodes[i].inputs.at(1)] |= 2u;
        std::vector<std::size_t> branch[2];
        while (!frontier.empty()) {
            const auto last = std::prev(frontier.end());
            const std::size_t k = last->first;
            const unsigned sides = last->second;
            frontier.erase(last);
            if (sides == 3u) break;  // the fork
            branch[sides == 1u ? 0 : 1].push_back(k);
            for (std::size_t from : nodes[k].inputs) frontier[from] |= sides;
        }
        std::size_t affine[2] = {0, 0};
        for (int side : {0, 1})
            for (std::size_t k : branch[side]) affine[side] += nodes[k].is_affine() ? 1 : 0;
        if (affine[0] == affine[1]) continue;
        for (std::size_t k : branch[affine[0] < affine[1] ? 0 : 1])
            if (nodes[k].is_affine() && nodes[k].main_path) {
                net.set_main_path(k, false);
                ++marked;
            }
    }
    return marked;
}

}  // namespace qbound::net
