// The refined mode's precision ladder (issue 8): with C = 1..8 correction
// components (53 to 450 bits of split products) the enclosure still
// contains the exact rational output, more bits certify what 100 bits
// cannot on deep networks, long division keeps pooling and normalization
// at full precision, and certify_difference raises the bits by itself.
#include "fast_support.hpp"

#include "qbound/net/forward.hpp"
#include "qbound/verify/point_difference.hpp"

#include "property_support.hpp"

using namespace qbound;

namespace {

constexpr int ladder[] = {53, 80, 100, 150, 200, 260, 350, 450};

// A deep ReLU MLP (He-normal, biases 0.1) and its copy rounded to multiples
// of 2^-8: about 2.5 bits of radius growth per layer.
std::pair<net::network, net::network> deep_pair(std::size_t depth, std::size_t width, std::uint64_t seed) {
    net::network n("deep-mlp", {width, 1, 1});
    std::size_t x = 0;
    for (std::size_t l = 0; l < depth; ++l) {
        x = n.dense(x, width);
        if (l + 1 < depth) x = n.activation(x, net::op::relu);
    }
    net::init_he_normal(n, seed, 0.1);
    net::network q = n;
    for (std::size_t i : q.affine_nodes())
        for (double& w : q.weights(i)) w = std::ldexp(std::nearbyint(std::ldexp(w, 8)), -8);
    return {n, q};
}

std::vector<arith::rational> exact_difference(const net::network& n, const net::network& q, const std::vector<double>& x) {
    const auto in = net::input_from_doubles<arith::rational>(x);
    const auto y = net::forward<arith::rational>(n, in), yq = net::forward<arith::rational>(q, in);
    std::vector<arith::rational> d;
    for (std::size_t i = 0; i < y.size(); ++i) d.push_back(yq[i] - y[i]);
    return d;
}

}  // namespace

TEST_CASE("refined enclosures contain the exact output at every correction count", "[fast][refined]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 7);
    for (int trial = 0; trial < 160; ++trial) {
        const bool hostile = trial % 2 == 1;
        const int bits = ladder[trial % 8];
        const net::network n = trial % 3 == 0 ? test::random_mlp(gen, hostile)
                                              : test::random_cnn(gen, static_cast<std::size_t>(gen.uniform_int(1, 4)),
                                                                 static_cast<std::size_t>(gen.uniform_int(3, 9)), hostile);
        net::network q = n;
        for (std::size_t i : q.affine_nodes())
            for (double& w : q.weights(i))
                if (gen.chance(0.5)) w += std::ldexp(static_cast<double>(gen.uniform_int(-8, 8)), -9) * std::fabs(w);
        const auto x = test::random_input(gen, n.input_shape().size());
        fast::enclosure e, d;
        try {
            e = fast::enclose_point_refined(n, x, {0, bits});
            d = fast::enclose_difference_refined(n, q, x, {0, bits});
        } catch (const fast::refinement_not_applicable&) {
            continue;  // hostile weights far from 1: allowed, never a wrong enclosure
        }
        const auto exact = net::forward<arith::rational>(n, net::input_from_doubles<arith::rational>(x));
        const auto diff = exact_difference(n, q, x);
        for (std::size_t i = 0; i < exact.size(); ++i) {
            INFO(n.name() << " at " << bits << " bits (C = " << fast::refined_corrections(bits) << "): seed " << seed << " (replay: QBOUND_SEED="
                          << seed << "), trial " << trial << ", output " << i << ", exact " << arith::to_decimal(exact[i], 30) << " in ["
                          << e.lower[i] << ", " << e.upper[i] << "], difference " << arith::to_decimal(diff[i], 30) << " in [" << d.lower[i]
                          << ", " << d.upper[i] << "]");
            REQUIRE(test::encloses(e.lower[i], e.upper[i], exact[i]));
            REQUIRE(test::encloses(d.lower[i], d.upper[i], diff[i]));
        }
    }
}

TEST_CASE("more bits certify deep differences that 100 bits cannot", "[fast][refined]") {
    const std::uint64_t seed = test::property_seed();
    int certified_only_with_more_bits = 0;
    for (std::uint64_t k = 0; k < 4; ++k) {
        const auto [n, q] = deep_pair(60, 64, seed + k);
        std::vector<double> x(64);
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(static_cast<double>((i * 37 + k) % 29) - 14.0, -4);
        const auto diff = exact_difference(n, q, x);
        const auto at100 = fast::enclose_difference_refined(n, q, x, {0, 100});
        const auto at250 = fast::enclose_difference_refined(n, q, x, {0, 250});
        bool certified100 = false;
        for (std::size_t i = 0; i < diff.size(); ++i) {
            INFO("deep-mlp 60 x 64, seed " << seed + k << " (replay: QBOUND_SEED=" << seed << "), output " << i << ", difference "
                                           << arith::to_decimal(diff[i], 30) << " in [" << at100.lower[i] << ", " << at100.upper[i]
                                           << "] (100 bits), [" << at250.lower[i] << ", " << at250.upper[i] << "] (250 bits)");
            REQUIRE(test::encloses(at100.lower[i], at100.upper[i], diff[i]));
            REQUIRE(test::encloses(at250.lower[i], at250.upper[i], diff[i]));
            // At 250 bits the enclosure is as tight as its double ends allow.
            REQUIRE(arith::to_rational(at250.upper[i] - at250.lower[i]) <=
                    arith::abs(diff[i]) * arith::to_rational(0x1p-40) + arith::to_rational(0x1p-1000));
            certified100 = certified100 || at100.lower[i] > 0 || at100.upper[i] < 0;
        }
        if (!certified100) ++certified_only_with_more_bits;
    }
    // The construction grows about 130 bits: beyond one correction.
    REQUIRE(certified_only_with_more_bits >= 3);
}

