#pragma once
// Run-time precision (in bits) for the MPFR and MPFI types.
//
// Each thread has a working precision, used when an mpfr_real or
// mpfi_interval is made from a double or rational without an explicit
// precision. `precision_scope` sets it for a block and restores it after.
#include <mpfr.h>

namespace qbound::arith {

// Accepted precisions: [min_precision_bits, max_precision_bits]. Anything
// outside (0, negative, or beyond 2^24 bits, which would only exhaust memory
// in a dot product of a real network) throws core::invalid_argument.
inline constexpr long min_precision_bits = 2;
inline constexpr long max_precision_bits = 1L << 24;
inline constexpr long default_precision_bits = 256;

// Returns `bits` as mpfr_prec_t, or throws core::invalid_argument naming `what`.
mpfr_prec_t checked_precision(long bits, const char* what = "precision");

long working_precision();
void set_working_precision(long bits);

// The largest precision among the elements of two ranges of MPFR/MPFI
// values (at least min_precision_bits); for dots that default to it.
template <class RangeA, class RangeB>
long largest_precision(const RangeA& a, const RangeB& b) {
    long p = min_precision_bits;
    for (const auto& v : a) p = v.precision() > p ? v.precision() : p;
    for (const auto& v : b) p = v.precision() > p ? v.precision() : p;
    return p;
}

class precision_scope {
public:
    explicit precision_scope(long bits);
    ~precision_scope();
    precision_scope(const precision_scope&) = delete;
    precision_scope& operator=(const precision_scope&) = delete;

private:
    long saved_;
};

}  // namespace qbound::arith
