// The bounds' ingredients with theta' streamed layer by layer
// (quant::quantize_each, bounds::collect_ingredients from a layer source
// and from a quantizer): as seeded properties on random and
// adversarial networks (replay a failure with QBOUND_SEED=<the seed printed>),
//   1. quantize_each gives every affine node the bits of quantize(theta).network,
//      with the same reports and the same ||theta - theta'||_inf, for floor,
//      nearest and stochastic rounding (one random stream over the layers),
//      per tensor and per channel, biases kept or quantized;
//   2. the streamed ingredients equal the whole-network ones field by field
//      (AdaRound too, which quantizes the whole network first);
// and the layer source's contract: a node given twice, a node that is not
// an affine layer, a missing layer, a node of another shape or a NaN weight
// are model_errors naming the node; AdaRound cannot be streamed.
#include "qbound/bounds/ingredients.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"
#include "verify/pair_builders.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

using namespace qbound;
using arith::rational;
using Catch::Matchers::Contains;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// A random network: the every-layer-kind CNN (groups, depthwise, residual
// add, pooling, an input normalization) or an MLP; adversarial: each
// layer scaled by 2^+-k, some weights zero, subnormal, or exact ties of a
// coarse grid.
net::network drawn_network(testing::operand_generator& gen, bool adversarial) {
    net::network n = gen.chance(0.5) ? test::every_layer_kind(gen.bits()) : net::make_mlp({4, 7, 6, 3});
    if (n.name() != "kinds") net::init_he_normal(n, gen.bits(), gen.chance(0.5) ? 0.3 : 0.0);
    if (!adversarial) return n;
    for (std::size_t i : n.affine_nodes()) {
        const double scale = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-40, 40)));
        for (double& w : n.weights(i)) {
            w *= scale;
            const auto pick = gen.uniform_int(0, 9);
            if (pick == 0) w = 0;
            if (pick == 1) w = std::ldexp(static_cast<double>(gen.uniform_int(-3, 3)), -1070);  // subnormal
            if (pick == 2) w = std::ldexp(static_cast<double>(2 * gen.uniform_int(-8, 8) + 1), -4) * scale;  // ties of 2^-3 steps
        }
        for (double& b : n.bias(i))
            if (gen.chance(0.5)) b = std::ldexp(static_cast<double>(gen.uniform_int(-9, 9)), -3) * scale;
    }
    return n;
}

quant::options drawn_options(testing::operand_generator& gen) {
    quant::options o;
    const auto k = gen.uniform_int(0, 2);
    o.kind = k == 0 ? quant::method::floor : k == 1 ? quant::method::nearest : quant::method::stochastic;
    if (gen.chance(0.8))
        o.bits = static_cast<unsigned>(gen.uniform_int(1, 16));
    else
        o.eta = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-12, 2)));
    o.per_channel = gen.chance(0.5);
    o.quantize_biases = gen.chance(0.5);
    o.seed = gen.bits();
    return o;
}

void require_same(const bounds::pair_ingredients& a, const bounds::pair_ingredients& b) {
    REQUIRE(a.original_name == b.original_name);
    REQUIRE(a.quantized_name == b.quantized_name);
    REQUIRE(a.D == b.D);
    REQUIRE(a.D_effective == b.D_effective);
    REQUIRE(a.has_input_normalization == b.has_input_normalization);
    REQUIRE(a.depth == b.depth);
    REQUIRE(a.width == b.width);
    REQUIRE(a.has_residual == b.has_residual);
    REQUIRE(a.has_pooling == b.has_pooling);
    REQUIRE(a.has_biases == b.has_biases);
    REQUIRE(a.biases_changed == b.biases_changed);
    REQUIRE(a.max_change == b.max_change);
    REQUIRE(a.max_weight_change == b.max_weight_change);
    REQUIRE(a.main_path == b.main_path);
    REQUIRE(a.layers.size() == b.layers.size());
    for (std::size_t k = 0; k < a.layers.size(); ++k) {
        const auto &x = a.layers[k], &y = b.layers[k];
        INFO("layer " << k << " '" << x.name << "'");
        REQUIRE(x.node == y.node);
        REQUIRE(x.name == y.name);
        REQUIRE(x.depth == y.depth);
        REQUIRE(x.main_path == y.main_path);
        REQUIRE(x.n_in == y.n_in);
        REQUIRE(x.n_out == y.n_out);
        REQUIRE(x.dense_count == y.dense_count);
        REQUIRE(x.group_count == y.group_count);
        REQUIRE(x.row_nonzeros == y.row_nonzeros);
        REQUIRE(x.rho == y.rho);
        REQUIRE(x.weight_norm == y.weight_norm);
        REQUIRE(x.conv_norm == y.conv_norm);
        REQUIRE(x.max_entry == y.max_entry);
        REQUIRE(x.channel_abs_sum == y.channel_abs_sum);
        REQUIRE(x.channel_abs_bias == y.channel_abs_bias);
        REQUIRE(x.channel_row_sum == y.channel_row_sum);
        REQUIRE(x.delta_weight == y.delta_weight);
        REQUIRE(x.delta_bias == y.delta_bias);
    }
}

// The layer source of a whole network's affine nodes, in node order.
bounds::quantized_layer_source source_of(const net::network& m) {
    return [&m](const bounds::quantized_layer_visit& visit) {
        for (std::size_t i : m.affine_nodes()) visit(i, m.at(i));
    };
}

}  // namespace

