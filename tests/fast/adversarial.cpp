// Hostile dot products through the fast path's dense and conv kernels, with
// exact rationals as the reference: huge dynamic range within one dot
// product, cancellation, long dot products (n = 10^5), subnormal
// activations, and overflow (which must give an infinite bound or an error,
// never a wrong finite enclosure).
#include "fast_support.hpp"

#include "qbound/net/forward.hpp"

#include "property_support.hpp"

#include <cfloat>
#include <limits>

using namespace qbound;

namespace {

// One dense layer y = a . x + b (one output), optionally followed by ReLU.
net::network dot_layer(const std::vector<double>& a, double bias, bool relu) {
    net::network n("dot", {a.size(), 1, 1});
    std::size_t x = n.dense(0, 1);
    n.set_weights(x, a);
    n.set_bias(x, {bias});
    if (relu) n.activation(x, net::op::relu);
    return n;
}

// The same dot product as a 1x1 convolution over a row of pixels: one
// output channel, a.size() input channels, one pixel.
net::network dot_conv(const std::vector<double>& a, double bias) {
    net::network n("dot-conv", {a.size(), 1, 1});
    std::size_t x = n.conv2d(0, 1, {1, 1, 1, 0, 1, 1});
    n.set_weights(x, a);
    n.set_bias(x, {bias});
    return n;
}

arith::rational exact_dot(const std::vector<double>& a, const std::vector<double>& x, double bias) {
    arith::rational s = arith::to_rational(bias);
    for (std::size_t k = 0; k < a.size(); ++k) s += arith::to_rational(a[k]) * arith::to_rational(x[k]);
    return s;
}

void require_dot_enclosed(const std::vector<double>& a, const std::vector<double>& x, double bias, const std::string& family,
                          std::uint64_t seed, int trial) {
    const arith::rational exact = exact_dot(a, x, bias);
    for (const net::network& n : {dot_layer(a, bias, false), dot_conv(a, bias)}) {
        for (const bool refined : {false, true}) {
            fast::enclosure e;
            try {
                e = refined ? fast::enclose_point_refined(n, x) : fast::enclose_point(n, x);
            } catch (const std::exception&) {
                continue;  // an error is allowed (never a wrong enclosure)
            }
            INFO(n.name() << (refined ? " (refined)" : " (a priori)") << ", family " << family << ", n = " << a.size() << ", seed " << seed << " (replay: QBOUND_SEED=" << seed
                          << "), trial " << trial << ", exact " << arith::to_decimal(exact, 30) << ", enclosure [" << e.lower[0] << ", "
                          << e.upper[0] << "]");
            REQUIRE(test::encloses(e.lower[0], e.upper[0], exact));
        }
    }
}

}  // namespace

TEST_CASE("fast: hostile dot products (operand_generator::dot_vectors) are enclosed", "[fast][adversarial]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    for (int trial = 0; trial < 1500; ++trial) {
        auto [a, x] = gen.dot_vectors(300);
        const double bias = gen.chance(0.5) ? 0.0 : gen.any();
        require_dot_enclosed(a, x, bias, gen.last_family(), seed, trial);
    }
}

TEST_CASE("fast: huge dynamic range and exact cancellation within one dot product", "[fast][adversarial]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 1);
    for (int trial = 0; trial < 300; ++trial) {
        const std::size_t n = static_cast<std::size_t>(gen.uniform_int(2, 64));
        std::vector<double> a(n), x(n);
        for (std::size_t k = 0; k < n; ++k) {
            a[k] = std::ldexp(gen.few_bits() + 1, static_cast<int>(gen.uniform_int(-500, 500)));
            x[k] = std::ldexp(static_cast<double>(gen.uniform_int(1, 1 << 20)), static_cast<int>(gen.uniform_int(-500, 480)));
        }
        // Half cancels the other half exactly, plus a tiny remainder.
        for (std::size_t k = 0; k + 1 < n; k += 2) a[k + 1] = -a[k], x[k + 1] = x[k];
        a[0] = std::nextafter(a[0], 0.0);
        require_dot_enclosed(a, x, gen.chance(0.3) ? 1e-300 : 0.0, "cancel-range", seed, trial);
    }
}

TEST_CASE("fast: long dot products (n = 10^5)", "[fast][adversarial]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 2);
    for (int trial = 0; trial < 3; ++trial) {
        const std::size_t n = 100000;
        std::vector<double> a(n), x(n);
        for (std::size_t k = 0; k < n; ++k) {
            // Sign-aligned (errors accumulate) on the first trial, mixed after.
            a[k] = 0.1 * (1 + static_cast<double>(gen.uniform_int(0, 1 << 20)) * 0x1p-20) * (trial == 0 || gen.chance(0.5) ? 1 : -1);
            x[k] = 1.0 / 3.0 * (1 + static_cast<double>(gen.uniform_int(0, 1 << 20)) * 0x1p-20);
        }
        require_dot_enclosed(a, x, 0.0, "long", seed, trial);
    }
}

