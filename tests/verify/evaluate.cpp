// qbound eval's library side: the interval path encloses the exact rational
// outputs at random rational points (not doubles) of random networks, and
// the difference enclosure contains the exact difference.
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/verify/evaluate.hpp"

#include "property_support.hpp"

#include <random>

using namespace qbound;

TEST_CASE("evaluate_point: interval enclosures contain the exact outputs and difference at rational points", "[verify][eval][property]") {
    const std::uint64_t seed = test::property_seed();
    std::mt19937_64 rng(seed);
    for (std::size_t c = 0; c < 30; ++c) {
        net::network a = net::make_mlp({3, 6, 6, 2}), b = net::make_mlp({3, 6, 6, 2});
        net::init_he_normal(a, rng(), 0.1);
        net::init_he_normal(b, rng(), 0.1);
        std::vector<arith::rational> x;
        for (int i = 0; i < 3; ++i) x.push_back(arith::rational(static_cast<long>(rng() % 2001) - 1000) / arith::rational(3 * 7 * 11));
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        const auto ea = verify::evaluate_point(a, x, /*exact_limit=*/0), eb = verify::evaluate_point(b, x, 0);
        REQUIRE(ea.arithmetic == "interval double");
        REQUIRE_FALSE(ea.point_is_double);
        const auto exact_a = net::forward<arith::rational>(a, x), exact_b = net::forward<arith::rational>(b, x);
        const auto d = verify::enclose_difference(ea, eb);
        for (std::size_t k = 0; k < 2; ++k) {
            REQUIRE(ea.lower[k] <= exact_a[k]);
            REQUIRE(exact_a[k] <= ea.upper[k]);
            REQUIRE(d.lower[k] <= exact_b[k] - exact_a[k]);
            REQUIRE(exact_b[k] - exact_a[k] <= d.upper[k]);
        }
        const auto exact = verify::evaluate_point(a, x);
        REQUIRE(exact.arithmetic == "exact rational");
        REQUIRE(exact.lower == exact_a);
    }
    // An exact identity layer: no rounding slack, so the enclosure must come from x's own interval.
    net::network id = net::make_mlp({1, 1});
    id.set_weights(1, {1.0});
    const auto third = verify::evaluate_point(id, {arith::rational(1) / 3}, 0);
    REQUIRE(third.lower[0] < arith::rational(1) / 3);
    REQUIRE(arith::rational(1) / 3 < third.upper[0]);
    const net::network a = net::make_mlp({3, 2});
    REQUIRE_THROWS_WITH(verify::evaluate_point(a, {1, 2}), Catch::Matchers::Contains("the point has 2 coordinates"));
}
