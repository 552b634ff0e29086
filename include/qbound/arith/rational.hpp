#pragma once
// Exact rationals (GMP through Boost.Multiprecision) and exact conversions.
//
// `rational` is the reference type of the whole project: every enclosure is
// checked against it. Expression templates are off so that `auto` in generic
// code always holds a value, never a dangling expression.
#include <boost/multiprecision/gmp.hpp>

#include <string>

namespace qbound::arith {

using rational = boost::multiprecision::number<boost::multiprecision::gmp_rational,
                                               boost::multiprecision::et_off>;
using integer = boost::multiprecision::number<boost::multiprecision::gmp_int,
                                              boost::multiprecision::et_off>;

// The exact value of a finite double. Throws domain_error for NaN or +-inf,
// naming `what` in the message.
rational to_rational(double x, const char* what = "operand");

// Exact three-way comparison of a rational with a double; +-inf compare as
// beyond every rational. Throws domain_error for NaN.
int compare(const rational& q, double d);

// The exact value of a decimal ("0.1", "-2.5e-3", "7") or fraction ("1/3")
// written in `text`: 0.1 is 1/10, not the double nearest to it. Throws
// core::invalid_argument naming `what` on anything else.
rational parse_rational(const std::string& text, const char* what = "number");

// parse_rational's decimals and fractions, and also C99 hexadecimal floats
// ("0x1.8p-3", "-0X.Ap+2", "0x10"; the binary exponent after p is optional
// and at most 99999 in magnitude), each part of a fraction p/q being either
// form ("0x1p-2/3"). Exact: "0x1.999999999999ap-4" is that double, "0.1" is
// 1/10. For the data files (input regions, points); parse_rational stays
// decimal-only for the command-line options. Throws core::invalid_argument
// naming `what` on anything else (blanks included; "inf" and "nan" too).
rational parse_number(const std::string& text, const char* what = "number");

// q as a decimal string with `digits` significant digits (for messages).
std::string to_decimal(const rational& q, int digits = 20);

}  // namespace qbound::arith
