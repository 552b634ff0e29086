#include "qbound/arith/rational.hpp"

#include "qbound/arith/errors.hpp"

#include <cmath>
#include <string>

namespace qbound::arith {

rational to_rational(double x, const char* what) {
    if (std::isnan(x)) throw domain_error(std::string(what) + " is NaN");
    if (std::isinf(x)) throw domain_error(std::string(what) + " is infinite (" + (x > 0 ? "+inf" : "-inf") + ")");
    return rational(x);  // mpq_set_d: exact for every finite double
}

int compare(const rational& q, double d) {
    if (std::isnan(d)) throw domain_error("comparison of a rational with NaN");
    if (std::isinf(d)) return d > 0 ? -1 : 1;
    const rational r(d);
    return q < r ? -1 : (q > r ? 1 : 0);
}

std::string to_decimal(const rational& q, int digits) {
    using dec = boost::multiprecision::number<boost::multiprecision::gmp_float<0>>;
    dec v;
    v.precision(static_cast<unsigned>(digits + 10));
    v = dec(q);
    return v.str(digits, std::ios_base::scientific);
}

}  // namespace qbound::arith
