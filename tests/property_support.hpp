#pragma once
// Shared plumbing for property tests: case counts, seeds, and a REQUIRE that
// prints the seed and the shrunk counterexample on failure.
//
//   QBOUND_CASES_MULTIPLIER=10 ctest ...   long mode (10x cases)
//   QBOUND_SEED=12345 ctest ...            another seed (default fixed)
//   QBOUND_CASES_DIVISOR=10 ctest ...      a tenth of the cases (sanitizer build)
#include "qbound/testing/enclosure_check.hpp"
#include "qbound/core/errors.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace qbound::test {

// QBOUND_CASES_DIVISOR=N (1..1000): N times fewer cases, for the slow
// sanitizer build (cmake/hardening.cmake sets it on the proof steps there).
inline std::size_t cases_divisor() {
    const char* v = std::getenv("QBOUND_CASES_DIVISOR");
    if (v == nullptr || *v == '\0') return 1;
    char* end = nullptr;
    const unsigned long d = std::strtoul(v, &end, 10);
    if (*end != '\0' || d == 0 || d > 1000)
        throw core::invalid_argument(std::string("QBOUND_CASES_DIVISOR must be an integer in 1..1000, got '") + v + "'");
    return d;
}

// Cases per operation and type in the default run (issue: >= 100,000).
inline std::size_t property_cases(std::size_t base = 100000) {
    return std::max<std::size_t>(1, base * testing::cases_multiplier() / cases_divisor());
}

inline std::uint64_t property_seed(std::uint64_t fallback = 0x5eed2026) {
    return testing::seed_from_env(fallback);
}

// The same bits, except that any NaN matches any NaN (payloads are not
// specified): the comparison of the bit-for-bit properties.
inline bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) && std::isnan(b[i])) continue;
        if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0) return false;
    }
    return true;
}

// ||v||_inf of an exact vector.
inline arith::rational inf_norm(const std::vector<arith::rational>& v) {
    arith::rational best = 0;
    for (const auto& e : v) best = arith::max(best, arith::abs(e));
    return best;
}

}  // namespace qbound::test

#define QBOUND_REQUIRE_PROPERTY(result_expr)                                                          \
    do {                                                                                              \
        const auto qbound_result_ = (result_expr);                                                    \
        INFO("property: " << qbound_result_.property << " [" << qbound_result_.type << "], seed "     \
                          << qbound_result_.seed << " (replay: QBOUND_SEED=" << qbound_result_.seed  \
                          << "), " << qbound_result_.cases << " cases, " << qbound_result_.failures   \
                          << " failures");                                                            \
        INFO("counterexample: " << qbound_result_.counterexample);                                    \
        REQUIRE(qbound_result_.cases > 0);                                                            \
        REQUIRE(qbound_result_.failures == 0);                                                        \
    } while (false)

// A negative control: the checker must refute the weakened claim.
#define QBOUND_REQUIRE_REFUTED(result_expr)                                                           \
    do {                                                                                              \
        const auto qbound_result_ = (result_expr);                                                    \
        INFO("negative control: " << qbound_result_.property << " [" << qbound_result_.type           \
                                  << "], seed " << qbound_result_.seed << ", " << qbound_result_.cases \
                                  << " cases");                                                       \
        REQUIRE(qbound_result_.failures > 0);                                                         \
        REQUIRE_FALSE(qbound_result_.counterexample.empty());                                         \
    } while (false)
