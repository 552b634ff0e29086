#include "qbound/verify/gradient.hpp"

#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/walk.hpp"

namespace qbound::verify {

namespace {

// Calls f(output index, input index, weight index) for every tap of a
// convolution node that lands inside its input (padding taps are skipped).
template <class F>
void for_each_conv_tap(const net::node& n, const net::shape3& s, F&& f) {
    const auto& c = n.conv;
    const std::size_t in_per_group = s.channels / c.groups, out_per_group = n.out_features / c.groups;
    for (std::size_t o = 0; o < n.out_features; ++o)
        for (std::size_t oh = 0; oh < n.output.height; ++oh)
            for (std::size_t ow = 0; ow < n.output.width; ++ow) {
                const std::size_t out = (o * n.output.height + oh) * n.output.width + ow;
                for (std::size_t ic = 0; ic < in_per_group; ++ic)
                    for (std::size_t kh = 0; kh < c.kernel_h; ++kh) {
                        const auto ih = static_cast<std::ptrdiff_t>(oh * c.stride + kh * c.dilation) - static_cast<std::ptrdiff_t>(c.padding.top);
                        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(s.height)) continue;
                        for (std::size_t kw = 0; kw < c.kernel_w; ++kw) {
                            const auto iw = static_cast<std::ptrdiff_t>(ow * c.stride + kw * c.dilation) - static_cast<std::ptrdiff_t>(c.padding.left);
                            if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(s.width)) continue;
                            const std::size_t channel = (o / out_per_group) * in_per_group + ic;
                            f(out, (channel * s.height + static_cast<std::size_t>(ih)) * s.width + static_cast<std::size_t>(iw),
                              ((o * in_per_group + ic) * c.kernel_h + kh) * c.kernel_w + kw);
                        }
                    }
            }
}

// One backward step per node: adds node i's gradient, pulled back through
// the node, to its inputs' gradients (a visitor of net::dispatch; batch norm
// and input nodes never reach it: forward_all refuses them first).
struct gradient_step {
    static constexpr net::op_set refused{net::op::batch_norm, net::op::input};
    const std::vector<net::node>& nodes;
    const std::vector<std::vector<double>>& values;
    std::vector<std::vector<double>>& grad;

