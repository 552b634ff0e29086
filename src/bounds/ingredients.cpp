#include "qbound/bounds/ingredients.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/exact_sum.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/norms.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/errors.hpp"

#include <algorithm>
#include <span>

namespace qbound::bounds {

using arith::rational;

namespace {

std::string node_label(const net::network& m, std::size_t i) {
    const auto& n = m.at(i);
    return "node " + std::to_string(i) + " '" + n.name + "' (" + std::string(net::to_string(n.kind)) + ")";
}

// Node i of theta (x, in network m) against node i of theta' (y).
void check_same_node(const net::network& m, std::size_t i, const net::node& x, const net::node& y, const std::string& pair) {
    const bool same = x.kind == y.kind && x.inputs == y.inputs && x.output == y.output && x.main_path == y.main_path &&
                      x.in_features == y.in_features && x.out_features == y.out_features &&
                      x.weight.size() == y.weight.size() && x.bias.size() == y.bias.size() &&
                      x.conv.kernel_h == y.conv.kernel_h && x.conv.kernel_w == y.conv.kernel_w &&
                      x.conv.stride == y.conv.stride && x.conv.padding == y.conv.padding &&
                      x.conv.dilation == y.conv.dilation && x.conv.groups == y.conv.groups &&
                      x.pool.kernel == y.pool.kernel && x.pool.stride == y.pool.stride &&
                      x.pool.padding == y.pool.padding && x.pool.count_include_pad == y.pool.count_include_pad;
    if (!same) throw net::model_error(pair + " do not have the same architecture at " + node_label(m, i) + " (theta' node '" + y.name + "')");
    if (x.kind == net::op::normalize &&
        (x.norm_mean != y.norm_mean || x.norm_scale != y.norm_scale || x.norm_divisor != y.norm_divisor || x.norm_offset != y.norm_offset))
        throw net::model_error(node_label(m, i) + ": the input normalization differs between the two networks (it is not quantized)");
}

void check_same_architecture(const net::network& a, const net::network& b) {
    const std::string pair = "networks '" + a.name() + "' and '" + b.name() + "'";
    if (!a.has_weights() || !b.has_weights()) throw net::model_error("bounds need weights: " + pair + " include a shape-only network");
    if (a.nodes().size() != b.nodes().size())
        throw net::model_error(pair + " do not have the same architecture: " + std::to_string(a.nodes().size()) + " vs " +
                               std::to_string(b.nodes().size()) + " nodes");
    for (std::size_t i = 0; i < a.nodes().size(); ++i) check_same_node(a, i, a.at(i), b.at(i), pair);
}

void check_batch_norm_folded(const net::network& m) {
    for (std::size_t i = 0; i < m.nodes().size(); ++i)
        if (m.at(i).kind == net::op::batch_norm)
            throw net::model_error(node_label(m, i) + ": fold batch norm into the preceding layer before computing bounds");
}

// Along one axis, the range of kernel taps [first, last] inside the input
// for output position o (first > last: none).
std::pair<std::size_t, std::size_t> taps_inside(std::size_t o, std::size_t in, std::size_t kernel, std::size_t stride,
                                                std::size_t before, std::size_t dilation) {
    std::size_t first = kernel, last = 0;
    for (std::size_t k = 0; k < kernel; ++k) {
        const auto pos = static_cast<std::ptrdiff_t>(o * stride + k * dilation) - static_cast<std::ptrdiff_t>(before);
        if (pos < 0 || pos >= static_cast<std::ptrdiff_t>(in)) continue;
        first = std::min(first, k);
        last = k;
    }
    return {first, last};
}

// Per output channel o, exactly: the largest absolute row sum of the conv's
// matrix K over the rows of channel o (one row per output pixel, holding the
// taps that land inside the input). When some output pixel sees its whole
// receptive field, that is sum |k_o|; on small maps with padding it can be
// smaller (no pixel sees every tap).
std::vector<rational> conv_channel_row_sums(const net::node& n, const net::shape3& in, const std::vector<rational>& channel_sum) {
    const auto& g = n.conv;
    std::vector<std::pair<std::size_t, std::size_t>> rows_h, rows_w;
    for (std::size_t o = 0; o < n.output.height; ++o) rows_h.push_back(taps_inside(o, in.height, g.kernel_h, g.stride, g.padding.top, g.dilation));
    for (std::size_t o = 0; o < n.output.width; ++o) rows_w.push_back(taps_inside(o, in.width, g.kernel_w, g.stride, g.padding.left, g.dilation));
    const auto full = [](std::size_t kernel) { return [kernel](const auto& r) { return r.first == 0 && r.second + 1 == kernel; }; };
    // Some output pixel sees its whole receptive field (the same pixel for every channel).
    if (std::any_of(rows_h.begin(), rows_h.end(), full(g.kernel_h)) && std::any_of(rows_w.begin(), rows_w.end(), full(g.kernel_w)))
        return channel_sum;
    std::sort(rows_h.begin(), rows_h.end());
    rows_h.erase(std::unique(rows_h.begin(), rows_h.end()), rows_h.end());
    std::sort(rows_w.begin(), rows_w.end());
    rows_w.erase(std::unique(rows_w.begin(), rows_w.end()), rows_w.end());
    const std::size_t in_per_group = in.channels / g.groups, taps = g.kernel_h * g.kernel_w;
    std::vector<rational> best(n.out_features, rational(0));
    std::vector<double> gathered;
    for (std::size_t o = 0; o < n.out_features; ++o) {
        const double* k = n.weight.data() + o * in_per_group * taps;
        for (const auto& rh : rows_h)
            for (const auto& rw : rows_w) {
                gathered.clear();
                for (std::size_t ic = 0; ic < in_per_group; ++ic)
                    for (std::size_t kh = rh.first; kh <= rh.second && rh.first <= rh.second; ++kh)
                        for (std::size_t kw = rw.first; kw <= rw.second && rw.first <= rw.second; ++kw)
                            gathered.push_back(k[(ic * g.kernel_h + kh) * g.kernel_w + kw]);
                best[o] = arith::max(best[o], arith::exact_abs_sum(gathered, "kernel entry"));
            }
    }
    return best;
}

void fill_side(layer_ingredients& l, const net::node& n, const net::shape3& in, network_side side) {
    const std::size_t per_row = n.weight.size() / n.out_features;
    auto& sums = l.channel_abs_sum[side];
    auto& biases = l.channel_abs_bias[side];
    sums.resize(n.out_features);
    biases.resize(n.out_features);
    rational conv = 0, entry = 0;
    for (std::size_t o = 0; o < n.out_features; ++o) {
        const std::span<const double> row(n.weight.data() + o * per_row, per_row);
        sums[o] = arith::exact_abs_sum(row, "weight");
        biases[o] = arith::abs(arith::to_rational(n.bias[o], "bias"));
        conv = arith::max(conv, sums[o] + biases[o]);
        entry = arith::max(entry, biases[o]);
    }
    entry = arith::max(entry, max_abs_entry(n.weight));
    l.conv_norm[side] = conv;
    l.max_entry[side] = entry;
    // The layer's matrix: its row sums per channel, then ||[W | b]|| and ||W||
    // as their largest (dense: the rows themselves).
    l.channel_row_sum[side] = n.kind == net::op::dense ? sums : conv_channel_row_sums(n, in, sums);
    rational rho = 0, weight_only = 0;
    for (std::size_t o = 0; o < n.out_features; ++o) {
        rho = arith::max(rho, l.channel_row_sum[side][o] + biases[o]);
        weight_only = arith::max(weight_only, l.channel_row_sum[side][o]);
    }
    l.rho[side] = rho;
    l.weight_norm[side] = weight_only;
}

// Bound on ||x||_inf after the normalization nodes that read the input
// directly: max over elements of |(+-D - mean) scale / divisor + offset|.
rational normalized_input_bound(const net::network& m, const rational& D, bool& found) {
    rational bound = D;
    found = false;
    for (const auto& n : m.nodes()) {
        if (n.kind != net::op::normalize) continue;
        if (n.inputs.at(0) != m.input_index() || found)
            throw net::model_error("node '" + n.name + "': bounds support one input normalization, directly on the input");
        found = true;
        const auto value = [](const std::vector<double>& v, std::size_t k, double fallback) {
            return arith::to_rational(v.empty() ? fallback : v.size() == 1 ? v[0] : v.at(k), "normalization constant");
        };
        rational best = 0;
        const std::size_t count = n.output.size();
        const std::size_t per_channel = n.output.height * n.output.width;
        for (std::size_t k = 0; k < count; ++k) {
            // Constants may be per element, per channel or one value.
            const auto pick = [&](const std::vector<double>& v, double fallback) {
                if (v.size() == count || v.size() <= 1) return value(v, k, fallback);
                return value(v, k / per_channel, fallback);
            };
            const rational mean = pick(n.norm_mean, 0), scale = pick(n.norm_scale, 1), divisor = pick(n.norm_divisor, 1),
                           offset = pick(n.norm_offset, 0);
            for (const rational& x : {rational(-D), D})
                best = arith::max(best, arith::abs((x - mean) * scale / divisor + offset));
        }
        bound = best;
    }
    return bound;
}

}  // namespace

namespace {

// Everything but the layers (D >= 0 checked by the callers, first).
pair_ingredients pair_header(const net::network& theta, const std::string& quantized_name, const rational& D, const net::architecture& arch) {
    pair_ingredients p;
    p.original_name = theta.name();
    p.quantized_name = quantized_name;
    p.D = D;
    p.D_effective = normalized_input_bound(theta, D, p.has_input_normalization);
    p.depth = arch.depth;
    p.width = std::max(arch.input.size(), arch.largest_feature_map);
    p.has_residual = arch.has_residual;
    p.has_pooling = arch.has_pooling;
    return p;
}

// One affine layer: node a of theta against node b of theta'.
layer_ingredients layer_of(const net::network& theta, const net::affine_layer_info& info, const net::node& b) {
    const net::node& a = theta.at(info.node_index);
    const net::shape3& in = theta.at(a.inputs.at(0)).output;
    layer_ingredients l;
    l.node = info.node_index;
    l.name = info.name;
    l.kind = info.kind;
    l.depth = info.depth;
    l.main_path = info.main_path;
    l.n_in = info.n_in;
    l.n_out = info.n_out;
    l.kernel_h = info.kernel_h;
    l.kernel_w = info.kernel_w;
    l.channels_in = info.channels_in;
    l.groups = info.groups;
    l.dense_count = info.dense_count - 1;
    l.group_count = info.group_count - 1;
    l.row_nonzeros = info.max_row_nonzeros;
    fill_side(l, a, in, original);
    fill_side(l, b, in, quantized);
    l.delta_weight = arith::exact_max_abs_difference(a.weight, b.weight, "weight");
    l.delta_bias = arith::exact_max_abs_difference(a.bias, b.bias, "bias");
    return l;
}

// Appends the layers (in the architecture's order) and their pair-wide facts.
void add_layers(pair_ingredients& p, std::vector<layer_ingredients> layers) {
    const auto nonzero = [](const std::vector<rational>& v) { return std::any_of(v.begin(), v.end(), [](const rational& x) { return x != 0; }); };
    for (auto& l : layers) {
        p.has_biases = p.has_biases || nonzero(l.channel_abs_bias[original]) || nonzero(l.channel_abs_bias[quantized]);
        p.biases_changed = p.biases_changed || l.delta_bias != 0;
        p.max_weight_change = arith::max(p.max_weight_change, l.delta_weight);
        p.max_change = arith::max(p.max_change, arith::max(l.delta_weight, l.delta_bias));
        if (l.main_path) p.main_path.push_back(p.layers.size());
        p.layers.push_back(std::move(l));
    }
}

}  // namespace

pair_ingredients collect_ingredients(const net::network& theta, const net::network& quant, const rational& D) {
    if (D < 0) throw core::invalid_argument("the input bound D must be >= 0");
    check_batch_norm_folded(theta);
    check_same_architecture(theta, quant);
    net::check_finite_weights(theta);
    net::check_finite_weights(quant);
    const net::architecture arch = net::describe_architecture(theta);
    pair_ingredients p = pair_header(theta, quant.name(), D, arch);
    std::vector<layer_ingredients> layers;
    for (const auto& info : arch.layers) layers.push_back(layer_of(theta, info, quant.at(info.node_index)));
    add_layers(p, std::move(layers));
    return p;
}

pair_ingredients collect_ingredients(const net::network& theta, const std::string& quantized_name, const quantized_layer_source& source,
                                     const rational& D) {
    if (D < 0) throw core::invalid_argument("the input bound D must be >= 0");
    if (!theta.has_weights()) throw net::model_error("bounds need weights: network '" + theta.name() + "' is shape-only");
    check_batch_norm_folded(theta);
    net::check_finite_weights(theta);
    const net::architecture arch = net::describe_architecture(theta);
    pair_ingredients p = pair_header(theta, quantized_name, D, arch);
    std::vector<std::size_t> slot(theta.nodes().size(), arch.layers.size());
    for (std::size_t k = 0; k < arch.layers.size(); ++k) slot[arch.layers[k].node_index] = k;
    std::vector<layer_ingredients> layers(arch.layers.size());
    std::vector<bool> seen(arch.layers.size(), false);
    const std::string pair = "networks '" + theta.name() + "' and '" + quantized_name + "'";
    source([&](std::size_t i, const net::node& b) {
        if (i >= slot.size() || slot[i] == arch.layers.size())
            throw net::model_error(pair + ": theta' gave node " + std::to_string(i) + ", which is not an affine layer of theta");
        if (seen[slot[i]]) throw net::model_error(pair + ": theta' gave " + node_label(theta, i) + " twice");
        check_same_node(theta, i, theta.at(i), b, pair);
        net::check_finite_weights(quantized_name, b);
        layers[slot[i]] = layer_of(theta, arch.layers[slot[i]], b);
        seen[slot[i]] = true;
    });
    for (std::size_t k = 0; k < seen.size(); ++k)
        if (!seen[k]) throw net::model_error(pair + ": theta' gave no " + node_label(theta, arch.layers[k].node_index));
    add_layers(p, std::move(layers));
    return p;
}

pair_ingredients collect_ingredients(const net::network& theta, const quant::options& opt, const rational& D) {
    if (opt.kind == quant::method::adaround) {
        quant::options whole = opt;
        whole.keep_codes = false;
        return collect_ingredients(theta, quant::quantize(theta, whole).network, D);
    }
    return collect_ingredients(
        theta, theta.name(),
        [&](const quantized_layer_visit& visit) {
            quant::quantize_each(theta, opt, [&](std::size_t i, const net::node& quantized, const quant::layer_report&) { visit(i, quantized); });
        },
        D);
}

}  // namespace qbound::bounds
