#include "qbound/arith/mpfi_interval.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace qbound::arith {

namespace {

mpfr_prec_t result_precision(const mpfi_interval& a, const mpfi_interval& b) {
    return static_cast<mpfr_prec_t>(std::max(a.precision(), b.precision()));
}

void check_valid(const mpfi_interval& r, const char* op) {
    if (mpfi_nan_p(r.get())) throw domain_error(std::string("mpfi_interval: ") + op + " has no real value (NaN)");
    if (mpfi_is_empty(r.get())) throw domain_error(std::string("mpfi_interval: ") + op + " gave an empty interval");
}

// Exact comparison of q with an MPFR endpoint (+-inf beyond every rational).
int compare_endpoint(const rational& q, mpfr_srcptr e) {
    if (mpfr_inf_p(e)) return mpfr_sgn(e) > 0 ? -1 : 1;
    rational v;
    mpfr_get_q(v.backend().data(), e);
    return q < v ? -1 : (q > v ? 1 : 0);
}

}  // namespace

mpfi_interval::mpfi_interval(uninitialized_tag, mpfr_prec_t bits) { mpfi_init2(value_, bits); }

mpfi_interval make_mpfi_result(mpfr_prec_t bits) {
    mpfi_interval r(mpfi_interval::uninitialized_tag{}, checked_precision(static_cast<long>(bits)));
    mpfi_set_si(r.value_, 0);
    return r;
}

mpfi_interval::mpfi_interval() : mpfi_interval(0.0) {}

mpfi_interval::mpfi_interval(double x, long bits) {
    if (std::isnan(x)) throw domain_error("mpfi_interval: NaN operand");
    if (std::isinf(x)) throw domain_error("mpfi_interval: infinite point value");
    mpfi_init2(value_, checked_precision(bits));
    mpfi_set_d(value_, x);
}

