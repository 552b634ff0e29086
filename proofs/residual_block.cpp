// The residual step of the residual-aware bound (bounds.hpp, "residual-aware").
//
// Statement (R1). If ||F(u) - F(v)||_inf <= Lip(F) ||u - v||_inf, the block
// B(x) = x + F(x) satisfies ||B(u) - B(v)||_inf <= (1 + Lip(F)) ||u - v||_inf.
// Proof: triangle inequality. For F = W2 sigma(W1 x + b1) + b2,
// Lip(F) <= ||W2|| ||W1|| (steps 1, 2); with W1 = a I, W2 = c I (a, c > 0)
// and u, v where sigma is the identity, the constant 1 + a c is attained.
//
// Statement (R2), the bound. Order the affine nodes topologically and
// telescope as in step 6 (theta^(j): nodes up to j quantized). Term j only
// changes node j: its value moves by at most rows_j Delta_j m_j + Delta b_j,
// where m_j bounds ||input of j||_inf in any mixed network (forward: affine
// max_o (sum|k_o| m + |b_o|), ReLU/pooling non-expansive, add m_a + m_b), and
// the change reaches the output through the map from node j's value, whose
// Lipschitz constant is at most Lip_j = sum over consumers c of Lip_c *
// local_c (||W_c|| for affine c, 1 otherwise): a residual add contributes
// the skip path (1) plus the branch (Lip(F)), which is (R1) node by node.
// Hence sup_x ||R_theta(x) - R_theta'(x)|| <= sum_j Lip_j (rows_j Delta_j m_j + Delta b_j).
//
// Checked exactly in rationals: (R1) on random blocks and the tight family;
// (R2) on random residual networks (random, skip-dominant, branch-dominant,
// sign-aligned, biases changed) at the box's vertices and random points.
// Negative controls: (R1) with max(1, Lip(F)) is refuted by the tight
// family; and the paper's main-path chain reading of bound A is refuted on
// skip-dominant blocks (the skip carries a change the main path's norms do
// not see), a certified counterexample to that reading.
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/forward.hpp"

#include "mlp_support.hpp"

using namespace qbound;
using namespace qbound::test;

