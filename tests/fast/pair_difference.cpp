// The correlated pair pass (fast::enclose_box_difference and
// enclose_difference): both networks and their difference propagated
// together. Soundness against exact rationals at sampled points of every
// box (random and hostile MLPs and CNNs with every node kind; quantized
// copies, sign flips, zeroed and tripled weights, so that W' - W is not
// always exact), and usefulness: never wider than the independent
// difference, and much narrower when the networks are close.
#include "fast_support.hpp"

#include "qbound/net/forward.hpp"

#include "property_support.hpp"

#include <thread>

using namespace qbound;

namespace {

// theta' from theta: a 2^-6 grid copy (quantization-like), or wild edits
// (sign flips, zeros, tripled weights, different biases).
net::network partner(const net::network& n, testing::operand_generator& gen, bool wild) {
    net::network q = n;
    for (std::size_t i : q.affine_nodes()) {
        for (double& w : q.weights(i)) {
            if (!wild) {
                w = std::ldexp(std::nearbyint(std::ldexp(w, 6)), -6);
            } else {
                const auto pick = gen.uniform_int(0, 5);
                if (pick == 0) w = -w;
                if (pick == 1) w = 0;
                if (pick == 2) w *= 3;
                if (pick == 3) w += gen.few_bits() * 0x1p-3;
            }
        }
        for (double& b : q.bias(i))
            if (wild && gen.chance(0.3)) b += std::ldexp(static_cast<double>(gen.uniform_int(-8, 8)), -4);
    }
    return q;
}

double total_width(const fast::enclosure& e) {
    double s = 0;
    for (std::size_t i = 0; i < e.lower.size(); ++i) s += e.upper[i] - e.lower[i];
    return s;
}

}  // namespace

TEST_CASE("the correlated pair pass encloses every sampled point's exact difference", "[fast][pair]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 21);
    for (int trial = 0; trial < 120; ++trial) {
        const bool hostile = trial % 4 == 3, wild = trial % 3 == 1;
        const net::network n = trial % 2 == 0 ? test::random_mlp(gen, hostile)
                                              : test::random_cnn(gen, static_cast<std::size_t>(gen.uniform_int(1, 3)),
                                                                 static_cast<std::size_t>(gen.uniform_int(3, 8)), hostile);
        const net::network q = partner(n, gen, wild);
        const std::size_t d = n.input_shape().size();
        const auto centre = test::random_input(gen, d);
        std::vector<double> lo(d), hi(d);
        const int radius_exponent = static_cast<int>(gen.uniform_int(-14, 0));
        for (std::size_t k = 0; k < d; ++k) {
            const double r = gen.chance(0.2) ? 0.0 : std::ldexp(1.0, radius_exponent);
            lo[k] = centre[k] - r, hi[k] = centre[k] + r;
        }
        const auto e = fast::enclose_box_difference(n, q, lo, hi);
        for (int sample = 0; sample < 6; ++sample) {
            std::vector<double> x(d);
            for (std::size_t k = 0; k < d; ++k) {
                const auto pick = gen.uniform_int(0, 2);
                x[k] = pick == 0 ? lo[k] : pick == 1 ? hi[k] : std::clamp(lo[k] + (hi[k] - lo[k]) * static_cast<double>(gen.uniform_int(0, 16)) / 16, lo[k], hi[k]);
            }
            const auto in = net::input_from_doubles<arith::rational>(x);
            const auto y = net::forward<arith::rational>(n, in), yq = net::forward<arith::rational>(q, in);
            for (std::size_t i = 0; i < y.size(); ++i) {
                INFO(n.name() << (wild ? " (wild partner)" : " (grid partner)") << (hostile ? ", hostile" : "") << ": seed " << seed
                              << " (replay: QBOUND_SEED=" << seed << "), trial " << trial << ", sample " << sample << ", output " << i
                              << ", exact difference " << arith::to_decimal(yq[i] - y[i], 30) << ", enclosure [" << e.lower[i] << ", "
                              << e.upper[i] << "]");
                REQUIRE(test::encloses(e.lower[i], e.upper[i], yq[i] - y[i]));
            }
        }
        // A point (zero-width box) too.
        const auto p = fast::enclose_difference(n, q, centre);
        const auto in = net::input_from_doubles<arith::rational>(centre);
        const auto y = net::forward<arith::rational>(n, in), yq = net::forward<arith::rational>(q, in);
        for (std::size_t i = 0; i < y.size(); ++i) {
            INFO("point, seed " << seed << ", trial " << trial << ", output " << i);
            REQUIRE(test::encloses(p.lower[i], p.upper[i], yq[i] - y[i]));
        }
    }
}

