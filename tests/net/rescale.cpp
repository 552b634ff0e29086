// Rescaling between affine layers and cross-layer equalization (net/rescale.hpp):
// the rescaled networks compute exactly the same function (forward<rational>
// on random double and rational inputs), every applied scale is a power of
// two, CLE reduces the per-channel range imbalance, the exactness limits
// (subnormals, overflow) hold, and bad structures give clear errors.
#include "qbound/bounds/norms.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/rescale.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"

#include <cmath>
#include <limits>
#include <span>

using namespace qbound::net;
using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_seed;

namespace {

bool is_power_of_two(const rational& q) {
    if (q <= 0) return false;
    const integer n = boost::multiprecision::numerator(q), d = boost::multiprecision::denominator(q);
    return boost::multiprecision::msb(n) == boost::multiprecision::lsb(n) && boost::multiprecision::msb(d) == boost::multiprecision::lsb(d);
}

// Every weight and bias of `after` is the one of `before` times a power of
// two (zeros stay zero).
void require_power_of_two_rescaling(const network& before, const network& after) {
    for (std::size_t i = 0; i < before.nodes().size(); ++i) {
        const node& b = before.at(i);
        const node& a = after.at(i);
        if (!b.is_affine()) continue;
        auto check = [&](const std::vector<double>& old_values, const std::vector<double>& new_values, const char* what) {
            REQUIRE(old_values.size() == new_values.size());
            for (std::size_t k = 0; k < old_values.size(); ++k) {
                INFO(b.name << " " << what << " " << k << ": " << describe(old_values[k]) << " -> " << describe(new_values[k]));
                if (old_values[k] == 0) {
                    REQUIRE(new_values[k] == 0);
                } else {
                    REQUIRE(is_power_of_two(to_rational(new_values[k]) / to_rational(old_values[k])));
                }
            }
        };
        check(b.weight, a.weight, "weight");
        check(b.bias, a.bias, "bias");
    }
}

// Random double inputs (moderate and few-bit) and random rationals p/q.
std::vector<std::vector<rational>> draw_inputs(operand_generator& gen, std::size_t size, int count) {
    std::vector<std::vector<rational>> inputs;
    for (int t = 0; t < count; ++t) {
        std::vector<rational> x;
        for (std::size_t i = 0; i < size; ++i)
            x.push_back(t % 2 == 0 ? to_rational(gen.chance(0.2) ? gen.few_bits() * 0x1p-40 : gen.moderate() * 0x1p-30)
                                   : rational(gen.uniform_int(-1000, 1000)) / rational(gen.uniform_int(1, 997)));
        inputs.push_back(std::move(x));
    }
    return inputs;
}

void require_same_function(const network& before, const network& after, operand_generator& gen, int count) {
    for (const auto& x : draw_inputs(gen, before.input_shape().size(), count)) {
        INFO(before.name() << ", seed " << property_seed() << ", input " << to_decimal(x[0], 8) << " ...");
        REQUIRE(forward<rational>(after, x) == forward<rational>(before, x));
    }
}

rational max_imbalance(const cle_report& r, bool after) {
    rational worst = 1;
    for (const auto& p : r.pairs) worst = max(worst, after ? p.imbalance_after : p.imbalance_before);
    return worst;
}

// Multiplies each output channel (filter and bias) of every affine node but
// the last by 2^k, k in [-spread, spread]: a different network whose channel
// ranges are badly imbalanced.
void unbalance(network& net, operand_generator& gen, int spread) {
    std::size_t last = 0;
    for (std::size_t i = 0; i < net.nodes().size(); ++i)
        if (net.at(i).is_affine()) last = i;
    for (std::size_t i = 0; i < last; ++i) {
        const node& n = net.at(i);
        if (!n.is_affine()) continue;
        const std::size_t per = n.weight.size() / n.out_features;
        const std::span<double> weight = net.weights(i), bias = net.bias(i);
        for (std::size_t o = 0; o < n.out_features; ++o) {
            const int k = static_cast<int>(gen.uniform_int(-spread, spread));
            for (std::size_t j = o * per; j < (o + 1) * per; ++j) weight[j] = std::ldexp(weight[j], k);
            bias[o] = std::ldexp(bias[o], k);
        }
    }
}

void require_reported_norms(const network& before, const network& after, const cle_report& report) {
    for (const auto& l : report.layers) {
        INFO(l.name);
        const node& b = before.at(l.node);
        const node& a = after.at(l.node);
        if (b.kind == op::dense) {
            REQUIRE(l.rho_before == qbound::bounds::operator_norm_inf(b.weight, b.out_features, b.in_features, b.bias));
            REQUIRE(l.rho_after == qbound::bounds::operator_norm_inf(a.weight, a.out_features, a.in_features, a.bias));
            REQUIRE(l.weight_norm_after == qbound::bounds::operator_norm_inf(a.weight, a.out_features, a.in_features));
        } else {
            REQUIRE(l.rho_before == qbound::bounds::conv_kernel_norm(b, true));
            REQUIRE(l.rho_after == qbound::bounds::conv_kernel_norm(a, true));
            REQUIRE(l.weight_norm_after == qbound::bounds::conv_kernel_norm(a, false));
        }
    }
}

// conv(2 -> 6) ReLU, depthwise conv (6, groups 6) ReLU, grouped conv (6 -> 4,
// groups 2) ReLU, average pool, dense after a flatten (blocks of columns),
// ReLU, dense.
network make_grouped_cnn(std::uint64_t seed) {
    network net("grouped-cnn", {2, 7, 7});
    std::size_t x = net.conv2d(0, 6, {3, 3, 1, 1, 1, 1}, "conv");
    x = net.activation(x, op::relu);
    x = net.conv2d(x, 6, {3, 3, 2, 1, 1, 6}, "depthwise");
    x = net.activation(x, op::relu);
    x = net.conv2d(x, 4, {2, 2, 1, 0, 1, 2}, "grouped");
    x = net.activation(x, op::relu);
    x = net.avg_pool(x, {2, 1, 0, true});
    x = net.flatten(x);
    x = net.dense(x, 5, "fc1");
    x = net.activation(x, op::identity);
    net.dense(x, 3, "fc2");
    init_he_normal(net, seed, 0.2);
    return net;
}

network two_layer(const std::string& name, std::size_t in, std::size_t hidden, op activation) {
    network net(name, {in, 1, 1});
    std::size_t x = net.dense(0, hidden, "fc1");
    x = net.activation(x, activation, "act");
    net.dense(x, 2, "fc2");
    return net;
}

}  // namespace

