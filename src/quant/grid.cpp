#include "qbound/quant/grid.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/scalar.hpp"

#include "text.hpp"
#include <gmp.h>

#include <bit>
#include <charconv>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace qbound::quant {

namespace {

// x = mantissa * 2^exponent with an integer mantissa, |mantissa| < 2^53.
struct dyadic {
    std::int64_t mantissa = 0;
    int exponent = 0;
};

dyadic decompose(double x) {
    int e = 0;
    const double f = std::frexp(x, &e);  // x = f 2^e, 0.5 <= |f| < 1 (or f = 0)
    return {static_cast<std::int64_t>(std::ldexp(f, 53)), e - 53};  // exact: f has at most 53 bits
}

using detail::text;

std::string hex(double x) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::hex);
    return "0x" + std::string(buf, r.ptr);
}

void require_step(double eta, const char* what) {
    if (!std::isfinite(eta) || !(eta > 0))
        throw core::invalid_argument(text(what, ": eta must be positive and finite (got ", eta, ")"));
}

bool product_overflows(double eta, const arith::integer& max_code) {
    return arith::rational(max_code) * arith::to_rational(eta) > arith::to_rational(DBL_MAX);
}

}  // namespace

arith::integer exact_quotient::nearest() const {
    const arith::integer twice = 2 * remainder;
    if (twice < denominator) return floor;
    if (twice > denominator) return floor + 1;
    return (floor % 2 == 0) ? floor : arith::integer(floor + 1);  // a tie: the even neighbour
}

bool exact_quotient::fraction_exceeds(std::uint64_t u53) const {
    // remainder / denominator > u53 / 2^53  <=>  remainder * 2^53 > u53 * denominator
    return (remainder << 53) > arith::integer(u53) * denominator;
}

double exact_quotient::fraction() const {
    return arith::nearest_double(arith::rational(remainder) / arith::rational(denominator));
}

exact_quotient divide(double w, double eta) {
    require_step(eta, "quantization step");
    if (!std::isfinite(w)) throw core::invalid_argument("quantization: weight " + hex(w) + " is not finite");
    const dyadic a = decompose(w), c = decompose(eta);  // c.mantissa > 0
    arith::integer num = a.mantissa, den = c.mantissa;
    const int shift = a.exponent - c.exponent;
    if (shift >= 0) {
        num <<= static_cast<unsigned>(shift);
    } else {
        den <<= static_cast<unsigned>(-shift);
    }
    exact_quotient q;
    // floor division: q = floor(num / den), r = num - q den in [0, den)
    mpz_fdiv_qr(q.floor.backend().data(), q.remainder.backend().data(), num.backend().data(), den.backend().data());
    q.denominator = std::move(den);
    return q;
}

std::int64_t max_code_for_bits(unsigned bits) {
    if (bits < 1 || bits > 32)
        throw core::invalid_argument(text("--bits ", bits, " is outside 1..32"));
    return bits == 1 ? 1 : (std::int64_t{1} << (bits - 1)) - 1;
}

int bit_length(const arith::integer& k) {
    if (k == 0) return 0;
    return static_cast<int>(mpz_sizeinbase(k.backend().data(), 2));
}

int significant_bits(double x) {
    if (x == 0 || !std::isfinite(x)) return 0;
    auto m = static_cast<std::uint64_t>(std::llabs(decompose(x).mantissa));
    m >>= std::countr_zero(m);
    return std::bit_width(m);
}

double round_up_to_significant_bits(const arith::rational& q, int bits) {
    if (bits < 1 || bits > 53) throw core::invalid_argument(text("significant bits ", bits, " outside 1..53"));
    if (q <= 0) throw core::invalid_argument("round_up_to_significant_bits: the value must be positive");
    // The smallest double >= q; every double with <= bits significant bits
    // that is >= q is also >= this one, so rounding it up to `bits` bits
    // gives the smallest such double.
    const double d = arith::round_to_double(q, MPFR_RNDU);
    if (!std::isfinite(d)) throw core::invalid_argument("quantization step overflows the double range");
    const dyadic x = decompose(d);
    const auto drop = static_cast<unsigned>(53 - bits);
    const std::uint64_t unit = std::uint64_t{1} << drop;
    const std::uint64_t m = (static_cast<std::uint64_t>(x.mantissa) + unit - 1) / unit * unit;  // <= 2^53
    // m * 2^exponent is representable: m <= 2^53 has <= bits significant
    // bits, and for subnormal d the exponent only grows when bits are dropped.
    const double r = std::ldexp(static_cast<double>(m), x.exponent);
    if (!std::isfinite(r)) throw core::invalid_argument("quantization step overflows the double range");
    if (arith::to_rational(r) < q || significant_bits(r) > bits)
        throw std::logic_error("round_up_to_significant_bits: rounding failed for " + hex(d));
    return r;
}

bool products_exact(double eta, const arith::integer& max_code) {
    require_step(eta, "quantization step");
    if (product_overflows(eta, max_code)) return false;
    auto m = static_cast<std::uint64_t>(decompose(eta).mantissa);
    m >>= std::countr_zero(m);  // the odd mantissa
    return max_code * arith::integer(m) < (arith::integer(1) << 53);
}

