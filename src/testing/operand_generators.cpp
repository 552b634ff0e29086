#include "qbound/testing/operand_generators.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>

namespace qbound::testing {

std::int64_t operand_generator::uniform_int(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    if (span == 0) return static_cast<std::int64_t>(engine_());  // full 64-bit range
    // Rejection sampling keeps the draw exactly uniform.
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % span;
    std::uint64_t r;
    do r = engine_();
    while (r >= limit);
    return lo + static_cast<std::int64_t>(r % span);
}

bool operand_generator::chance(double p) {
    return static_cast<double>(engine_() >> 11) * 0x1p-53 < p;
}

double operand_generator::random_mantissa_double(int exponent, bool negative) {
    // 1.m * 2^exponent with 52 random fraction bits.
    const std::uint64_t frac = engine_() >> 12;
    const double m = 1.0 + static_cast<double>(frac) * 0x1p-52;
    const double x = std::ldexp(m, exponent);
    return negative ? -x : x;
}

double operand_generator::moderate() {
    family_ = "moderate";
    return random_mantissa_double(static_cast<int>(uniform_int(-40, 40)), chance(0.5));
}

double operand_generator::full_range() {
    family_ = "full range";
    const int e = static_cast<int>(uniform_int(-1074, 1023));
    if (e < -1022) return subnormal();
    return random_mantissa_double(e, chance(0.5));
}

double operand_generator::subnormal() {
    family_ = "subnormal";
    const auto k = static_cast<std::int64_t>(uniform_int(1, (std::int64_t{1} << 52) - 1));
    // Sometimes only a few low bits, to exercise the smallest subnormals.
    const std::int64_t m = chance(0.3) ? (k & 0xff) | 1 : k;
    const double x = std::ldexp(static_cast<double>(m), -1074);
    return chance(0.5) ? -x : x;
}

double operand_generator::special() {
    family_ = "special";
    const double table[] = {0.0,     -0.0,          std::numeric_limits<double>::denorm_min(),
                            DBL_MIN, DBL_MAX,       1.0,
                            0.1,     0.2,           0.3,
                            3.0,     1.0 / 3.0,     0x1p-1022 * 0.5,
                            6.0,     0x1p53,        0x1p-53,
                            0x1p1023, 0x1p-1074 * 3, 1e308};
    constexpr int n = sizeof(table) / sizeof(table[0]);
    const auto i = uniform_int(0, n + 3);
    double x;
    if (i < n) {
        x = table[i];
    } else {
        // 2^k or a neighbour of it.
        x = std::ldexp(1.0, static_cast<int>(uniform_int(-1074, 1023)));
        if (i == n + 1) x = std::nextafter(x, 0.0);
        if (i == n + 2) x = std::nextafter(x, INFINITY);
    }
    return chance(0.5) ? -x : x;
}

double operand_generator::few_bits() {
    family_ = "few bits";
    const auto m = static_cast<double>(uniform_int(1, 15));
    const double x = std::ldexp(m, static_cast<int>(uniform_int(-60, 60)));
    return chance(0.5) ? -x : x;
}

double operand_generator::any() {
    const auto k = uniform_int(0, 99);
    if (k < 40) return moderate();
    if (k < 60) return full_range();
    if (k < 70) return subnormal();
    if (k < 85) return special();
    return few_bits();
}

std::pair<double, double> operand_generator::pair() {
    const auto k = uniform_int(0, 99);
    if (k < 40) {
        const double a = any();
        const double b = any();
        family_ = "independent";
        return {a, b};
    }
    if (k < 55) {  // cancellation
        const double a = any();
        double b = -a;
        const auto how = uniform_int(0, 2);
        if (how == 1) b = std::nextafter(b, INFINITY);
        if (how == 2) b = std::nextafter(b, -INFINITY);
        if (std::isinf(b)) b = -a;
        family_ = "cancelling";
        return {a, b};
    }
    if (k < 70) {  // exact ties: b is an odd multiple of half an ulp of a
        const double a = random_mantissa_double(static_cast<int>(uniform_int(-900, 900)), chance(0.5));
        const double half_ulp = std::fabs(std::nextafter(a, INFINITY) - a) / 2;
        const double b = half_ulp * static_cast<double>(2 * uniform_int(0, 3) + 1) * (chance(0.5) ? 1 : -1);
        family_ = "half-ulp tie";
        return chance(0.5) ? std::pair{a, b} : std::pair{b, a};
    }
    if (k < 80) {  // huge ratio
        const double a = random_mantissa_double(static_cast<int>(uniform_int(400, 1023)), chance(0.5));
        const double b = random_mantissa_double(static_cast<int>(uniform_int(-1022, -400)), chance(0.5));
        family_ = "huge ratio";
        return chance(0.5) ? std::pair{a, b} : std::pair{b, a};
    }
    if (k < 90) {  // both huge: overflow in + and *
        const double a = random_mantissa_double(static_cast<int>(uniform_int(1000, 1023)), chance(0.5));
        const double b = random_mantissa_double(static_cast<int>(uniform_int(1000, 1023)), chance(0.5));
        family_ = "overflow-prone";
        return {a, b};
    }
    // both tiny: underflow in *
    const double a = chance(0.5) ? subnormal() : random_mantissa_double(static_cast<int>(uniform_int(-1022, -480)), chance(0.5));
    const double b = chance(0.5) ? subnormal() : random_mantissa_double(static_cast<int>(uniform_int(-600, -400)), chance(0.5));
    family_ = "underflow-prone";
    return {a, b};
}

std::pair<double, double> operand_generator::interval_bounds() {
    const auto k = uniform_int(0, 99);
    if (k < 50) {
        const double x = any();
        return {x, x};
    }
    if (k < 70) {  // a few ulps wide
        const double x = any();
        double y = x;
        for (auto i = uniform_int(1, 4); i > 0; --i) y = std::nextafter(y, INFINITY);
        if (std::isinf(y)) y = x;
        family_ += ", few ulps";
        return {x, y};
    }
    if (k < 85) {  // wide
        const double x = any();
        const double y = any();
        family_ = "wide";
        return {std::min(x, y), std::max(x, y)};
    }
    if (k < 92) {  // straddling zero
        const double x = std::fabs(any());
        const double y = std::fabs(any());
        family_ = "straddling zero";
        return {-x, y};
    }
    if (k < 96) {  // unbounded: what overflow produces
        const double x = any();
        family_ = "unbounded";
        const auto which = uniform_int(0, 2);
        if (which == 0) return {x, INFINITY};
        if (which == 1) return {-INFINITY, x};
        return {-INFINITY, INFINITY};
    }
    family_ = "signed zeros";
    const auto which = uniform_int(0, 2);
    if (which == 0) return {-0.0, 0.0};
    if (which == 1) return {-0.0, std::fabs(moderate())};
    return {-std::fabs(moderate()), -0.0};
}

std::pair<std::vector<double>, std::vector<double>> operand_generator::dot_vectors(std::size_t max_length) {
    const auto band = uniform_int(0, 99);
    std::size_t n;
    if (band < 70) n = static_cast<std::size_t>(uniform_int(1, 16));
    else if (band < 95) n = static_cast<std::size_t>(uniform_int(17, 512));
    else n = static_cast<std::size_t>(uniform_int(513, 4096));
    n = std::max<std::size_t>(1, std::min(n, max_length));
    std::vector<double> a(n), b(n);
    const auto kind = uniform_int(0, 5);
    switch (kind) {
        case 0:
            for (std::size_t i = 0; i < n; ++i) { a[i] = moderate(); b[i] = moderate(); }
            family_ = "dot: random";
            break;
        case 1: {  // second half cancels the first exactly, plus one tiny term
            for (std::size_t i = 0; i < n; ++i) { a[i] = moderate(); b[i] = moderate(); }
            for (std::size_t i = 0; i < n / 2; ++i) { a[n / 2 + i] = -a[i]; b[n / 2 + i] = b[i]; }
            a[n - 1] = std::ldexp(a[n - 1], -60);
            family_ = "dot: cancelling halves";
            break;
        }
        case 2:
            for (std::size_t i = 0; i < n; ++i) {
                a[i] = random_mantissa_double(static_cast<int>(uniform_int(-500, 500)), chance(0.5));
                b[i] = random_mantissa_double(static_cast<int>(uniform_int(-500, 500)), chance(0.5));
            }
            family_ = "dot: huge dynamic range";
            break;
        case 3:
            for (std::size_t i = 0; i < n; ++i) {
                a[i] = chance(0.5) ? subnormal() : moderate();
                b[i] = chance(0.5) ? random_mantissa_double(static_cast<int>(uniform_int(0, 60)), chance(0.5)) : moderate();
            }
            family_ = "dot: subnormal entries";
            break;
        case 4:
            for (std::size_t i = 0; i < n; ++i) {
                a[i] = std::fabs(moderate());
                b[i] = std::fabs(moderate());
            }
            family_ = "dot: sign-aligned";
            break;
        default: {  // ill-conditioned: big terms that cancel, leaving a small residue
            for (std::size_t i = 0; i < n; ++i) {
                const int e = static_cast<int>(uniform_int(0, 50));
                a[i] = random_mantissa_double(e, chance(0.5));
                b[i] = random_mantissa_double(static_cast<int>(uniform_int(0, 50)) - e / 2, chance(0.5));
            }
            if (n >= 2) {  // make the last term cancel the running double sum
                double s = 0;
                for (std::size_t i = 0; i + 1 < n; ++i) s += a[i] * b[i];
                a[n - 1] = -s;
                b[n - 1] = 1.0;
            }
            family_ = "dot: ill-conditioned";
            break;
        }
    }
    return {std::move(a), std::move(b)};
}

long operand_generator::precision() {
    static constexpr long common[] = {2, 11, 24, 53, 64, 113, 128, 256};
    const auto k = uniform_int(0, 9);
    if (k < 8) return common[k];
    return static_cast<long>(uniform_int(2, 300));
}

std::string describe(double x) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%a (%.17g)", x, x);
    return buf;
}

}  // namespace qbound::testing
