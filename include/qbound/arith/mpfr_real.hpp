#pragma once
// mpfr_real: an MPFR floating-point number with its own precision in bits.
//
// Contract: every arithmetic operation is correctly rounded to nearest
// (ties to even) at the result's precision, which is the larger of the
// operands' precisions.
// Hence |result - exact| <= 2^-p * |exact| for a result of precision p, and
// correctly_rounded_dot() rounds only once (mpfr_dot). Values are finite or +-inf; a NaN is
// never produced silently: operations that would make one throw domain_error.
#include "qbound/arith/errors.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/arith/rational.hpp"

#include <mpfr.h>

#include <span>
#include <string>
#include <vector>

namespace qbound::arith {

class mpfr_real {
public:
    // Zero at the working precision.
    mpfr_real();
    // `x` rounded to nearest at `bits` (exact when bits >= 53). NaN throws.
    explicit mpfr_real(double x, long bits = working_precision());
    // `q` rounded to nearest at `bits`.
    explicit mpfr_real(const rational& q, long bits = working_precision());

    mpfr_real(const mpfr_real& other);
    mpfr_real(mpfr_real&& other) noexcept;
    mpfr_real& operator=(const mpfr_real& other);
    mpfr_real& operator=(mpfr_real&& other) noexcept;
    ~mpfr_real();

    long precision() const { return static_cast<long>(mpfr_get_prec(value_)); }
    // The exact value (throws domain_error for +-inf).
    rational to_rational() const;
    // Nearest double.
    double to_double() const { return mpfr_get_d(value_, MPFR_RNDN); }
    std::string to_string(int digits = 20) const;
    bool is_finite() const { return mpfr_number_p(value_) != 0; }
    int sign() const { return mpfr_sgn(value_); }

    mpfr_srcptr get() const { return value_; }
    mpfr_ptr get() { return value_; }

    friend mpfr_real operator+(const mpfr_real& a, const mpfr_real& b);
    friend mpfr_real operator-(const mpfr_real& a, const mpfr_real& b);
    friend mpfr_real operator*(const mpfr_real& a, const mpfr_real& b);
    friend mpfr_real operator/(const mpfr_real& a, const mpfr_real& b);
    friend mpfr_real operator-(const mpfr_real& a);
    mpfr_real& operator+=(const mpfr_real& b) { return *this = *this + b; }
    mpfr_real& operator-=(const mpfr_real& b) { return *this = *this - b; }
    mpfr_real& operator*=(const mpfr_real& b) { return *this = *this * b; }
    mpfr_real& operator/=(const mpfr_real& b) { return *this = *this / b; }

    friend bool operator==(const mpfr_real& a, const mpfr_real& b) { return mpfr_equal_p(a.value_, b.value_) != 0; }
    friend bool operator<(const mpfr_real& a, const mpfr_real& b) { return mpfr_less_p(a.value_, b.value_) != 0; }
    friend bool operator<=(const mpfr_real& a, const mpfr_real& b) { return mpfr_lessequal_p(a.value_, b.value_) != 0; }
    friend bool operator>(const mpfr_real& a, const mpfr_real& b) { return b < a; }
    friend bool operator>=(const mpfr_real& a, const mpfr_real& b) { return b <= a; }

private:
    mpfr_t value_;
    struct uninitialized_tag {};
    mpfr_real(uninitialized_tag, mpfr_prec_t bits);
    friend mpfr_real make_mpfr_result(mpfr_prec_t bits);
};

// An mpfr_real of precision `bits` (value zero), for results of C-API calls.
mpfr_real make_mpfr_result(mpfr_prec_t bits);

// sum_i a_i * b_i, correctly rounded to nearest once, at precision `bits`
// (default: the largest operand precision). Sizes must match.
mpfr_real correctly_rounded_dot(std::span<const mpfr_real> a, std::span<const mpfr_real> b, long bits = 0);

// max(a, b), |a|, min(max(a, 0), 6): exact (no rounding beyond the
// operands' precision).
mpfr_real max(const mpfr_real& a, const mpfr_real& b);
mpfr_real min(const mpfr_real& a, const mpfr_real& b);
mpfr_real abs(const mpfr_real& a);

}  // namespace qbound::arith
