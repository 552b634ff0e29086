#include "qbound/testing/enclosure_check.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <string>

namespace qbound::testing {

using namespace arith;

std::string_view to_string(binary_op op) {
    switch (op) {
        case binary_op::add: return "add";
        case binary_op::sub: return "sub";
        case binary_op::mul: return "mul";
        case binary_op::div: return "div";
        case binary_op::max: return "max";
    }
    return "?";
}

std::string_view to_string(unary_op op) {
    switch (op) {
        case unary_op::neg: return "neg";
        case unary_op::abs: return "abs";
        case unary_op::relu: return "relu";
        case unary_op::relu6: return "relu6";
    }
    return "?";
}

rational apply_exact(binary_op op, const rational& x, const rational& y) {
    if (op == binary_op::div && y == 0) throw domain_error("exact division by zero");
    return apply(op, x, y);
}

rational apply_exact(unary_op op, const rational& x) { return apply(op, x); }

bool is_correctly_rounded(const mpfr_real& r, const rational& exact) {
    if (!r.is_finite()) return false;
    const rational value = r.to_rational();
    if (value == exact) return true;
    // MPFR's exponent range reaches 2^(-2^30): a zero result is correctly
    // rounded only for an exact zero (and its neighbours are too tiny to
    // build as rationals).
    if (mpfr_zero_p(r.get())) return false;
    mpfr_real below = r, above = r;
    mpfr_nextbelow(below.get());
    mpfr_nextabove(above.get());
    const rational d = abs(rational(exact - value));
    const rational d_below = abs(rational(exact - below.to_rational()));
    const rational d_above = abs(rational(exact - above.to_rational()));
    if (d > d_below || d > d_above) return false;
    if (d == d_below || d == d_above) {
        // A tie: MPFR rounds to the neighbour with an even last bit, i.e. r
        // must fit in one bit less.
        return mpfr_zero_p(r.get()) || mpfr_min_prec(r.get()) < mpfr_get_prec(r.get());
    }
    return true;
}

std::size_t cases_multiplier() {
    const char* v = std::getenv("QBOUND_CASES_MULTIPLIER");
    if (v == nullptr || *v == '\0') {
        // QBOUND_PROOFS_LONG=1: the long mode of the proof steps (10x cases).
        const char* long_mode = std::getenv("QBOUND_PROOFS_LONG");
        if (long_mode == nullptr || *long_mode == '\0' || std::string(long_mode) == "0") return 1;
        if (std::string(long_mode) != "1")
            throw core::invalid_argument(std::string("QBOUND_PROOFS_LONG must be 0 or 1, got '") + long_mode + "'");
        return 10;
    }
    char* end = nullptr;
    const unsigned long m = std::strtoul(v, &end, 10);
    if (*end != '\0' || m == 0 || m > 100000)
        throw core::invalid_argument(std::string("QBOUND_CASES_MULTIPLIER must be an integer in 1..100000, got '") + v + "'");
    return m;
}

std::uint64_t seed_from_env(std::uint64_t fallback) {
    const char* v = std::getenv("QBOUND_SEED");
    if (v == nullptr || *v == '\0') return fallback;
    char* end = nullptr;
    const unsigned long long s = std::strtoull(v, &end, 0);
    if (*end != '\0') throw core::invalid_argument(std::string("QBOUND_SEED must be an integer, got '") + v + "'");
    return s;
}

double truncate_mantissa(double x, int bits) {
    if (x == 0 || !std::isfinite(x)) return x;
    int e = 0;
    const double f = std::frexp(x, &e);  // |f| in [0.5, 1)
    const double scaled = std::trunc(std::ldexp(f, bits));
    return std::ldexp(scaled, e - bits);
}

std::vector<rational> sample_points(double lo, double hi) {
    std::vector<rational> pts;
    const bool lo_finite = std::isfinite(lo), hi_finite = std::isfinite(hi);
    if (lo_finite) pts.push_back(to_rational(lo));
    if (hi_finite && hi != lo) pts.push_back(to_rational(hi));
    if (lo_finite && hi_finite && hi != lo) pts.push_back((to_rational(lo) + to_rational(hi)) / 2);
    // Unbounded sides: points far out, beyond the double range.
    const rational far = to_rational(DBL_MAX) * 4;
    if (!lo_finite) pts.push_back(hi_finite ? to_rational(hi) - far : -far);
    if (!hi_finite) pts.push_back(lo_finite ? to_rational(lo) + far : far);
    if (!lo_finite && !hi_finite) pts.push_back(rational(0));
    return pts;
}

std::string describe(const interval_operand& x) {
    if (x.lo == x.hi && std::signbit(x.lo) == std::signbit(x.hi)) return testing::describe(x.lo);
    return "[" + testing::describe(x.lo) + ", " + testing::describe(x.hi) + "]";
}

std::vector<interval_operand> shrink_candidates(const interval_operand& x) {
    std::vector<interval_operand> out;
    if (x.lo != x.hi) {
        out.push_back({x.lo, x.lo});
        out.push_back({x.hi, x.hi});
        return out;
    }
    // A point: fewer mantissa bits, smallest first.
    for (int bits = 1; bits < 53; ++bits) {
        const double t = truncate_mantissa(x.lo, bits);
        if (t != x.lo) out.push_back({t, t});
    }
    return out;
}

std::string failure_header(std::uint64_t seed, std::size_t index, const std::string& family) {
    return "seed " + std::to_string(seed) + ", case " + std::to_string(index) + " (" + family + "), shrunk: ";
}

// ---- dot ---------------------------------------------------------------------

std::vector<std::pair<std::vector<double>, std::vector<double>>> dot_reference_points(const dot_case& c) {
    const std::size_t n = c.a.size();
    std::vector<double> la(n), lb(n), ua(n), ub(n), ma(n), mb(n);
    auto mid = [](const interval_operand& x) {
        const double m = 0.5 * x.lo + 0.5 * x.hi;  // a double inside [lo, hi]
        return std::clamp(m, x.lo, x.hi);
    };
    auto pick = [&](const interval_operand& x, std::size_t i) {
        switch (i % 3) {
            case 0: return x.lo;
            case 1: return x.hi;
            default: return mid(x);
        }
    };
    for (std::size_t i = 0; i < n; ++i) {
        la[i] = c.a[i].lo, lb[i] = c.b[i].lo;
        ua[i] = c.a[i].hi, ub[i] = c.b[i].hi;
        ma[i] = pick(c.a[i], i), mb[i] = pick(c.b[i], i + 1);
    }
    std::vector<std::pair<std::vector<double>, std::vector<double>>> refs;
    refs.emplace_back(std::move(la), std::move(lb));
    const bool all_points = std::all_of(c.a.begin(), c.a.end(), [](auto& x) { return x.lo == x.hi; }) &&
                            std::all_of(c.b.begin(), c.b.end(), [](auto& x) { return x.lo == x.hi; });
    if (!all_points) {
        refs.emplace_back(std::move(ua), std::move(ub));
        refs.emplace_back(std::move(ma), std::move(mb));
    }
    return refs;
}

std::string describe(const dot_case& c) {
    std::string s = "dot of length " + std::to_string(c.a.size()) + " at " + std::to_string(c.bits) + " bits: ";
    const std::size_t shown = std::min<std::size_t>(c.a.size(), 8);
    for (std::size_t i = 0; i < shown; ++i)
        s += (i ? "; " : "") + std::string("a") + std::to_string(i) + " = " + describe(c.a[i]) + ", b" +
             std::to_string(i) + " = " + describe(c.b[i]);
    if (shown < c.a.size()) s += "; ...";
    return s;
}

dot_case shrink_dot_case(dot_case c, const std::function<bool(const dot_case&)>& fails) {
    // Shrinking is a convenience for the reader of a failure, so its cost is
    // capped: at most `budget` re-evaluations of the failing property.
    std::size_t budget = 4000;
    auto still_fails = [&](const dot_case& d) { return budget > 0 && (--budget, fails(d)); };
    auto without = [](const dot_case& d, std::size_t from, std::size_t count) {
        dot_case e = d;
        e.a.erase(e.a.begin() + static_cast<std::ptrdiff_t>(from), e.a.begin() + static_cast<std::ptrdiff_t>(from + count));
        e.b.erase(e.b.begin() + static_cast<std::ptrdiff_t>(from), e.b.begin() + static_cast<std::ptrdiff_t>(from + count));
        return e;
    };
    // Delta debugging on the entries: remove chunks of halving size.
    for (std::size_t chunk = c.a.size() / 2; chunk >= 1 && budget > 0; chunk /= 2) {
        for (std::size_t from = 0; from + chunk <= c.a.size() && c.a.size() > 1 && budget > 0;) {
            dot_case candidate = without(c, from, chunk);
            if (!candidate.a.empty() && still_fails(candidate)) c = std::move(candidate);
            else from += chunk;
        }
    }
    // Then the entries themselves (fewer mantissa bits), for short cases.
    if (c.a.size() > 64) return c;
    for (std::size_t i = 0; i < c.a.size(); ++i) {
        for (auto* slot : {&c.a[i], &c.b[i]}) {
            for (const auto& candidate : shrink_candidates(*slot)) {
                const interval_operand saved = *slot;
                *slot = candidate;
                if (still_fails(c)) break;
                *slot = saved;
            }
        }
    }
    return c;
}

dot_case draw_dot_case(operand_generator& gen, std::size_t max_length, long bits) {
    auto [a, b] = gen.dot_vectors(max_length);
    const std::string family = gen.last_family();
    dot_case c;
    c.bits = bits;
    const bool widen = gen.chance(0.25);
    for (std::size_t i = 0; i < a.size(); ++i) {
        interval_operand x{a[i], a[i]}, y{b[i], b[i]};
        if (widen) {
            x.hi = std::nextafter(x.hi, INFINITY);
            if (gen.chance(0.5)) y.lo = std::nextafter(y.lo, -INFINITY);
            if (std::isinf(x.hi)) x.hi = x.lo;
            if (std::isinf(y.lo)) y.lo = y.hi;
        }
        c.a.push_back(x);
        c.b.push_back(y);
    }
    return c;
}

// ---- MPFR ----------------------------------------------------------------------

mpfr_real mpfr_apply(binary_op op, const mpfr_real& x, const mpfr_real& y) { return apply(op, x, y); }
mpfr_real mpfr_apply(unary_op op, const mpfr_real& x) { return apply(op, x); }

namespace {

std::string describe_mpfr(const mpfr_real& x) {
    return x.to_string(25) + " (" + std::to_string(x.precision()) + " bits)";
}

struct mpfr_binary_case {
    double a = 0, b = 0;
    long pa = 53, pb = 53;
};

std::optional<std::string> mpfr_binary_failure(binary_op op, const mpfr_binary_case& c, const mpfr_binary_impl& impl) {
    const mpfr_real x(c.a, c.pa), y(c.b, c.pb);
    const bool divisor_is_zero = op == binary_op::div && y.sign() == 0;
    std::optional<mpfr_real> r;
    try {
        r = impl(op, x, y);
    } catch (const domain_error& e) {
        if (divisor_is_zero) return std::nullopt;
        return std::string("unexpected domain_error: ") + e.what();
    }
    if (divisor_is_zero) return "division by zero returned " + describe_mpfr(*r);
    const rational exact = apply_exact(op, x.to_rational(), y.to_rational());
    const bool ok = op == binary_op::max ? (r->is_finite() && r->to_rational() == exact) : is_correctly_rounded(*r, exact);
    if (ok) return std::nullopt;
    return describe_mpfr(*r) + " is not the correctly rounded value of " + to_decimal(exact, 30) + " for x = " +
           describe_mpfr(x) + ", y = " + describe_mpfr(y);
}

}  // namespace

property_result check_mpfr_binary(binary_op op, std::size_t cases, std::uint64_t seed, const mpfr_binary_impl& impl) {
    property_result res = start_result(std::string(to_string(op)) + (op == binary_op::max ? " exact" : " correctly rounded"), "mpfr", seed);
    operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        const auto [a, b] = gen.pair();
        mpfr_binary_case c{a, b, gen.precision(), gen.precision()};
        ++res.cases;
        if (!mpfr_binary_failure(op, c, impl)) continue;
        if (res.failures++ == 0) {
            // Shrink: fewer mantissa bits in the operands.
            for (double* slot : {&c.a, &c.b}) {
                for (int bits = 1; bits < 53; ++bits) {
                    const double saved = *slot;
                    *slot = truncate_mantissa(saved, bits);
                    if (mpfr_binary_failure(op, c, impl)) break;
                    *slot = saved;
                }
            }
            res.counterexample = failure_header(seed, i, gen.last_family()) + *mpfr_binary_failure(op, c, impl);
        }
    }
    return res;
}

