// The grid arithmetic behind every quantizer: exact splitting of w / eta,
// the tie rule, the bit-width mapping (exact, minimal, never needing a
// clamp) and the snapping of explicit steps.
#include "qbound/core/errors.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/quant/grid.hpp"

#include "property_support.hpp"

#include <cfloat>
#include <cmath>
#include <limits>

using namespace qbound;
using arith::rational;
using Catch::Matchers::Contains;

namespace {

// The largest double below x (> 0) with at most `bits` significant bits.
rational previous_with_bits(double x, int bits) {
    int e = 0;
    std::frexp(x, &e);  // x in [2^(e-1), 2^e)
    const bool power_of_two = std::ldexp(1.0, e - 1) == x;
    const int binade = power_of_two ? e - 2 : e - 1;  // exponent of the predecessor's leading bit
    const int spacing = std::max(binade - bits + 1, -1074);
    return arith::to_rational(x) - arith::to_rational(std::ldexp(1.0, spacing));
}

bool is_double(const rational& q) { return arith::to_rational(arith::nearest_double(q)) == q; }

}  // namespace

TEST_CASE("divide splits w / eta exactly; nearest ties go to the even code", "[quant][grid]") {
    struct example {
        double w, eta;
        long floor, ceil, nearest;
    };
    const example examples[] = {
        {7, 2, 3, 4, 4},    {-7, 2, -4, -3, -4}, {5, 2, 2, 3, 2},    {-5, 2, -3, -2, -2}, {1, 2, 0, 1, 0},
        {-1, 2, -1, 0, 0},  {3, 2, 1, 2, 2},     {6, 2, 3, 3, 3},    {0.0, 1, 0, 0, 0},   {-0.0, 1, 0, 0, 0},
        {0.3, 0.1, 2, 3, 3},  // 0.3 / 0.1 is 2.9999999999999998889... exactly
    };
    for (const auto& x : examples) {
        INFO("w = " << x.w << ", eta = " << x.eta);
        const auto q = quant::divide(x.w, x.eta);
        CHECK(q.floor == x.floor);
        CHECK(q.ceil() == x.ceil);
        CHECK(q.nearest() == x.nearest);
        CHECK(q.remainder >= 0);
        CHECK(q.remainder < q.denominator);
        CHECK(rational(q.floor) + rational(q.remainder) / rational(q.denominator) ==
              arith::to_rational(x.w) / arith::to_rational(x.eta));
    }
    // Extreme ratios stay exact: a subnormal over a huge step, and back.
    const auto tiny = quant::divide(std::numeric_limits<double>::denorm_min(), 0x1p1000);
    CHECK(tiny.floor == 0);
    CHECK(tiny.fraction() == 0.0);  // 2^-2074 underflows as a double, but the split is exact
    CHECK_FALSE(tiny.on_grid());
    CHECK(quant::divide(0x1p1000, 0x1p990).floor == 1024);
}

TEST_CASE("bit widths map to steps with exact products, eta >= max|w| / q_max, and minimal", "[quant][grid]") {
    CHECK(quant::max_code_for_bits(1) == 1);
    CHECK(quant::max_code_for_bits(2) == 1);
    CHECK(quant::max_code_for_bits(8) == 127);
    CHECK(quant::max_code_for_bits(32) == 2147483647);
    CHECK(quant::step_for_bits(0, 8) == 1.0);  // all-zero tensor
    CHECK(quant::step_for_bits(1.0, 1) == 1.0);
    CHECK(quant::step_for_bits(127.0, 8) == 1.0);
    CHECK(quant::step_for_bits(0.5, 2) == 0.5);

    testing::operand_generator gen(qbound::test::property_seed());
    const std::size_t cases = qbound::test::property_cases(20000);
    std::size_t rounded = 0;
    for (std::size_t i = 0; i < cases; ++i) {
        const auto bits = static_cast<unsigned>(gen.uniform_int(1, 32));
        double max_abs = std::fabs(gen.any());
        if (!std::isfinite(max_abs) || max_abs > 1e300) max_abs = 1e300;
        INFO("case " << i << ": bits " << bits << ", max|w| = " << testing::describe(max_abs));
        const double eta = quant::step_for_bits(max_abs, bits);
        if (max_abs == 0) {
            CHECK(eta == 1.0);
            continue;
        }
        const std::int64_t q_max = quant::max_code_for_bits(bits);
        const int allowed = 53 - quant::bit_length(arith::integer(q_max));
        const rational target = arith::to_rational(max_abs) / q_max;
        REQUIRE(arith::to_rational(eta) >= target);                // codes never exceed q_max: no clamping
        REQUIRE(quant::significant_bits(eta) <= allowed);
        REQUIRE(previous_with_bits(eta, allowed) < target);        // the smallest such step
        REQUIRE(quant::products_exact(eta, arith::integer(q_max)));
        REQUIRE(is_double(rational(q_max) * arith::to_rational(eta)));
        REQUIRE(is_double(rational(q_max - 1) * arith::to_rational(eta)));
        if (arith::to_rational(eta) != target) ++rounded;
    }
    CHECK(rounded > cases / 2);  // the rounding up is really exercised
}

