// Proof step 1 (THEOREMS.md section 4, step 1): ReLU is 1-Lipschitz and
// shrinks the inf-norm; so is ReLU6.
//
// Statement. For sigma in {ReLU, ReLU6} and all reals s, t:
//   (a) |sigma(s) - sigma(t)| <= |s - t|
//   (b) |sigma(t)| <= |t|
// hence, coordinatewise on vectors u, v:
//   (c) ||sigma(u) - sigma(v)||_inf <= ||u - v||_inf
//   (d) ||sigma(u)||_inf <= ||u||_inf.
// Proof sketch: sigma is monotone and piecewise linear with slopes in {0, 1},
// and sigma(0) = 0; (c), (d) follow coordinatewise.
//
// Checked exactly in rationals on random and hostile operands (ties, signed
// zeros, cancellation, values straddling 0 and 6, extreme exponents). The
// negative controls weaken the constant to c < 1 and must be refuted, so the
// property can fail.
#include "property_support.hpp"

#include <cmath>
#include <functional>

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_cases;
using qbound::test::property_seed;

namespace {

using activation = std::function<rational(const rational&)>;

const activation relu_exact = [](const rational& x) { return relu(x); };
const activation relu6_exact = [](const rational& x) { return relu6(x); };

// Operands that stress the kinks at 0 and 6 as well as the generic families.
std::pair<double, double> draw_scalars(operand_generator& gen) {
    switch (gen.uniform_int(0, 3)) {
        case 0: {
            const double a = 6.0 + (gen.chance(0.5) ? 1 : -1) * std::ldexp(1.0, static_cast<int>(gen.uniform_int(-60, 2)));
            const double b = 6.0 + (gen.chance(0.5) ? 1 : -1) * std::ldexp(1.0, static_cast<int>(gen.uniform_int(-60, 2)));
            return {a, b};
        }
        case 1: return {gen.few_bits(), -gen.few_bits()};
        default: return gen.pair();
    }
}

// |sigma(s) - sigma(t)| <= c |s - t| and |sigma(t)| <= c |t| on `cases` pairs.
property_result check_lipschitz(const activation& sigma, const rational& c, const char* name, std::size_t cases,
                                std::uint64_t seed) {
    property_result res = start_result(std::string(name) + " is c-Lipschitz and shrinks |.|, c = " + to_decimal(c, 6),
                                       "rational", seed);
    operand_generator gen(seed);
    auto violates = [&](double s, double t) {
        const rational rs = to_rational(s), rt = to_rational(t);
        return abs(rational(sigma(rs) - sigma(rt))) > c * abs(rational(rs - rt)) || abs(sigma(rt)) > c * abs(rt);
    };
    for (std::size_t i = 0; i < cases; ++i) {
        auto [s, t] = draw_scalars(gen);
        ++res.cases;
        if (!violates(s, t)) continue;
        if (res.failures++ == 0) {
            for (double* slot : {&s, &t})
                for (int bits = 1; bits < 53; ++bits) {
                    const double saved = *slot;
                    *slot = truncate_mantissa(saved, bits);
                    if (violates(s, t)) break;
                    *slot = saved;
                }
            res.counterexample = failure_header(seed, i, gen.last_family()) + "s = " + describe(s) + ", t = " + describe(t);
        }
    }
    return res;
}

// The vector form (c), (d) on random vectors of length 1..64.
property_result check_vector_form(const activation& sigma, const char* name, std::size_t cases, std::uint64_t seed) {
    property_result res = start_result(std::string(name) + " shrinks inf-norms of vectors and differences", "rational", seed);
    operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        const auto n = static_cast<std::size_t>(gen.uniform_int(1, 64));
        rational diff_in = 0, diff_out = 0, norm_in = 0, norm_out = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const auto [s, t] = draw_scalars(gen);
            const rational rs = to_rational(s), rt = to_rational(t);
            diff_in = max(diff_in, abs(rational(rs - rt)));
            diff_out = max(diff_out, abs(rational(sigma(rs) - sigma(rt))));
            norm_in = max(norm_in, abs(rs));
            norm_out = max(norm_out, abs(sigma(rs)));
        }
        ++res.cases;
        if (diff_out <= diff_in && norm_out <= norm_in) continue;
        if (res.failures++ == 0) res.counterexample = failure_header(seed, i, gen.last_family()) + "length " + std::to_string(n);
    }
    return res;
}

}  // namespace

TEST_CASE("step 1: ReLU and ReLU6 are 1-Lipschitz and shrink |t|", "[proofs][step1]") {
    QBOUND_REQUIRE_PROPERTY(check_lipschitz(relu_exact, 1, "ReLU", property_cases(), property_seed()));
    QBOUND_REQUIRE_PROPERTY(check_lipschitz(relu6_exact, 1, "ReLU6", property_cases(), property_seed()));
}

TEST_CASE("step 1: the inf-norm forms hold for vectors", "[proofs][step1]") {
    QBOUND_REQUIRE_PROPERTY(check_vector_form(relu_exact, "ReLU", property_cases(10000), property_seed()));
    QBOUND_REQUIRE_PROPERTY(check_vector_form(relu6_exact, "ReLU6", property_cases(10000), property_seed()));
}

TEST_CASE("step 1: the enclosure versions agree with the exact activations", "[proofs][step1]") {
    for (auto op : {unary_op::relu, unary_op::relu6}) {
        QBOUND_REQUIRE_PROPERTY(check_unary<interval_double>(op, property_cases(20000), property_seed()));
        QBOUND_REQUIRE_PROPERTY(check_unary<mpfi_interval>(op, property_cases(20000), property_seed()));
    }
}

TEST_CASE("step 1 negative control: a Lipschitz constant below 1 is refuted", "[proofs][step1][negative]") {
    const rational almost_one = rational(1) - rational(1) / (integer(1) << 40);
    QBOUND_REQUIRE_REFUTED(check_lipschitz(relu_exact, almost_one, "ReLU", 10000, property_seed()));
    QBOUND_REQUIRE_REFUTED(check_lipschitz(relu6_exact, almost_one, "ReLU6", 10000, property_seed()));
    // And a wrong activation (leaky with slope 2 on negatives) is refuted at c = 1.
    const activation leaky2 = [](const rational& x) { return x > 0 ? x : rational(2 * x); };
    QBOUND_REQUIRE_REFUTED(check_lipschitz(leaky2, 1, "leaky-2", 10000, property_seed()));
}
