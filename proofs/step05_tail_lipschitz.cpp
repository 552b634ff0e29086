// Proof step 5 (THEOREMS.md section 4, step 5): the tail is Lipschitz.
//
// Statement. For an MLP and 1 <= l <= L, let T_l map the layer-l
// pre-activation u to the output: T_L(u) = u, and for l < L
//   T_l(u) = W_L sigma(... sigma(W_{l+1} sigma(u) + b_{l+1}) ...) + b_L.
// Then ||T_l(u) - T_l(v)||_inf <= prod_{j > l} ||W_j||_{inf->inf} ||u - v||_inf.
// Proof sketch: biases cancel in differences; sigma is 1-Lipschitz (step 1);
// each W_j multiplies the difference's norm by at most ||W_j|| (step 2).
//
// Checked exactly in rationals on random MLPs, on random pairs, pairs that
// differ in one coordinate, and a tight family (l = L - 1, u and v in the
// region where sigma is the identity, u - v along sign(heaviest row of W_L))
// that attains the bound. Negative control: the factor times (1 - 2^-40).
#include "mlp_support.hpp"

using namespace qbound;
using namespace qbound::test;

namespace {

std::vector<rational> tail(const std::vector<const net::node*>& layers, std::size_t l, std::vector<rational> u) {
    const std::size_t L = layers.size();
    for (std::size_t j = l + 1; j <= L; ++j) u = affine(*layers[j - 1], relu(std::move(u)));
    return u;
}

testing::property_result check_tail(const rational& factor, std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result("tail Lipschitz, factor " + arith::to_decimal(factor, 8), "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        std::string family;
        const net::network m = draw_mlp(gen, family);
        const auto layers = affine_layers(m);
        const std::size_t L = layers.size();
        const bool tight = L >= 2 && gen.chance(0.3);
        const std::size_t l = tight ? L - 1 : static_cast<std::size_t>(gen.uniform_int(1, static_cast<std::int64_t>(L)));
        const std::size_t n = layers[l - 1]->out_features;
        std::vector<rational> u(n), v(n);
        if (tight) {
            family += ", tight";
            // u deep in the positive region; v = u - t sign(heaviest row of W_L).
            const auto& last = *layers[L - 1];
            std::size_t heaviest = 0;
            rational best = -1;
            for (std::size_t o = 0; o < last.out_features; ++o) {
                rational s = 0;
                for (std::size_t i = 0; i < last.in_features; ++i) s += arith::abs(arith::to_rational(last.weight[o * last.in_features + i]));
                if (s > best) best = s, heaviest = o;
            }
            for (std::size_t i = 0; i < n; ++i) {
                u[i] = 100;
                v[i] = u[i] - rational(last.weight[heaviest * n + i] < 0 ? -1 : 1) / 8;
            }
        } else {
            for (auto& e : u) e = arith::to_rational(gen.few_bits());
            v = u;
            if (gen.chance(0.5)) {
                v[static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(n) - 1))] += arith::to_rational(gen.few_bits());
            } else {
                for (auto& e : v) e += arith::to_rational(gen.few_bits()) / 64;
            }
        }
        rational lipschitz = factor;
        for (std::size_t j = l + 1; j <= L; ++j) lipschitz *= weight_norm(*layers[j - 1]);
        const auto tu = tail(layers, l, u), tv = tail(layers, l, v);
        std::vector<rational> du(n), dt(tu.size());
        for (std::size_t i = 0; i < n; ++i) du[i] = u[i] - v[i];
        for (std::size_t i = 0; i < tu.size(); ++i) dt[i] = tu[i] - tv[i];
        ++res.cases;
        if (inf_norm(dt) > lipschitz * inf_norm(du) && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, c, family) + m.name() + ", l = " + std::to_string(l) +
                                 ": ||T(u) - T(v)|| = " + arith::to_decimal(inf_norm(dt)) + " > " + arith::to_decimal(lipschitz * inf_norm(du));
    }
    return res;
}

}  // namespace

TEST_CASE("step 5: the tail map is Lipschitz with constant prod_{j>l} ||W_j||", "[proofs][step5]") {
    QBOUND_REQUIRE_PROPERTY(check_tail(1, property_cases(10000), property_seed()));
}

TEST_CASE("step 5 negative control: a constant 2^-40 smaller is refuted by the tight family", "[proofs][step5][negative]") {
    const rational almost_one = rational(1) - rational(1) / (arith::integer(1) << 40);
    QBOUND_REQUIRE_REFUTED(check_tail(almost_one, 3000, property_seed()));
}