TEST_CASE("explicit steps are kept when exact and snapped upward otherwise", "[quant][grid]") {
    auto kept = quant::step_for_explicit(1.0, 0.125);
    CHECK(kept.eta == 0.125);
    CHECK_FALSE(kept.snapped);
    // 0.1 has 52 significant bits; codes up to ceil(1 / 0.1) = 10 (4 bits) allow 49.
    auto snapped = quant::step_for_explicit(1.0, 0.1);
    CHECK(snapped.snapped);
    CHECK(snapped.eta > 0.1);
    CHECK(quant::significant_bits(snapped.eta) <= 49);
    for (int k = -10; k <= 10; ++k) CHECK(is_double(rational(k) * arith::to_rational(snapped.eta)));
    // A many-bit step that happens to be exact for small codes is kept.
    auto small_codes = quant::step_for_explicit(0.1, 0.1);  // codes up to 1
    CHECK_FALSE(small_codes.snapped);
    CHECK(quant::step_for_explicit(0.0, 0.1).eta == 0.1);  // zero tensor: as given
    // Subnormal steps.
    auto sub = quant::step_for_explicit(1e-310, 3 * std::numeric_limits<double>::denorm_min());
    CHECK(quant::products_exact(sub.eta, quant::divide(1e-310, sub.eta).ceil()));
}

TEST_CASE("bad steps and bit widths are refused with clear messages", "[quant][grid]") {
    CHECK_THROWS_WITH(quant::max_code_for_bits(0), Contains("--bits 0 is outside 1..32"));
    CHECK_THROWS_WITH(quant::max_code_for_bits(33), Contains("--bits 33 is outside 1..32"));
    CHECK_THROWS_WITH(quant::divide(1, 0), Contains("eta must be positive and finite"));
    CHECK_THROWS_WITH(quant::divide(1, -0.5), Contains("eta must be positive and finite"));
    CHECK_THROWS_WITH(quant::divide(1, std::numeric_limits<double>::quiet_NaN()), Contains("eta must be positive and finite"));
    CHECK_THROWS_WITH(quant::divide(std::numeric_limits<double>::infinity(), 1), Contains("not finite"));
    CHECK_THROWS_WITH(quant::step_for_explicit(1.0, 1e-300), Contains("too small"));
    CHECK_THROWS_WITH(quant::step_for_bits(DBL_MAX, 1), Contains("overflows"));
    CHECK_THROWS_WITH(quant::step_for_bits(DBL_MAX, 8), Contains("double range"));
    CHECK_THROWS_AS(quant::max_code_for_bits(0), std::invalid_argument);
    // grid_point is the last line of defence: an inexact product is a bug.
    CHECK(quant::grid_point(3, 0.125) == 0.375);
    CHECK_THROWS_AS(quant::grid_point(3, 0.1), std::logic_error);
}

TEST_CASE("float32 grids: every k * eta is a float, eta is the smallest such step, explicit steps snap to float", "[quant][grid][float32]") {
    const auto is_float = [](const rational& q) {
        const double d = arith::nearest_double(q);
        return arith::to_rational(d) == q && static_cast<double>(static_cast<float>(d)) == d;
    };
    testing::operand_generator gen(qbound::test::property_seed());
    const std::size_t cases = qbound::test::property_cases(20000);
    std::size_t rounded = 0;
    for (std::size_t i = 0; i < cases; ++i) {
        const auto bits = static_cast<unsigned>(gen.uniform_int(1, 23));
        // Weights a float32 model holds: well inside float's normal range (random and adversarial mantissas).
        const double max_abs = std::ldexp(gen.chance(0.3) ? 1.0 - std::ldexp(1.0, -static_cast<int>(gen.uniform_int(1, 53))) : static_cast<double>(gen.bits() >> 11) * 0x1p-53,
                                          static_cast<int>(gen.uniform_int(-60, 60)));
        if (!(max_abs > 0)) continue;
        INFO("case " << i << ": bits " << bits << ", max|w| = " << testing::describe(max_abs));
        const double eta = quant::step_for_bits(max_abs, bits, 24);
        const std::int64_t q_max = quant::max_code_for_bits(bits);
        const int allowed = 24 - quant::bit_length(arith::integer(q_max));
        const rational target = arith::to_rational(max_abs) / q_max;
        REQUIRE(arith::to_rational(eta) >= target);
        REQUIRE(quant::significant_bits(eta) <= allowed);
        REQUIRE(previous_with_bits(eta, allowed) < target);  // the smallest such step
        for (std::int64_t k : {q_max, q_max - 1, -q_max, std::int64_t{1}, q_max / 2 + 1}) REQUIRE(is_float(rational(k) * arith::to_rational(eta)));
        if (arith::to_rational(eta) != target) ++rounded;

        const double explicit_eta = max_abs / static_cast<double>(gen.uniform_int(1, 3000));
        const auto e = quant::step_for_explicit(max_abs, explicit_eta, 24);
        const arith::integer K = quant::divide(max_abs, e.eta).ceil();
        REQUIRE(e.eta >= explicit_eta);
        REQUIRE(quant::significant_bits(e.eta) + quant::bit_length(K) <= 24);
        REQUIRE(is_float(arith::to_rational(e.eta) * rational(K)));
        REQUIRE(e.snapped == (e.eta != explicit_eta));
    }
    CHECK(rounded > cases / 2);
    // A double grid (53 bits) is not a float grid: the 24-bit rule is what makes the difference.
    CHECK_FALSE(is_float(rational(127) * arith::to_rational(quant::step_for_bits(0.1, 8))));
    CHECK(is_float(rational(127) * arith::to_rational(quant::step_for_bits(0.1, 8, 24))));
    CHECK_THROWS_WITH(quant::step_for_bits(1.0, 25, 24), Contains("leave no significant bits for the step in a 24-bit significand"));
}

