#include "qbound/arith/exact_sum.hpp"

#include "qbound/arith/error_free.hpp"
#include "qbound/arith/errors.hpp"
#include "qbound/arith/scalar.hpp"

#include <gmp.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

namespace qbound::arith {

namespace {

__extension__ typedef unsigned __int128 bin_t;

// |x| = mantissa * 2^(biased_exponent - 1075) with biased_exponent >= 1.
struct unpacked {
    std::uint64_t mantissa;
    unsigned exponent;  // 1..2046
};

unpacked unpack_abs(double x) {
    const auto bits = std::bit_cast<std::uint64_t>(x);
    const auto biased = static_cast<unsigned>((bits >> 52) & 0x7ff);
    const std::uint64_t frac = bits & ((std::uint64_t{1} << 52) - 1);
    if (biased == 0) return {frac, 1};  // subnormal: frac * 2^(1 - 1075)
    return {frac | (std::uint64_t{1} << 52), biased};
}

void throw_not_finite(const char* what, std::size_t i) {
    throw domain_error(std::string(what) + " " + std::to_string(i) + " is not finite");
}

}  // namespace

rational exact_abs_sum(std::span<const double> x, const char* what) {
    // Bin k holds sum of mantissa * 2^(exponent - 1 - 32 k) for exponents
    // with (exponent - 1) / 32 == k: each term < 2^(53 + 31), so 2^44 terms fit.
    std::array<bin_t, 64> bins{};
    unsigned lo = 64, hi = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        if (!std::isfinite(v)) throw_not_finite(what, i);
        if (v == 0) continue;
        const unpacked u = unpack_abs(v);
        const unsigned k = (u.exponent - 1) / 32, shift = (u.exponent - 1) % 32;
        bins[k] += static_cast<bin_t>(u.mantissa) << shift;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    if (lo == 64) return rational(0);
    // total = sum_k bins[k] * 2^(32 k) * 2^(1 - 1075) = (sum_k bins[k] 2^(32 (k - lo))) * 2^(32 lo - 1074)
    mpz_t acc, term;
    mpz_init(acc);
    mpz_init(term);
    for (unsigned k = hi + 1; k-- > lo;) {
        mpz_mul_2exp(acc, acc, 32);
        const auto high = static_cast<std::uint64_t>(bins[k] >> 64), low = static_cast<std::uint64_t>(bins[k]);
        mpz_set_ui(term, static_cast<unsigned long>(high));
        mpz_mul_2exp(term, term, 64);
        mpz_add_ui(term, term, static_cast<unsigned long>(low));
        mpz_add(acc, acc, term);
    }
    rational result;
    mpq_set_z(result.backend().data(), acc);
    mpz_clear(acc);
    mpz_clear(term);
    const long exp2 = 32L * static_cast<long>(lo) - 1074;
    if (exp2 >= 0)
        mpq_mul_2exp(result.backend().data(), result.backend().data(), static_cast<mp_bitcnt_t>(exp2));
    else
        mpq_div_2exp(result.backend().data(), result.backend().data(), static_cast<mp_bitcnt_t>(-exp2));
    return result;
}

rational exact_max_abs_difference(std::span<const double> a, std::span<const double> b, const char* what) {
    check_same_size(a.size(), b.size(), what);
    // Rounding to nearest is monotone, so the exact maximum is attained among
    // the entries whose rounded |a_i - b_i| is the largest rounded value.
    // Among those, TwoSum's exact error term e (a_i - b_i = s + e) orders
    // them: |s + e| = |s| + sign(s) e.
    double best_rounded = -1, best_error = 0;
    std::size_t best_index = 0;
    bool overflow = false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) throw_not_finite(what, i);
        const double s = a[i] - b[i];
        if (!std::isfinite(s)) {
            overflow = true;
            break;
        }
        const double e = two_sum(a[i], -b[i]).error;
        const double d = std::fabs(s), signed_error = s >= 0 ? e : -e;
        if (d > best_rounded || (d == best_rounded && signed_error > best_error)) {
            best_rounded = d;
            best_error = signed_error;
            best_index = i;
        }
    }
    if (!overflow) {
        if (best_rounded <= 0) return rational(0);  // fl(a - b) = 0 only when a == b
        return abs(to_rational(a[best_index]) - to_rational(b[best_index]));
    }
    rational best = 0;  // a difference overflows: compare exactly
    for (std::size_t i = 0; i < a.size(); ++i) {
        const rational d = abs(to_rational(a[i]) - to_rational(b[i]));
        if (d > best) best = d;
    }
    return best;
}

}  // namespace qbound::arith