TEST_CASE("CLE on random MLPs: exact same function, power-of-two scales, imbalance reduced", "[net][rescale]") {
    operand_generator gen(property_seed());
    for (int trial = 0; trial < 40; ++trial) {
        std::vector<std::size_t> widths;
        const auto L = gen.uniform_int(2, 4);
        for (std::int64_t l = 0; l <= L; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 10)));
        network net = make_mlp(widths);
        init_he_normal(net, property_seed() + static_cast<std::uint64_t>(trial), 0.1);
        if (trial % 4 == 1) scale_to_operator_norms(net, {std::ldexp(1.0, 12)});  // large norms
        unbalance(net, gen, trial % 4 == 0 ? 0 : 12);
        const network before = net;
        const cle_report report = cross_layer_equalization(net);
        INFO(net.name() << ", trial " << trial << ", seed " << property_seed());
        REQUIRE(report.pairs.size() == static_cast<std::size_t>(L - 1));
        REQUIRE(report.unpaired.size() == 1);  // the output layer
        REQUIRE(report.converged);
        require_power_of_two_rescaling(before, net);
        require_same_function(before, net, gen, 4);
        require_reported_norms(before, net, report);
        // At convergence every channel is balanced within a factor 2.
        REQUIRE(max_imbalance(report, true) <= 2);
        REQUIRE(max_imbalance(report, true) <= max_imbalance(report, false));
        if (max_imbalance(report, false) > 2) REQUIRE(max_imbalance(report, true) < max_imbalance(report, false));
        for (const auto& p : report.pairs) REQUIRE(p.limited_channels == 0);
    }
}

