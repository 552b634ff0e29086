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

// q as a decimal string with `digits` significant digits (for messages).
std::string to_decimal(const rational& q, int digits = 20);

}  // namespace qbound::arith
