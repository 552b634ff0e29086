#pragma once
// mpfi_interval: an interval with MPFR endpoints (MPFI), at a precision in bits.
//
// Contract: for operands X, Y and op in {+, -, *, /}, the result contains
// x op y for every real x in X and y in Y (outward rounding by MPFI), at the
// larger of the operands' precisions. Endpoints may be +-inf (overflow is
// never possible at MPFR's exponent range, but unbounded inputs are allowed).
// Empty or NaN intervals are never produced silently: they throw domain_error,
// as does division by an interval that is exactly [0, 0].
#include "qbound/arith/errors.hpp"
#include "qbound/arith/mpfr_real.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/arith/rational.hpp"

#include <mpfi.h>

#include <span>
#include <string>

namespace qbound::arith {

class mpfi_interval {
public:
    // [0, 0] at the working precision.
    mpfi_interval();
    // The smallest interval at `bits` containing x (a point when bits >= 53).
    explicit mpfi_interval(double x, long bits = working_precision());
    // [lo, hi] rounded outward at `bits`; lo <= hi required, NaN throws.
    mpfi_interval(double lo, double hi, long bits = working_precision());
    // The smallest interval at `bits` containing q.
    explicit mpfi_interval(const rational& q, long bits = working_precision());
    // [lo, hi] rounded outward at `bits` (default: max of the endpoints').
    mpfi_interval(const mpfr_real& lo, const mpfr_real& hi, long bits = 0);

    mpfi_interval(const mpfi_interval& other);
    mpfi_interval(mpfi_interval&& other) noexcept;
    mpfi_interval& operator=(const mpfi_interval& other);
    mpfi_interval& operator=(mpfi_interval&& other) noexcept;
    ~mpfi_interval();

    long precision() const { return static_cast<long>(mpfi_get_prec(value_)); }
    mpfr_real lower() const;
    mpfr_real upper() const;
    // A point of the interval (MPFI's midpoint, rounded to nearest).
    mpfr_real midpoint() const;
    // An upper bound on upper - lower (rounded up).
    mpfr_real width() const;
    // Exact test lower <= q <= upper, done with GMP on the endpoints' exact
    // values (independent of MPFI's own comparison code).
    bool contains(const rational& q) const;
    std::string to_string(int digits = 20) const;

    mpfi_srcptr get() const { return value_; }
    mpfi_ptr get() { return value_; }

    friend mpfi_interval operator+(const mpfi_interval& a, const mpfi_interval& b);
    friend mpfi_interval operator-(const mpfi_interval& a, const mpfi_interval& b);
    friend mpfi_interval operator*(const mpfi_interval& a, const mpfi_interval& b);
    friend mpfi_interval operator/(const mpfi_interval& a, const mpfi_interval& b);
    friend mpfi_interval operator-(const mpfi_interval& a);
    mpfi_interval& operator+=(const mpfi_interval& b) { return *this = *this + b; }
    mpfi_interval& operator-=(const mpfi_interval& b) { return *this = *this - b; }
    mpfi_interval& operator*=(const mpfi_interval& b) { return *this = *this * b; }
    mpfi_interval& operator/=(const mpfi_interval& b) { return *this = *this / b; }

private:
    mpfi_t value_;
    friend mpfi_interval make_mpfi_result(mpfr_prec_t bits);
    struct uninitialized_tag {};
    mpfi_interval(uninitialized_tag, mpfr_prec_t bits);
};

// An mpfi_interval of precision `bits`, for results of C-API calls.
mpfi_interval make_mpfi_result(mpfr_prec_t bits);

// An enclosure of sum_i a_i * b_i (sizes must match), accumulated at
// `bits` (default: the largest operand precision).
mpfi_interval enclosing_dot(std::span<const mpfi_interval> a, std::span<const mpfi_interval> b, long bits = 0);

// Enclosures of {max(x, y)}, {min(x, y)} and {|x|} over the operands.
mpfi_interval max(const mpfi_interval& a, const mpfi_interval& b);
mpfi_interval min(const mpfi_interval& a, const mpfi_interval& b);
mpfi_interval abs(const mpfi_interval& a);

}  // namespace qbound::arith