mpfi_interval::mpfi_interval(double lo, double hi, long bits) {
    if (std::isnan(lo) || std::isnan(hi)) throw domain_error("mpfi_interval: NaN endpoint");
    if (!(lo <= hi) || lo == INFINITY || hi == -INFINITY)
        throw domain_error("mpfi_interval: invalid bounds [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    mpfi_init2(value_, checked_precision(bits));
    mpfi_interv_d(value_, lo, hi);
}

mpfi_interval::mpfi_interval(const rational& q, long bits) {
    mpfi_init2(value_, checked_precision(bits));
    mpfi_set_q(value_, q.backend().data());
}

mpfi_interval::mpfi_interval(const mpfr_real& lo, const mpfr_real& hi, long bits) {
    if (!(lo <= hi) || (mpfr_inf_p(lo.get()) && lo.sign() > 0) || (mpfr_inf_p(hi.get()) && hi.sign() < 0))
        throw domain_error("mpfi_interval: invalid bounds [" + lo.to_string() + ", " + hi.to_string() + "]");
    const long p = bits != 0 ? bits : std::max(lo.precision(), hi.precision());
    mpfi_init2(value_, checked_precision(p));
    mpfi_interv_fr(value_, lo.get(), hi.get());
}

mpfi_interval::mpfi_interval(const mpfi_interval& other) {
    mpfi_init2(value_, mpfi_get_prec(other.value_));
    mpfi_set(value_, other.value_);
}

mpfi_interval::mpfi_interval(mpfi_interval&& other) noexcept {
    value_[0] = other.value_[0];
    mpfi_init2(other.value_, 2);
    mpfi_set_si(other.value_, 0);
}

mpfi_interval& mpfi_interval::operator=(const mpfi_interval& other) {
    if (this != &other) {
        mpfi_set_prec(value_, mpfi_get_prec(other.value_));
        mpfi_set(value_, other.value_);
    }
    return *this;
}

mpfi_interval& mpfi_interval::operator=(mpfi_interval&& other) noexcept {
    if (this != &other) mpfi_swap(value_, other.value_);
    return *this;
}

mpfi_interval::~mpfi_interval() { mpfi_clear(value_); }

mpfr_real mpfi_interval::lower() const {
    mpfr_real r = make_mpfr_result(mpfi_get_prec(value_));
    mpfi_get_left(r.get(), value_);
    return r;
}

mpfr_real mpfi_interval::upper() const {
    mpfr_real r = make_mpfr_result(mpfi_get_prec(value_));
    mpfi_get_right(r.get(), value_);
    return r;
}

mpfr_real mpfi_interval::midpoint() const {
    mpfr_real r = make_mpfr_result(mpfi_get_prec(value_));
    mpfi_mid(r.get(), value_);
    return r;
}

mpfr_real mpfi_interval::width() const {
    mpfr_real r = make_mpfr_result(mpfi_get_prec(value_));
    mpfi_diam_abs(r.get(), value_);  // rounded up by MPFI
    return r;
}

bool mpfi_interval::contains(const rational& q) const {
    return compare_endpoint(q, &value_->left) >= 0 && compare_endpoint(q, &value_->right) <= 0;
}

std::string mpfi_interval::to_string(int digits) const {
    return "[" + lower().to_string(digits) + ", " + upper().to_string(digits) + "]";
}

mpfi_interval operator+(const mpfi_interval& a, const mpfi_interval& b) {
    mpfi_interval r = make_mpfi_result(result_precision(a, b));
    mpfi_add(r.get(), a.get(), b.get());
    check_valid(r, "addition");
    return r;
}

mpfi_interval operator-(const mpfi_interval& a, const mpfi_interval& b) {
    mpfi_interval r = make_mpfi_result(result_precision(a, b));
    mpfi_sub(r.get(), a.get(), b.get());
    check_valid(r, "subtraction");
    return r;
}

mpfi_interval operator*(const mpfi_interval& a, const mpfi_interval& b) {
    mpfi_interval r = make_mpfi_result(result_precision(a, b));
    mpfi_mul(r.get(), a.get(), b.get());
    check_valid(r, "multiplication");
    return r;
}

mpfi_interval operator/(const mpfi_interval& a, const mpfi_interval& b) {
    if (mpfr_zero_p(&b.get()->left) && mpfr_zero_p(&b.get()->right))
        throw domain_error("mpfi_interval: division by the exact zero [0, 0]");
    mpfi_interval r = make_mpfi_result(result_precision(a, b));
    mpfi_div(r.get(), a.get(), b.get());  // a divisor containing 0 gives the whole line
    check_valid(r, "division");
    return r;
}

mpfi_interval operator-(const mpfi_interval& a) {
    mpfi_interval r = make_mpfi_result(mpfi_get_prec(a.get()));
    mpfi_neg(r.get(), a.get());
    return r;
}

mpfi_interval enclosing_dot(std::span<const mpfi_interval> a, std::span<const mpfi_interval> b, long bits) {
    check_same_size(a.size(), b.size(), "dot");
    const long p = bits != 0 ? bits : largest_precision(a, b);
    const mpfr_prec_t prec = checked_precision(p, "dot precision");
    mpfi_interval acc = make_mpfi_result(prec);
    mpfi_interval term = make_mpfi_result(prec);
    for (std::size_t i = 0; i < a.size(); ++i) {
        mpfi_mul(term.get(), a[i].get(), b[i].get());
        mpfi_add(acc.get(), acc.get(), term.get());
    }
    check_valid(acc, "dot product");
    return acc;
}

mpfi_interval max(const mpfi_interval& a, const mpfi_interval& b) {
    const auto p = result_precision(a, b);
    mpfr_real lo = make_mpfr_result(p), hi = make_mpfr_result(p);
    mpfr_max(lo.get(), &a.get()->left, &b.get()->left, MPFR_RNDD);  // exact at p
    mpfr_max(hi.get(), &a.get()->right, &b.get()->right, MPFR_RNDU);
    return mpfi_interval(lo, hi, p);
}

mpfi_interval min(const mpfi_interval& a, const mpfi_interval& b) {
    const auto p = result_precision(a, b);
    mpfr_real lo = make_mpfr_result(p), hi = make_mpfr_result(p);
    mpfr_min(lo.get(), &a.get()->left, &b.get()->left, MPFR_RNDD);
    mpfr_min(hi.get(), &a.get()->right, &b.get()->right, MPFR_RNDU);
    return mpfi_interval(lo, hi, p);
}

mpfi_interval abs(const mpfi_interval& a) {
    mpfi_interval r = make_mpfi_result(mpfi_get_prec(a.get()));
    mpfi_abs(r.get(), a.get());
    return r;
}

}  // namespace qbound::arith