TEST_CASE("round_codes_fast decides floor, ceiling and nearest exactly as divide does, or declines", "[quant][grid][fast]") {
    testing::operand_generator gen(qbound::test::property_seed());
    const std::size_t cases = qbound::test::property_cases(200000);
    std::size_t decided = 0, ties = 0, on_grid = 0;
    for (std::size_t i = 0; i < cases; ++i) {
        double eta = std::fabs(gen.any());
        if (!(eta > 0) || !std::isfinite(eta)) eta = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-1074, 1000)));
        double w = 0;
        const auto family = gen.uniform_int(0, 4);
        const auto k = static_cast<double>(gen.uniform_int(-(std::int64_t{1} << 20), std::int64_t{1} << 20));
        if (family == 0) w = gen.any();                                    // anything
        else if (family == 1) w = k * eta;                                 // on the grid (when exact)
        else if (family == 2) w = (k + 0.5) * eta;                         // a tie (when exact)
        else if (family == 3) w = std::nextafter(k * eta, gen.chance(0.5) ? INFINITY : -INFINITY);  // next to a grid point
        else w = eta * (k + static_cast<double>(gen.bits() >> 11) * 0x1p-53);
        if (!std::isfinite(w)) continue;
        INFO("case " << i << ": w = " << testing::describe(w) << ", eta = " << testing::describe(eta));
        quant::rounded_codes fast;
        if (!quant::round_codes_fast(w, eta, fast)) {
            REQUIRE((std::fabs(w / eta) >= 0x1p51 || std::fabs(w) >= 0x1p1022 || !std::isfinite(w / eta)));
            continue;
        }
        ++decided;
        const quant::exact_quotient q = quant::divide(w, eta);
        REQUIRE(fast.floor == quant::to_code(q.floor));
        REQUIRE(fast.ceil == quant::to_code(q.ceil()));
        REQUIRE(fast.nearest == quant::to_code(q.nearest()));
        on_grid += q.on_grid();
        ties += !q.on_grid() && 2 * q.remainder == q.denominator;
    }
    CHECK(decided > cases / 2);
    CHECK(ties > cases / 40);      // the tie rule is exercised
    CHECK(on_grid > cases / 20);
}

TEST_CASE("grid_point_fast returns exact products or declines", "[quant][grid][fast]") {
    testing::operand_generator gen(qbound::test::property_seed());
    const std::size_t cases = qbound::test::property_cases(100000);
    std::size_t decided = 0;
    for (std::size_t i = 0; i < cases; ++i) {
        const auto code = gen.uniform_int(-(std::int64_t{1} << 30), std::int64_t{1} << 30);
        double eta = std::fabs(gen.any());
        if (!(eta > 0) || !std::isfinite(eta)) eta = 0x1p-1074;
        if (gen.chance(0.5) && eta < 1e300) eta = quant::round_up_to_significant_bits(arith::to_rational(eta), 20);  // a grid step
        double p = 0;
        INFO("case " << i << ": code " << code << ", eta = " << testing::describe(eta));
        if (!quant::grid_point_fast(code, eta, p)) continue;
        ++decided;
        REQUIRE(arith::to_rational(p) == rational(code) * arith::to_rational(eta));
    }
    CHECK(decided > cases / 4);
}
