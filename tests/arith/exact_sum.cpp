// exact_abs_sum and exact_max_abs_difference equal their rational
// definitions exactly, on random and hostile doubles (full exponent range,
// subnormals, signed zeros, ties of the rounded difference, huge + tiny).
#include "qbound/core/errors.hpp"
#include "qbound/arith/exact_sum.hpp"
#include "qbound/arith/scalar.hpp"

#include "property_support.hpp"

#include <cmath>
#include <limits>

using namespace qbound;
using arith::rational;

namespace {

std::vector<double> draw_vector(testing::operand_generator& gen, std::string& family) {
    const auto n = static_cast<std::size_t>(gen.uniform_int(0, 40));
    std::vector<double> v(n);
    const auto kind = gen.uniform_int(0, 3);
    family = kind == 0 ? "any" : kind == 1 ? "full range" : kind == 2 ? "subnormal and signed zero" : "huge and tiny";
    for (auto& x : v) {
        switch (kind) {
        case 0: x = gen.any(); break;
        case 1: x = gen.full_range(); break;
        case 2: x = gen.chance(0.3) ? (gen.chance(0.5) ? -0.0 : 0.0) : gen.subnormal(); break;
        default: x = gen.chance(0.5) ? std::ldexp(gen.few_bits(), 1000) : std::ldexp(gen.few_bits(), -1070); break;
        }
        if (!std::isfinite(x)) x = 1.5;
    }
    return v;
}

testing::property_result check_abs_sum(std::size_t cases, std::uint64_t seed, bool weakened) {
    auto res = testing::start_result(weakened ? "abs sum == sum in double" : "exact_abs_sum == sum |x_i|", "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        std::string family;
        const auto v = draw_vector(gen, family);
        rational expected = 0;
        for (double x : v) expected += arith::abs(arith::to_rational(x));
        rational got;
        if (weakened) {
            double s = 0;
            for (double x : v) s += std::fabs(x);
            got = std::isfinite(s) ? arith::to_rational(s) : rational(-1);
        } else {
            got = arith::exact_abs_sum(v);
        }
        ++res.cases;
        if (got != expected && res.failures++ == 0)
            res.counterexample = family + ", n = " + std::to_string(v.size()) + ", expected " + arith::to_decimal(expected, 30);
    }
    return res;
}

testing::property_result check_max_difference(std::size_t cases, std::uint64_t seed, bool weakened) {
    auto res = testing::start_result(weakened ? "max |fl(a - b)|" : "exact_max_abs_difference == max |a_i - b_i|", "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        std::string family;
        auto a = draw_vector(gen, family);
        std::vector<double> b(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            // b near a (ties of the rounded difference are common), or anything.
            const auto k = gen.uniform_int(0, 3);
            b[i] = k == 0 ? a[i] : k == 1 ? std::nextafter(a[i], 2 * a[i] + 1) : k == 2 ? a[i] + gen.few_bits() * 0x1p-60 : gen.any();
            if (!std::isfinite(b[i])) b[i] = 0;
            if (!std::isfinite(a[i] - b[i])) b[i] = a[i];  // keep most cases off the overflow path
        }
        if (gen.chance(0.05) && !a.empty()) a[0] = std::numeric_limits<double>::max(), b[0] = -std::numeric_limits<double>::max();
        rational expected = 0;
        for (std::size_t i = 0; i < a.size(); ++i)
            expected = arith::max(expected, arith::abs(arith::to_rational(a[i]) - arith::to_rational(b[i])));
        rational got = 0;
        if (weakened) {
            double m = 0;
            for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
            got = std::isfinite(m) ? arith::to_rational(m) : rational(-1);
        } else {
            got = arith::exact_max_abs_difference(a, b);
        }
        ++res.cases;
        if (got != expected && res.failures++ == 0)
            res.counterexample = family + ", n = " + std::to_string(a.size()) + ", expected " + arith::to_decimal(expected, 30);
    }
    return res;
}

}  // namespace

TEST_CASE("exact_abs_sum is exact", "[arith][exact_sum]") {
    QBOUND_REQUIRE_PROPERTY(check_abs_sum(test::property_cases(20000), test::property_seed(), false));
    // Negative control: summing in double is refuted.
    QBOUND_REQUIRE_REFUTED(check_abs_sum(test::property_cases(20000), test::property_seed(), true));
}

TEST_CASE("exact_max_abs_difference is exact", "[arith][exact_sum]") {
    QBOUND_REQUIRE_PROPERTY(check_max_difference(test::property_cases(20000), test::property_seed(), false));
    QBOUND_REQUIRE_REFUTED(check_max_difference(test::property_cases(20000), test::property_seed(), true));
}

TEST_CASE("exact sums: tight cases and bad input", "[arith][exact_sum]") {
    const double tiny = std::numeric_limits<double>::denorm_min(), big = std::numeric_limits<double>::max();
    std::vector<double> v{big, tiny, -big, -tiny};
    CHECK(arith::exact_abs_sum(v) == 2 * arith::to_rational(big) + 2 * arith::to_rational(tiny));
    // Ties of fl(a - b): 1 - (-2^-53) and 1 - (-2^-54) both round to 1 (or 1 + ulp).
    std::vector<double> a{1.0, 1.0}, b{-0x1p-54, -0x1p-53};
    CHECK(arith::exact_max_abs_difference(a, b) == 1 + rational(1) / rational(boost::multiprecision::pow(arith::integer(2), 53)));
    std::vector<double> bad{1.0, std::numeric_limits<double>::quiet_NaN()};
    CHECK_THROWS_WITH(arith::exact_abs_sum(bad, "weight"), Catch::Contains("weight 1 is not finite"));
    CHECK_THROWS_AS(arith::exact_max_abs_difference(a, std::vector<double>{1.0}), core::invalid_argument);
}
