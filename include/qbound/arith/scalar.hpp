#pragma once
// The vocabulary of number types and the common interface every later piece
// (forward evaluation, bounds, lemmas) is written against.
//
//   type             guarantee            what a value means
//   double           approximate          a plain IEEE result
//   rational         exact                the exact real value
//   mpfr_real        correctly_rounded    each operation rounded once, to nearest
//   mpfi_interval    enclosure            contains every exact result
//   interval_double  enclosure            contains every exact result
//
// A new number type needs one scalar_traits specialization plus the free
// functions below; generic code uses only these.
#include "qbound/arith/interval_double.hpp"
#include "qbound/arith/mpfi_interval.hpp"
#include "qbound/arith/mpfr_real.hpp"
#include "qbound/arith/rational.hpp"

#include <string>
#include <string_view>

namespace qbound::arith {

enum class guarantee { exact, enclosure, correctly_rounded, approximate };

std::string_view to_string(guarantee g);

// q rounded to binary64 in direction rnd (MPFR_RNDN: nearest, ties to
// even; MPFR_RNDD / MPFR_RNDU: directed), with IEEE subnormals and overflow
// to +-inf, exactly as an IEEE operation would round it.
double round_to_double(const rational& q, mpfr_rnd_t rnd);
inline double nearest_double(const rational& q) { return round_to_double(q, MPFR_RNDN); }

template <class T>
struct scalar_traits;  // specialised below, one per type

template <>
struct scalar_traits<double> {
    static constexpr guarantee kind = guarantee::approximate;
    static constexpr std::string_view name = "double";
    using bound_type = double;
    static double from_double(double x);  // throws on NaN
    static double from_rational(const rational& q) { return nearest_double(q); }
};

template <>
struct scalar_traits<rational> {
    static constexpr guarantee kind = guarantee::exact;
    static constexpr std::string_view name = "rational";
    using bound_type = rational;
    static rational from_double(double x) { return to_rational(x); }
    static rational from_rational(const rational& q) { return q; }
};

template <>
struct scalar_traits<mpfr_real> {
    static constexpr guarantee kind = guarantee::correctly_rounded;
    static constexpr std::string_view name = "mpfr";
    using bound_type = mpfr_real;
    static mpfr_real from_double(double x) { return mpfr_real(x); }
    static mpfr_real from_rational(const rational& q) { return mpfr_real(q); }
};

template <>
struct scalar_traits<mpfi_interval> {
    static constexpr guarantee kind = guarantee::enclosure;
    static constexpr std::string_view name = "mpfi";
    using bound_type = mpfr_real;
    static mpfi_interval from_double(double x) { return mpfi_interval(x); }
    static mpfi_interval from_rational(const rational& q) { return mpfi_interval(q); }
};

// Any Boost.Interval over double (qbound's interval_double, and the unsound
// policies kept for negative controls in the tests).
template <class Policies>
struct scalar_traits<boost::numeric::interval<double, Policies>> {
    using type = boost::numeric::interval<double, Policies>;
    static constexpr guarantee kind = guarantee::enclosure;
    static constexpr std::string_view name = "interval_double";
    using bound_type = double;
    static type from_double(double x) { return type(scalar_traits<double>::from_double(x)); }
    static type from_rational(const rational& q);
};

template <class T>
concept enclosure_type = scalar_traits<T>::kind == guarantee::enclosure;

// ---- lower / upper / midpoint / width / contains ---------------------------
// For point types lower == upper == midpoint == the value and width == 0.
// For enclosures: lower <= every contained real <= upper; width is an upper
// bound on upper - lower; midpoint is some point of the enclosure.
inline double lower(double x) { return x; }
inline double upper(double x) { return x; }
inline double midpoint(double x) { return x; }
inline double width(double) { return 0.0; }
bool contains(double x, const rational& q);

inline const rational& lower(const rational& x) { return x; }
inline const rational& upper(const rational& x) { return x; }
inline const rational& midpoint(const rational& x) { return x; }
inline rational width(const rational&) { return rational(0); }
inline bool contains(const rational& x, const rational& q) { return x == q; }

inline const mpfr_real& lower(const mpfr_real& x) { return x; }
inline const mpfr_real& upper(const mpfr_real& x) { return x; }
inline const mpfr_real& midpoint(const mpfr_real& x) { return x; }
mpfr_real width(const mpfr_real& x);
bool contains(const mpfr_real& x, const rational& q);

inline mpfr_real lower(const mpfi_interval& x) { return x.lower(); }
inline mpfr_real upper(const mpfi_interval& x) { return x.upper(); }
inline mpfr_real midpoint(const mpfi_interval& x) { return x.midpoint(); }
inline mpfr_real width(const mpfi_interval& x) { return x.width(); }
inline bool contains(const mpfi_interval& x, const rational& q) { return x.contains(q); }

template <class P>
double lower(const boost::numeric::interval<double, P>& x) { return x.lower(); }
template <class P>
double upper(const boost::numeric::interval<double, P>& x) { return x.upper(); }
template <class P>
double midpoint(const boost::numeric::interval<double, P>& x) { return boost::numeric::median(x); }
template <class P>
double width(const boost::numeric::interval<double, P>& x) { return boost::numeric::width(x); }
template <class P>
bool contains(const boost::numeric::interval<double, P>& x, const rational& q) {
    return compare(q, x.lower()) >= 0 && compare(q, x.upper()) <= 0;
}

// ---- ReLU, ReLU6, max, abs --------------------------------------------------
// relu(t) = max(t, 0), relu6(t) = min(max(t, 0), 6). On enclosures they are
// applied to both endpoints (both maps are monotone), which is exact: no
// rounding happens. On double, NaN throws domain_error.
double relu(double x);
double relu6(double x);
double max(double a, double b);
double abs(double a);

rational relu(const rational& x);
rational relu6(const rational& x);
rational max(const rational& a, const rational& b);
rational abs(const rational& a);

mpfr_real relu(const mpfr_real& x);
mpfr_real relu6(const mpfr_real& x);

mpfi_interval relu(const mpfi_interval& x);
mpfi_interval relu6(const mpfi_interval& x);

template <class P>
boost::numeric::interval<double, P> relu(const boost::numeric::interval<double, P>& x) {
    return boost::numeric::interval<double, P>(x.lower() > 0 ? x.lower() : 0.0,
                                               x.upper() > 0 ? x.upper() : 0.0, true);
}
template <class P>
boost::numeric::interval<double, P> relu6(const boost::numeric::interval<double, P>& x) {
    auto clamp06 = [](double t) { return t > 0 ? (t < 6 ? t : 6.0) : 0.0; };
    return boost::numeric::interval<double, P>(clamp06(x.lower()), clamp06(x.upper()), true);
}
template <class P>
boost::numeric::interval<double, P> max(const boost::numeric::interval<double, P>& a,
                                        const boost::numeric::interval<double, P>& b) {
    return boost::numeric::max(a, b);
}
template <class P>
boost::numeric::interval<double, P> abs(const boost::numeric::interval<double, P>& a) {
    return boost::numeric::abs(a);
}

template <class Policies>
auto scalar_traits<boost::numeric::interval<double, Policies>>::from_rational(const rational& q) -> type {
    const double d = nearest_double(q);
    const int c = compare(q, d);  // q vs its nearest double
    if (c == 0) return type(d, d, true);
    const double inf = std::numeric_limits<double>::infinity();
    return c < 0 ? type(std::nextafter(d, -inf), d, true) : type(d, std::nextafter(d, inf), true);
}

}  // namespace qbound::arith
