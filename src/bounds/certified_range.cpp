#include "qbound/bounds/certified_range.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/core/errors.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace qbound::bounds {

using arith::mpfr_real;

namespace {

long range_bits(const certified_range& a, const certified_range& b) { return std::max(a.precision(), b.precision()); }

// f(result, x, y, rnd) evaluated with an explicit rounding direction.
template <class F>
mpfr_real rounded_binary(F f, const mpfr_real& x, const mpfr_real& y, long bits, mpfr_rnd_t rnd) {
    mpfr_real r = arith::make_mpfr_result(bits);
    f(r.get(), x.get(), y.get(), rnd);
    return r;
}

}  // namespace

certified_range::certified_range(mpfr_real lo, mpfr_real hi) : lo_(std::move(lo)), hi_(std::move(hi)) {
    // NaN fails every comparison, so this also rejects NaN ends.
    if (!(lo_.sign() >= 0 && lo_ <= hi_))
        throw arith::domain_error("certified_range: the ends must satisfy 0 <= lo <= hi (got [" + lo_.to_string(10) + ", " +
                                  hi_.to_string(10) + "])");
}

certified_range certified_range::of(const arith::rational& q, long bits) {
    if (q < 0) throw arith::domain_error("certified_range: negative value " + arith::to_decimal(q, 10));
    mpfr_real lo = arith::make_mpfr_result(bits), hi = arith::make_mpfr_result(bits);
    mpfr_set_q(lo.get(), q.backend().data(), MPFR_RNDD);
    mpfr_set_q(hi.get(), q.backend().data(), MPFR_RNDU);
    return {std::move(lo), std::move(hi)};
}

certified_range certified_range::count(std::size_t n, long bits) {
    mpfr_real lo = arith::make_mpfr_result(bits), hi = arith::make_mpfr_result(bits);
    mpfr_set_uj(lo.get(), n, MPFR_RNDD);
    mpfr_set_uj(hi.get(), n, MPFR_RNDU);
    return {std::move(lo), std::move(hi)};
}

certified_range certified_range::from_ends(mpfr_real lo, mpfr_real hi) { return {std::move(lo), std::move(hi)}; }

// Operands are >= 0 (class invariant): + and * increase in each operand.
certified_range operator+(const certified_range& a, const certified_range& b) {
    const long bits = range_bits(a, b);
    return {rounded_binary(mpfr_add, a.lo_, b.lo_, bits, MPFR_RNDD), rounded_binary(mpfr_add, a.hi_, b.hi_, bits, MPFR_RNDU)};
}

certified_range operator*(const certified_range& a, const certified_range& b) {
    const long bits = range_bits(a, b);
    return {rounded_binary(mpfr_mul, a.lo_, b.lo_, bits, MPFR_RNDD), rounded_binary(mpfr_mul, a.hi_, b.hi_, bits, MPFR_RNDU)};
}

// a / b increases in a and decreases in b (a >= 0, b > 0): the lower end
// divides by the divisor's upper end, the upper end by its lower end.
certified_range operator/(const certified_range& a, const certified_range& b) {
    if (b.lo_.sign() <= 0)
        throw arith::domain_error("certified_range: division by a range whose lower end is not positive (" + b.lo_.to_string(10) + ")");
    const long bits = range_bits(a, b);
    return {rounded_binary(mpfr_div, a.lo_, b.hi_, bits, MPFR_RNDD), rounded_binary(mpfr_div, a.hi_, b.lo_, bits, MPFR_RNDU)};
}

certified_range pow(const certified_range& a, unsigned long n) {
    mpfr_real lo = arith::make_mpfr_result(a.precision()), hi = arith::make_mpfr_result(a.precision());
    mpfr_pow_ui(lo.get(), a.lo_.get(), n, MPFR_RNDD);
    mpfr_pow_ui(hi.get(), a.hi_.get(), n, MPFR_RNDU);
    return {std::move(lo), std::move(hi)};
}

certified_range root(const certified_range& a, unsigned long k) {
    if (k == 0) throw core::invalid_argument("certified_range: root of order 0");
    mpfr_real lo = arith::make_mpfr_result(a.precision()), hi = arith::make_mpfr_result(a.precision());
    mpfr_rootn_ui(lo.get(), a.lo_.get(), k, MPFR_RNDD);
    mpfr_rootn_ui(hi.get(), a.hi_.get(), k, MPFR_RNDU);
    return {std::move(lo), std::move(hi)};
}

// max and min are increasing in both operands: endwise, exact.
certified_range max(const certified_range& a, const certified_range& b) { return {arith::max(a.lo_, b.lo_), arith::max(a.hi_, b.hi_)}; }
certified_range min(const certified_range& a, const certified_range& b) { return {arith::min(a.lo_, b.lo_), arith::min(a.hi_, b.hi_)}; }

}  // namespace qbound::bounds