property_result check_mpfr_unary(unary_op op, std::size_t cases, std::uint64_t seed) {
    property_result res = start_result(std::string(to_string(op)) + " exact", "mpfr", seed);
    operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        const mpfr_real x(gen.any(), gen.precision());
        const mpfr_real r = mpfr_apply(op, x);
        ++res.cases;
        if (r.is_finite() && r.to_rational() == apply_exact(op, x.to_rational())) continue;
        if (res.failures++ == 0)
            res.counterexample = failure_header(seed, i, gen.last_family()) + describe_mpfr(r) + " for x = " + describe_mpfr(x);
    }
    return res;
}

property_result check_mpfr_dot(std::size_t cases, std::uint64_t seed, std::size_t max_length, const mpfr_dot_impl& impl) {
    property_result res = start_result("dot correctly rounded", "mpfr", seed);
    operand_generator gen(seed);
    // Cases are point dot_cases (operands exact at 53 bits); `bits` is the
    // result precision.
    auto failure = [&](const dot_case& c) -> std::optional<std::string> {
        std::vector<mpfr_real> xa, xb;
        std::vector<double> a, b;
        for (std::size_t k = 0; k < c.a.size(); ++k) {
            a.push_back(c.a[k].lo);
            b.push_back(c.b[k].lo);
            xa.emplace_back(a.back(), 53L);
            xb.emplace_back(b.back(), 53L);
        }
        const mpfr_real r = impl(xa, xb, c.bits);
        const rational exact = exact_dot(a, b);
        if (is_correctly_rounded(r, exact)) return std::nullopt;
        return describe_mpfr(r) + " is not the correctly rounded dot " + to_decimal(exact, 30);
    };
    for (std::size_t i = 0; i < cases; ++i) {
        auto [a, b] = gen.dot_vectors(max_length);
        dot_case c;
        c.bits = gen.precision();
        for (std::size_t k = 0; k < a.size(); ++k) {
            c.a.push_back({a[k], a[k]});
            c.b.push_back({b[k], b[k]});
        }
        ++res.cases;
        if (!failure(c)) continue;
        if (res.failures++ == 0) {
            const auto small = shrink_dot_case(c, [&](const dot_case& s) { return failure(s).has_value(); });
            res.counterexample = failure_header(seed, i, gen.last_family()) + describe(small) + ": " + *failure(small);
        }
    }
    return res;
}

}  // namespace qbound::testing
