// The fast float-sound path against exact rationals on small networks:
// point enclosures, box enclosures (every sampled point's exact output
// inside) and the pair mode (the exact difference inside), on random and
// hostile MLPs and CNNs with every node kind (strided, padded, dilated,
// grouped and depthwise convs, pooling, residual adds, normalize).
#include "fast_support.hpp"

#include "qbound/net/forward.hpp"

#include "property_support.hpp"

using namespace qbound;

namespace {

void require_point_enclosure(const net::network& n, const std::vector<double>& x, std::uint64_t seed, int trial) {
    const auto exact = net::forward<arith::rational>(n, net::input_from_doubles<arith::rational>(x));
    for (const bool refined : {false, true}) {
        fast::enclosure e;
        try {
            e = refined ? fast::enclose_point_refined(n, x) : fast::enclose_point(n, x);
        } catch (const fast::refinement_not_applicable&) {
            continue;  // hostile weights far from 1: allowed, never a wrong enclosure
        }
        REQUIRE(e.lower.size() == exact.size());
        for (std::size_t i = 0; i < exact.size(); ++i) {
            INFO(n.name() << (refined ? " (refined)" : " (a priori)") << ": seed " << seed << " (replay: QBOUND_SEED=" << seed << "), trial "
                          << trial << ", output " << i << ", exact " << arith::to_decimal(exact[i], 30) << ", enclosure [" << e.lower[i]
                          << ", " << e.upper[i] << "]");
            REQUIRE(test::encloses(e.lower[i], e.upper[i], exact[i]));
        }
    }
}

net::network perturbed(const net::network& n, testing::operand_generator& gen) {
    net::network q = n;
    for (std::size_t i : q.affine_nodes())
        for (double& w : q.weights(i))
            if (gen.chance(0.5)) w += std::ldexp(static_cast<double>(gen.uniform_int(-8, 8)), -9) * std::fabs(w);
    return q;
}

}  // namespace

TEST_CASE("fast point enclosure contains the exact output (MLPs and CNNs, random and hostile)", "[fast][point]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    for (int trial = 0; trial < 120; ++trial) {
        const bool hostile = trial % 2 == 1;
        const net::network n = trial % 3 == 0 ? test::random_mlp(gen, hostile)
                                              : test::random_cnn(gen, static_cast<std::size_t>(gen.uniform_int(1, 4)),
                                                                 static_cast<std::size_t>(gen.uniform_int(3, 9)), hostile);
        require_point_enclosure(n, test::random_input(gen, n.input_shape().size()), seed, trial);
    }
}

TEST_CASE("fast box enclosure contains every sampled point's exact output", "[fast][box]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 1);
    for (int trial = 0; trial < 40; ++trial) {
        const bool hostile = trial % 2 == 1;
        const net::network n = trial % 3 == 0 ? test::random_mlp(gen, hostile) : test::random_cnn(gen, 2, 7, hostile);
        const std::size_t d = n.input_shape().size();
        const auto centre = test::random_input(gen, d);
        std::vector<double> lo(d), hi(d);
        for (std::size_t k = 0; k < d; ++k) {
            const double r = gen.chance(0.2) ? 0.0 : std::ldexp(1.0, static_cast<int>(gen.uniform_int(-12, 0)));
            lo[k] = centre[k] - r, hi[k] = centre[k] + r;
        }
        const auto e = fast::enclose_box(n, lo, hi);
        for (int sample = 0; sample < 8; ++sample) {
            std::vector<double> x(d);
            for (std::size_t k = 0; k < d; ++k) {
                const auto pick = gen.uniform_int(0, 2);
                x[k] = pick == 0 ? lo[k] : pick == 1 ? hi[k] : lo[k] + (hi[k] - lo[k]) * static_cast<double>(gen.uniform_int(0, 64)) / 64;
                x[k] = std::clamp(x[k], lo[k], hi[k]);
            }
            const auto exact = net::forward<arith::rational>(n, net::input_from_doubles<arith::rational>(x));
            for (std::size_t i = 0; i < exact.size(); ++i) {
                INFO(n.name() << ": seed " << seed << ", trial " << trial << ", sample " << sample << ", output " << i << ", exact "
                              << arith::to_decimal(exact[i], 30) << ", box enclosure [" << e.lower[i] << ", " << e.upper[i] << "]");
                REQUIRE(test::encloses(e.lower[i], e.upper[i], exact[i]));
            }
        }
    }
}

