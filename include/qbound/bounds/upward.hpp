#pragma once
// Certified upper values: MPFR numbers rounded towards +infinity.
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

// Direction of the functions below: upward (MPFR_RNDU) unless a
// rounding_down_scope is alive on this thread, under which the same code
// computes certified LOWER values (every quantity being non-negative, a
// formula evaluated with every operation rounded down is <= its exact value).
class rounding_down_scope {
public:
    rounding_down_scope();
    ~rounding_down_scope();
    rounding_down_scope(const rounding_down_scope&) = delete;
    rounding_down_scope& operator=(const rounding_down_scope&) = delete;

private:
    bool previous_;
};
bool rounding_down();  // true inside a rounding_down_scope

// The smallest value at `bits` that is >= q (exact when representable).
upper round_up(const arith::rational& q, long bits = bound_precision);
upper round_up(double x, long bits = bound_precision);                // exact (bits >= 53)
upper exact_count(std::size_t n, long bits = bound_precision);         // exact (bits >= 64)

// Each rounded upward: >= the exact result of the operation on the
// operands' values.
upper add_up(const upper& a, const upper& b);
upper mul_up(const upper& a, const upper& b);
upper div_up(const upper& a, const upper& b);
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