TEST_CASE("long division keeps average pooling and normalization at full precision", "[fast][refined]") {
    // 27 x 27 -> 9 x 9 -> 3 x 3 -> 1 x 1 by 3 x 3 average pools (each a
    // division by 9), after a normalization dividing by 3: the exact output
    // is a rational with denominator 3^7, never a double.
    net::network n("avg-chain", {1, 27, 27});
    std::size_t x = n.normalize(0, {0.25}, {3.0}, "norm");
    for (int level = 0; level < 3; ++level) x = n.avg_pool(x, {3, 3, 0, true});
    // The same mean grouped differently (81 then 9): equal exact outputs,
    // different roundings, so the pair's enclosure must hold every remainder.
    net::network regrouped("avg-regrouped", {1, 27, 27});
    std::size_t y = regrouped.normalize(0, {0.25}, {3.0}, "norm");
    y = regrouped.avg_pool(y, {9, 9, 0, true});
    y = regrouped.avg_pool(y, {3, 3, 0, true});
    regrouped.activation(y, net::op::identity);  // same node count, as the pair mode requires
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 11);
    for (int trial = 0; trial < 20; ++trial) {
        const auto input = test::random_input(gen, n.input_shape().size());
        const auto exact = net::forward<arith::rational>(n, net::input_from_doubles<arith::rational>(input));
        for (const int bits : {100, 250, 450}) {
            const auto e = fast::enclose_point_refined(n, input, {0, bits});
            const auto d = fast::enclose_difference_refined(n, regrouped, input, {0, bits});
            INFO("avg-chain at " << bits << " bits, seed " << seed << " (replay: QBOUND_SEED=" << seed << "), trial " << trial << ", exact "
                                 << arith::to_decimal(exact[0], 40) << " in [" << e.lower[0] << ", " << e.upper[0] << "], difference of the two groupings in ["
                                 << d.lower[0] << ", " << d.upper[0] << "]");
            REQUIRE(test::encloses(e.lower[0], e.upper[0], exact[0]));
            REQUIRE(test::encloses(d.lower[0], d.upper[0], arith::rational(0)));
            // Equal outputs: the difference's width is what the expansions
            // carry beyond their doubles, about 2^-(53 C).
            const double scale = std::max(std::fabs(e.lower[0]), std::fabs(e.upper[0]));
            REQUIRE(d.upper[0] - d.lower[0] <= std::ldexp(scale, -45 * fast::refined_corrections(bits)) + 0x1p-1000);
        }
    }
}

TEST_CASE("certify_difference raises the refined bits until the difference is certified", "[fast][refined][verify]") {
    const std::uint64_t seed = test::property_seed();
    const auto [n, q] = deep_pair(60, 64, seed + 2);
    std::vector<double> x(64);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(static_cast<double>((i * 37 + 2) % 29) - 14.0, -4);
    const auto diff = exact_difference(n, q, x);
    arith::rational sup(0);
    for (const auto& d : diff) sup = arith::max(sup, arith::abs(d));
    // Force the fast path on this small network.
    const auto p = verify::certify_difference(n, q, x, 256, 0, 0);
    INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "): arithmetic " << p.arithmetic << ", bracket [" << arith::to_decimal(p.lower, 20)
                 << ", " << arith::to_decimal(p.upper, 20) << "], exact " << arith::to_decimal(sup, 20));
    REQUIRE(p.lower > 0);
    REQUIRE(p.lower <= sup);
    REQUIRE(sup <= p.upper);
    REQUIRE(p.arithmetic.find(std::string(fast::refined_arithmetic_name)) == 0);
    REQUIRE(p.arithmetic.find(", 100 bits") == std::string::npos);
}

TEST_CASE("refined bits outside [53, max] are refused", "[fast][refined]") {
    net::network n("one", {1, 1, 1});
    n.dense(0, 1);
    net::init_he_normal(n, 1);
    REQUIRE_THROWS_WITH(fast::enclose_point_refined(n, {1.0}, {0, 40}), Catch::Contains("refined bits must be in [53, 450]"));
    REQUIRE_THROWS_WITH(fast::enclose_point_refined(n, {1.0}, {0, 451}), Catch::Contains("got 451"));
}
