#include "qbound/bounds/upward.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/core/errors.hpp"

#include <gmp.h>

#include <cmath>

namespace qbound::bounds {

namespace {
constexpr mpfr_rnd_t upward = MPFR_RNDU;
}  // namespace

upper round_up(const arith::rational& q, long bits) {
    upper r = arith::make_mpfr_result(bits);
    mpfr_set_q(r.get(), q.backend().data(), upward);
    return r;
}

upper round_up(double x, long bits) {
    if (std::isnan(x)) throw arith::domain_error("round_up: NaN");
    upper r = arith::make_mpfr_result(bits);
    mpfr_set_d(r.get(), x, upward);
    return r;
}

upper exact_count(std::size_t n, long bits) {
    upper r = arith::make_mpfr_result(bits);
    mpfr_set_uj(r.get(), n, upward);
    return r;
}

namespace {
long result_bits(const upper& a, const upper& b) { return std::max(a.precision(), b.precision()); }
}  // namespace

upper add_up(const upper& a, const upper& b) {
    upper r = arith::make_mpfr_result(result_bits(a, b));
    mpfr_add(r.get(), a.get(), b.get(), upward);
    return r;
}

upper mul_up(const upper& a, const upper& b) {
    upper r = arith::make_mpfr_result(result_bits(a, b));
    mpfr_mul(r.get(), a.get(), b.get(), upward);
    return r;
}

upper pow_up(const upper& a, unsigned long n) {
    upper r = arith::make_mpfr_result(a.precision());
    mpfr_pow_ui(r.get(), a.get(), n, upward);
    return r;
}

upper root_up(const upper& a, unsigned long k) {
    if (k == 0) throw core::invalid_argument("root_up: k must be >= 1");
    if (a.sign() < 0) throw arith::domain_error("root_up: negative argument");
    upper r = arith::make_mpfr_result(a.precision());
    mpfr_rootn_ui(r.get(), a.get(), k, upward);
    return r;
}

namespace {
upper log10_rounded(const upper& a, mpfr_rnd_t rnd) {
    if (a.sign() <= 0) throw arith::domain_error("log10 of a non-positive bound value");
    upper r = arith::make_mpfr_result(a.precision());
    mpfr_log10(r.get(), a.get(), rnd);
    return r;
}
}  // namespace

double log10_nearest(const upper& a) { return log10_rounded(a, MPFR_RNDN).to_double(); }
upper log10_down(const upper& a) { return log10_rounded(a, MPFR_RNDD); }
upper log10_up(const upper& a) { return log10_rounded(a, MPFR_RNDU); }

std::string scientific_up(const upper& a, int digits) {
    if (a.sign() == 0) return "0";
    if (!a.is_finite()) return "inf";
    if (digits < 1) digits = 1;
    // mpfr_get_str with an upward rounding gives a decimal mantissa >= a.
    mpfr_exp_t exp10 = 0;
    char* s = mpfr_get_str(nullptr, &exp10, 10, static_cast<std::size_t>(digits), a.get(), MPFR_RNDU);
    std::string m(s);
    mpfr_free_str(s);
    std::string sign;
    if (!m.empty() && m.front() == '-') sign = "-", m.erase(0, 1);
    // value = 0.m x 10^exp10 = m[0].m[1..] x 10^(exp10 - 1)
    std::string out = sign + m.substr(0, 1);
    if (m.size() > 1) out += "." + m.substr(1);
    const long e = static_cast<long>(exp10) - 1;
    if (e != 0) out += " x 10^" + std::to_string(e);
    return out;
}

std::string decimal_up(const upper& a, int significant) {
    char buf[128];
    mpfr_snprintf(buf, sizeof buf, "%.*RUg", significant, a.get());
    return buf;
}

std::string log10_text(const upper& a, int decimals) {
    const upper l = log10_up(a);
    std::string fmt = "%." + std::to_string(decimals) + "RUf";
    char buf[128];
    mpfr_snprintf(buf, sizeof buf, fmt.c_str(), l.get());
    return buf;
}

}  // namespace qbound::bounds
