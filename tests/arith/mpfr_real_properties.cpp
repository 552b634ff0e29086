// mpfr_real: every operation is correctly rounded to nearest (ties to even)
// at random precisions 2..300 bits; dot products (mpfr_dot) round once;
// ReLU, ReLU6, abs, neg and max are exact. >= 100,000 cases per operation.
#include "property_support.hpp"

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_cases;
using qbound::test::property_seed;

TEST_CASE("mpfr_real binary operations are correctly rounded", "[arith][mpfr]") {
    for (auto op : all_binary_ops) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_PROPERTY(check_mpfr_binary(op, property_cases(), property_seed()));
        }
    }
}

TEST_CASE("mpfr_real ReLU, ReLU6, abs, neg are exact", "[arith][mpfr]") {
    for (auto op : all_unary_ops) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_PROPERTY(check_mpfr_unary(op, property_cases(), property_seed()));
        }
    }
}

TEST_CASE("mpfr_real dot products of length 1..4096 are correctly rounded", "[arith][mpfr][dot]") {
    QBOUND_REQUIRE_PROPERTY(check_mpfr_dot(property_cases(), property_seed()));
}

TEST_CASE("mpfr_real precision follows the operands", "[arith][mpfr]") {
    const mpfr_real a(1.0, 64), b(3.0, 200);
    CHECK((a / b).precision() == 200);
    CHECK((a + a).precision() == 64);
    {
        precision_scope scope(113);
        CHECK(mpfr_real(0.1).precision() == 113);
        CHECK(working_precision() == 113);
    }
    CHECK(working_precision() == default_precision_bits);
}
