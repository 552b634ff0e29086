// Bad input at the arithmetic layer gets a clear error, never UB or a
// silent NaN: NaN operands, invalid intervals, absurd precisions, size
// mismatches, bad environment settings.
#include "property_support.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

using namespace qbound::arith;
using Catch::Matchers::Contains;

namespace {
constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("NaN operands are rejected by every type", "[arith][bad-input]") {
    CHECK_THROWS_WITH(to_rational(nan_value, "weight"), Contains("weight is NaN"));
    CHECK_THROWS_WITH(to_rational(inf), Contains("infinite"));
    CHECK_THROWS_AS(scalar_traits<double>::from_double(nan_value), domain_error);
    CHECK_THROWS_AS(relu(nan_value), domain_error);
    CHECK_THROWS_AS(relu6(nan_value), domain_error);
    CHECK_THROWS_AS(qbound::arith::max(nan_value, 1.0), domain_error);
    CHECK_THROWS_WITH(mpfr_real(nan_value), Contains("NaN"));
    CHECK_THROWS_WITH(mpfi_interval(nan_value), Contains("NaN"));
    CHECK_THROWS_WITH(mpfi_interval(0.0, nan_value), Contains("NaN"));
    CHECK_THROWS_WITH(interval_double(nan_value), Contains("NaN"));
    CHECK_THROWS_WITH(make_interval(nan_value, 1.0), Contains("NaN"));
    CHECK_THROWS_AS(interval_double(1.0) + nan_value, domain_error);
    CHECK_THROWS_AS(compare(rational(1), nan_value), domain_error);
}

TEST_CASE("invalid intervals are rejected", "[arith][bad-input]") {
    CHECK_THROWS_WITH(make_interval(2.0, 1.0), Contains("invalid bounds"));
    CHECK_THROWS_WITH(make_interval(inf, inf), Contains("invalid bounds"));
    CHECK_THROWS_WITH(make_interval(-inf, -inf), Contains("invalid bounds"));
    CHECK_THROWS_WITH(mpfi_interval(2.0, 1.0), Contains("invalid bounds"));
    CHECK_THROWS_WITH(mpfi_interval(inf), Contains("infinite"));
}

TEST_CASE("operations without a real value throw", "[arith][bad-input]") {
    CHECK_THROWS_AS(mpfr_real(1.0) / mpfr_real(0.0), domain_error);
    CHECK_THROWS_AS(mpfi_interval(1.0) / mpfi_interval(0.0), domain_error);
    CHECK_THROWS_AS(interval_double(1.0) / interval_double(0.0), domain_error);
    const mpfr_real pinf = mpfr_real(1.0, 53) / mpfr_real(0x1p-1074, 53) * mpfr_real(0.0, 53);  // finite * 0
    CHECK(pinf.sign() == 0);
    mpfr_real big = make_mpfr_result(53);
    mpfr_set_inf(big.get(), +1);
    CHECK_THROWS_WITH(big - big, Contains("NaN"));
    CHECK_THROWS_WITH(big * mpfr_real(0.0), Contains("NaN"));
    CHECK_THROWS_AS(big.to_rational(), domain_error);
    CHECK_THROWS_AS(qbound::testing::apply_exact(qbound::testing::binary_op::div, rational(1), rational(0)), domain_error);
}

TEST_CASE("precision 0, negative or absurd is rejected with its value", "[arith][bad-input]") {
    CHECK_THROWS_WITH(mpfr_real(1.0, 0), Contains("between 2 and 16777216 bits, got 0"));
    CHECK_THROWS_WITH(mpfr_real(1.0, -5), Contains("got -5"));
    CHECK_THROWS_WITH(mpfr_real(1.0, 1L << 40), Contains("got 1099511627776"));
    CHECK_THROWS_AS(mpfi_interval(1.0, 1L << 30), qbound::core::invalid_argument);
    CHECK_THROWS_AS(mpfi_interval(rational(1), 1), qbound::core::invalid_argument);
    CHECK_THROWS_WITH(set_working_precision(0), Contains("working precision"));
    CHECK_THROWS_AS(precision_scope(100000000), qbound::core::invalid_argument);
    CHECK(working_precision() == default_precision_bits);  // unchanged after the failures
    CHECK_NOTHROW(mpfr_real(1.0, min_precision_bits));
    CHECK_NOTHROW(mpfr_real(1.0, 100000));
}

TEST_CASE("size mismatches in dot and matvec are rejected", "[arith][bad-input]") {
    const std::vector<double> a{1, 2, 3}, b{1, 2};
    CHECK_THROWS_WITH(dot<double>(a, b), Contains("sizes differ (3 vs 2)"));
    CHECK_THROWS_AS(exact_dot(a, b), qbound::core::invalid_argument);
    CHECK_THROWS_AS(exact_dot(std::vector<double>{nan_value}, std::vector<double>{1.0}), domain_error);
    const std::vector<mpfr_real> ma(3), mb(2);
    CHECK_THROWS_AS(dot<mpfr_real>(ma, mb), qbound::core::invalid_argument);
    const std::vector<double> A{1, 2, 3, 4, 5, 6};
    CHECK_THROWS_WITH(matvec<double>(A, 2, 2, std::vector<double>{1, 1}), Contains("expected 2 x 2"));
    CHECK_THROWS_WITH(matvec<double>(A, 2, 3, std::vector<double>{1, 1}), Contains("input has 2 entries"));
    CHECK_THROWS_WITH(matvec<double>(A, 2, 3, std::vector<double>{1, 1, 1}, std::vector<double>{1}),
                      Contains("bias has 1 entries"));
    const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
    CHECK_THROWS_WITH(matvec<double>(A, huge, 4, std::vector<double>{1, 1, 1, 1}), Contains("does not fit"));
}

TEST_CASE("bad QBOUND_CASES_MULTIPLIER and QBOUND_SEED are rejected", "[arith][bad-input]") {
    const char* saved = std::getenv("QBOUND_CASES_MULTIPLIER");
    const std::string saved_value = saved ? saved : "";
    setenv("QBOUND_CASES_MULTIPLIER", "abc", 1);
    CHECK_THROWS_WITH(qbound::testing::cases_multiplier(), Contains("QBOUND_CASES_MULTIPLIER"));
    setenv("QBOUND_CASES_MULTIPLIER", "0", 1);
    CHECK_THROWS_AS(qbound::testing::cases_multiplier(), qbound::core::invalid_argument);
    if (saved) setenv("QBOUND_CASES_MULTIPLIER", saved_value.c_str(), 1);
    else unsetenv("QBOUND_CASES_MULTIPLIER");
}
