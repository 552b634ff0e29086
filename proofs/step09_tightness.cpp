// Proof step 9 (THEOREMS.md section 4, step 9): the bound is attained.
//
// Statement. For L = 1, N_0 = 1 and D >= 1, bound A (per layer and
// collapsed) equals the true worst case:
//   sup_{|x| <= D} ||(W'_1 - W_1) x||_inf = D * max_i |W'_1,i - W_1,i|
//     = max(D,1) * N_0 * M_1 * Delta_1          (M_1 = empty product = 1),
// attained at x = D (or -D). So no constant smaller than A's holds for every
// network: the bound cannot be improved in general.
//
// Checked exactly: the library's certified value (computed at 4096 bits, so
// exactly for these dyadic inputs) equals the exact sup for every drawn
// layer (random widths N_1, signs, huge and tiny weights, D >= 1 rational),
// and the witness x = D attains it in exact arithmetic. Negative controls:
// the same claim for D < 1 (the max(D,1) factor makes A loose there) and for
// A' (its extra bias column makes it loose) are refuted.
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/forward.hpp"

#include "mlp_support.hpp"

using namespace qbound;
using namespace qbound::test;

namespace {

enum class claim { A_attained, A_attained_for_D_below_one, A_prime_attained };

testing::property_result check_tightness(claim what, std::size_t cases, std::uint64_t seed) {
    const char* names[] = {"A is attained (L = 1, N_0 = 1, D >= 1)", "A is attained for D < 1", "A' is attained"};
    auto res = testing::start_result(names[static_cast<int>(what)], "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        const auto outputs = static_cast<std::size_t>(gen.uniform_int(1, 6));
        net::network theta = net::make_mlp({1, outputs});
        const int exponent = static_cast<int>(gen.uniform_int(-300, 300));
        for (std::size_t i : theta.affine_nodes())
            for (double& w : theta.weights(i)) w = std::ldexp(gen.few_bits(), gen.chance(0.5) ? exponent : 0);
        for (std::size_t i : theta.affine_nodes())
            for (double& b : theta.bias(i)) b = gen.chance(0.5) ? 0.0 : gen.few_bits();
        net::network quant = theta;
        for (std::size_t i : quant.affine_nodes())
            for (double& w : quant.weights(i)) w += std::ldexp(gen.few_bits(), gen.chance(0.5) ? exponent : -4);
        // D >= 1 (or < 1 for the negative control), a rational with few bits.
        const rational D = what == claim::A_attained_for_D_below_one
                               ? rational(gen.uniform_int(1, 15), 16)
                               : rational(gen.uniform_int(16, 400), gen.chance(0.5) ? 16 : 1);
        bounds::bound_options opt;
        opt.D = D;
        opt.precision = 4096;  // every product of these dyadic ingredients is exact
        const auto all = bounds::compute_bounds(theta, quant, opt);
        using F = bounds::bound_family;
        const F wanted = what == claim::A_prime_attained ? F::A_prime_per_layer : F::A_per_layer;
        const rational value = bounds::find(all, {wanted, bounds::r_source::max}).value.to_rational();
        const rational collapsed = bounds::find(all, {F::A_collapsed, bounds::r_source::max}).value.to_rational();
        // The exact sup and its witness x = D.
        rational delta = 0;
        const auto& w = theta.nodes()[1].weight;
        const auto& wq = quant.nodes()[1].weight;
        for (std::size_t i = 0; i < w.size(); ++i) delta = arith::max(delta, arith::abs(arith::to_rational(wq[i]) - arith::to_rational(w[i])));
        const rational sup = D * delta;
        const auto y = net::forward<rational>(theta, {D});
        const auto yq = net::forward<rational>(quant, {D});
        std::vector<rational> diff(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) diff[i] = yq[i] - y[i];
        const bool witness_attains = inf_norm(diff) == sup;
        const bool attained = value == sup && (what != claim::A_attained || collapsed == sup);
        ++res.cases;
        if ((!witness_attains || !attained) && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, c, "L = 1, N_1 = " + std::to_string(outputs)) +
                                 "D = " + arith::to_decimal(D) + ", sup = " + arith::to_decimal(sup) + ", bound = " +
                                 arith::to_decimal(value) + (witness_attains ? "" : ", witness x = D does not attain the sup");
    }
    return res;
}

}  // namespace

TEST_CASE("step 9: with L = 1, N_0 = 1, D >= 1 bound A equals the worst case", "[proofs][step9]") {
    QBOUND_REQUIRE_PROPERTY(check_tightness(claim::A_attained, property_cases(3000), property_seed()));
}

TEST_CASE("step 9 negative controls: D < 1 and A' are not attained", "[proofs][step9][negative]") {
    QBOUND_REQUIRE_REFUTED(check_tightness(claim::A_attained_for_D_below_one, 300, property_seed()));
    QBOUND_REQUIRE_REFUTED(check_tightness(claim::A_prime_attained, 300, property_seed()));
}
