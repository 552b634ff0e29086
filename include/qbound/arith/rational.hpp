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

// q as a decimal string with `digits` significant digits (for messages).
std::string to_decimal(const rational& q, int digits = 20);

}  // namespace qbound::arith