    void visit(net::op_tag<net::op::dense>, std::size_t i) {
        const net::node& n = nodes[i];
        const auto& g = grad[i];
        auto& gi = grad[n.inputs.at(0)];
        for (std::size_t o = 0; o < n.out_features; ++o)
            if (g[o] != 0)
                for (std::size_t j = 0; j < n.in_features; ++j) gi[j] += n.weight[o * n.in_features + j] * g[o];
    }
    // The same sums as adding w * g[out] over for_each_conv_tap's taps (output
    // by output), in the same order for every input element, but row by row:
    // an input element's terms come from outputs in increasing order, and
    // within one output row from increasing columns, i.e. from decreasing
    // kernel columns (column = ow * stride + kw * dilation - padding), so
    // the kernel columns run from last to first over whole output rows. A
    // zero output gradient adds +0 (a skipped term in the tap order): no
    // gradient here is ever -0 (sums start at +0, and x + y is -0 only for
    // two -0), so the bits are those of the tap order
    // (tests/verify/gradient_conv_rows.cpp).
    void visit(net::op_tag<net::op::conv2d>, std::size_t i) {
        const net::node& n = nodes[i];
        const auto& g = grad[i];
        auto& gi = grad[n.inputs.at(0)];
        const net::shape3& s = nodes[n.inputs.at(0)].output;
        const auto& c = n.conv;
        const std::size_t ipg = s.channels / c.groups, opg = n.out_features / c.groups, OH = n.output.height, OW = n.output.width;
        const auto stride = static_cast<std::ptrdiff_t>(c.stride);
        for (std::size_t o = 0; o < n.out_features; ++o)
            for (std::size_t oh = 0; oh < OH; ++oh) {
                const double* g_row = g.data() + (o * OH + oh) * OW;
                for (std::size_t ic = 0; ic < ipg; ++ic) {
                    const std::size_t channel = (o / opg) * ipg + ic;
                    for (std::size_t kh = 0; kh < c.kernel_h; ++kh) {
                        const auto ih = static_cast<std::ptrdiff_t>(oh * c.stride + kh * c.dilation) - static_cast<std::ptrdiff_t>(c.padding.top);
                        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(s.height)) continue;
                        double* gi_row = gi.data() + (channel * s.height + static_cast<std::size_t>(ih)) * s.width;
                        for (std::size_t kw = c.kernel_w; kw-- > 0;) {
                            const double w = n.weight[((o * ipg + ic) * c.kernel_h + kh) * c.kernel_w + kw];
                            const auto offset = static_cast<std::ptrdiff_t>(kw * c.dilation) - static_cast<std::ptrdiff_t>(c.padding.left);
                            // Only the output columns whose input column is inside, so the loop has no bounds
                            // test (a guarded add at a computed index is the loop shape clang 14 miscompiles at
                            // x86-64-v4, cmake/miscompile/masked_scatter.cpp).
                            const auto [first, last] = net::detail::valid_columns(offset, c.stride, s.width, OW);
                            for (std::size_t ow = first; ow < last; ++ow) {
                                const double go = g_row[ow];
                                gi_row[static_cast<std::ptrdiff_t>(ow) * stride + offset] += go != 0 ? w * go : 0.0;
                            }
                        }
                    }
                }
            }
    }
    void visit(net::op_tag<net::op::relu>, std::size_t i) {
        const auto& g = grad[i];
        const std::size_t from = nodes[i].inputs.at(0);
        auto& gi = grad[from];
        const auto& in = values[from];
        for (std::size_t k = 0; k < g.size(); ++k) gi[k] += in[k] > 0 ? g[k] : 0.0;
    }
    void visit(net::op_tag<net::op::relu6>, std::size_t i) {
        const auto& g = grad[i];
        const std::size_t from = nodes[i].inputs.at(0);
        auto& gi = grad[from];
        const auto& in = values[from];
        for (std::size_t k = 0; k < g.size(); ++k) gi[k] += in[k] > 0 && in[k] < 6 ? g[k] : 0.0;
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    void visit(net::op_tag<K>, std::size_t i) {
        const auto& g = grad[i];
        auto& gi = grad[nodes[i].inputs.at(0)];
        for (std::size_t k = 0; k < g.size(); ++k) gi[k] += g[k];
    }
    void visit(net::op_tag<net::op::add>, std::size_t i) {
        const net::node& n = nodes[i];
        const auto& g = grad[i];
        auto& gi = grad[n.inputs.at(0)];
        for (std::size_t k = 0; k < g.size(); ++k) gi[k] += g[k], grad[n.inputs.at(1)][k] += g[k];
    }
    void visit(net::op_tag<net::op::normalize>, std::size_t i) {
        const net::node& n = nodes[i];
        const auto& g = grad[i];
        auto& gi = grad[n.inputs.at(0)];
        for (std::size_t k = 0; k < g.size(); ++k) gi[k] += g[k] * n.norm_scale[k] / n.norm_divisor[k];
    }
    void visit(net::op_tag<net::op::global_avg_pool>, std::size_t i) {
        const net::node& n = nodes[i];
        const auto& g = grad[i];
        auto& gi = grad[n.inputs.at(0)];
        const net::shape3& s = nodes[n.inputs.at(0)].output;
        const std::size_t hw = s.height * s.width;
        for (std::size_t ch = 0; ch < s.channels; ++ch)
            for (std::size_t k = 0; k < hw; ++k) gi[ch * hw + k] += g[ch] / static_cast<double>(hw);
    }
    template <net::op K>
        requires(K == net::op::max_pool || K == net::op::avg_pool)
    void visit(net::op_tag<K>, std::size_t i) {
        const net::node& n = nodes[i];
        const std::size_t from = n.inputs.at(0);
        const auto& g = grad[i];
        auto& gi = grad[from];
        const auto& in = values[from];
        // The windows of the forward pass (net::for_each_pool_window: the same taps, in the same order).
        net::for_each_pool_window(n, nodes[from].output, [&](std::size_t out, const std::vector<std::size_t>& window) {
            if (window.empty()) return;
            const double go = g[out];
            if constexpr (K == net::op::max_pool) {
                std::size_t best = window.front();
                for (std::size_t k : window)
                    if (in[k] > in[best]) best = k;
                gi[best] += go;
            } else {
                const double divisor = net::pool_divisor(n, window.size());
                for (std::size_t k : window) gi[k] += go / divisor;
            }
        });
    }
};

