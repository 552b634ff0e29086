#pragma once
// Certified upper values: MPFR numbers rounded towards +infinity.
//
// Every function here rounds upward (MPFR_RNDU), always; there is no mode.
// A value that needs both a certified upper and a certified lower end (the
// bound formulas of bounds.hpp) is evaluated once as a certified_range
// (certified_range.hpp), whose operations pick the end of each operand and
// the rounding direction explicitly.
//
// Every bound in qbound is a sum of products of non-negative quantities, so
// rounding each operation upward (MPFR_RNDU, correctly rounded, independent
// of the hardware rounding mode) yields a number >= the exact real value.
// MPFR's exponent range reaches far beyond binary64 (values like 1e300000
// are fine), which deep networks' r^(L-1) need.
#include "qbound/arith/mpfr_real.hpp"
#include "qbound/arith/rational.hpp"

#include <cstddef>
#include <string>

namespace qbound::bounds {

using upper = arith::mpfr_real;

// Precision of certified bound values (bits).
inline constexpr long bound_precision = 128;

// The smallest value at `bits` that is >= q (exact when representable).
upper round_up(const arith::rational& q, long bits = bound_precision);
upper round_up(double x, long bits = bound_precision);                // exact (bits >= 53)
upper exact_count(std::size_t n, long bits = bound_precision);         // exact (bits >= 64)

// Each rounded upward: >= the exact result of the operation on the
// operands' values. Each is increasing in every operand on non-negative
// values, so applied to upper values of non-negative reals it gives an upper
// value of the exact result. (No division here: a quotient decreases in its
// divisor, so an upward quotient of upper values bounds nothing; use
// certified_range, whose division takes the divisor's lower end.)
upper add_up(const upper& a, const upper& b);
upper mul_up(const upper& a, const upper& b);
upper pow_up(const upper& a, unsigned long n);   // a^n, a^0 = 1
upper root_up(const upper& a, unsigned long k);  // a^(1/k), k >= 1, a >= 0

// log10 of a positive value, rounded down / up (for display brackets), and
// to nearest as a double (for tables, plots and comparisons, not certificates).
double log10_nearest(const upper& a);
upper log10_down(const upper& a);
upper log10_up(const upper& a);

// "3.142 x 10^56" (mantissa rounded up in its last printed digit, so the
// printed value is still an upper bound); "0" for zero.
std::string scientific_up(const upper& a, int digits = 4);
// `significant` digits in %g style, rounded up ("43.35", "1.2e+05").
std::string decimal_up(const upper& a, int significant = 4);
// log10 rounded up, printed with `decimals` decimals (upward), e.g. "56.07".
std::string log10_text(const upper& a, int decimals = 2);

}  // namespace qbound::bounds
