#include "qbound/verify/gradient.hpp"

#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"

namespace qbound::verify {

std::vector<double> input_gradient(const net::network& net, const std::vector<double>& x, const std::vector<double>& output_weights) {
    const auto values = net::forward_all<double>(net, x);
    const auto& nodes = net.nodes();
    if (output_weights.size() != values.back().size()) throw net::model_error("input_gradient: output weights have the wrong size");
    std::vector<std::vector<double>> grad(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) grad[i].assign(values[i].size(), 0.0);
    grad.back() = output_weights;
    for (std::size_t i = nodes.size(); i-- > 1;) {
        const net::node& n = nodes[i];
        const std::size_t from = n.inputs.at(0);
        const auto& g = grad[i];
        auto& gi = grad[from];
        const auto& in = values[from];
        const net::shape3& s = nodes[from].output;
        switch (n.kind) {
        case net::op::dense:
            for (std::size_t o = 0; o < n.out_features; ++o)
                if (g[o] != 0)
                    for (std::size_t j = 0; j < n.in_features; ++j) gi[j] += n.weight[o * n.in_features + j] * g[o];
            break;
        case net::op::conv2d: {
            const auto& c = n.conv;
            const std::size_t in_per_group = s.channels / c.groups, out_per_group = n.out_features / c.groups;
            for (std::size_t o = 0; o < n.out_features; ++o)
                for (std::size_t oh = 0; oh < n.output.height; ++oh)
                    for (std::size_t ow = 0; ow < n.output.width; ++ow) {
                        const double go = g[(o * n.output.height + oh) * n.output.width + ow];
                        if (go == 0) continue;
                        for (std::size_t ic = 0; ic < in_per_group; ++ic)
                            for (std::size_t kh = 0; kh < c.kernel_h; ++kh) {
                                const auto ih = static_cast<std::ptrdiff_t>(oh * c.stride + kh * c.dilation) - static_cast<std::ptrdiff_t>(c.padding);
                                if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(s.height)) continue;
                                for (std::size_t kw = 0; kw < c.kernel_w; ++kw) {
                                    const auto iw = static_cast<std::ptrdiff_t>(ow * c.stride + kw * c.dilation) - static_cast<std::ptrdiff_t>(c.padding);
                                    if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(s.width)) continue;
                                    const std::size_t channel = (o / out_per_group) * in_per_group + ic;
                                    gi[(channel * s.height + static_cast<std::size_t>(ih)) * s.width + static_cast<std::size_t>(iw)] +=
                                        n.weight[((o * in_per_group + ic) * c.kernel_h + kh) * c.kernel_w + kw] * go;
                                }
                            }
                    }
            break;
        }
        case net::op::relu:
            for (std::size_t k = 0; k < g.size(); ++k) gi[k] += in[k] > 0 ? g[k] : 0.0;
            break;
        case net::op::relu6:
            for (std::size_t k = 0; k < g.size(); ++k) gi[k] += in[k] > 0 && in[k] < 6 ? g[k] : 0.0;
            break;
        case net::op::identity:
        case net::op::flatten:
            for (std::size_t k = 0; k < g.size(); ++k) gi[k] += g[k];
            break;
        case net::op::add:
            for (std::size_t k = 0; k < g.size(); ++k) gi[k] += g[k], grad[n.inputs.at(1)][k] += g[k];
            break;
        case net::op::normalize:
            for (std::size_t k = 0; k < g.size(); ++k) gi[k] += g[k] * n.norm_scale[k] / n.norm_divisor[k];
            break;
        case net::op::global_avg_pool: {
            const std::size_t hw = s.height * s.width;
            for (std::size_t ch = 0; ch < s.channels; ++ch)
                for (std::size_t k = 0; k < hw; ++k) gi[ch * hw + k] += g[ch] / static_cast<double>(hw);
            break;
        }
        case net::op::max_pool:
        case net::op::avg_pool: {
            const auto& p = n.pool;
            for (std::size_t ch = 0; ch < s.channels; ++ch)
                for (std::size_t oh = 0; oh < n.output.height; ++oh)
                    for (std::size_t ow = 0; ow < n.output.width; ++ow) {
                        const double go = g[(ch * n.output.height + oh) * n.output.width + ow];
                        std::vector<std::size_t> window;
                        for (std::size_t kh = 0; kh < p.kernel; ++kh)
                            for (std::size_t kw = 0; kw < p.kernel; ++kw) {
                                const auto ih = static_cast<std::ptrdiff_t>(oh * p.stride + kh) - static_cast<std::ptrdiff_t>(p.padding);
                                const auto iw = static_cast<std::ptrdiff_t>(ow * p.stride + kw) - static_cast<std::ptrdiff_t>(p.padding);
                                if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(s.height) || iw >= static_cast<std::ptrdiff_t>(s.width)) continue;
                                window.push_back((ch * s.height + static_cast<std::size_t>(ih)) * s.width + static_cast<std::size_t>(iw));
                            }
                        if (window.empty()) continue;
                        if (n.kind == net::op::max_pool) {
                            std::size_t best = window.front();
                            for (std::size_t k : window)
                                if (in[k] > in[best]) best = k;
                            gi[best] += go;
                        } else {
                            const double divisor = p.count_include_pad ? static_cast<double>(p.kernel * p.kernel) : static_cast<double>(window.size());
                            for (std::size_t k : window) gi[k] += go / divisor;
                        }
                    }
            break;
        }
        case net::op::batch_norm: throw net::model_error("input_gradient: fold batch norm first");
        case net::op::input: break;
        }
    }
    return grad.front();
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