TEST_CASE("fast pair mode encloses the exact difference of two networks", "[fast][pair]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 2);
    for (int trial = 0; trial < 40; ++trial) {
        const net::network n = trial % 2 == 0 ? test::random_mlp(gen, trial % 4 == 1) : test::random_cnn(gen, 2, 6, trial % 4 == 3);
        const net::network q = perturbed(n, gen);
        const auto x = test::random_input(gen, n.input_shape().size());
        const auto in = net::input_from_doubles<arith::rational>(x);
        const auto y = net::forward<arith::rational>(n, in), yq = net::forward<arith::rational>(q, in);
        for (const bool refined : {false, true}) {
            fast::enclosure d;
            try {
                d = refined ? fast::enclose_difference_refined(n, q, x) : fast::enclose_difference(n, q, x);
            } catch (const fast::refinement_not_applicable&) {
                continue;
            }
            for (std::size_t i = 0; i < y.size(); ++i) {
                INFO("seed " << seed << ", trial " << trial << (refined ? " (refined)" : " (a priori)") << ", output " << i
                             << ", exact difference " << arith::to_decimal(yq[i] - y[i], 30) << ", enclosure [" << d.lower[i] << ", "
                             << d.upper[i] << "]");
                REQUIRE(test::encloses(d.lower[i], d.upper[i], yq[i] - y[i]));
            }
        }
        // On a box: every sampled point's difference.
        std::vector<double> lo = x, hi = x;
        for (std::size_t k = 0; k < x.size(); ++k) lo[k] -= 0x1p-6, hi[k] += 0x1p-6;
        const auto bd = fast::enclose_box_difference(n, q, lo, hi);
        std::vector<double> z(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) z[k] = gen.chance(0.5) ? lo[k] : hi[k];
        const auto zin = net::input_from_doubles<arith::rational>(z);
        const auto zy = net::forward<arith::rational>(n, zin), zyq = net::forward<arith::rational>(q, zin);
        for (std::size_t i = 0; i < y.size(); ++i) {
            INFO("seed " << seed << ", trial " << trial << ", box output " << i);
            REQUIRE(test::encloses(bd.lower[i], bd.upper[i], zyq[i] - zy[i]));
        }
    }
}

TEST_CASE("fast point enclosures are tight on benign networks", "[fast][point]") {
    // Not a soundness property: a guard against a bound so loose it is useless.
    testing::operand_generator gen(test::property_seed() + 3);
    const net::network n = test::random_cnn(gen, 3, 9, false);
    std::vector<double> x(n.input_shape().size());
    for (auto& v : x) v = std::ldexp(static_cast<double>(gen.uniform_int(-(1 << 20), 1 << 20)), -20);  // benign: within [-1, 1]
    const auto e = fast::enclose_point(n, x);
    for (std::size_t i = 0; i < e.lower.size(); ++i) CHECK(e.upper[i] - e.lower[i] <= 1e-9 * (1 + std::fabs(e.upper[i])));
    // Refined: a few ulps of the largest output (the internal radius is ~2^-100).
    const auto r = fast::enclose_point_refined(n, x);
    double largest = 1;
    for (double v : r.upper) largest = std::max(largest, std::fabs(v));
    for (std::size_t i = 0; i < r.lower.size(); ++i) {
        INFO("output " << i << ": width / largest = " << (r.upper[i] - r.lower[i]) / largest);
        CHECK(r.upper[i] - r.lower[i] <= 1e-14 * largest);  // a few ulps: the final interval is rounded outward
    }
}

TEST_CASE("refined point enclosures stay informative through a deep residual network", "[fast][point]") {
    // 24 random 3x3 convs: the a-priori bound loses every bit here, the refined one must not.
    net::network n("deep-residual", {8, 8, 8});
    std::size_t x = 0;
    for (int block = 0; block < 12; ++block) {
        std::size_t y = n.activation(n.conv2d(x, 8, {3, 3, 1, 1, 1, 1}), net::op::relu);
        y = n.conv2d(y, 8, {3, 3, 1, 1, 1, 1});
        x = n.activation(n.add(y, x), net::op::relu);
    }
    n.dense(n.global_avg_pool(x), 4);
    net::init_he_normal(n, test::property_seed(), 0.0);
    testing::operand_generator gen(test::property_seed() + 5);
    const auto input = test::random_input(gen, n.input_shape().size());
    const auto exact = net::forward<arith::rational>(n, net::input_from_doubles<arith::rational>(input));
    const auto r = fast::enclose_point_refined(n, input);
    for (std::size_t i = 0; i < exact.size(); ++i) {
        REQUIRE(test::encloses(r.lower[i], r.upper[i], exact[i]));
        CHECK(r.upper[i] - r.lower[i] <= 1e-12 * (1 + std::fabs(r.upper[i])));
    }
}

TEST_CASE("fast plain forward agrees with the generic double forward", "[fast][plain]") {
    testing::operand_generator gen(test::property_seed() + 4);
    for (int trial = 0; trial < 20; ++trial) {
        const net::network n = test::random_cnn(gen, 2, 8, false);
        const auto x = test::random_input(gen, n.input_shape().size());
        const auto a = fast::forward_plain(n, x), b = net::forward<double>(n, x);
        for (std::size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(a[i] - b[i]) <= 1e-9 * (1 + std::fabs(b[i])));
    }
}
