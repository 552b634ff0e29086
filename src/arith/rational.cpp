#include "qbound/arith/rational.hpp"

#include "qbound/arith/errors.hpp"

#include <gmp.h>

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

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
rational parse_decimal(const std::string& t, const std::string& whole, const char* what,
                       const char* expected = "a decimal number or a fraction p/q") {
    const auto fail = [&] { return core::invalid_argument(std::string(what) + ": '" + whole + "' is not " + expected); };
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

constexpr const char* number_forms = "a number (decimal, fraction p/q or hex float such as 0x1.8p-3)";

int hex_digit_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

// [sign] 0x hexdigits [. hexdigits] [p [sign] decimal digits]: the value
// mantissa * 2^(exponent - 4 * digits after the point), exactly.
rational parse_hex_float(const std::string& t, const std::string& whole, const char* what) {
    const auto fail = [&] { return core::invalid_argument(std::string(what) + ": '" + whole + "' is not " + number_forms); };
    std::size_t i = 0;
    bool negative = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
    if (!(i + 1 < t.size() && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X'))) throw fail();
    i += 2;
    std::string digits;
    long fraction_digits = 0;
    bool seen_point = false;
    for (; i < t.size(); ++i) {
        if (hex_digit_value(t[i]) >= 0) {
            digits += t[i];
            if (seen_point) ++fraction_digits;
        } else if (t[i] == '.' && !seen_point) {
            seen_point = true;
        } else {
            break;
        }
    }
    if (digits.empty() || fraction_digits > (1L << 28)) throw fail();
    long exponent = 0;
    if (i < t.size() && (t[i] == 'p' || t[i] == 'P')) {
        ++i;
        bool exponent_negative = false;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) exponent_negative = t[i++] == '-';
        const char* first = t.data() + i;
        const char* last = t.data() + t.size();
        if (first == last || last - first > 5 || *first < '0' || *first > '9') throw fail();
        const auto [end, ec] = std::from_chars(first, last, exponent);
        if (ec != std::errc() || end != last) throw fail();
        if (exponent_negative) exponent = -exponent;
        i = t.size();
    }
    if (i != t.size()) throw fail();
    integer mantissa;
    if (mpz_set_str(mantissa.backend().data(), digits.c_str(), 16) != 0) throw fail();
    // |power| <= 99999 + 2^30: the shift count fits an unsigned.
    const long power = exponent - 4 * fraction_digits;
    const integer two_power = integer(1) << static_cast<unsigned>(power < 0 ? -power : power);
    rational value = power >= 0 ? rational(mantissa * two_power) : rational(mantissa) / rational(two_power);
    return negative ? rational(-value) : value;
}

// One side of a fraction: a hex float when it starts with [sign] 0x, else a decimal.
rational parse_number_part(const std::string& t, const std::string& whole, const char* what) {
    const std::size_t start = !t.empty() && (t[0] == '+' || t[0] == '-') ? 1 : 0;
    if (t.size() > start + 1 && t[start] == '0' && (t[start + 1] == 'x' || t[start + 1] == 'X'))
        return parse_hex_float(t, whole, what);
    return parse_decimal(t, whole, what, number_forms);
}

// "p" or "p/q", each part read by `part` (text, whole text, what).
template <class Part>
rational parse_fraction(const std::string& text, const char* what, const Part& part) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return part(text, text, what);
    const rational num = part(text.substr(0, slash), text, what);
    const rational den = part(text.substr(slash + 1), text, what);
    if (den == 0) throw core::invalid_argument(std::string(what) + ": '" + text + "' divides by zero");
    return num / den;
}

}  // namespace

rational parse_number(const std::string& text, const char* what) { return parse_fraction(text, what, parse_number_part); }

rational parse_rational(const std::string& text, const char* what) {
    return parse_fraction(text, what, [](const std::string& t, const std::string& whole, const char* w) { return parse_decimal(t, whole, w); });
}

}  // namespace qbound::arith