TEST_CASE("the correlated pair pass is never wider than the independent difference, and much narrower for close networks",
          "[fast][pair]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 22);
    double correlated = 0, independent = 0;
    for (int trial = 0; trial < 30; ++trial) {
        const net::network n = trial % 2 == 0 ? test::random_mlp(gen, false) : test::random_cnn(gen, 2, 7, false);
        const net::network q = partner(n, gen, false);
        const std::size_t d = n.input_shape().size();
        const auto centre = test::random_input(gen, d);
        std::vector<double> lo(d), hi(d);
        for (std::size_t k = 0; k < d; ++k) lo[k] = centre[k] - 0x1p-8, hi[k] = centre[k] + 0x1p-8;
        const auto c = fast::enclose_box_difference(n, q, lo, hi);
        const auto a = fast::enclose_box(n, lo, hi), b = fast::enclose_box(q, lo, hi);
        for (std::size_t i = 0; i < c.lower.size(); ++i) {
            INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), trial " << trial << ", output " << i);
            // The independent difference [b.lo - a.hi, b.hi - a.lo], widened by one rounding at most.
            REQUIRE(c.lower[i] >= std::nextafter(b.lower[i] - a.upper[i], -INFINITY));
            REQUIRE(c.upper[i] <= std::nextafter(b.upper[i] - a.lower[i], INFINITY));
        }
        correlated += total_width(c);
        for (std::size_t i = 0; i < a.lower.size(); ++i) independent += (b.upper[i] - a.lower[i]) - (b.lower[i] - a.upper[i]);
    }
    INFO("total width: correlated " << correlated << ", independent " << independent);
    CHECK(correlated < 0.5 * independent);
}

TEST_CASE("fast::pair_pass (W' - W built once) gives the bits of the per-call pair pass, from two threads", "[fast][pair]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 23);
    std::size_t inexact_pairs = 0;
    for (int trial = 0; trial < 40; ++trial) {
        const bool hostile = trial % 4 == 3, wild = trial % 3 == 1;
        const net::network n = trial % 2 == 0 ? test::random_mlp(gen, hostile)
                                              : test::random_cnn(gen, static_cast<std::size_t>(gen.uniform_int(1, 3)),
                                                                 static_cast<std::size_t>(gen.uniform_int(3, 8)), hostile);
        const net::network q = partner(n, gen, wild);
        inexact_pairs += wild;
        const fast::pair_pass pass(n, q);
        const std::size_t d = n.input_shape().size();
        std::vector<std::vector<double>> lows, highs;
        for (int b = 0; b < 4; ++b) {
            const auto centre = test::random_input(gen, d);
            const double r = b == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(gen.uniform_int(-12, 0)));
            std::vector<double> lo(d), hi(d);
            for (std::size_t k = 0; k < d; ++k) lo[k] = centre[k] - r, hi[k] = centre[k] + r;
            lows.push_back(lo), highs.push_back(hi);
        }
        std::vector<fast::enclosure> cached(4);
        std::thread other([&] { for (int b = 0; b < 4; b += 2) cached[b] = pass.box(lows[b], highs[b], fast::options{1, 100}); });
        for (int b = 1; b < 4; b += 2) cached[b] = pass.box(lows[b], highs[b], fast::options{1, 100});
        other.join();
        for (int b = 0; b < 4; ++b) {
            const auto fresh = fast::enclose_box_difference(n, q, lows[b], highs[b], fast::options{1, 100});
            INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), trial " << trial << ", box " << b);
            REQUIRE(cached[b].lower == fresh.lower);
            REQUIRE(cached[b].upper == fresh.upper);
        }
        const auto p = pass.point(lows[0]), fresh = fast::enclose_difference(n, q, lows[0]);
        REQUIRE(p.lower == fresh.lower);
        REQUIRE(p.upper == fresh.upper);
    }
    CHECK(inexact_pairs > 0);
}

TEST_CASE("the pair pass refuses networks that differ in structure", "[fast][pair]") {
    testing::operand_generator gen(5);
    const net::network n = test::random_mlp(gen, false);
    net::network other("other", n.input_shape());
    other.dense(0, n.output_shape().size());
    net::init_he_normal(other, 1);
    REQUIRE_THROWS(fast::enclose_box_difference(n, other, std::vector<double>(n.input_shape().size()), std::vector<double>(n.input_shape().size())));
}
