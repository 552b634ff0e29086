#pragma once
// certified_range: a certified enclosure [lo, hi] of one exact non-negative
// real x, lo rounded toward -infinity (MPFR_RNDD) and hi toward +infinity
// (MPFR_RNDU), so that  0 <= lo <= x <= hi.
//
// Every bound in qbound is built from non-negative quantities by +, *, /,
// integer powers and roots, max and min. Each operation below is correct for
// its arguments by construction, whatever the formula around it:
//   a + b, a * b   [a.lo (op) b.lo down, a.hi (op) b.hi up]  (increasing in both, operands >= 0)
//   a / b          [a.lo / b.hi down,    a.hi / b.lo up]     (decreasing in b; needs b.lo > 0)
//   a^n, a^(1/k)   [lo^n down, hi^n up], [lo^(1/k) down, hi^(1/k) up]
//   max, min       endwise
// so one evaluation gives both a certified upper value (hi) and a certified
// lower value (lo) of the exact formula; the direction is in the type, not in
// a mode. Preconditions are checked: a range is never negative or NaN
// (construction throws domain_error), a divisor's lower end must be > 0.
#include "qbound/arith/mpfr_real.hpp"
#include "qbound/arith/rational.hpp"

#include <cstddef>

namespace qbound::bounds {

class certified_range {
public:
    // [q rounded down, q rounded up] at `bits` (a point when q is representable);
    // q >= 0, else domain_error.
    static certified_range of(const arith::rational& q, long bits);
    // n, exact when bits >= 64.
    static certified_range count(std::size_t n, long bits);
    // The caller certifies lo <= x <= hi for the value it stands for; checks
    // 0 <= lo <= hi (domain_error otherwise).
    static certified_range from_ends(arith::mpfr_real lo, arith::mpfr_real hi);

    const arith::mpfr_real& lo() const { return lo_; }  // certified lower value
    const arith::mpfr_real& hi() const { return hi_; }  // certified upper value
    bool is_point() const { return lo_ == hi_; }
    long precision() const { return hi_.precision(); }

    friend certified_range operator+(const certified_range& a, const certified_range& b);
    friend certified_range operator*(const certified_range& a, const certified_range& b);
    // Needs b.lo() > 0 (domain_error otherwise: the quotient's upper end would be infinite).
    friend certified_range operator/(const certified_range& a, const certified_range& b);
    friend certified_range pow(const certified_range& a, unsigned long n);   // a^n, a^0 = 1
    friend certified_range root(const certified_range& a, unsigned long k);  // a^(1/k), k >= 1
    friend certified_range max(const certified_range& a, const certified_range& b);
    friend certified_range min(const certified_range& a, const certified_range& b);

private:
    certified_range(arith::mpfr_real lo, arith::mpfr_real hi);  // checks 0 <= lo <= hi
    arith::mpfr_real lo_, hi_;
};

}  // namespace qbound::bounds