double step_for_bits(double max_abs, unsigned bits, int significand) {
    const std::int64_t q_max = max_code_for_bits(bits);
    if (!std::isfinite(max_abs) || max_abs < 0)
        throw core::invalid_argument("step_for_bits: max |w| must be finite and >= 0 (got " + hex(max_abs) + ")");
    if (max_abs == 0) return 1.0;  // all-zero tensor or channel: any positive step, all codes 0
    const arith::integer q_max_int(q_max);
    const int step_bits = significand - static_cast<int>(bit_length(q_max_int));
    if (significand < 1 || significand > 53 || step_bits < 1)
        throw core::invalid_argument(text("--bits ", bits, ": codes up to ", q_max, " leave no significant bits for the step in a ",
                                           significand, "-bit significand"));
    const double eta = round_up_to_significant_bits(arith::to_rational(max_abs) / q_max, step_bits);
    if (product_overflows(eta, q_max_int))
        throw core::invalid_argument(
            text("--bits ", bits, ": weights up to ", max_abs, " are too close to the double range (q_max * eta overflows)"));
    if (!products_exact(eta, q_max_int)) throw std::logic_error("step_for_bits: step " + hex(eta) + " is not exact");
    return eta;
}

explicit_step step_for_explicit(double max_abs, double eta, int significand) {
    require_step(eta, "--eta");
    if (!std::isfinite(max_abs) || max_abs < 0)
        throw core::invalid_argument("step_for_explicit: max |w| must be finite and >= 0 (got " + hex(max_abs) + ")");
    if (max_abs == 0) return {eta, false};
    const arith::integer K = divide(max_abs, eta).ceil();
    if (K >= code_limit)
        throw core::invalid_argument(text("--eta ", eta, " is too small for weights up to ", max_abs,
                                           ": codes would reach 2^52 (|w| / eta = ",
                                           arith::to_decimal(arith::to_rational(max_abs) / arith::to_rational(eta), 6), ")"));
    if (product_overflows(eta, K))
        throw core::invalid_argument(text("--eta ", eta, ": weights up to ", max_abs,
                                           " are too close to the double range (ceil(|w|/eta) * eta overflows)"));
    const int step_bits = significand - static_cast<int>(bit_length(K));
    if (significand < 1 || significand > 53 || step_bits < 1)
        throw core::invalid_argument(text("--eta ", eta, ": codes up to ", K, " leave no significant bits for the step in a ",
                                           significand, "-bit significand"));
    if (products_exact(eta, K) && significant_bits(eta) <= step_bits) return {eta, false};
    const double snapped = round_up_to_significant_bits(arith::to_rational(eta), step_bits);
    if (product_overflows(snapped, K))
        throw core::invalid_argument(text("--eta ", eta, ": the snapped step ", snapped, " overflows with weights up to ", max_abs));
    if (!products_exact(snapped, K)) throw std::logic_error("step_for_explicit: snapped step " + hex(snapped) + " is not exact");
    return {snapped, true};
}

bool round_codes_fast(double w, double eta, rounded_codes& out) {
    const double q = w / eta;
    if (!(std::fabs(q) < 0x1p51) || !(std::fabs(w) < 0x1p1022) || !(eta > 0) || !std::isfinite(eta)) return false;
    // |q - w / eta| <= ulp(q) / 2 <= 1/4: the exact floor is within one of floor(q).
    auto k = static_cast<std::int64_t>(std::floor(q));
    const auto sign_of_rest = [&](std::int64_t c) {  // sign of w - c eta, exactly
        const double r = std::fma(-static_cast<double>(c), eta, w);
        return (r > 0) - (r < 0);
    };
    for (int step = 0; step < 3 && sign_of_rest(k) < 0; ++step) --k;
    for (int step = 0; step < 3 && sign_of_rest(k + 1) >= 0; ++step) ++k;
    const int rest = sign_of_rest(k);
    if (rest < 0 || sign_of_rest(k + 1) >= 0) return false;  // cannot happen; the exact path decides
    out.floor = k;
    out.ceil = rest == 0 ? k : k + 1;
    // frac vs 1/2: the sign of 2w - (2k + 1) eta (2w exact: |w| < 2^1022; 2k + 1 exact: |k| < 2^52).
    const double half = std::fma(-static_cast<double>(2 * k + 1), eta, 2 * w);
    if (rest == 0 || half < 0) out.nearest = k;
    else if (half > 0) out.nearest = k + 1;
    else out.nearest = (k % 2 == 0) ? k : k + 1;  // a tie: the even neighbour
    return true;
}

bool grid_point_fast(std::int64_t code, double eta, double& p) {
    const double c = static_cast<double>(code);  // |code| < 2^52: exact
    const double product = c * eta;
    if (product == 0) {
        if (code != 0) return false;  // eta * code underflowed
        p = 0;
        return true;
    }
    if (!std::isfinite(product) || !(std::fabs(product) >= 0x1p-968) || std::fma(c, eta, -product) != 0) return false;
    p = product;
    return true;
}

double grid_point(std::int64_t code, double eta) {
    const double p = static_cast<double>(code) * eta;  // |code| < 2^52: the conversion is exact
    if (!std::isfinite(p) || arith::to_rational(p) != arith::rational(code) * arith::to_rational(eta))
        throw std::logic_error(text("quantization: ", code, " * ", hex(eta), " is not an exact double"));
    return p;
}

std::int64_t to_code(const arith::integer& k) {
    if (abs(k) >= code_limit)
        throw core::invalid_argument("quantization code " + k.str() + " does not fit 52 bits (eta too small)");
    return k.convert_to<std::int64_t>();
}

}  // namespace qbound::quant
