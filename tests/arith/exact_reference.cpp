// The references themselves: exact_dot against a plain rational sum, and
// nearest_double against MPFR-free reasoning (round trips and ties).
#include "property_support.hpp"

#include <cmath>
#include <limits>

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_seed;

TEST_CASE("exact_dot equals the rational sum of products", "[arith][reference]") {
    operand_generator gen(property_seed());
    for (int i = 0; i < 3000; ++i) {
        auto [a, b] = gen.dot_vectors(64);
        // Add full-range and subnormal entries, the hard part of the fixed point.
        for (std::size_t k = 0; k < a.size(); k += 3) {
            a[k] = gen.chance(0.5) ? gen.full_range() : gen.subnormal();
            b[k] = gen.chance(0.5) ? gen.full_range() : gen.special();
        }
        rational expected = 0;
        for (std::size_t k = 0; k < a.size(); ++k) expected += to_rational(a[k]) * to_rational(b[k]);
        INFO("seed " << property_seed() << ", case " << i);
        REQUIRE(exact_dot(a, b) == expected);
    }
    CHECK(exact_dot(std::vector<double>{}, std::vector<double>{}) == 0);
}

TEST_CASE("nearest_double rounds to nearest, ties to even, with subnormals", "[arith][reference]") {
    operand_generator gen(property_seed());
    for (int i = 0; i < 20000; ++i) {
        const double x = gen.any();
        REQUIRE(nearest_double(to_rational(x)) == x);
        const double next = std::nextafter(x, INFINITY);
        if (std::isinf(next)) continue;
        const rational mid = (to_rational(x) + to_rational(next)) / 2;
        const double tie = nearest_double(mid);
        // The tie goes to whichever neighbour has an even last bit.
        const double even = (std::fabs(x) == 0 || (std::bit_cast<std::uint64_t>(x) & 1) == 0) ? x : next;
        INFO("x = " << describe(x));
        REQUIRE(tie == even);
    }
    CHECK(nearest_double(to_rational(std::numeric_limits<double>::max()) * 2) == INFINITY);
    CHECK(nearest_double(to_rational(std::numeric_limits<double>::denorm_min()) / 4) == 0.0);
}
