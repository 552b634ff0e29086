#pragma once
// Property checkers for the arithmetic layer, in the Arb/FLINT style: draw
// many random and hostile operands, compute with the type under test and
// with exact rationals, and check *containment* (enclosures) or *correct
// rounding* (MPFR), never closeness with a tolerance. A failure is shrunk to
// a small case and described in full (hex floats, seed, case index) so it
// can be replayed.
//
// Used by tests/arith (with >= 100,000 cases per operation and type), by the
// negative controls (which must be caught), and by `qbound selfcheck`; not
// part of the arithmetic API (library qbound_testing).
#include "qbound/arith/exact_dot.hpp"
#include "qbound/arith/linalg.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/testing/operand_generators.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qbound::testing {

struct property_result {
    std::string property;        // e.g. "mul contains exact"
    std::string type;            // e.g. "interval_double"
    std::uint64_t seed = 0;
    std::size_t cases = 0;
    std::size_t failures = 0;
    std::string counterexample;  // first failure, shrunk, replayable
    bool passed() const { return cases > 0 && failures == 0; }
};

inline property_result start_result(std::string property, std::string_view type, std::uint64_t seed) {
    property_result r;
    r.property = std::move(property);
    r.type = std::string(type);
    r.seed = seed;
    return r;
}

enum class binary_op { add, sub, mul, div, max };
enum class unary_op { neg, abs, relu, relu6 };
inline constexpr binary_op all_binary_ops[] = {binary_op::add, binary_op::sub, binary_op::mul, binary_op::div,
                                               binary_op::max};
inline constexpr unary_op all_unary_ops[] = {unary_op::neg, unary_op::abs, unary_op::relu, unary_op::relu6};

std::string_view to_string(binary_op op);
std::string_view to_string(unary_op op);

// The exact results (division by zero throws domain_error).
arith::rational apply_exact(binary_op op, const arith::rational& x, const arith::rational& y);
arith::rational apply_exact(unary_op op, const arith::rational& x);

// Correct rounding to nearest, ties to even, at r's precision.
bool is_correctly_rounded(const arith::mpfr_real& r, const arith::rational& exact);

// Multiplier for case counts: QBOUND_CASES_MULTIPLIER (default 1; the long
// mode uses 10 or more), or 10 when only QBOUND_PROOFS_LONG=1 is set.
// Seed: QBOUND_SEED (default `fallback`).
std::size_t cases_multiplier();
std::uint64_t seed_from_env(std::uint64_t fallback);

// x rounded to `bits` significant bits (towards zero), for shrinking.
double truncate_mantissa(double x, int bits);

// op applied in any scalar type (rational, mpfr_real, enclosures). max, abs,
// relu and relu6 are looked up unqualified: a type's own overloads (found by
// argument-dependent lookup; the negative controls use this) win over arith's.
template <class T>
T apply(binary_op op, const T& x, const T& y) {
    using arith::max;
    switch (op) {
        case binary_op::add: return x + y;
        case binary_op::sub: return x - y;
        case binary_op::mul: return x * y;
        case binary_op::div: return x / y;
        case binary_op::max: return max(x, y);
    }
    throw core::invalid_argument("unknown binary_op");
}

template <class T>
T apply(unary_op op, const T& x) {
    using arith::abs;
    using arith::relu;
    using arith::relu6;
    switch (op) {
        case unary_op::neg: return -x;
        case unary_op::abs: return abs(x);
        case unary_op::relu: return relu(x);
        case unary_op::relu6: return relu6(x);
    }
    throw core::invalid_argument("unknown unary_op");
}

// ---------------------------------------------------------------------------
// Enclosure types (interval_double, mpfi_interval, negative controls)

template <class I>
I make_enclosure(double lo, double hi, long bits) {
    if constexpr (std::is_same_v<I, arith::mpfi_interval>) {
        return arith::mpfi_interval(lo, hi, bits);
    } else {
        (void)bits;
        return I(lo, hi);  // validated by the interval's checking policy
    }
}

template <class I>
std::string describe_enclosure(const I& x) {
    if constexpr (std::is_same_v<I, arith::mpfi_interval>) {
        return x.to_string(25) + " (" + std::to_string(x.precision()) + " bits)";
    } else {
        return "[" + describe(x.lower()) + ", " + describe(x.upper()) + "]";
    }
}

// Exact points of [lo, hi] to test: both endpoints and a midpoint; for an
// unbounded side, a point beyond the double range.
std::vector<arith::rational> sample_points(double lo, double hi);

