#pragma once
// Shared pieces of the fast path's soundness tests: seeded random networks
// with every node kind and hostile weights, and containment of an exact
// value in a double enclosure (infinite ends contain everything).
#include "qbound/testing/operand_generators.hpp"
#include "qbound/arith/rational.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/network.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace qbound::test {

inline bool encloses(double lo, double hi, const arith::rational& q) {
    if (std::isnan(lo) || std::isnan(hi)) return false;
    const bool above = lo == -INFINITY || (std::isfinite(lo) && arith::to_rational(lo) <= q);
    const bool below = hi == INFINITY || (std::isfinite(hi) && q <= arith::to_rational(hi));
    return above && below;
}

// Scales the weights of every affine node by random powers of two and
// replaces some by few-bit or tiny values (dynamic range, exact ties).
inline void make_hostile(net::network& n, testing::operand_generator& gen) {
    for (std::size_t i : n.affine_nodes()) {
        const int layer_shift = static_cast<int>(gen.uniform_int(-6, 6));
        for (double& w : n.weights(i)) {
            if (gen.chance(0.05)) w = gen.few_bits();
            if (gen.chance(0.02)) w = std::ldexp(w, static_cast<int>(gen.uniform_int(-60, 60)));
            w = std::ldexp(w, layer_shift);
        }
        for (double& b : n.bias(i))
            if (gen.chance(0.1)) b = gen.few_bits() * 0.25;
    }
}

// A random CNN over {channels, size, size}: convs with random kernel,
// stride, padding, dilation and groups (incl. depthwise), ReLU / ReLU6,
// max and average pooling, residual adds, global pooling or flatten, dense.
inline net::network random_cnn(testing::operand_generator& gen, std::size_t channels, std::size_t size, bool hostile,
                               std::size_t blocks = 3) {
    net::network n("random-cnn", {channels, size, size});
    std::size_t x = 0, c = channels, h = size;
    if (gen.chance(0.5)) x = n.normalize(x, {0.25}, {gen.chance(0.5) ? 3.0 : 0.5}, "norm");
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t kind = static_cast<std::size_t>(gen.uniform_int(0, 3));
        net::conv_geometry g;
        g.kernel_h = static_cast<std::size_t>(gen.uniform_int(1, 3));
        g.kernel_w = static_cast<std::size_t>(gen.uniform_int(1, 3));
        g.stride = static_cast<std::size_t>(gen.uniform_int(1, 2));
        g.dilation = static_cast<std::size_t>(gen.uniform_int(1, 2));
        const auto pad = [&] { return static_cast<std::size_t>(gen.uniform_int(0, 2)); };
        if (gen.chance(0.5)) g.padding = pad();
        else g.padding = {pad(), pad(), pad(), pad()};  // asymmetric, as Keras 'same' through tf2onnx
        std::size_t out = static_cast<std::size_t>(gen.uniform_int(1, 3)) * c;
        if (kind == 1) g.groups = c, out = c;                      // depthwise
        if (kind == 2 && c % 2 == 0) g.groups = 2, out = 2 * static_cast<std::size_t>(gen.uniform_int(1, 3));
        const std::size_t span_h = (g.kernel_h - 1) * g.dilation + 1, span_w = (g.kernel_w - 1) * g.dilation + 1;
        if (h + std::min(g.padding.top + g.padding.bottom, g.padding.left + g.padding.right) < std::max(span_h, span_w)) g.kernel_h = g.kernel_w = 1, g.dilation = 1;
        if (kind == 3 && h >= 3) {
            // Residual block: same-shape conv, activation, add.
            net::conv_geometry same{3, 3, 1, 1, 1, 1};
            std::size_t y = n.conv2d(x, c, same, "res-conv" + std::to_string(b));
            y = n.activation(y, gen.chance(0.5) ? net::op::relu : net::op::relu6);
            x = n.add(y, x, "res-add" + std::to_string(b));
            continue;
        }
        x = n.conv2d(x, out, g, "conv" + std::to_string(b));
        c = out;
        h = std::min(n.at(x).output.height, n.at(x).output.width);
        x = n.activation(x, gen.chance(0.7) ? net::op::relu : (gen.chance(0.5) ? net::op::relu6 : net::op::identity));
        if (h >= 3 && gen.chance(0.4)) {
            const net::pool_geometry p{static_cast<std::size_t>(gen.uniform_int(2, 3)), static_cast<std::size_t>(gen.uniform_int(1, 2)),
                                       static_cast<std::size_t>(gen.uniform_int(0, 1)), gen.chance(0.5)};
            x = gen.chance(0.5) ? n.max_pool(x, p) : n.avg_pool(x, p);
            h = std::min(n.at(x).output.height, n.at(x).output.width);
        }
    }
    x = gen.chance(0.5) ? n.global_avg_pool(x) : n.flatten(x);
    x = n.dense(x, static_cast<std::size_t>(gen.uniform_int(2, 6)), "fc1");
    x = n.activation(x, net::op::relu);
    n.dense(x, static_cast<std::size_t>(gen.uniform_int(1, 4)), "fc2");
    net::init_he_normal(n, gen.bits(), 0.1);
    if (hostile) make_hostile(n, gen);
    return n;
}

inline net::network random_mlp(testing::operand_generator& gen, bool hostile) {
    std::vector<std::size_t> widths{static_cast<std::size_t>(gen.uniform_int(1, 12))};
    const auto depth = gen.uniform_int(1, 5);
    for (std::int64_t l = 0; l < depth; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 16)));
    net::network n("random-mlp", {widths[0], 1, 1});
    std::size_t x = 0;
    for (std::size_t l = 1; l < widths.size(); ++l) {
        x = n.dense(x, widths[l]);
        if (l + 1 < widths.size()) x = n.activation(x, gen.chance(0.8) ? net::op::relu : net::op::relu6);
    }
    net::init_he_normal(n, gen.bits(), 0.2);
    if (hostile) make_hostile(n, gen);
    return n;
}

// An input: moderate values, some few-bit, some tiny or subnormal.
inline std::vector<double> random_input(testing::operand_generator& gen, std::size_t n) {
    std::vector<double> x(n);
    for (auto& v : x) {
        if (gen.chance(0.1))
            v = gen.few_bits();
        else if (gen.chance(0.05))
            v = gen.subnormal();
        else
            v = std::ldexp(static_cast<double>(gen.uniform_int(-(1 << 20), 1 << 20)), -20);
    }
    return x;
}

}  // namespace qbound::test
