#include "qbound/arith/rational.hpp"

#include "qbound/arith/errors.hpp"

#include <gmp.h>

#include <cmath>
#include <string>

namespace qbound::arith {

rational to_rational(double x, const char* what) {
    if (std::isnan(x)) throw domain_error(std::string(what) + " is NaN");
    if (std::isinf(x)) throw domain_error(std::string(what) + " is infinite (" + (x > 0 ? "+inf" : "-inf") + ")");
    return rational(x);  // mpq_set_d: exact for every finite double
}

int compare(const rational& q, double d) {
    if (std::isnan(d)) throw domain_error("comparison of a rational with NaN");
    if (std::isinf(d)) return d > 0 ? -1 : 1;
    const rational r(d);
    return q < r ? -1 : (q > r ? 1 : 0);
}

std::string to_decimal(const rational& q, int digits) {
    using dec = boost::multiprecision::number<boost::multiprecision::gmp_float<0>>;
    dec v;
    v.precision(static_cast<unsigned>(digits + 10));
    v = dec(q);
    return v.str(digits, std::ios_base::scientific);
}

}  // namespace qbound::arith

namespace qbound::arith {

namespace {

// Digits with an optional sign, a decimal point and an exponent.
rational parse_decimal(const std::string& t, const std::string& whole, const char* what) {
    const auto fail = [&] { return core::invalid_argument(std::string(what) + ": '" + whole + "' is not a decimal number or a fraction p/q"); };
    std::size_t i = 0;
    bool negative = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
    std::string digits;
    long scale = 0;  // value = digits * 10^(exponent - scale)
    bool seen_digit = false, seen_point = false;
    for (; i < t.size(); ++i) {
        const char ch = t[i];
        if (ch >= '0' && ch <= '9') {
            digits += ch;
            seen_digit = true;
            if (seen_point) ++scale;
        } else if (ch == '.' && !seen_point) {
            seen_point = true;
        } else {
            break;
        }
    }
    if (!seen_digit) throw fail();
    long exponent = 0;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        const std::string rest = t.substr(i);
        if (rest.empty() || rest.size() > 6) throw fail();  // |exponent| <= 9999 (checked below)
        if (!(rest[0] == '+' || rest[0] == '-' || (rest[0] >= '0' && rest[0] <= '9'))) throw fail();  // stol skips blanks
        std::size_t used = 0;
        try {
            exponent = std::stol(rest, &used);
        } catch (const std::exception&) {
            throw fail();
        }
        if (used != rest.size() || exponent > 9999 || exponent < -9999) throw fail();
        i = t.size();
    }
    if (i != t.size()) throw fail();
    // Base 10, explicitly: Boost's string constructor (like mpz_set_str with
    // base 0) reads a leading 0 as an octal prefix, so "0.25" would be 021/100.
    integer numerator;
    if (mpz_set_str(numerator.backend().data(), digits.c_str(), 10) != 0) throw fail();
    const long power = exponent - scale;
    rational value(numerator);
    const integer ten_power = boost::multiprecision::pow(integer(10), static_cast<unsigned>(power < 0 ? -power : power));
    value = power >= 0 ? value * rational(ten_power) : value / rational(ten_power);
    return negative ? rational(-value) : value;
}

}  // namespace

rational parse_rational(const std::string& text, const char* what) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return parse_decimal(text, text, what);
    const rational num = parse_decimal(text.substr(0, slash), text, what);
    const rational den = parse_decimal(text.substr(slash + 1), text, what);
    if (den == 0) throw core::invalid_argument(std::string(what) + ": '" + text + "' divides by zero");
    return num / den;
}

}  // namespace qbound::arith
