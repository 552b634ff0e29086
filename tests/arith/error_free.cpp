// The error-free transformations (arith/error_free.hpp) are exact where their
// comments say: two_sum's sum + error == a + b and two_prod's product + error
// == a * b, checked with exact rationals on seeded random doubles and on
// hostile ones (huge and tiny exponents, cancellation, subnormals, half-ulp
// ties, overflow and underflow edges).
#include "qbound/arith/error_free.hpp"
#include "qbound/arith/rational.hpp"

#include "property_support.hpp"

#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace qbound;
using arith::rational;
using qbound::test::property_seed;

namespace {

// Below this magnitude two_prod's residual may need bits under 2^-1074.
constexpr double two_prod_floor = 0x1p-968;

// Hostile values: zeros, subnormals, the ends of the normal range, powers of
// two and their neighbours, values with few significant bits (exact ties).
std::vector<double> hostile_values() {
    std::vector<double> v = {0.0,
                             -0.0,
                             std::numeric_limits<double>::denorm_min(),
                             3 * std::numeric_limits<double>::denorm_min(),
                             DBL_MIN,
                             DBL_MIN / 2,
                             std::nextafter(DBL_MIN, 0.0),
                             DBL_MAX,
                             std::nextafter(DBL_MAX, 0.0),
                             0x1p1023,
                             1.0,
                             std::nextafter(1.0, 2.0),
                             std::nextafter(1.0, 0.0),
                             0x1p-53,
                             0x1p-53 + 0x1p-105,
                             0x1p-54,
                             0.1,
                             0.2,
                             0.3,
                             1.0 / 3.0,
                             3.0,
                             0x1.8p0,
                             0x1p-537,
                             0x1.0000000000001p-537,
                             0x1p-484,
                             0x1p-485,
                             0x1p500,
                             0x1.fffffffffffffp511};
    const std::size_t n = v.size();
    for (std::size_t i = 0; i < n; ++i) v.push_back(-v[i]);
    return v;
}

// An operand pair: a related pair (cancelling, ties, huge ratio, overflow-
// or underflow-prone) half of the time, else two independent draws.
std::pair<double, double> draw_pair(testing::operand_generator& gen, std::string& family) {
    if (gen.chance(0.5)) {
        const auto p = gen.pair();
        family = gen.last_family();
        return p;
    }
    const double a = gen.any();
    family = gen.last_family();
    const double b = gen.any();
    family += " / " + gen.last_family();
    return {a, b};
}

// A pair whose product lies near the bottom of two_prod's exact range:
// exponents with ea + eb in [-975, -955] (the residual's lowest bit is then
// near 2^-1074).
std::pair<double, double> draw_low_product(testing::operand_generator& gen) {
    const auto mantissa = [&] { return 1.0 + static_cast<double>(gen.bits() >> 12) * 0x1p-52; };
    const int ea = static_cast<int>(gen.uniform_int(-1000, 30));
    const int eb = static_cast<int>(gen.uniform_int(-975, -955)) - ea;
    const double a = std::ldexp(gen.chance(0.5) ? -mantissa() : mantissa(), ea);
    const double b = std::ldexp(gen.chance(0.5) ? -mantissa() : mantissa(), eb);
    return {a, b};
}

std::string pair_text(double a, double b) { return "a = " + testing::describe(a) + ", b = " + testing::describe(b); }

// "" when two_sum is exact on (a, b) or outside its conditions, else what failed.
std::string two_sum_failure(double a, double b) {
    if (!std::isfinite(a) || !std::isfinite(b)) return "";
    const auto [s, e] = arith::two_sum(a, b);
    if (!std::isfinite(s) || !std::isfinite(e)) return "";  // an overflow: outside the conditions
    if (s != a + b) return pair_text(a, b) + ": sum " + testing::describe(s) + " is not fl(a + b)";
    if (arith::to_rational(s) + arith::to_rational(e) != arith::to_rational(a) + arith::to_rational(b))
        return pair_text(a, b) + ": sum " + testing::describe(s) + " + error " + testing::describe(e) + " != a + b";
    return "";
}

// "" when two_prod is exact on (a, b) or outside its conditions, else what failed.
std::string two_prod_failure(double a, double b) {
    if (!std::isfinite(a) || !std::isfinite(b)) return "";
    const auto [p, e] = arith::two_prod(a, b);
    if (!std::isfinite(p)) return "";  // overflow: outside the conditions
    if (!(a == 0 || b == 0 || std::fabs(p) >= two_prod_floor)) return "";  // the residual may underflow
    if (p != a * b) return pair_text(a, b) + ": product " + testing::describe(p) + " is not fl(a * b)";
    if (arith::to_rational(p) + arith::to_rational(e) != arith::to_rational(a) * arith::to_rational(b))
        return pair_text(a, b) + ": product " + testing::describe(p) + " + error " + testing::describe(e) + " != a * b";
    return "";
}

template <class Failure>
testing::property_result check_random(const std::string& name, const Failure& failure, std::size_t cases, std::uint64_t seed,
                                      bool low_products) {
    auto res = testing::start_result(name, "double", seed);
    testing::operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        std::string family = "products near 2^-968";
        const auto [a, b] = low_products && gen.chance(0.25) ? draw_low_product(gen) : draw_pair(gen, family);
        ++res.cases;
        const std::string f = failure(a, b);
        if (!f.empty() && res.failures++ == 0) res.counterexample = "seed " + std::to_string(seed) + ", case " + std::to_string(i) + " (" + family + "): " + f;
    }
    return res;
}