TEST_CASE("CLE on CNNs: conv-conv, depthwise, grouped, dense after flatten and after global pooling", "[net][rescale]") {
    operand_generator gen(property_seed());
    cnn_config pooled;
    pooled.input = {3, 8, 8};
    pooled.convs = {{6, {3, 3, 1, 1, 1, 1}, true}, {8, {3, 3, 1, 1, 2, 1}, false}};
    pooled.global_pool = true;
    pooled.dense = {7, 4};
    for (int trial = 0; trial < 3; ++trial) {
        const auto seed = property_seed() + static_cast<std::uint64_t>(trial);
        network zoo_cnn = make_cnn(cnn_config{});
        init_he_normal(zoo_cnn, seed, 0.1);
        network gap_cnn = make_cnn(pooled);
        init_he_normal(gap_cnn, seed, 0.1);
        network grouped = make_grouped_cnn(seed);
        const std::size_t expected_pairs[] = {2, 3, 4};
        std::size_t k = 0;
        for (network* net : {&zoo_cnn, &gap_cnn, &grouped}) {
            INFO(net->name() << ", trial " << trial << ", seed " << property_seed());
            unbalance(*net, gen, 10);
            const network before = *net;
            const cle_report report = cross_layer_equalization(*net);
            REQUIRE(report.pairs.size() == expected_pairs[k++]);
            REQUIRE(report.converged);
            require_power_of_two_rescaling(before, *net);
            require_same_function(before, *net, gen, 2);
            require_reported_norms(before, *net, report);
            REQUIRE(max_imbalance(report, false) > 2);
            REQUIRE(max_imbalance(report, true) <= 2);
        }
    }
}

TEST_CASE("CLE on zoo models with He initialization keeps the function", "[net][rescale]") {
    operand_generator gen(property_seed());
    for (const char* name : {"mlp:2,25,25,2", "mlp:5,50,50,50,50,3", "cnn"}) {
        network net = make_zoo_model(name);
        init_he_normal(net, property_seed(), 0.05);
        const network before = net;
        const cle_report report = cross_layer_equalization(net);
        INFO(name << ", seed " << property_seed());
        REQUIRE(report.converged);
        require_power_of_two_rescaling(before, net);
        require_same_function(before, net, gen, 2);
        REQUIRE(max_imbalance(report, true) <= 2);
    }
}

