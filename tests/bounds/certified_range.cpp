// certified_range (bounds/certified_range.hpp): on random formulas over
// random and adversarial non-negative operands (zero, tiny 2^-3000, huge
// 2^3000, non-dyadic p/q, equal operands, wide ranges, precisions from 2 to
// 200 bits), every node's range brackets the exact rational value:
// lo <= exact <= hi. Negative controls: a division by the wrong end of the
// divisor, and a lower end rounded to nearest instead of down, are refuted by
// the same checker. Also: preconditions (negative values, divisors whose lower
// end is 0) throw, and point operands at >= 64 bits give tight ranges.
#include "qbound/bounds/certified_range.hpp"

#include "property_support.hpp"

#include <functional>

using namespace qbound;
using arith::rational;
using bounds::certified_range;

namespace {

rational pow2(long e) {
    const arith::integer one = 1;
    return e >= 0 ? rational(arith::integer(one << static_cast<unsigned>(e))) : rational(1) / rational(arith::integer(one << static_cast<unsigned>(-e)));
}

rational power(const rational& x, unsigned long n) {
    rational acc = 1;
    for (unsigned long i = 0; i < n; ++i) acc *= x;
    return acc;
}

long draw_precision(testing::operand_generator& gen) {
    static const long common[] = {2, 3, 5, 8, 24, 53, 64, 113, 128, 200};
    return common[gen.uniform_int(0, 9)];
}

// The operations under test; the negative controls swap one of them.
struct range_ops {
    std::function<certified_range(const certified_range&, const certified_range&)> divide =
        [](const certified_range& a, const certified_range& b) { return a / b; };
    std::function<certified_range(const certified_range&, const certified_range&)> add =
        [](const certified_range& a, const certified_range& b) { return a + b; };
};

struct evaluated {
    rational exact;
    certified_range range;
    std::string text;
    long min_bits = 0;  // smallest leaf precision; 0 when some leaf is a wide range (for the tightness check)
};

struct formula_checker {
    testing::operand_generator& gen;
    const range_ops& ops;
    bool check_tightness;
    std::string failure;
    rational last_leaf = 1;

    evaluated leaf() {
        const long bits = draw_precision(gen);
        rational x;
        std::string family;
        switch (gen.uniform_int(0, 6)) {
        case 0: x = 0, family = "zero"; break;
        case 1: x = rational(2 * gen.uniform_int(0, 500) + 1, 2 * gen.uniform_int(0, 500) + 1) * pow2(-gen.uniform_int(200, 3000)), family = "tiny"; break;
        case 2: x = rational(2 * gen.uniform_int(0, 500) + 1, 2 * gen.uniform_int(0, 500) + 1) * pow2(gen.uniform_int(200, 3000)), family = "huge"; break;
        case 3: x = rational(gen.uniform_int(0, 1000), gen.uniform_int(1, 1000)), family = "p/q"; break;
        case 4: x = rational(gen.uniform_int(0, 1 << 20)) * pow2(gen.uniform_int(-40, 40)), family = "dyadic"; break;
        case 5: x = last_leaf, family = "equal to the previous leaf"; break;
        default: x = rational(gen.uniform_int(1, 1000), gen.uniform_int(1, 1000)), family = "wide"; break;
        }
        last_leaf = x;
        if (family == "wide") {
            // Ends around x, well apart: [0 or x (1 - 2^-e) down, x (1 + 2^-e) up].
            const long e = gen.uniform_int(1, 20);
            const auto lo = gen.chance(0.3) ? certified_range::of(0, bits) : certified_range::of(x * (1 - pow2(-e)), bits);
            const auto hi = certified_range::of(x * (1 + pow2(-e)), bits);
            return {x, certified_range::from_ends(lo.lo(), hi.hi()), family + " " + arith::to_decimal(x, 6) + " @" + std::to_string(bits), 0};
        }
        return {x, certified_range::of(x, bits), family + " " + arith::to_decimal(x, 6) + " @" + std::to_string(bits), bits};
    }

    void check(const evaluated& v) {
        if (!failure.empty()) return;
        const rational lo = v.range.lo().to_rational(), hi = v.range.hi().to_rational();
        if (lo > v.exact || hi < v.exact) {
            failure = v.text + ": range [" + arith::to_decimal(lo, 12) + ", " + arith::to_decimal(hi, 12) + "] misses the exact " +
                      arith::to_decimal(v.exact, 12);
            return;
        }
        if (check_tightness && v.min_bits >= 64) {
            // Point leaves at >= p >= 64 bits and fewer than 2^10 rounding steps
            // (at most 63 nodes, powers <= 3 only next to the leaves): each end
            // within a factor (1 +- 2^(1-p))^(2^10) of the exact value, so within
            // 2^(12-p) relative.
            const rational slack = v.exact * pow2(12 - v.min_bits);
            if (hi - v.exact > slack || v.exact - lo > slack)
                failure = v.text + ": range [" + arith::to_decimal(lo, 12) + ", " + arith::to_decimal(hi, 12) +
                          "] wider than the rounding allows around " + arith::to_decimal(v.exact, 12);
        }
    }

    evaluated formula(int depth) {
        evaluated out = depth == 0 || gen.chance(0.2) ? leaf() : node(depth);
        check(out);
        return out;
    }