template <class Failure>
testing::property_result check_hostile(const std::string& name, const Failure& failure) {
    auto res = testing::start_result(name, "double", 0);
    const auto values = hostile_values();
    for (double a : values) {
        for (double b : values) {
            ++res.cases;
            const std::string f = failure(a, b);
            if (!f.empty() && res.failures++ == 0) res.counterexample = f;
        }
    }
    return res;
}

}  // namespace

TEST_CASE("two_sum: sum + error == a + b exactly (random and related pairs)", "[arith][error-free]") {
    QBOUND_REQUIRE_PROPERTY(check_random("two_sum exact", two_sum_failure, test::property_cases(), property_seed(), false));
}

TEST_CASE("two_sum: exact on every pair of hostile values", "[arith][error-free]") {
    QBOUND_REQUIRE_PROPERTY(check_hostile("two_sum exact (hostile)", two_sum_failure));
}

TEST_CASE("two_sum: exact in the cases that need the error term", "[arith][error-free]") {
    // A half-ulp tie rounds to even, cancellation is exact, a tiny addend is lost entirely.
    const auto tie = arith::two_sum(1.0, 0x1p-53);
    CHECK(tie.sum == 1.0);
    CHECK(tie.error == 0x1p-53);
    const auto lost = arith::two_sum(0x1p1000, -0x1p-1074);
    CHECK(lost.sum == 0x1p1000);
    CHECK(lost.error == -0x1p-1074);
    const auto cancel = arith::two_sum(0.1, -0.1);
    CHECK(cancel.sum == 0.0);
    CHECK(cancel.error == 0.0);
    const auto sub = arith::two_sum(DBL_MIN, -std::nextafter(DBL_MIN, 0.0));
    CHECK(sub.sum == std::numeric_limits<double>::denorm_min());
    CHECK(sub.error == 0.0);
    // Overflow is outside the conditions and shows as a non-finite term.
    const auto over = arith::two_sum(DBL_MAX, DBL_MAX);
    CHECK_FALSE((std::isfinite(over.sum) && std::isfinite(over.error)));
}

TEST_CASE("two_prod: product + error == a * b exactly when |product| >= 2^-968", "[arith][error-free]") {
    QBOUND_REQUIRE_PROPERTY(check_random("two_prod exact", two_prod_failure, test::property_cases(), property_seed() + 1, true));
}

TEST_CASE("two_prod: exact on every pair of hostile values within its conditions", "[arith][error-free]") {
    QBOUND_REQUIRE_PROPERTY(check_hostile("two_prod exact (hostile)", two_prod_failure));
}

TEST_CASE("two_prod: the lower limit is needed", "[arith][error-free]") {
    // (1 + 2^-52)^2 2^-1074: the residual (2^-51 + 2^-104) 2^-1074 is below
    // the subnormal step, so fma rounds it and the identity fails.
    const double a = 0x1.0000000000001p-537;
    const auto [p, e] = arith::two_prod(a, a);
    CHECK(std::fabs(p) < two_prod_floor);
    CHECK(arith::to_rational(p) + arith::to_rational(e) != arith::to_rational(a) * arith::to_rational(a));
    // Just inside the limit the same mantissas are exact.
    const double b = 0x1.0000000000001p-484;
    const auto [pb, eb] = arith::two_prod(b, b);
    REQUIRE(std::fabs(pb) >= two_prod_floor);
    CHECK(eb != 0);
    CHECK(arith::to_rational(pb) + arith::to_rational(eb) == arith::to_rational(b) * arith::to_rational(b));
}