TEST_CASE("CLE limits a channel's exponent where a scaled entry would round or overflow", "[net][rescale]") {
    operand_generator gen(property_seed());
    const double denorm_min = std::numeric_limits<double>::denorm_min();
    SECTION("underflow: a subnormal weight cannot be halved") {
        network net = two_layer("underflow", 2, 2, op::relu);
        // channel 0 wants s = 2^500 (range 2^1000 against 1), but its
        // other weight 2^-1060 only allows 2^14; channel 1 holds denorm_min: no step at all.
        net.set_weights(1, {0x1p1000, 0x1p-1060, 0x1p1000, denorm_min});
        net.set_weights(3, {0x1p-1000, 0x1p-1000, 1.0, 1.0});
        const network before = net;
        cle_options options;
        options.max_exponent = 4000;
        const cle_report report = cross_layer_equalization(net, options);
        REQUIRE(report.pairs.size() == 1);
        REQUIRE(report.pairs[0].limited_channels == 2);
        REQUIRE(report.pairs[0].exponents == std::vector<int>{14, 0});
        REQUIRE(net.at(1).weight[1] == denorm_min);  // 2^-1060 / 2^14 = 2^-1074
        REQUIRE(net.at(1).weight[3] == denorm_min);
        require_power_of_two_rescaling(before, net);
        require_same_function(before, net, gen, 4);
    }
    SECTION("overflow: a huge bias cannot be doubled past DBL_MAX") {
        network net = two_layer("overflow", 1, 1, op::relu);
        net.set_weights(1, {0x1p-1000});
        net.set_bias(1, {0x1p1020});
        net.set_weights(3, {0x1p1000, 0x1p1000});
        const network before = net;
        cle_options options;
        options.max_exponent = 4000;
        const cle_report report = cross_layer_equalization(net, options);
        REQUIRE(report.pairs[0].exponents == std::vector<int>{-3});  // bias 2^1020 * 2^3 = 2^1023
        REQUIRE(report.pairs[0].limited_channels == 1);
        REQUIRE(net.at(1).bias[0] == 0x1p1023);
        require_same_function(before, net, gen, 4);
    }
    SECTION("max_exponent caps the accumulated exponent") {
        network net = two_layer("capped", 1, 1, op::relu);
        net.set_weights(1, {0x1p200});
        net.set_weights(3, {0x1p-200, 1.0});
        const network before = net;
        const cle_report report = cross_layer_equalization(net);  // default max_exponent 64
        REQUIRE(report.pairs[0].exponents == std::vector<int>{64});
        REQUIRE(report.pairs[0].limited_channels == 1);
        require_same_function(before, net, gen, 2);
    }
    SECTION("zero channels are skipped") {
        network net = two_layer("dead", 2, 2, op::relu);
        net.set_weights(1, {0.0, 0.0, 0x1p10, 1.0});
        net.set_weights(3, {1.0, 0.0, 2.0, 0.0});
        const cle_report report = cross_layer_equalization(net);
        REQUIRE(report.pairs[0].skipped_channels == 2);
        REQUIRE(report.pairs[0].exponents == std::vector<int>{0, 0});
    }
}

TEST_CASE("rescale_layer_pair: powers of two are exact, other scales round once", "[net][rescale]") {
    operand_generator gen(property_seed());
    network net = two_layer("pair", 3, 4, op::identity);
    init_he_normal(net, property_seed(), 0.5);
    const network before = net;
    rescale_layer_pair(net, 1, {0x1p60, 0x1p-60, 1.0, 0.5});
    REQUIRE(net.at(1).weight[0] == std::ldexp(before.at(1).weight[0], -60));
    REQUIRE(net.at(3).weight[1] == std::ldexp(before.at(3).weight[1], -60));
    require_same_function(before, net, gen, 4);
    network rounded = before;
    rescale_layer_pair(rounded, 1, {3.0, 1.0, 1.0, 1.0});
    REQUIRE(rounded.at(1).weight[0] == before.at(1).weight[0] / 3.0);
    REQUIRE(rounded.at(3).weight[0] == before.at(3).weight[0] * 3.0);
}

