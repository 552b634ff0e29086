#pragma once
// Small network pairs shared by the verification tests: a network with every
// layer kind, a random perturbation of a network on a 2^-6 / 2^-7 grid, and
// random input boxes.
#include "qbound/arith/rational.hpp"
#include "qbound/testing/operand_generators.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/network.hpp"
#include "qbound/verify/differential.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace qbound::test {

// relu6 = false: the depthwise branch ends in a ReLU (for engines without a ReLU6 rule).
inline net::network every_layer_kind(std::uint64_t seed, bool relu6 = true) {
    net::network n("kinds", {2, 6, 6});
    std::size_t x = n.normalize(0, {0.5, -0.25}, {2.0, 4.0}, "norm");
    x = n.activation(n.conv2d(x, 4, {3, 3, 1, 1, 1, 2}, "grouped"), net::op::relu);
    std::size_t y = n.activation(n.conv2d(x, 4, {3, 3, 1, 1, 1, 4}, "depthwise"), relu6 ? net::op::relu6 : net::op::relu);
    x = n.add(y, x, "residual");
    x = n.max_pool(x, {2, 2, 0, true});
    x = n.avg_pool(x, {2, 1, 0, false});
    x = n.activation(n.conv2d(x, 3, {1, 1, 1, 0, 1, 1}, "pointwise"), net::op::relu);
    x = n.global_avg_pool(x);
    n.dense(n.flatten(x), 3, "head");
    net::init_he_normal(n, seed, 0.1);
    return n;
}

inline net::network perturbed(const net::network& m, testing::operand_generator& gen) {
    net::network q = m;
    for (std::size_t i : q.affine_nodes()) {
        for (double& w : q.weights(i)) w += std::ldexp(static_cast<double>(gen.uniform_int(-8, 8)), -6);
        for (double& b : q.bias(i))
            if (gen.chance(0.3)) b += std::ldexp(static_cast<double>(gen.uniform_int(-8, 8)), -7);
    }
    return q;
}

// A box with centres on a 1/8 grid in [-1, 1] and radii (min..max)/16 per coordinate.
inline verify::input_box random_box(testing::operand_generator& gen, std::size_t d, int min_sixteenths, int max_sixteenths) {
    verify::input_box box{std::vector<double>(d), std::vector<double>(d)};
    for (std::size_t k = 0; k < d; ++k) {
        const double centre = gen.uniform_int(-8, 8) / 8.0, radius = gen.uniform_int(min_sixteenths, max_sixteenths) / 16.0;
        box.lower[k] = centre - radius;
        box.upper[k] = centre + radius;
    }
    return box;
}

// A point of the box in exact rationals: a random vertex, or each
// coordinate on the 1/64 grid between the box's ends.
inline std::vector<arith::rational> box_point(testing::operand_generator& gen, const verify::input_box& box, bool vertex) {
    std::vector<arith::rational> x(box.lower.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
        const arith::rational lo(box.lower[j]), hi(box.upper[j]);
        x[j] = vertex ? (gen.chance(0.5) ? lo : hi) : lo + (hi - lo) * arith::rational(gen.uniform_int(0, 64), 64);
    }
    return x;
}

}  // namespace qbound::test