namespace {

// ---- (R1) -----------------------------------------------------------------------------------

testing::property_result check_block_lipschitz(bool weakened, std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result(weakened ? "x + F(x) is max(1, Lip F)-Lipschitz" : "x + F(x) is (1 + Lip F)-Lipschitz",
                                          "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        const auto n = static_cast<std::size_t>(gen.uniform_int(1, 5));
        net::network F = net::make_mlp({n, static_cast<std::size_t>(gen.uniform_int(1, 5)), n});
        const bool tight = gen.chance(0.3);
        std::string family = tight ? "tight: W1 = a I, W2 = c I, positive region" : "random";
        if (tight) F = net::make_mlp({n, n, n});
        const double a = std::ldexp(static_cast<double>(gen.uniform_int(1, 8)), -2), cc = std::ldexp(static_cast<double>(gen.uniform_int(1, 8)), -2);
        std::size_t layer = 0;
        for (std::size_t k : F.affine_nodes()) {
            const net::node& node = F.at(k);
            ++layer;
            for (std::size_t o = 0; o < node.out_features; ++o)
                for (std::size_t i = 0; i < node.in_features; ++i)
                    F.weights(k)[o * node.in_features + i] = tight ? (o == i ? (layer == 1 ? a : cc) : 0.0) : gen.few_bits() / 4;
            for (double& b : F.bias(k)) b = tight ? 0.0 : gen.few_bits() / 8;
        }
        const auto layers = affine_layers(F);
        const rational lip_F = weight_norm(*layers[0]) * weight_norm(*layers[1]);
        std::vector<rational> u(n), v(n);
        for (std::size_t i = 0; i < n; ++i) {
            u[i] = tight ? rational(8 + gen.uniform_int(0, 8)) : arith::to_rational(gen.few_bits());
            v[i] = tight ? u[i] + rational(gen.uniform_int(1, 4), 4) : arith::to_rational(gen.few_bits());
        }
        const auto block = [&](const std::vector<rational>& x) {
            auto y = affine(*layers[1], relu(affine(*layers[0], x)));
            for (std::size_t i = 0; i < n; ++i) y[i] += x[i];
            return y;
        };
        const auto bu = block(u), bv = block(v);
        std::vector<rational> dx(n), dy(n);
        for (std::size_t i = 0; i < n; ++i) dx[i] = u[i] - v[i], dy[i] = bu[i] - bv[i];
        const rational constant = weakened ? arith::max(rational(1), lip_F) : 1 + lip_F;
        ++res.cases;
        if (inf_norm(dy) > constant * inf_norm(dx) && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, c, family) + "n = " + std::to_string(n) + ": ||B(u)-B(v)|| = " +
                                 arith::to_decimal(inf_norm(dy)) + " > " + arith::to_decimal(constant * inf_norm(dx));
    }
    return res;
}

// ---- (R2) -----------------------------------------------------------------------------------

enum class residual_family { random, skip_dominant, branch_dominant, sign_aligned, biases_changed };

struct drawn_pair {
    net::network theta, quant;
    std::string family;
};

// input (d) -> flatten -> dense n -> relu -> [blocks: dense -> relu -> dense, add, relu] -> dense out
drawn_pair draw_residual_pair(testing::operand_generator& gen) {
    const auto kind = static_cast<residual_family>(gen.uniform_int(0, 4));
    const char* names[] = {"random", "skip-dominant", "branch-dominant", "sign-aligned", "biases changed"};
    const auto d = static_cast<std::size_t>(gen.uniform_int(1, 3)), n = static_cast<std::size_t>(gen.uniform_int(1, 4));
    net::network m("residual", {d, 1, 1});
    std::size_t x = m.activation(m.dense(m.flatten(0), n, "stem"), net::op::relu);
    const auto blocks = gen.uniform_int(1, 2);
    for (std::int64_t b = 0; b < blocks; ++b) {
        const std::string p = "block" + std::to_string(b + 1);
        const auto branch = m.dense(m.activation(m.dense(x, n, p + ".fc1"), net::op::relu), n, p + ".fc2");
        x = m.activation(m.add(branch, x, p + ".add"), net::op::relu);
    }
    m.dense(x, static_cast<std::size_t>(gen.uniform_int(1, 3)), "head");
    for (std::size_t k : m.affine_nodes()) {
        const net::node& node = m.at(k);
        const bool in_branch = node.name.find(".fc") != std::string::npos;
        double scale = 1;
        if (kind == residual_family::skip_dominant && in_branch) scale = 0x1p-12;
        if (kind == residual_family::branch_dominant && in_branch) scale = 4;
        for (double& w : m.weights(k)) {
            w = scale * gen.few_bits() / 4;
            if (kind == residual_family::sign_aligned || kind == residual_family::skip_dominant) w = std::fabs(w);
        }
        for (double& b : m.bias(k)) b = gen.chance(0.5) ? 0.0 : gen.few_bits() / 8;
    }
    drawn_pair out{m, m, names[static_cast<int>(kind)]};
    for (std::size_t k : out.quant.affine_nodes()) {
        const bool perturb = kind != residual_family::skip_dominant || out.quant.at(k).name == "stem";
        for (double& w : out.quant.weights(k))
            if (perturb && gen.chance(0.7)) w += std::fabs(gen.few_bits()) / 16;
        if (kind == residual_family::biases_changed)
            for (double& b : out.quant.bias(k)) b += gen.few_bits() / 32;
    }
    return out;
}

testing::property_result check_residual_bound(const bounds::variant_key& variant, std::size_t cases, std::uint64_t seed) {
    const std::string bound_name = bounds::to_string(variant);
    auto res = testing::start_result(bound_name + " >= ||R_theta(x) - R_theta'(x)|| on residual networks", "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        const auto pair = draw_residual_pair(gen);
        const rational D(gen.uniform_int(1, 8), 4);
        bounds::bound_options opt;
        opt.D = D;
        const rational bound = bounds::find(bounds::compute_bounds(pair.theta, pair.quant, opt), variant).value.to_rational();
        const std::size_t d = pair.theta.input_shape().size();
        rational worst = 0;
        std::vector<rational> worst_x;
        const std::size_t vertices = std::size_t{1} << d;
        for (std::size_t s = 0; s < vertices + 8; ++s) {
            std::vector<rational> x(d);
            for (std::size_t i = 0; i < d; ++i)
                x[i] = s < vertices ? ((s >> i) & 1 ? D : rational(-D)) : D * rational(gen.uniform_int(-16, 16), 16);
            const auto y = net::forward<rational>(pair.theta, x), yq = net::forward<rational>(pair.quant, x);
            std::vector<rational> diff(y.size());
            for (std::size_t i = 0; i < y.size(); ++i) diff[i] = yq[i] - y[i];
            if (inf_norm(diff) > worst) worst = inf_norm(diff), worst_x = x;
        }
        ++res.cases;
        if (worst > bound && res.failures++ == 0) {
            std::string xs;
            for (const auto& e : worst_x) xs += (xs.empty() ? "" : ", ") + arith::to_decimal(e, 6);
            res.counterexample = testing::failure_header(seed, c, pair.family) + "D = " + arith::to_decimal(D, 6) + ", x = (" + xs +
                                 "): change " + arith::to_decimal(worst) + " > " + bound_name + " = " + arith::to_decimal(bound);
        }
    }
    return res;
}

}  // namespace

TEST_CASE("residual step R1: x + F(x) is (1 + Lip F)-Lipschitz, tightly", "[proofs][residual]") {
    QBOUND_REQUIRE_PROPERTY(check_block_lipschitz(false, property_cases(5000), property_seed()));
    QBOUND_REQUIRE_REFUTED(check_block_lipschitz(true, 2000, property_seed()));
}

TEST_CASE("residual step R2: the residual-aware bound holds on residual networks", "[proofs][residual]") {
    QBOUND_REQUIRE_PROPERTY(check_residual_bound({bounds::bound_family::residual_aware, bounds::r_source::max}, property_cases(1500), property_seed()));
}

TEST_CASE("the main-path chain reading of A is refuted on skip-dominant blocks", "[proofs][residual][negative]") {
    const auto refuted = check_residual_bound({bounds::bound_family::A_per_layer, bounds::r_source::max}, 1500, property_seed());
    WARN("main-path reading of A refuted in " << refuted.failures << " of " << refuted.cases
                                               << " cases; first: " << refuted.counterexample);
    QBOUND_REQUIRE_REFUTED(refuted);
}
