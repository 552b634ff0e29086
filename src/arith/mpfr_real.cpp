#include "qbound/arith/mpfr_real.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace qbound::arith {

namespace {

mpfr_prec_t result_precision(const mpfr_real& a, const mpfr_real& b) {
    return static_cast<mpfr_prec_t>(std::max(a.precision(), b.precision()));
}

// Throws when an operation produced NaN (inf - inf, 0 * inf, inf / inf).
void checked(const mpfr_real& r, const char* op) {
    if (mpfr_nan_p(r.get())) throw domain_error(std::string("mpfr_real: ") + op + " has no real value (NaN)");
}

}  // namespace

mpfr_real::mpfr_real(uninitialized_tag, mpfr_prec_t bits) { mpfr_init2(value_, bits); }

mpfr_real make_mpfr_result(mpfr_prec_t bits) {
    mpfr_real r(mpfr_real::uninitialized_tag{}, checked_precision(static_cast<long>(bits)));
    mpfr_set_zero(r.value_, +1);
    return r;
}

mpfr_real::mpfr_real() : mpfr_real(0.0) {}

mpfr_real::mpfr_real(double x, long bits) {
    if (std::isnan(x)) throw domain_error("mpfr_real: NaN operand");
    mpfr_init2(value_, checked_precision(bits));
    mpfr_set_d(value_, x, MPFR_RNDN);
}

mpfr_real::mpfr_real(const rational& q, long bits) {
    mpfr_init2(value_, checked_precision(bits));
    mpfr_set_q(value_, q.backend().data(), MPFR_RNDN);
}

mpfr_real::mpfr_real(const mpfr_real& other) {
    mpfr_init2(value_, mpfr_get_prec(other.value_));
    mpfr_set(value_, other.value_, MPFR_RNDN);  // exact: same precision
}

mpfr_real::mpfr_real(mpfr_real&& other) noexcept {
    // Steal the limbs; leave `other` a valid 2-bit zero.
    value_[0] = other.value_[0];
    mpfr_init2(other.value_, MPFR_PREC_MIN > 2 ? MPFR_PREC_MIN : 2);
    mpfr_set_zero(other.value_, +1);
}

mpfr_real& mpfr_real::operator=(const mpfr_real& other) {
    if (this != &other) {
        mpfr_set_prec(value_, mpfr_get_prec(other.value_));
        mpfr_set(value_, other.value_, MPFR_RNDN);
    }
    return *this;
}

mpfr_real& mpfr_real::operator=(mpfr_real&& other) noexcept {
    if (this != &other) mpfr_swap(value_, other.value_);
    return *this;
}

mpfr_real::~mpfr_real() { mpfr_clear(value_); }

rational mpfr_real::to_rational() const {
    if (!mpfr_number_p(value_)) throw domain_error("mpfr_real: infinite value has no rational equivalent");
    rational q;
    mpfr_get_q(q.backend().data(), value_);
    return q;
}

std::string mpfr_real::to_string(int digits) const {
    if (mpfr_inf_p(value_)) return mpfr_sgn(value_) > 0 ? "+inf" : "-inf";
    if (mpfr_zero_p(value_)) return "0";  // MPFI keeps right endpoints as -0; the sign means nothing
    std::vector<char> buf(static_cast<std::size_t>(digits) + 64);
    mpfr_snprintf(buf.data(), buf.size(), "%.*Rg", digits, value_);
    return std::string(buf.data());
}

mpfr_real operator+(const mpfr_real& a, const mpfr_real& b) {
    mpfr_real r = make_mpfr_result(result_precision(a, b));
    mpfr_add(r.get(), a.get(), b.get(), MPFR_RNDN);
    checked(r, "inf - inf");
    return r;
}

mpfr_real operator-(const mpfr_real& a, const mpfr_real& b) {
    mpfr_real r = make_mpfr_result(result_precision(a, b));
    mpfr_sub(r.get(), a.get(), b.get(), MPFR_RNDN);
    checked(r, "inf - inf");
    return r;
}

mpfr_real operator*(const mpfr_real& a, const mpfr_real& b) {
    mpfr_real r = make_mpfr_result(result_precision(a, b));
    mpfr_mul(r.get(), a.get(), b.get(), MPFR_RNDN);
    checked(r, "0 * inf");
    return r;
}

mpfr_real operator/(const mpfr_real& a, const mpfr_real& b) {
    if (mpfr_zero_p(b.get())) throw domain_error("mpfr_real: division by zero");
    mpfr_real r = make_mpfr_result(result_precision(a, b));
    mpfr_div(r.get(), a.get(), b.get(), MPFR_RNDN);
    checked(r, "inf / inf");
    return r;
}

mpfr_real operator-(const mpfr_real& a) {
    mpfr_real r = make_mpfr_result(mpfr_get_prec(a.get()));
    mpfr_neg(r.get(), a.get(), MPFR_RNDN);  // exact
    return r;
}

mpfr_real correctly_rounded_dot(std::span<const mpfr_real> a, std::span<const mpfr_real> b, long bits) {
    check_same_size(a.size(), b.size(), "dot");
    const long p = bits != 0 ? bits : largest_precision(a, b);
    mpfr_real r = make_mpfr_result(checked_precision(p, "dot precision"));
    if (a.empty()) return r;
    std::vector<mpfr_ptr> pa(a.size()), pb(b.size());
    // mpfr_dot takes non-const pointer arrays but does not modify the operands.
    for (std::size_t i = 0; i < a.size(); ++i) {
        pa[i] = const_cast<mpfr_ptr>(a[i].get());
        pb[i] = const_cast<mpfr_ptr>(b[i].get());
    }
    mpfr_dot(r.get(), pa.data(), pb.data(), static_cast<unsigned long>(a.size()), MPFR_RNDN);
    checked(r, "dot with inf - inf or 0 * inf");
    return r;
}

mpfr_real max(const mpfr_real& a, const mpfr_real& b) {
    mpfr_real r = make_mpfr_result(result_precision(a, b));
    mpfr_max(r.get(), a.get(), b.get(), MPFR_RNDN);  // exact: result precision >= both
    return r;
}

mpfr_real min(const mpfr_real& a, const mpfr_real& b) {
    mpfr_real r = make_mpfr_result(result_precision(a, b));
    mpfr_min(r.get(), a.get(), b.get(), MPFR_RNDN);
    return r;
}

mpfr_real abs(const mpfr_real& a) {
    mpfr_real r = make_mpfr_result(mpfr_get_prec(a.get()));
    mpfr_abs(r.get(), a.get(), MPFR_RNDN);
    return r;
}

}  // namespace qbound::arith
