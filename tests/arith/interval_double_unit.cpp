// interval_double: specific cases, tightness against directed rounding, and
// behaviour at the edges of the double range.
#include "property_support.hpp"

#include <cfloat>
#include <cmath>
#include <limits>

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_cases;
using qbound::test::property_seed;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("0.1 + 0.2 is a true enclosure, not a point", "[arith][interval_double]") {
    volatile double a = 0.1, b = 0.2;  // values the optimizer cannot fold
    const interval_double s = interval_double(a) + interval_double(b);
    CHECK(s.lower() < s.upper());
    CHECK(contains(s, rational(0.1) + rational(0.2)));
    const interval_double folded = interval_double(0.1) + interval_double(0.2);
    CHECK(folded.lower() == s.lower());
    CHECK(folded.upper() == s.upper());
}

TEST_CASE("interval_double endpoints equal IEEE directed rounding away from underflow", "[arith][interval_double]") {
    // Soundness is checked elsewhere; this checks tightness: on point operands
    // with |result| >= 2^-960 the endpoints are exactly RD(x op y) and
    // RU(x op y), so a point stays a point whenever the operation is exact.
    operand_generator gen(property_seed());
    std::size_t checked = 0;
    const std::size_t cases = property_cases();
    for (std::size_t i = 0; i < cases; ++i) {
        const auto [x, y] = gen.pair();
        for (auto op : {binary_op::add, binary_op::sub, binary_op::mul, binary_op::div}) {
            if (op == binary_op::div && y == 0) continue;
            const rational exact = apply_exact(op, to_rational(x), to_rational(y));
            const double rd = round_to_double(exact, MPFR_RNDD), ru = round_to_double(exact, MPFR_RNDU);
            if (std::fabs(rd) < 0x1p-959 || std::fabs(ru) < 0x1p-959 || std::isinf(rd) || std::isinf(ru)) continue;
            const interval_double r = apply(op, interval_double(x), interval_double(y));
            INFO("seed " << property_seed() << ", case " << i << ": " << to_string(op) << " x = " << describe(x)
                         << ", y = " << describe(y));
            REQUIRE(r.lower() == rd);
            REQUIRE(r.upper() == ru);
            ++checked;
        }
    }
    CHECK(checked > cases);  // most of the 4 * cases operations qualify
}

TEST_CASE("interval_double overflow keeps a finite side at DBL_MAX", "[arith][interval_double]") {
    const interval_double big(DBL_MAX);
    const interval_double s = big + big;
    CHECK(s.lower() == DBL_MAX);
    CHECK(s.upper() == inf);
    const interval_double p = big * interval_double(-2.0);
    CHECK(p.lower() == -inf);
    CHECK(p.upper() == -DBL_MAX);
    CHECK(contains(p, to_rational(DBL_MAX) * -2));
}

TEST_CASE("interval_double underflow keeps the sign information sound", "[arith][interval_double]") {
    const double tiny = std::numeric_limits<double>::denorm_min();
    const interval_double p = interval_double(tiny) * interval_double(0.5);  // exact 2^-1075
    CHECK(p.lower() <= 0.0);
    CHECK(p.upper() >= tiny);
    CHECK(contains(p, to_rational(tiny) / 2));
    const interval_double q = interval_double(0x1p-600) * interval_double(0x1p-600);  // 2^-1200, rounds to 0
    CHECK(contains(q, to_rational(0x1p-600) * to_rational(0x1p-600)));
    CHECK(q.upper() > 0);
}

TEST_CASE("interval_double division by intervals with zero", "[arith][interval_double]") {
    const interval_double one(1.0);
    const interval_double whole = one / make_interval(-1.0, 2.0);
    CHECK(whole.lower() == -inf);
    CHECK(whole.upper() == inf);
    const interval_double half_line = one / make_interval(0.0, 2.0);
    CHECK(half_line.lower() == 0.5);
    CHECK(half_line.upper() == inf);
    CHECK_THROWS_AS(one / interval_double(0.0), domain_error);
}

TEST_CASE("interval_double with unbounded endpoints", "[arith][interval_double]") {
    const interval_double up = make_interval(1.0, inf);
    const interval_double r = up * make_interval(0.0, 2.0);
    CHECK(r.lower() == 0.0);
    CHECK(r.upper() == inf);
    const interval_double s = up + make_interval(-inf, 1.0);
    CHECK(s.lower() == -inf);
    CHECK(s.upper() == inf);
    CHECK(relu(make_interval(-inf, -1.0)).upper() == 0.0);
    CHECK(relu6(up).upper() == 6.0);
}

TEST_CASE("interval_double midpoint and width", "[arith][interval_double]") {
    const interval_double x = make_interval(0.1, 0.3);
    CHECK(midpoint(x) >= 0.1);
    CHECK(midpoint(x) <= 0.3);
    CHECK(to_rational(width(x)) >= to_rational(0.3) - to_rational(0.1));  // width rounds up
    const double tiny = std::numeric_limits<double>::denorm_min();
    const interval_double t(tiny);
    CHECK(midpoint(t) == tiny);
    CHECK(midpoint(make_interval(-inf, inf)) == 0.0);
}

TEST_CASE("interval_double conversions from 64-bit integers are sound", "[arith][interval_double]") {
    const long long big = (1LL << 62) + 1;  // not representable in binary64
    const interval_double x(big);
    CHECK(x.lower() < x.upper());
    CHECK(contains(x, rational(big)));
    const interval_double y(static_cast<long long>(1) << 40);
    CHECK(y.lower() == y.upper());
}
