#include "qbound/arith/interval_double.hpp"

#include "qbound/arith/error_free.hpp"

#include <cfloat>
#include <cmath>
#include <string>

namespace qbound::arith {

namespace detail {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
// Below this magnitude an FMA residual may underflow, so it is not trusted.
constexpr double eft_threshold = 0x1p-960;

int sign_of(double e) { return (e > 0) - (e < 0); }

// The rounded result of an operation on finite operands overflowed to +-inf.
// The exact result is beyond +-DBL_MAX; keep the finite side there.
double overflowed(double rounded, int dir) {
    if (rounded > 0) return dir < 0 ? DBL_MAX : inf;
    return dir > 0 ? -DBL_MAX : -inf;
}

// One ulp outward: sound for any round-to-nearest result (error <= half ulp).
double widened(double rounded, int dir) { return std::nextafter(rounded, dir < 0 ? -inf : inf); }

}  // namespace

double rounded_arith_eft::directed(double rounded, int error_sign, int dir) {
    return error_sign == dir ? widened(rounded, dir) : rounded;
}

double rounded_arith_eft::sum(double x, double y, int dir) {
    const double s = x + y;
    if (!std::isfinite(s)) {
        if (std::isnan(s)) throw domain_error("interval_double: inf - inf at an endpoint");
        if (!std::isfinite(x) || !std::isfinite(y)) return s;  // unbounded endpoint: the limit
        return overflowed(s, dir);
    }
    // s + e == x + y exactly when e is finite (error_free.hpp).
    const double e = two_sum(x, y).error;
    if (!std::isfinite(e)) return widened(s, dir);
    return directed(s, sign_of(e), dir);
}

double rounded_arith_eft::product(double x, double y, int dir) {
    const double p = x * y;
    if (std::isnan(p)) throw domain_error("interval_double: 0 * inf at an endpoint");
    if (!std::isfinite(x) || !std::isfinite(y) || x == 0 || y == 0) return p;  // exact or a limit
    if (std::isinf(p)) return overflowed(p, dir);
    if (std::fabs(p) >= eft_threshold) {
        const double e = two_prod(x, y).error;  // exact: x*y - p (|p| >= 2^-960, error_free.hpp)
        return directed(p, sign_of(e), dir);
    }
    return widened(p, dir);
}

double rounded_arith_eft::quotient(double x, double y, int dir) {
    if (y == 0) throw domain_error("interval_double: division by zero at an endpoint");
    const double q = x / y;
    if (std::isnan(q)) throw domain_error("interval_double: inf / inf at an endpoint");
    if (!std::isfinite(x) || !std::isfinite(y) || x == 0) return q;  // exact or a limit
    if (std::isinf(q)) return overflowed(q, dir);
    if (std::fabs(q) >= eft_threshold) {
        // x/y == (x 2^600)/(y 2^600) exactly; scaling a tiny dividend up (when
        // the divisor allows it) makes the residual below exact.
        double xs = x, ys = y;
        if (std::fabs(x) < eft_threshold && std::fabs(y) < 0x1p400) {
            xs = std::ldexp(x, 600);
            ys = std::ldexp(y, 600);
        }
        if (std::fabs(xs) >= eft_threshold) {
            const double r = std::fma(-q, ys, xs);  // exact: xs - q*ys, so x/y - q = r/ys
            return directed(q, sign_of(r) * sign_of(ys), dir);
        }
    }
    return widened(q, dir);
}

double rounded_arith_eft::square_root(double x, int dir) {
    if (x < 0) throw domain_error("interval_double: square root of a negative endpoint");
    const double s = std::sqrt(x);
    if (x == 0 || std::isinf(x)) return s;
    if (x >= eft_threshold) {
        const double r = std::fma(-s, s, x);  // exact: x - s^2
        return directed(s, sign_of(r), dir);
    }
    return widened(s, dir);
}

double rounded_arith_eft::median(double x, double y) {
    if (std::isinf(x) && std::isinf(y)) return 0.0;
    if (std::isinf(x)) return y;
    if (std::isinf(y)) return x;
    const double m = 0.5 * x + 0.5 * y;  // no overflow; may round outside for subnormals
    return m < x ? x : (m > y ? y : m);
}

double checking_qbound::nan() { throw domain_error("interval_double: operation has no real value (NaN)"); }

bool checking_qbound::is_nan(double x) {
    if (std::isnan(x)) throw domain_error("interval_double: NaN operand");
    return false;
}

double checking_qbound::empty_lower() { throw domain_error("interval_double: empty interval (lower > upper, or an empty result such as division by [0, 0])"); }
double checking_qbound::empty_upper() { empty_lower(); }

}  // namespace detail

interval_double make_interval(double lo, double hi) {
    if (std::isnan(lo) || std::isnan(hi)) throw domain_error("interval_double: NaN endpoint");
    if (!(lo <= hi) || (std::isinf(lo) && lo > 0) || (std::isinf(hi) && hi < 0))
        throw domain_error("interval_double: invalid bounds [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return interval_double(lo, hi, true);
}

}  // namespace qbound::arith
