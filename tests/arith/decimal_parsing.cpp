// Exact decimal input (`--D`, case files' D): every string means exactly the
// number it writes, "0.25" = 1/4, with or without leading zeros; a bad one
// names its option. Regression for the octal reading of a leading 0
// (Boost's string constructor took "025" as 21).
#include "property_support.hpp"

#include <random>
#include <string>

using namespace qbound::arith;
using Catch::Matchers::Contains;

namespace {

// 10^k as an exact integer, built by repeated multiplication (not the parser's path).
integer ten_to(unsigned k) {
    integer p = 1;
    for (unsigned i = 0; i < k; ++i) p *= 10;
    return p;
}

}  // namespace

TEST_CASE("decimals with leading zeros mean what they write", "[arith][parse]") {
    CHECK(parse_rational("0.25", "--D") == rational(1, 4));
    CHECK(parse_rational("0.10", "--D") == rational(1, 10));
    CHECK(parse_rational("0.125", "--D") == rational(1, 8));
    CHECK(parse_rational("0.68", "--D") == rational(17, 25));
    CHECK(parse_rational("0.08", "--D") == rational(2, 25));
    CHECK(parse_rational("007", "--D") == 7);
    CHECK(parse_rational("08", "--D") == 8);
    CHECK(parse_rational("09.9", "--D") == rational(99, 10));
    CHECK(parse_rational("-0.025e2", "--D") == rational(-5, 2));
    CHECK(parse_rational("0.0", "--D") == 0);
    CHECK(parse_rational("0/7", "--D") == 0);
    CHECK(parse_rational("010/08", "--D") == rational(5, 4));
    CHECK(parse_rational("0.25", "--D") == parse_rational("1/4", "--D"));
    CHECK(parse_rational("+.5", "--D") == rational(1, 2));
    CHECK(parse_rational("5.", "--D") == 5);
    CHECK(parse_rational("1e-3", "--D") == rational(1, 1000));
    CHECK(parse_rational("0.5E+1", "--D") == 5);
}

TEST_CASE("random decimals parse to their exact value", "[arith][parse][property]") {
    const auto seed = qbound::test::property_seed();
    std::mt19937_64 g(seed);
    const std::size_t cases = qbound::test::property_cases(20000);
    for (std::size_t c = 0; c < cases; ++c) {
        // value = (+-) m / 10^s * 10^e, written with z leading zeros before m's digits.
        const std::uint64_t m = g() >> (g() % 64);
        const unsigned s = static_cast<unsigned>(g() % 25), z = static_cast<unsigned>(g() % 4);
        const int e = static_cast<int>(g() % 21) - 10;
        const bool negative = g() % 2 == 1, with_exponent = g() % 3 == 0;
        std::string digits = std::string(z, '0') + std::to_string(m);
        if (digits.size() <= s) digits = std::string(s + 1 - digits.size(), '0') + digits;  // "0.000ddd"
        std::string text = (negative ? "-" : (g() % 2 ? "+" : "")) + digits.substr(0, digits.size() - s);
        if (s > 0 || g() % 2) text += "." + digits.substr(digits.size() - s);
        if (with_exponent) text += (g() % 2 ? "e" : "E") + std::to_string(e);
        rational expected(integer(std::to_string(m).c_str()));  // no leading zero: decimal in every reading
        expected /= rational(ten_to(s));
        if (with_exponent) expected = e >= 0 ? expected * rational(ten_to(static_cast<unsigned>(e)))
                                             : expected / rational(ten_to(static_cast<unsigned>(-e)));
        if (negative) expected = -expected;
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ": '" << text << "'");
        REQUIRE(parse_rational(text, "--D") == expected);
    }
}

TEST_CASE("a bad decimal names its option", "[arith][parse][bad-input]") {
    for (const char* bad : {"", "1.5.2", ".", "-", "1e", "1e+", "0x10", "1,5", "--1", "1e99999", "1e 5", "1e10000", "0.68x", " 1", "1/", "/2", "1/2/3"})
        CHECK_THROWS_WITH(parse_rational(bad, "--D"), Contains("--D: '" + std::string(bad) + "'"));
    CHECK_THROWS_WITH(parse_rational("3/0.0", "--D"), Contains("--D: '3/0.0' divides by zero"));
}
