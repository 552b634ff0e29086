#include "qbound/arith/scalar.hpp"

#include <cmath>

namespace qbound::arith {

std::string_view to_string(guarantee g) {
    switch (g) {
        case guarantee::exact: return "exact";
        case guarantee::enclosure: return "enclosure";
        case guarantee::correctly_rounded: return "correctly rounded";
        case guarantee::approximate: return "approximate";
    }
    return "unknown";
}

double round_to_double(const rational& q, mpfr_rnd_t rnd) {
    // Emulate binary64 exactly: 53 bits, double's exponent range, subnormals.
    const mpfr_exp_t saved_emin = mpfr_get_emin(), saved_emax = mpfr_get_emax();
    mpfr_set_emin(-1073);
    mpfr_set_emax(1024);
    mpfr_t v;
    mpfr_init2(v, 53);
    const int t = mpfr_set_q(v, q.backend().data(), rnd);
    mpfr_subnormalize(v, t, rnd);
    const double d = mpfr_get_d(v, rnd);
    mpfr_clear(v);
    mpfr_set_emin(saved_emin);
    mpfr_set_emax(saved_emax);
    return d;
}

double scalar_traits<double>::from_double(double x) {
    if (std::isnan(x)) throw domain_error("double: NaN operand");
    return x;
}

bool contains(double x, const rational& q) { return compare(q, x) == 0; }

mpfr_real width(const mpfr_real& x) { return mpfr_real(0.0, x.precision()); }

bool contains(const mpfr_real& x, const rational& q) { return x.is_finite() && x.to_rational() == q; }

namespace {
void require_number(double x, const char* op) {
    if (std::isnan(x)) throw domain_error(std::string(op) + ": NaN operand");
}
}  // namespace

double relu(double x) {
    require_number(x, "relu");
    return x > 0 ? x : 0.0;
}

double relu6(double x) {
    require_number(x, "relu6");
    return x > 0 ? (x < 6 ? x : 6.0) : 0.0;
}

double max(double a, double b) {
    require_number(a, "max");
    require_number(b, "max");
    return a < b ? b : a;
}

double abs(double a) {
    require_number(a, "abs");
    return std::fabs(a);
}

rational relu(const rational& x) { return x > 0 ? x : rational(0); }
rational relu6(const rational& x) { return x > 0 ? (x < 6 ? x : rational(6)) : rational(0); }
rational max(const rational& a, const rational& b) { return a < b ? b : a; }
rational abs(const rational& a) { return a < 0 ? rational(-a) : a; }

mpfr_real relu(const mpfr_real& x) { return max(x, mpfr_real(0.0, x.precision())); }
mpfr_real relu6(const mpfr_real& x) { return min(relu(x), mpfr_real(6.0, x.precision() < 3 ? 3 : x.precision())); }

mpfi_interval relu(const mpfi_interval& x) {
    const long p = x.precision();
    return max(x, mpfi_interval(0.0, p));
}

mpfi_interval relu6(const mpfi_interval& x) {
    const long p = x.precision() < 3 ? 3 : x.precision();  // 6 needs 2 bits; keep exact
    return min(max(x, mpfi_interval(0.0, p)), mpfi_interval(6.0, p));
}

}  // namespace qbound::arith