// The forward values and, per node, the gradient of v^T R(x) with respect to that node's value.
struct backward_pass {
    std::vector<std::vector<double>> values, grad;
};

backward_pass backward(const net::network& net, const std::vector<double>& x, const std::vector<double>& output_weights, const char* what) {
    backward_pass b;
    b.values = net::forward_all<double>(net, x);
    const auto& nodes = net.nodes();
    if (output_weights.size() != b.values.back().size()) throw net::model_error(std::string(what) + ": output weights have the wrong size");
    b.grad.resize(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) b.grad[i].assign(b.values[i].size(), 0.0);
    b.grad.back() = output_weights;
    gradient_step step{nodes, b.values, b.grad};
    for (std::size_t i = nodes.size(); i-- > 1;) net::dispatch<void>(net, i, what, step, i);
    return b;
}

}  // namespace

std::vector<double> input_gradient(const net::network& net, const std::vector<double>& x, const std::vector<double>& output_weights) {
    return backward(net, x, output_weights, "input_gradient").grad.front();
}

parameter_gradient parameters_gradient(const net::network& net, const std::vector<double>& x, const std::vector<double>& output_weights) {
    const backward_pass b = backward(net, x, output_weights, "parameters_gradient");
    const auto& nodes = net.nodes();
    parameter_gradient p;
    p.weight.resize(nodes.size());
    p.bias.resize(nodes.size());
    for (std::size_t i = 1; i < nodes.size(); ++i) {
        const net::node& n = nodes[i];
        if (!n.is_affine()) continue;
        const auto& g = b.grad[i];
        const auto& in = b.values[n.inputs.at(0)];
        p.weight[i].assign(n.weight.size(), 0.0);
        p.bias[i].assign(n.bias.size(), 0.0);
        if (n.kind == net::op::dense) {
            for (std::size_t o = 0; o < n.out_features; ++o) {
                if (!n.bias.empty()) p.bias[i][o] = g[o];
                if (g[o] != 0)
                    for (std::size_t j = 0; j < n.in_features; ++j) p.weight[i][o * n.in_features + j] = g[o] * in[j];
            }
            continue;
        }
        // conv2d: every output pixel adds its gradient times the input it sees through each tap.
        const std::size_t pixels = n.output.height * n.output.width;
        if (!n.bias.empty())
            for (std::size_t k = 0; k < g.size(); ++k) p.bias[i][k / pixels] += g[k];
        for_each_conv_tap(n, nodes[n.inputs.at(0)].output, [&](std::size_t out, std::size_t at, std::size_t w) {
            if (g[out] != 0) p.weight[i][w] += g[out] * in[at];
        });
    }
    return p;
}

std::vector<double> difference_gradient(const net::network& theta, const net::network& quant, const std::vector<double>& x,
                                        std::size_t output, double sign) {
    std::vector<double> e(theta.output_shape().size(), 0.0);
    e.at(output) = sign;
    auto gq = input_gradient(quant, x, e);
    const auto g = input_gradient(theta, x, e);
    for (std::size_t k = 0; k < gq.size(); ++k) gq[k] -= g[k];
    return gq;
}

}  // namespace qbound::verify
