// Proof step 4 (THEOREMS.md section 4, step 4): forward growth.
//
// Statement. For an MLP a_0 = x, a_k = sigma(W_k a_{k-1} + b_k) (k < L),
// a~_k = (a_k, 1), rho_k = ||[W_k | b_k]||_{inf->inf}, x in [-D, D]^d:
//   (a) ||a_k||_inf <= rho_k ||a~_{k-1}||_inf   (also for the output layer, without sigma);
//   (b) ||a~_{l-1}||_inf <= max(D, 1) * max_{1 <= i <= l} prod_{k=i}^{l-1} rho_k
//       (empty product = 1).
// Proof sketch: (a) is step 2 on the augmented matrix plus step 1; (b) by
// induction: either ||a~_{l-1}|| = 1 (the bias coordinate, the i = l term) or
// it is ||a_{l-1}|| <= rho_{l-1} ||a~_{l-2}||.
//
// Checked exactly in rationals on random MLPs (norms above and below 1,
// sign-aligned weights, zero rows) at random points and at vertices of the
// box. Negative control: keeping only the i = 1 term of the max in (b) (the
// reading that forgets the bias paths) must be refuted when norms are < 1.
#include "mlp_support.hpp"

using namespace qbound;
using namespace qbound::test;

namespace {

testing::property_result check_forward_growth(bool only_first_term, std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result(std::string("forward growth") + (only_first_term ? " (i = 1 term only)" : ""), "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        std::string family;
        const net::network m = draw_mlp(gen, family);
        const auto layers = affine_layers(m);
        const std::size_t L = layers.size();
        const double D = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-2, 2)));
        const rational Dmax = arith::max(arith::to_rational(D), rational(1));
        std::vector<rational> a(layers[0]->in_features);
        const bool vertex = gen.chance(0.5);
        for (auto& e : a) e = arith::to_rational(vertex ? (gen.chance(0.5) ? D : -D) : D * (2 * std::ldexp(static_cast<double>(gen.uniform_int(0, 1024)), -10) - 1));
        std::vector<rational> rhos;
        for (const auto* n : layers) rhos.push_back(rho(*n));
        std::string failure;
        for (std::size_t l = 1; l <= L && failure.empty(); ++l) {
            // (b) for a~_{l-1}
            const rational tilde = arith::max(inf_norm(a), rational(1));
            rational bound = 0;
            for (std::size_t i = only_first_term ? 1 : l; i >= 1; --i) {  // i = l .. 1 (or just 1)
                rational prod = 1;
                for (std::size_t k = i; k + 1 <= l; ++k) prod *= rhos[k - 1];
                bound = arith::max(bound, prod);
                if (only_first_term) break;
            }
            if (tilde > Dmax * bound) failure = "(b) fails for a~_" + std::to_string(l - 1);
            // (a) for a_l
            auto z = affine(*layers[l - 1], a);
            if (l < L) z = relu(std::move(z));
            if (failure.empty() && inf_norm(z) > rhos[l - 1] * tilde) failure = "(a) fails at layer " + std::to_string(l);
            a = std::move(z);
        }
        ++res.cases;
        if (!failure.empty() && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, c, family) + m.name() + ", D = " + std::to_string(D) + ": " + failure;
    }
    return res;
}

}  // namespace

TEST_CASE("step 4: forward growth of the augmented activations", "[proofs][step4]") {
    QBOUND_REQUIRE_PROPERTY(check_forward_growth(false, property_cases(10000), property_seed()));
}

TEST_CASE("step 4 negative control: dropping the bias paths (i = 1 only) is refuted", "[proofs][step4][negative]") {
    QBOUND_REQUIRE_REFUTED(check_forward_growth(true, 3000, property_seed()));
}