    evaluated node(int depth) {
        evaluated a = formula(depth - 1);
        // Powers only near the leaves: exact values stay below a million bits.
        const auto kind = gen.uniform_int(0, depth <= 2 ? 5 : 4);
        if (kind == 5) {  // a^n
            const auto n = static_cast<unsigned long>(gen.uniform_int(0, 3));
            return {power(a.exact, n), pow(a.range, n), "(" + a.text + ")^" + std::to_string(n), a.min_bits};
        }
        evaluated b = formula(depth - 1);
        const long bits = std::min(a.min_bits, b.min_bits);
        switch (kind) {
        case 0: return {a.exact + b.exact, ops.add(a.range, b.range), "(" + a.text + " + " + b.text + ")", bits};
        case 1: return {a.exact * b.exact, a.range * b.range, "(" + a.text + " * " + b.text + ")", bits};
        case 2:
            if (b.range.lo().sign() <= 0) {  // precondition: must refuse, not return a range
                bool threw = false;
                try {
                    (void)(a.range / b.range);
                } catch (const arith::domain_error&) {
                    threw = true;
                }
                if (!threw && failure.empty()) failure = "(" + a.text + ") / (" + b.text + "): a divisor with lower end 0 was accepted";
                return a;
            }
            return {a.exact / b.exact, ops.divide(a.range, b.range), "(" + a.text + " / " + b.text + ")", bits};
        case 3: return {arith::max(a.exact, b.exact), max(a.range, b.range), "max(" + a.text + ", " + b.text + ")", bits};
        default: return {a.exact < b.exact ? a.exact : b.exact, min(a.range, b.range), "min(" + a.text + ", " + b.text + ")", bits};
        }
    }
};

testing::property_result check_formulas(const std::string& name, const range_ops& ops, bool tightness, std::size_t cases,
                                             std::uint64_t seed) {
    auto res = testing::start_result(name, "certified_range", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        formula_checker f{gen, ops, tightness, "", 1};
        f.formula(static_cast<int>(gen.uniform_int(1, 5)));
        ++res.cases;
        if (!f.failure.empty() && res.failures++ == 0) res.counterexample = testing::failure_header(seed, c, "formula") + f.failure;
    }
    return res;
}

}  // namespace

TEST_CASE("certified_range brackets the exact value of random formulas", "[bounds][range]") {
    QBOUND_REQUIRE_PROPERTY(check_formulas("lo <= exact <= hi at every node", range_ops{}, true, test::property_cases(20000),
                                           test::property_seed()));
}

TEST_CASE("negative controls: a wrong end or a wrong rounding direction is caught", "[bounds][range][negative]") {
    range_ops wrong_end;
    // a / b with the divisor's ends swapped: lo = a.lo / b.lo, hi = a.hi / b.hi
    // (put in order, so that only the enclosure can fail).
    wrong_end.divide = [](const certified_range& a, const certified_range& b) {
        const auto point = [](const arith::mpfr_real& v) { return certified_range::from_ends(v, v); };
        const auto lo = (point(a.lo()) / point(b.lo())).lo(), hi = (point(a.hi()) / point(b.hi())).hi();
        return certified_range::from_ends(arith::min(lo, hi), arith::max(lo, hi));
    };
    QBOUND_REQUIRE_REFUTED(check_formulas("division by the wrong ends", wrong_end, false, 20000, test::property_seed()));
    range_ops nearest_lo;
    // a + b with the lower end rounded to nearest instead of down.
    nearest_lo.add = [](const certified_range& a, const certified_range& b) {
        arith::mpfr_real lo = arith::make_mpfr_result(std::max(a.precision(), b.precision()));
        mpfr_add(lo.get(), a.lo().get(), b.lo().get(), MPFR_RNDN);
        const auto sum = a + b;
        return certified_range::from_ends(arith::min(lo, sum.hi()), sum.hi());
    };
    QBOUND_REQUIRE_REFUTED(check_formulas("sum with its lower end rounded to nearest", nearest_lo, false, 20000, test::property_seed()));
}

TEST_CASE("certified_range: roots bracket exactly (lo^k <= x <= hi^k)", "[bounds][range]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(5000);
    for (std::size_t c = 0; c < cases; ++c) {
        const long bits = draw_precision(gen);
        const rational x = gen.chance(0.1) ? rational(0) : rational(gen.uniform_int(1, 1 << 30), gen.uniform_int(1, 1 << 30)) *
                                                               pow2(gen.uniform_int(-300, 300));
        const auto k = static_cast<unsigned long>(gen.uniform_int(1, 12));
        const auto r = root(certified_range::of(x, bits), k);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ": (" << arith::to_decimal(x, 12) << ")^(1/" << k
                     << ") @" << bits);
        REQUIRE(power(r.lo().to_rational(), k) <= x);
        REQUIRE(power(r.hi().to_rational(), k) >= x);
    }
}

TEST_CASE("certified_range: preconditions are checked", "[bounds][range]") {
    CHECK_THROWS_AS(certified_range::of(rational(-1, 3), 64), arith::domain_error);
    const auto zero = certified_range::of(0, 64), third = certified_range::of(rational(1, 3), 64);
    CHECK_THROWS_WITH(third / zero, Catch::Contains("lower end is not positive"));
    // A divisor that may be 0 (lower end 0, upper end positive) is refused too.
    CHECK_THROWS_AS(third / certified_range::from_ends(zero.lo(), third.hi()), arith::domain_error);
    // Ends out of order or negative.
    CHECK_THROWS_AS(certified_range::from_ends(third.hi(), zero.hi()), arith::domain_error);
    CHECK_THROWS_AS(certified_range::from_ends(arith::mpfr_real(-1.0, 64), zero.hi()), arith::domain_error);
    CHECK_THROWS_AS(root(third, 0), core::invalid_argument);
    // 1/3 is not representable: a proper range; 1/4 is: a point.
    CHECK_FALSE(third.is_point());
    CHECK(third.lo() < third.hi());
    CHECK(certified_range::of(rational(1, 4), 64).is_point());
    CHECK(certified_range::count(std::size_t{1} << 63, 64).is_point());
}
