// interval_double: every result contains the exact result (GMP rationals),
// for random and hostile operands, >= 100,000 cases per operation.
#include "property_support.hpp"

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_cases;
using qbound::test::property_seed;

TEST_CASE("interval_double binary operations contain the exact result", "[arith][interval_double]") {
    for (auto op : all_binary_ops) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_PROPERTY(check_binary<interval_double>(op, property_cases(), property_seed()));
        }
    }
}

TEST_CASE("interval_double ReLU, ReLU6, abs, neg contain the exact result", "[arith][interval_double]") {
    for (auto op : all_unary_ops) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_PROPERTY(check_unary<interval_double>(op, property_cases(), property_seed()));
        }
    }
}

TEST_CASE("interval_double dot products of length 1..4096 contain the exact dot", "[arith][interval_double][dot]") {
    QBOUND_REQUIRE_PROPERTY(check_dot<interval_double>(property_cases(), property_seed()));
}