TEST_CASE("rescaling: bad structures and scales give clear errors and leave the network alone", "[net][rescale]") {
    using Catch::Matchers::Contains;
    SECTION("ReLU6 between the layers") {
        network net = two_layer("relu6", 2, 3, op::relu6);
        init_he_normal(net, 1);
        const network before = net;
        REQUIRE_THROWS_WITH(rescale_layer_pair(net, 1, {2, 2, 2}), Contains("ReLU6 is not positively homogeneous"));
        REQUIRE(net.at(1).weight == before.at(1).weight);
        const cle_report report = cross_layer_equalization(net);
        REQUIRE(report.pairs.empty());
        REQUIRE(report.unpaired.size() == 2);
        REQUIRE_THAT(report.unpaired[0], Contains("ReLU6"));
    }
    SECTION("scales must be finite and positive, one per channel") {
        network net = two_layer("scales", 2, 3, op::relu);
        init_he_normal(net, 2);
        const network before = net;
        for (const auto& s : std::vector<std::vector<double>>{{1, 0, 1}, {1, -2, 1}, {1, std::nan(""), 1}, {1, INFINITY, 1}})
            REQUIRE_THROWS_WITH(rescale_layer_pair(net, 1, s), Contains("finite and positive"));
        REQUIRE_THROWS_WITH(rescale_layer_pair(net, 1, {1, 1}), Contains("2 scales given for 3 channels"));
        REQUIRE_THROWS_WITH(rescale_layer_pair(net, 1, {0x1p-1070, 1, 1}), Contains("overflows"));
        REQUIRE(net.at(1).weight == before.at(1).weight);
        REQUIRE(net.at(3).weight == before.at(3).weight);
    }
    SECTION("fan-out, residual add, output layer, non-affine node") {
        network net("branches", {3, 1, 1});
        std::size_t x = net.dense(0, 4, "fc1");
        const std::size_t r = net.activation(x, op::relu, "relu1");
        const std::size_t a = net.dense(r, 4, "left");
        const std::size_t b = net.dense(r, 4, "right");
        x = net.add(a, b, "sum");
        net.dense(x, 2, "head");
        init_he_normal(net, 3);
        REQUIRE_THROWS_WITH(rescaling_partner(net, 1), Contains("fan-out") && Contains("'left'") && Contains("'right'"));
        REQUIRE_THROWS_WITH(rescaling_partner(net, a), Contains("residual add"));
        REQUIRE_THROWS_WITH(rescaling_partner(net, net.output_index()), Contains("output layer"));
        REQUIRE_THROWS_WITH(rescaling_partner(net, r), Contains("not a dense or conv2d node"));
        REQUIRE_THROWS_WITH(rescaling_partner(net, 99), Contains("no node 99"));
        const network before = net;
        const cle_report report = cross_layer_equalization(net);
        REQUIRE(report.pairs.empty());
        REQUIRE(report.unpaired.size() == 4);
        operand_generator gen(property_seed());
        require_same_function(before, net, gen, 2);
    }
    SECTION("unfolded batch norm and shape-only networks") {
        network net("bn", {2, 1, 1});
        std::size_t x = net.dense(0, 2, "fc1");
        x = net.batch_norm(x, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 1e-5}, "bn");
        x = net.activation(x, op::relu);
        net.dense(x, 1, "fc2");
        REQUIRE_THROWS_WITH(rescaling_partner(net, 1), Contains("fold_batch_norm"));
        REQUIRE_THROWS_WITH(cross_layer_equalization(net), Contains("fold_batch_norm"));
        network shapes = make_mlp({2, 3, 1}, false);
        REQUIRE_THROWS_WITH(rescaling_partner(shapes, 1), Contains("shape-only"));
        REQUIRE_THROWS_WITH(cross_layer_equalization(shapes), Contains("shape-only"));
    }
    SECTION("a residual block: only the pair inside the block is equalized") {
        network net("block", {2, 6, 6});
        std::size_t x = net.conv2d(0, 4, {3, 3, 1, 1, 1, 1}, "stem");
        x = net.activation(x, op::relu, "stem.relu");
        std::size_t y = net.conv2d(x, 4, {3, 3, 1, 1, 1, 1}, "block.conv1");
        y = net.activation(y, op::relu, "block.relu1");
        y = net.conv2d(y, 4, {3, 3, 1, 1, 1, 1}, "block.conv2");
        x = net.add(y, x, "block.add");
        x = net.activation(x, op::relu, "block.relu2");
        x = net.global_avg_pool(x);
        net.dense(x, 3, "fc");
        init_he_normal(net, 4, 0.1);
        operand_generator gen(property_seed());
        unbalance(net, gen, 8);
        const network before = net;
        const cle_report report = cross_layer_equalization(net);
        REQUIRE(report.pairs.size() == 1);
        REQUIRE(net.at(report.pairs[0].first).name == "block.conv1");
        REQUIRE(net.at(report.pairs[0].second).name == "block.conv2");
        REQUIRE(report.unpaired.size() == 3);
        require_same_function(before, net, gen, 2);
    }
}
