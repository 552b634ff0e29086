// mpfi_interval: every result contains the exact result (GMP rationals), at
// random precisions (2..300 bits), for random and hostile operands, >= 100,000
// cases per operation.
#include "property_support.hpp"

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_cases;
using qbound::test::property_seed;

TEST_CASE("mpfi_interval binary operations contain the exact result", "[arith][mpfi]") {
    for (auto op : all_binary_ops) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_PROPERTY(check_binary<mpfi_interval>(op, property_cases(), property_seed()));
        }
    }
}

TEST_CASE("mpfi_interval ReLU, ReLU6, abs, neg contain the exact result", "[arith][mpfi]") {
    for (auto op : all_unary_ops) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_PROPERTY(check_unary<mpfi_interval>(op, property_cases(), property_seed()));
        }
    }
}

TEST_CASE("mpfi_interval dot products of length 1..4096 contain the exact dot", "[arith][mpfi][dot]") {
    QBOUND_REQUIRE_PROPERTY(check_dot<mpfi_interval>(property_cases(), property_seed()));
}
