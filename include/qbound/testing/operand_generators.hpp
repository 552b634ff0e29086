#pragma once
// Seeded generators of hostile and random operands for the arithmetic
// properties (tests/arith, proofs/, `qbound selfcheck`; library qbound_testing). Same seed, same
// sequence, on every platform (std::mt19937_64 plus our own mapping; no
// std::*_distribution, whose output is implementation-defined).
//
// Families, each drawn with a fixed probability:
//   moderate     random mantissa, exponent in [-40, 40]
//   full range   any finite double, exponent uniform over [-1074, 1023]
//   subnormal    random subnormal
//   special      +-0, +-denorm_min, +-DBL_MIN, +-DBL_MAX, 1, 0.1, 2^k, 2^k +- 1 ulp
//   few bits     mantissa with 1..4 significant bits (exact ties and exact results)
// Pairs add relations: cancelling (b = -a or -a(1 +- ulp)), half-ulp ties
// (b = ulp(a)/2 * odd), huge ratio, overflow-prone, underflow-prone.
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace qbound::testing {

class operand_generator {
public:
    explicit operand_generator(std::uint64_t seed) : engine_(seed) {}

    std::uint64_t bits() { return engine_(); }
    // Uniform integer in [lo, hi] (inclusive), platform independent.
    std::int64_t uniform_int(std::int64_t lo, std::int64_t hi);
    // True with probability p.
    bool chance(double p);

    double moderate();
    double full_range();
    double subnormal();
    double special();
    double few_bits();
    // A draw from the mixture of all families.
    double any();

    // Two operands with a random relation (family named by last_family()).
    std::pair<double, double> pair();
    // Bounds [lo, hi], lo <= hi: a point (half the time), a few ulps wide,
    // wide, straddling zero, unbounded on one or both sides, or with
    // signed-zero endpoints.
    std::pair<double, double> interval_bounds();
    // Two vectors of equal length in [1, max_length] for a dot product:
    // random, cancelling halves, huge dynamic range, subnormal entries,
    // sign-aligned (long accumulation), or Ogita-Rump-Oishi-style
    // ill-conditioned. Length is skewed short, with long ones 5% of the time.
    std::pair<std::vector<double>, std::vector<double>> dot_vectors(std::size_t max_length);
    // A precision in bits for MPFR/MPFI: common ones and random ones in [2, 300].
    long precision();

    const std::string& last_family() const { return family_; }

private:
    std::mt19937_64 engine_;
    std::string family_;
    double random_mantissa_double(int exponent, bool negative);
};

// Hex-float text of x (exact, replayable) followed by a short decimal.
std::string describe(double x);

}  // namespace qbound::testing