struct interval_operand {
    double lo = 0, hi = 0;
};

struct binary_case {
    interval_operand x, y;
    long bits = 53;
};

struct unary_case {
    interval_operand x;
    long bits = 53;
};

std::string describe(const interval_operand& x);

// The failure (if any) of one case: an exact result outside the computed
// enclosure, or an error where none is allowed (only division by [0, 0]
// must throw domain_error).
template <class I>
std::optional<std::string> binary_case_failure(binary_op op, const binary_case& c) {
    using arith::contains;
    const I x = make_enclosure<I>(c.x.lo, c.x.hi, c.bits);
    const I y = make_enclosure<I>(c.y.lo, c.y.hi, c.bits);
    const bool divisor_is_zero = op == binary_op::div && c.y.lo == 0 && c.y.hi == 0;
    std::optional<I> r;
    try {
        r = apply(op, x, y);
    } catch (const arith::domain_error& e) {
        if (divisor_is_zero) return std::nullopt;
        return std::string("unexpected domain_error: ") + e.what();
    }
    if (divisor_is_zero) return std::string("division by [0, 0] returned ") + describe_enclosure(*r);
    for (const auto& px : sample_points(c.x.lo, c.x.hi)) {
        for (const auto& py : sample_points(c.y.lo, c.y.hi)) {
            if (op == binary_op::div && py == 0) continue;
            const arith::rational exact = apply_exact(op, px, py);
            if (!contains(*r, exact))
                return describe_enclosure(*r) + " misses the exact value " + arith::to_decimal(exact, 25) + " at x = " +
                       arith::to_decimal(px, 25) + ", y = " + arith::to_decimal(py, 25);
        }
    }
    return std::nullopt;
}

template <class I>
std::optional<std::string> unary_case_failure(unary_op op, const unary_case& c) {
    using arith::contains;
    const I x = make_enclosure<I>(c.x.lo, c.x.hi, c.bits);
    const I r = apply(op, x);
    for (const auto& px : sample_points(c.x.lo, c.x.hi)) {
        const arith::rational exact = apply_exact(op, px);
        if (!contains(r, exact))
            return describe_enclosure(r) + " misses the exact value " + arith::to_decimal(exact, 25) + " at x = " +
                   arith::to_decimal(px, 25);
    }
    return std::nullopt;
}

// Shrinking: make operands points, then cut mantissa bits, while the case
// still fails.
std::vector<interval_operand> shrink_candidates(const interval_operand& x);

template <class Case, class Fails>
Case shrink_case(Case c, const Fails& fails) {
    bool progress = true;
    while (progress) {
        progress = false;
        auto try_operand = [&](interval_operand& slot) {
            for (const auto& candidate : shrink_candidates(slot)) {
                const interval_operand saved = slot;
                slot = candidate;
                if (fails(c)) { progress = true; return; }
                slot = saved;
            }
        };
        if constexpr (requires { c.y; }) {
            try_operand(c.x);
            try_operand(c.y);
        } else {
            try_operand(c.x);
        }
    }
    return c;
}

inline interval_operand draw_operand(operand_generator& gen) {
    const auto [lo, hi] = gen.interval_bounds();
    return {lo, hi};
}

template <class I>
long draw_bits(operand_generator& gen) {
    return std::is_same_v<I, arith::mpfi_interval> ? gen.precision() : 53;
}

std::string failure_header(std::uint64_t seed, std::size_t index, const std::string& family);

template <class I>
property_result check_binary(binary_op op, std::size_t cases, std::uint64_t seed) {
    property_result res = start_result(std::string(to_string(op)) + " contains exact", arith::scalar_traits<I>::name, seed);
    operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        binary_case c;
        if (gen.chance(0.5)) {
            const auto [a, b] = gen.pair();  // related points: ties, cancellation, overflow
            c.x = {a, a};
            c.y = {b, b};
        } else {
            c.x = draw_operand(gen);
            c.y = draw_operand(gen);
        }
        c.bits = draw_bits<I>(gen);
        ++res.cases;
        if (!binary_case_failure<I>(op, c)) continue;
        if (res.failures++ == 0) {
            const auto small = shrink_case(c, [&](const binary_case& s) { return binary_case_failure<I>(op, s).has_value(); });
            res.counterexample = failure_header(seed, i, gen.last_family()) + "x = " + describe(small.x) +
                                 ", y = " + describe(small.y) + ", bits = " + std::to_string(small.bits) + ": " +
                                 *binary_case_failure<I>(op, small);
        }
    }
    return res;
}

