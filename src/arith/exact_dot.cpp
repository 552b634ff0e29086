#include "qbound/arith/exact_dot.hpp"

#include "qbound/arith/errors.hpp"

#include <cmath>
#include <cstdint>
#include <string>

namespace qbound::arith {

namespace {

// x = m * 2^e with m an integer, |m| < 2^53, e >= -1074.
void split(double x, std::int64_t& m, int& e) {
    int exp2 = 0;
    const double frac = std::frexp(x, &exp2);  // x = frac * 2^exp2, 0.5 <= |frac| < 1
    m = static_cast<std::int64_t>(std::ldexp(frac, 53));
    e = exp2 - 53;
    // Normalise subnormals so that e >= -1074 (m then has trailing zeros).
    if (e < -1074) {
        m >>= (-1074 - e);  // exact: the dropped bits are zero for a subnormal
        e = -1074;
    }
}

constexpr int fixed_point_shift = 2 * 1074;  // products have exponent >= -2148

}  // namespace

rational exact_dot(std::span<const double> a, std::span<const double> b) {
    check_same_size(a.size(), b.size(), "exact_dot");
    integer acc = 0;
    mpz_t term;
    mpz_init(term);
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
            mpz_clear(term);
            throw domain_error("exact_dot: entry " + std::to_string(i) + " is not finite");
        }
        if (a[i] == 0 || b[i] == 0) continue;
        std::int64_t ma = 0, mb = 0;
        int ea = 0, eb = 0;
        split(a[i], ma, ea);
        split(b[i], mb, eb);
        mpz_set_si(term, static_cast<long>(ma));
        mpz_mul_si(term, term, static_cast<long>(mb));
        mpz_mul_2exp(term, term, static_cast<mp_bitcnt_t>(ea + eb + fixed_point_shift));
        mpz_add(acc.backend().data(), acc.backend().data(), term);
    }
    mpz_clear(term);
    rational result(acc);
    mpq_div_2exp(result.backend().data(), result.backend().data(), fixed_point_shift);  // canonical
    return result;
}

}  // namespace qbound::arith