TEST_CASE("quantize_each gives every layer the bits of quantize", "[bounds]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = std::max<std::size_t>(test::property_cases(60), 20);
    for (std::size_t c = 0; c < cases; ++c) {
        const bool adversarial = gen.chance(0.4);
        const net::network theta = drawn_network(gen, adversarial);
        const quant::options o = drawn_options(gen);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", adversarial " << adversarial << ", method "
                     << quant::to_string(o.kind) << ", per channel " << o.per_channel << ", biases " << o.quantize_biases);
        const quant::result whole = quant::quantize(theta, o);
        std::size_t layer = 0;
        const rational largest = quant::quantize_each(theta, o, [&](std::size_t i, const net::node& q, const quant::layer_report& rep) {
            REQUIRE(layer < whole.layers.size());
            REQUIRE(i == whole.layers[layer].node);
            REQUIRE(same_bits(q.weight, whole.network.at(i).weight));
            REQUIRE(same_bits(q.bias, whole.network.at(i).bias));
            REQUIRE(rep.eta == whole.layers[layer].eta);
            REQUIRE(rep.bias_eta == whole.layers[layer].bias_eta);
            REQUIRE(rep.min_code == whole.layers[layer].min_code);
            REQUIRE(rep.max_code == whole.layers[layer].max_code);
            REQUIRE(rep.max_weight_change_exact == whole.layers[layer].max_weight_change_exact);
            REQUIRE(rep.max_bias_change_exact == whole.layers[layer].max_bias_change_exact);
            ++layer;
        });
        REQUIRE(layer == whole.layers.size());
        REQUIRE(largest == whole.max_change);
    }
}

TEST_CASE("streamed ingredients equal the whole network's", "[bounds]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = std::max<std::size_t>(test::property_cases(40), 16);
    for (std::size_t c = 0; c < cases; ++c) {
        const bool adversarial = gen.chance(0.4);
        const net::network theta = drawn_network(gen, adversarial);
        quant::options o = drawn_options(gen);
        if (c % 8 == 7) {  // AdaRound: the whole network first
            o.kind = quant::method::adaround;
            o.calib_samples = 4;
            o.adaround.iterations = 20;
        }
        const rational D = rational(static_cast<long>(gen.uniform_int(1, 8)), static_cast<long>(gen.uniform_int(1, 4)));
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", adversarial " << adversarial << ", method "
                     << quant::to_string(o.kind));
        const auto whole = bounds::collect_ingredients(theta, quant::quantize(theta, o).network, D);
        require_same(bounds::collect_ingredients(theta, o, D), whole);
    }
}

TEST_CASE("the layer source's contract", "[bounds]") {
    const net::network theta = test::every_layer_kind(3);
    quant::options o;
    o.bits = 4;
    const net::network quant = quant::quantize(theta, o).network;
    const auto affine = theta.affine_nodes();
    REQUIRE(affine.size() >= 3);
    // The reference: a source in reverse node order gives the same ingredients.
    require_same(bounds::collect_ingredients(theta, theta.name(),
                                             [&](const bounds::quantized_layer_visit& visit) {
                                                 for (auto it = affine.rbegin(); it != affine.rend(); ++it) visit(*it, quant.at(*it));
                                             },
                                             1),
                 bounds::collect_ingredients(theta, quant, 1));
    const auto refused = [&](const bounds::quantized_layer_source& s) { return bounds::collect_ingredients(theta, "q", s, 1); };
    SECTION("twice") {
        REQUIRE_THROWS_WITH(refused([&](const bounds::quantized_layer_visit& visit) {
                                source_of(quant)(visit);
                                visit(affine[1], quant.at(affine[1]));
                            }),
                            Contains("twice") && Contains("'" + theta.at(affine[1]).name + "'"));
    }
    SECTION("not affine") {
        REQUIRE_THROWS_WITH(refused([&](const bounds::quantized_layer_visit& visit) { visit(0, quant.at(0)); }), Contains("node 0") && Contains("not an affine layer"));
        REQUIRE_THROWS_AS(refused([&](const bounds::quantized_layer_visit& visit) { visit(theta.nodes().size(), quant.at(0)); }), net::model_error);
    }
    SECTION("missing") {
        REQUIRE_THROWS_WITH(refused([&](const bounds::quantized_layer_visit& visit) {
                                for (std::size_t i : affine)
                                    if (i != affine[2]) visit(i, quant.at(i));
                            }),
                            Contains("gave no") && Contains("'" + theta.at(affine[2]).name + "'"));
    }
    SECTION("another shape") {
        REQUIRE_THROWS_WITH(refused([&](const bounds::quantized_layer_visit& visit) {
                                for (std::size_t i : affine) visit(i, quant.at(i == affine[0] ? affine[1] : i));
                            }),
                            Contains("same architecture") && Contains("'" + theta.at(affine[0]).name + "'"));
    }
    SECTION("NaN weight") {
        net::node bad = quant.at(affine[1]);
        bad.weight[2] = std::numeric_limits<double>::quiet_NaN();
        REQUIRE_THROWS_WITH(refused([&](const bounds::quantized_layer_visit& visit) {
                                for (std::size_t i : affine) visit(i, i == affine[1] ? bad : quant.at(i));
                            }),
                            Contains("'" + bad.name + "' weight 2 is NaN"));
    }
    SECTION("AdaRound cannot be streamed") {
        quant::options a;
        a.bits = 4;
        a.kind = quant::method::adaround;
        REQUIRE_THROWS_AS(quant::quantize_each(theta, a, [](std::size_t, const net::node&, const quant::layer_report&) {}), core::invalid_argument);
    }
}
