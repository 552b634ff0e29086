#pragma once
// Shared by the tests of ReLU splits and of the linear program
// (relu_splits.cpp, lp_relaxation.cpp): random network pairs, random
// splits, the exact check of a box's bounds at points that satisfy the
// splits (or not), and the exact check of a branch and bound's per-output
// brackets.
#include "qbound/arith/rational.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/verify/box_bounds.hpp"
#include "qbound/verify/branch_and_bound.hpp"

#include "verify/pair_builders.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <utility>
#include <vector>

namespace qbound::test {

using arith::rational;

inline std::vector<std::size_t> relu_nodes(const net::network& n) {
    std::vector<std::size_t> r;
    for (std::size_t i = 0; i < n.nodes().size(); ++i)
        if (n.at(i).kind == net::op::relu) r.push_back(i);
    return r;
}

// A pair: the every-layer-kind network (max pooling, residual add, ...), a
// small MLP or a small CNN with max pooling, against a perturbed copy.
// kind 3: the every-layer-kind network with a ReLU for its ReLU6.
inline std::pair<net::network, net::network> drawn_pair(testing::operand_generator& gen, int kind, bool adversarial) {
    net::network theta = kind == 0   ? test::every_layer_kind(gen.bits())
                         : kind == 3 ? test::every_layer_kind(gen.bits(), false)
                         : kind == 1 ? net::make_mlp({3, 6, 5, 2})
                                     : net::network("cnn", {1, 4, 4});
    if (kind == 2) {
        std::size_t x = theta.activation(theta.conv2d(0, 3, {3, 3, 1, 1, 1, 1}, "conv"), net::op::relu);
        x = theta.max_pool(x, {2, 2, 0, true});
        x = theta.activation(theta.dense(theta.flatten(x), 4, "fc1"), net::op::relu);
        theta.dense(x, 2, "head");
    }
    if (kind == 1 || kind == 2) net::init_he_normal(theta, gen.bits(), 0.2);
    if (adversarial) {
        // Weights scaled by 2^+-k per layer: rounding terms dominate where small and large meet.
        for (std::size_t i : theta.affine_nodes()) {
            const double scale = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-40, 40)));
            for (double& w : theta.weights(i)) w *= scale;
        }
    }
    net::network quant = test::perturbed(theta, gen);
    return {std::move(theta), std::move(quant)};
}

inline std::vector<verify::relu_split> random_splits(testing::operand_generator& gen, const net::network& theta) {
    const auto relus = relu_nodes(theta);
    std::vector<verify::relu_split> s;
    const std::size_t count = static_cast<std::size_t>(gen.uniform_int(1, 4));
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t node = relus[static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(relus.size()) - 1))];
        const std::size_t elements = theta.at(node).output.size();
        s.push_back({node, static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(elements) - 1)), gen.chance(0.5),
                     gen.chance(0.5)});
    }
    return s;
}

// Does x satisfy every split? (exact pre-activations of both networks)
inline bool satisfies(const std::vector<verify::relu_split>& splits, const std::vector<std::vector<rational>>& z,
               const std::vector<std::vector<rational>>& zq, const net::network& theta) {
    for (const auto& s : splits) {
        const std::size_t in = theta.at(s.node).inputs.at(0);
        const rational& v = (s.quantized ? zq : z)[in][s.element];
        if (s.active ? v < 0 : v > 0) return false;
    }
    return true;
}

struct tally {
    std::size_t inside = 0, outside = 0;      // points satisfying the splits / not
    std::size_t bad_inside = 0, bad_outside = 0;
};

inline tally check_points(const net::network& theta, const net::network& quant, const verify::input_box& box, const verify::box_bounds& b,
                   const std::vector<verify::relu_split>& splits, testing::operand_generator& gen, std::size_t n_points) {
    tally t;
    for (std::size_t p = 0; p < n_points; ++p) {
        const auto x = test::box_point(gen, box, p % 3 == 0);
        const auto z = net::forward_all<rational>(theta, x), zq = net::forward_all<rational>(quant, x);
        const bool in = satisfies(splits, z, zq, theta);
        (in ? t.inside : t.outside) += 1;
        bool bad = false;
        for (std::size_t k = 0; k < b.lower.size(); ++k) {
            const rational diff = zq.back()[k] - z.back()[k];
            if (std::isfinite(b.lower[k]) && diff < rational(b.lower[k])) bad = true;
            if (std::isfinite(b.upper[k]) && diff > rational(b.upper[k])) bad = true;
        }
        if (bad) (in ? t.bad_inside : t.bad_outside) += 1;
    }
    return t;
}

// Exact signed difference of output k at a double point.
inline rational exact_difference(const net::network& theta, const net::network& quant, const std::vector<double>& x, std::size_t k) {
    const auto v = net::input_from_doubles<rational>(x);
    return net::forward<rational>(quant, v)[k] - net::forward<rational>(theta, v)[k];
}

// A branch and bound's per-output brackets over one box, against exact
// rationals: at `points` points of the box (vertices and random points
// alternately) every |d_k| stays at or below output k's upper, and each
// certified lower holds at its own point.
inline void require_bracket(const net::network& theta, const net::network& quant, const verify::input_box& box,
                            const verify::per_output_result& r, testing::operand_generator& gen, std::size_t points = 40) {
    for (std::size_t p = 0; p < points; ++p) {
        const auto x = test::box_point(gen, box, p % 2 == 0);
        const auto y = net::forward<rational>(theta, x), yq = net::forward<rational>(quant, x);
        REQUIRE(y.size() == r.outputs.size());
        for (std::size_t k = 0; k < y.size(); ++k) {
            rational diff = yq[k] - y[k];
            if (diff < 0) diff = -diff;
            REQUIRE(diff <= rational(r.outputs[k].upper));
        }
    }
    for (std::size_t k = 0; k < r.outputs.size(); ++k) {
        const auto& o_k = r.outputs[k];
        REQUIRE(o_k.lower <= o_k.upper);
        if (o_k.best_x.empty()) continue;
        rational diff = exact_difference(theta, quant, o_k.best_x, k);
        if (diff < 0) diff = -diff;
        REQUIRE(rational(o_k.lower) <= diff);
    }
}

}  // namespace qbound::test