TEST_CASE("fast: subnormal activations and products", "[fast][adversarial]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 3);
    for (int trial = 0; trial < 300; ++trial) {
        const std::size_t n = static_cast<std::size_t>(gen.uniform_int(1, 200));
        std::vector<double> a(n), x(n);
        for (std::size_t k = 0; k < n; ++k) {
            x[k] = gen.chance(0.7) ? gen.subnormal() : std::ldexp(gen.few_bits(), -1000);
            a[k] = std::ldexp(1.0 + static_cast<double>(gen.uniform_int(0, 1 << 30)) * 0x1p-30, static_cast<int>(gen.uniform_int(-60, 2))) *
                   (gen.chance(0.5) ? 1 : -1);
        }
        require_dot_enclosed(a, x, gen.chance(0.2) ? gen.subnormal() : 0.0, "subnormal", seed, trial);
    }
    // Every product rounds by half a subnormal step (3/16 * 8 eta = 1.5 eta
    // -> 2 eta, ties to even) while |a| z = 3/16 * 2 eta rounds to 0: only the
    // underflow term 2 K eta of the bound covers the n eta / 2 of error.
    for (const std::size_t n : {std::size_t{7}, std::size_t{1000}}) {
        const std::vector<double> a(n, 0.1875), x(n, 8 * std::numeric_limits<double>::denorm_min());
        require_dot_enclosed(a, x, 0.0, "subnormal-ties", seed, static_cast<int>(n));
    }
    // Through a whole CNN: an input entirely in the subnormal range.
    testing::operand_generator net_gen(seed + 4);
    for (int trial = 0; trial < 20; ++trial) {
        const net::network cnn = test::random_cnn(net_gen, 2, 6, trial % 2 == 1);
        std::vector<double> x(cnn.input_shape().size());
        for (auto& v : x) v = net_gen.subnormal();
        const auto exact = net::forward<arith::rational>(cnn, net::input_from_doubles<arith::rational>(x));
        const auto e = fast::enclose_point(cnn, x);
        for (std::size_t i = 0; i < exact.size(); ++i) {
            INFO("subnormal input, seed " << seed << ", trial " << trial << ", output " << i);
            REQUIRE(test::encloses(e.lower[i], e.upper[i], exact[i]));
        }
        try {
            const auto r = fast::enclose_point_refined(cnn, x);
            for (std::size_t i = 0; i < exact.size(); ++i) {
                INFO("subnormal input (refined), seed " << seed << ", trial " << trial << ", output " << i);
                REQUIRE(test::encloses(r.lower[i], r.upper[i], exact[i]));
            }
        } catch (const fast::refinement_not_applicable&) {
        }
    }
}

TEST_CASE("fast: overflow gives an infinite bound, never a wrong finite enclosure", "[fast][adversarial]") {
    const double big = 0x1p1000;
    // Products overflow; the exact sum is finite (cancelling) or not.
    for (const auto& [a, x] : std::vector<std::pair<std::vector<double>, std::vector<double>>>{
             {{big, -big}, {big, big}},          // exact 0, intermediate overflow
             {{big, big}, {big, big}},           // exact 2^2001
             {{DBL_MAX, DBL_MAX}, {1.0, 1.0}},   // sum overflows
             {{DBL_MAX, -DBL_MAX}, {1.0, 1.0}},  // exact 0, no overflow
             {{0x1p1023, 1.0}, {1.5, 0.0}}}) {
        const arith::rational exact = exact_dot(a, x, 0.0);
        for (const net::network& n : {dot_layer(a, 0.0, true), dot_layer(a, 0.0, false), dot_conv(a, 0.0)}) {
            for (const bool refined : {false, true}) {
                fast::enclosure e;
                try {
                    e = refined ? fast::enclose_point_refined(n, x) : fast::enclose_point(n, x);
                } catch (const fast::refinement_not_applicable&) {
                    continue;
                }
                const arith::rational value = n.nodes().back().kind == net::op::relu ? arith::max(exact, arith::rational(0)) : exact;
                INFO(n.name() << " exact " << arith::to_decimal(value, 20) << " enclosure [" << e.lower[0] << ", " << e.upper[0] << "]");
                REQUIRE(test::encloses(e.lower[0], e.upper[0], value));
            }
        }
    }
    // Overflow deep in a CNN: huge weights; every output enclosed or infinite.
    testing::operand_generator gen(test::property_seed() + 5);
    for (int trial = 0; trial < 10; ++trial) {
        net::network cnn = test::random_cnn(gen, 2, 6, false);
        for (std::size_t i : cnn.affine_nodes())
            for (double& w : cnn.weights(i)) w = std::ldexp(w, 400);
        const auto x = test::random_input(gen, cnn.input_shape().size());
        const auto exact = net::forward<arith::rational>(cnn, net::input_from_doubles<arith::rational>(x));
        for (const bool refined : {false, true}) {
            fast::enclosure e;
            try {
                e = refined ? fast::enclose_point_refined(cnn, x) : fast::enclose_point(cnn, x);
            } catch (const fast::refinement_not_applicable&) {
                continue;
            }
            for (std::size_t i = 0; i < exact.size(); ++i) {
                INFO("overflowing CNN, trial " << trial << (refined ? " (refined)" : "") << ", output " << i);
                REQUIRE(test::encloses(e.lower[i], e.upper[i], exact[i]));
            }
        }
    }
}

TEST_CASE("fast: gamma_n is an upper bound on n u / (1 - n u) and refuses absurd lengths", "[fast][adversarial]") {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{1000}, std::size_t{100000}, std::size_t{1} << 40}) {
        const arith::rational nu = arith::rational(static_cast<unsigned long long>(n)) * arith::to_rational(0x1p-52);
        const arith::rational gamma = nu / (arith::rational(1) - nu);
        REQUIRE(arith::to_rational(fast::gamma_bound(n)) >= gamma);
    }
    REQUIRE_THROWS(fast::gamma_bound(std::size_t{1} << 51));
}
