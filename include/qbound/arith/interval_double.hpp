#pragma once
// interval_double: Boost.Interval over double endpoints with a rounding
// policy that never touches the FPU rounding mode.
//
// Why not Boost's default policy: it switches the hardware rounding mode,
// which compilers assume is round-to-nearest; at -O2 constant folding and
// code motion then silently produce unsound results (observed here: the
// "interval" [0.30000000000000004, 0.30000000000000004] for 0.1 + 0.2).
//
// How this policy works (rounded_arith_eft): every endpoint operation is done
// in round-to-nearest, and its exact rounding error is recovered with an
// error-free transformation (TwoSum for +/-, an FMA residual for *, / and
// sqrt). The sign of that error says on which side of the exact value the
// rounded result lies, so x op_down y returns either the rounded result or
// its predecessor: exactly what a directed rounding would return, and a point
// stays a point when the operation is exact. Where an error-free
// transformation is not exact (results within 2^-960 of zero, where the
// residual may underflow) the result is widened by one ulp, which is sound
// because a round-to-nearest result is within half an ulp. Overflow to
// +-inf keeps the finite side at +-DBL_MAX.
//
// Assumptions, checked at run time by `qbound selfcheck` and by the tests:
// round-to-nearest mode, IEEE binary64 with subnormals (no flush-to-zero),
// and FP contraction that cannot merge our explicit operations (the build
// uses -ffp-contract=off; the error-free transformations use std::fma
// explicitly). Holds at -O0, -O2 and -O3 -march=native (tests/arith).
#include "qbound/arith/errors.hpp"

#include <boost/numeric/interval.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

namespace qbound::arith {

namespace detail {

// The rounded_arith concept of Boost.Interval, for double, without any
// change of rounding mode. All functions accept +-inf operands (endpoints of
// unbounded intervals) and then return the IEEE result, which is the limit.
struct rounded_arith_eft {
    using value_type = double;

    void init() {}

    template <class U>
    double conv_down(const U& v) { return convert<U>(v, -1); }
    template <class U>
    double conv_up(const U& v) { return convert<U>(v, +1); }

    double add_down(double x, double y) { return sum(x, y, -1); }
    double add_up(double x, double y) { return sum(x, y, +1); }
    double sub_down(double x, double y) { return sum(x, -y, -1); }
    double sub_up(double x, double y) { return sum(x, -y, +1); }
    double mul_down(double x, double y) { return product(x, y, -1); }
    double mul_up(double x, double y) { return product(x, y, +1); }
    double div_down(double x, double y) { return quotient(x, y, -1); }
    double div_up(double x, double y) { return quotient(x, y, +1); }
    double sqrt_down(double x) { return square_root(x, -1); }
    double sqrt_up(double x) { return square_root(x, +1); }
    // Any point of [x, y] will do; this one is inside and never overflows.
    double median(double x, double y);
    double int_down(double x) { return std::floor(x); }
    double int_up(double x) { return std::ceil(x); }

    // Public for tests: `rounded` is the round-to-nearest result of an
    // operation whose exact result r satisfies sign(r - rounded) = error_sign
    // (0: exact). Returns the directed result in direction dir (-1 down, +1 up).
    static double directed(double rounded, int error_sign, int dir);
    static double sum(double x, double y, int dir);
    static double product(double x, double y, int dir);
    static double quotient(double x, double y, int dir);
    static double square_root(double x, int dir);

private:
    template <class U>
    static double convert(const U& value, int dir) {
        using V = std::remove_cv_t<U>;
        const V v = value;
        if constexpr (std::is_same_v<V, double> || std::is_same_v<V, float>) {
            return static_cast<double>(v);
        } else if constexpr (std::is_integral_v<V> && sizeof(V) <= 4) {
            return static_cast<double>(v);  // exact: 32-bit integers fit in 53 bits
        } else if constexpr (std::is_integral_v<V>) {
            // 64-bit integers: round to nearest, then step if inexact.
            const double d = static_cast<double>(v);
            if (d >= 0x1p63 || d < -0x1p63) return directed(d, d > 0 ? -1 : +1, dir);
            const auto back = static_cast<V>(d);
            return directed(d, back < v ? +1 : (back > v ? -1 : 0), dir);
        } else {
            static_assert(std::is_integral_v<V>, "no sound conversion of this type to interval_double");
            return 0.0;
        }
    }
};

// Boost.Interval checking policy: NaN operands and empty intervals throw
// domain_error instead of propagating; a lower bound of +inf or an upper
// bound of -inf (which contain no real) counts as empty.
struct checking_qbound {
    static double pos_inf() { return std::numeric_limits<double>::infinity(); }
    static double neg_inf() { return -std::numeric_limits<double>::infinity(); }
    [[noreturn]] static double nan();
    static bool is_nan(double x);
    [[noreturn]] static double empty_lower();
    [[noreturn]] static double empty_upper();
    static bool is_empty(double l, double u) {
        return !(l <= u) || l == pos_inf() || u == neg_inf();
    }
};

}  // namespace detail

using interval_double = boost::numeric::interval<
    double, boost::numeric::interval_lib::policies<
                boost::numeric::interval_lib::save_state_nothing<detail::rounded_arith_eft>,
                detail::checking_qbound>>;

// Named constructors (validate and make intent explicit).
inline interval_double make_interval(double x) { return interval_double(x); }
interval_double make_interval(double lo, double hi);

}  // namespace qbound::arith