template <class I>
property_result check_unary(unary_op op, std::size_t cases, std::uint64_t seed) {
    property_result res = start_result(std::string(to_string(op)) + " contains exact", arith::scalar_traits<I>::name, seed);
    operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        unary_case c{draw_operand(gen), draw_bits<I>(gen)};
        ++res.cases;
        if (!unary_case_failure<I>(op, c)) continue;
        if (res.failures++ == 0) {
            const auto small = shrink_case(c, [&](const unary_case& s) { return unary_case_failure<I>(op, s).has_value(); });
            res.counterexample = failure_header(seed, i, gen.last_family()) + "x = " + describe(small.x) + ": " +
                                 *unary_case_failure<I>(op, small);
        }
    }
    return res;
}

// ---- dot products ------------------------------------------------------------

struct dot_case {
    std::vector<interval_operand> a, b;
    long bits = 53;
};

// Three exact references per case: all lower endpoints, all upper
// endpoints, and a deterministic mix of lower / upper / midpoint.
std::vector<std::pair<std::vector<double>, std::vector<double>>> dot_reference_points(const dot_case& c);

template <class I>
std::optional<std::string> dot_case_failure(const dot_case& c) {
    using arith::contains;
    using arith::dot;
    std::vector<I> a, b;
    a.reserve(c.a.size());
    b.reserve(c.b.size());
    for (std::size_t i = 0; i < c.a.size(); ++i) {
        a.push_back(make_enclosure<I>(c.a[i].lo, c.a[i].hi, c.bits));
        b.push_back(make_enclosure<I>(c.b[i].lo, c.b[i].hi, c.bits));
    }
    const I r = dot<I>(a, b);
    for (const auto& [pa, pb] : dot_reference_points(c)) {
        const arith::rational exact = arith::exact_dot(pa, pb);
        if (!contains(r, exact)) return describe_enclosure(r) + " misses the exact dot " + arith::to_decimal(exact, 25);
    }
    return std::nullopt;
}

std::string describe(const dot_case& c);
// Drop halves, then single entries, while the case still fails.
dot_case shrink_dot_case(dot_case c, const std::function<bool(const dot_case&)>& fails);

// Draws a dot case: point vectors (hostile families) or, a quarter of the
// time, narrow intervals around them.
dot_case draw_dot_case(operand_generator& gen, std::size_t max_length, long bits);

template <class I>
property_result check_dot(std::size_t cases, std::uint64_t seed, std::size_t max_length = 4096) {
    property_result res = start_result("dot contains exact", arith::scalar_traits<I>::name, seed);
    operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        const long bits = draw_bits<I>(gen);
        const dot_case c = draw_dot_case(gen, max_length, bits);
        ++res.cases;
        if (!dot_case_failure<I>(c)) continue;
        if (res.failures++ == 0) {
            const auto small = shrink_dot_case(c, [](const dot_case& s) { return dot_case_failure<I>(s).has_value(); });
            res.counterexample = failure_header(seed, i, gen.last_family()) + describe(small) + ": " +
                                 *dot_case_failure<I>(small);
        }
    }
    return res;
}

// ---------------------------------------------------------------------------
// MPFR: every result correctly rounded (ReLU, ReLU6, max, abs, neg exact).

using mpfr_binary_impl = std::function<arith::mpfr_real(binary_op, const arith::mpfr_real&, const arith::mpfr_real&)>;
using mpfr_dot_impl = std::function<arith::mpfr_real(std::span<const arith::mpfr_real>, std::span<const arith::mpfr_real>, long)>;

// The library's own operations (the defaults).
arith::mpfr_real mpfr_apply(binary_op op, const arith::mpfr_real& x, const arith::mpfr_real& y);
arith::mpfr_real mpfr_apply(unary_op op, const arith::mpfr_real& x);

property_result check_mpfr_binary(binary_op op, std::size_t cases, std::uint64_t seed,
                                  const mpfr_binary_impl& impl = mpfr_binary_impl(
                                      [](binary_op o, const arith::mpfr_real& x, const arith::mpfr_real& y) { return mpfr_apply(o, x, y); }));
property_result check_mpfr_unary(unary_op op, std::size_t cases, std::uint64_t seed);
property_result check_mpfr_dot(std::size_t cases, std::uint64_t seed, std::size_t max_length = 4096,
                               const mpfr_dot_impl& impl = mpfr_dot_impl(arith::correctly_rounded_dot));

}  // namespace qbound::testing
