// Each bound formula pinned on hand-computed cases (THEOREMS.md section 3):
// L = 1, mixed r_l, all r_l < 1, the l = 1 term of r_mean, hypotheses that
// fail with their reasons, and the residual-aware bound on a chain.
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/zoo.hpp"

#include <catch2/catch.hpp>


using namespace qbound;
using arith::rational;

namespace {

using F = bounds::bound_family;
using R = bounds::r_source;

rational exact(const bounds::upper& v) { return v.to_rational(); }

const bounds::hypothesis* find_hypothesis(const bounds::bound_result& b, const std::string& name) {
    for (const auto& h : b.hypotheses)
        if (h.name == name) return &h;
    return nullptr;
}

void set_dense(net::network& m, std::size_t layer, std::vector<double> W, std::vector<double> b) {
    std::size_t seen = 0;
    for (std::size_t i : m.affine_nodes()) {
        const net::node& n = m.at(i);
        if (++seen == layer) {
            REQUIRE(n.weight.size() == W.size());
            REQUIRE(n.bias.size() == b.size());
            m.set_weights(i, std::move(W));
            m.set_bias(i, std::move(b));
            return;
        }
    }
    FAIL("no layer " << layer);
}

}  // namespace

TEST_CASE("L = 1, one input: every form reduces to its closed value", "[bounds]") {
    auto theta = net::make_mlp({1, 1});
    set_dense(theta, 1, {2}, {0.5});
    auto quant = theta;
    set_dense(quant, 1, {2.25}, {0.5});
    bounds::bound_options opt;
    opt.D = 3;
    const auto b = bounds::compute_bounds(theta, quant, opt);
    // sup_{|x| <= 3} |0.25 x| = 0.75: A, G and B meet it (step 9: tight).
    CHECK(exact(bounds::find(b, {F::A_per_layer, R::max}).value) == rational(3, 4));
    CHECK(exact(bounds::find(b, {F::A_collapsed, R::theta}).value) == rational(3, 4));
    CHECK(exact(bounds::find(b, {F::G, R::max}).value) == rational(3, 4));
    CHECK(exact(bounds::find(b, {F::B, R::max}).value) == rational(3, 4));
    CHECK(exact(bounds::find(b, {F::residual_aware, R::max}).value) == rational(3, 4));
    // A' and B-bias count the bias column: (1 + 1) * 3 * 0.25.
    CHECK(exact(bounds::find(b, {F::A_prime_per_layer, R::max}).value) == rational(3, 2));
    CHECK(exact(bounds::find(b, {F::B_bias, R::theta}).value) == rational(3, 2));
    // L = 1: r_mean has power 0 and is reported as 0 (not used).
    CHECK(bounds::find(b, {F::A_collapsed, R::max}).r_summary.sign() == 0);
    // B needs a network without biases; this one has a bias.
    const auto* h = find_hypothesis(bounds::find(b, {F::B, R::max}), "networks without biases");
    REQUIRE(h != nullptr);
    CHECK_FALSE(h->holds);
    CHECK_THAT(h->reason, Catch::Contains("non-zero biases"));
}

namespace {

// r = (2, 0.5, 3) for theta; theta' moves W1[0][1] by +1/16 (rho_1' = 2.0625)
// and W3[0][0] by -1/8 (rho_3' = 2.875).
std::pair<net::network, net::network> mixed_norm_pair() {
    auto theta = net::make_mlp({2, 2, 2, 1});
    set_dense(theta, 1, {1, 0.5, 0.25, 0}, {0.5, 0});
    set_dense(theta, 2, {0.25, 0, 0, 0.125}, {0.25, 0});
    set_dense(theta, 3, {2, 1}, {0});
    auto quant = theta;
    set_dense(quant, 1, {1, 0.5625, 0.25, 0}, {0.5, 0});
    set_dense(quant, 3, {1.875, 1}, {0});
    return {theta, quant};
}

}  // namespace

TEST_CASE("mixed r_l: every variant against its hand computation", "[bounds]") {
    const auto [theta, quant] = mixed_norm_pair();
    const auto b = bounds::compute_bounds(theta, quant);
    // ||theta - theta'|| = 1/8; D = 1.
    // A-per-layer, r = theta: M_1 = r2 r3 = 1.5, M_3 = max(r1 r2, r2) = 1:
    //   2 * 1.5 * 1/16 + 2 * 1 * 1/8 = 0.4375.
    CHECK(exact(bounds::find(b, {F::A_per_layer, R::theta}).value) == rational(7, 16));
    // r = max: M_3 = max(2.0625 * 0.5, 0.5) = 1.03125: 0.1875 + 0.2578125.
    CHECK(exact(bounds::find(b, {F::A_per_layer, R::max}).value) == rational(57, 128));
    // A-collapsed: max_l M_l = M_2 = r3 r1 = 6 (6.1875 with max); C = 6 * 6.
    CHECK(exact(bounds::find(b, {F::A_collapsed, R::theta}).constant) == 36);
    CHECK(exact(bounds::find(b, {F::A_collapsed, R::theta}).value) == rational(9, 2));
    CHECK(exact(bounds::find(b, {F::A_collapsed, R::max}).value) == rational(297, 64));
    // r_mean = sqrt(6), rounded up.
    const auto& r_mean = bounds::find(b, {F::A_collapsed, R::theta}).r_summary;
    CHECK(exact(bounds::mul_up(r_mean, r_mean)) >= 6);
    CHECK(r_mean.to_double() == Approx(2.449489742783178).epsilon(1e-15));
    // The theta reading fails the proof's hypothesis: rho_1(theta') > rho_1(theta).
    const auto* h = find_hypothesis(bounds::find(b, {F::A_per_layer, R::theta}), "r_l from theta bounds the layer norm rho_l of theta'");
    REQUIRE(h != nullptr);
    CHECK_FALSE(h->holds);
    CHECK_THAT(h->reason, Catch::Contains("layer 1"));
    CHECK(bounds::find(b, {F::A_per_layer, R::max}).hypotheses_hold());
    // A': widths N+1 = 3, M'_1 = 1.5, M'_2 = 6, M'_3 = max(1, 0.5, 1) = 1;
    // per layer: 3 * 1.5 * 1/16 + 3 * 1 * 1/8 = 0.65625.
    CHECK(exact(bounds::find(b, {F::A_prime_per_layer, R::theta}).value) == rational(21, 32));
    CHECK(exact(bounds::find(b, {F::A_prime_collapsed, R::theta}).value) == rational(9 * 6, 8));
    // G: W = 2, L = 3, r = 3: C = 2 * 9 * 9 = 162.
    CHECK(exact(bounds::find(b, {F::G, R::theta}).constant) == 162);
    CHECK(exact(bounds::find(b, {F::G, R::max}).value) == rational(162, 8));
    // G-entrywise: r = largest entry = 2, C = 2 * 9 * 4 = 72, and it is flagged.
    CHECK(exact(bounds::find(b, {F::G_entrywise, R::theta}).constant) == 72);
    const auto* g = find_hypothesis(bounds::find(b, {F::G_entrywise, R::theta}), "r bounds every layer's operator norm");
    REQUIRE(g != nullptr);
    CHECK_FALSE(g->holds);
    // B: sum p^2 c = 6, max_l prod_{k!=l} r_k = r1 r3 = 6: 36 / 8.
    CHECK(exact(bounds::find(b, {F::B, R::theta}).value) == rational(9, 2));
    // B-bias: sum (N+1) = 9, max M'_l = 6: 54 / 8.
    CHECK(exact(bounds::find(b, {F::B_bias, R::theta}).value) == rational(27, 4));
    // Residual-aware on a chain: m_0 = 1, m_1 = 2, m_2 = 0.75; Lip_1 = 0.75,
    // Lip_3 = 1: 0.75 * 2 * 1/16 + 1 * 2 * 1/8 * 0.75 = 0.28125.
    CHECK(exact(bounds::find(b, {F::residual_aware, R::theta}).value) == rational(9, 32));
    for (const auto& bound : b) {
        INFO(bound.name);
        CHECK(bound.value.sign() >= 0);
        // Dyadic ingredients: the upward and downward evaluations coincide.
        const F f = bound.key.family;
        if (f == F::A_per_layer || f == F::B || f == F::B_group || f == F::B_bias || f == F::B_group_bias) CHECK(bound.value_lower == bound.value);
    }
}

TEST_CASE("all r_l < 1: the bias path keeps M_L >= r_{L-1} (P3)", "[bounds]") {
    auto theta = net::make_mlp({1, 1, 1, 1});
    set_dense(theta, 1, {0.25}, {0.25});  // rho 0.5
    set_dense(theta, 2, {0.25}, {0.25});
    set_dense(theta, 3, {0.5}, {0});
    auto quant = theta;
    set_dense(quant, 3, {0.375}, {0});  // Delta_3 = 1/8, rho_3' = 0.375
    const auto b = bounds::compute_bounds(theta, quant);
    // M_1 = r2 r3 = 0.25, M_2 = r3 r1 = 0.25, M_3 = max(r1 r2, r2) = 0.5 = r_2.
    const auto& A = bounds::find(b, {F::A_per_layer, R::theta});
    REQUIRE(A.terms.size() == 3);
    CHECK(exact(A.terms[0].multiplier) == rational(1, 4));
    CHECK(exact(A.terms[1].multiplier) == rational(1, 4));
    CHECK(exact(A.terms[2].multiplier) == rational(1, 2));
    // r_mean^2 = 0.5 although every r_j = 0.5: not r^(L-1) = 0.25.
    CHECK(exact(bounds::find(b, {F::A_collapsed, R::theta}).value) == rational(3, 1) * rational(1, 2) * rational(1, 8));
    // G needs r >= 1.
    const auto* h = find_hypothesis(bounds::find(b, {F::G, R::theta}), "r >= 1");
    REQUIRE(h != nullptr);
    CHECK_FALSE(h->holds);
    CHECK_THAT(h->reason, Catch::Contains("r must be >= 1"));
}

TEST_CASE("the l = 1 term of A uses M_1 = prod_{j >= 2} r_j", "[bounds]") {
    // Only layer 1 changes; the published max over i = 1..0 would be empty.
    auto theta = net::make_mlp({3, 2, 1});
    set_dense(theta, 1, {1, 1, 1, 0, 0, 0}, {0, 0});
    set_dense(theta, 2, {4, 0}, {0});
    auto quant = theta;
    set_dense(quant, 1, {1.5, 1.5, 1.5, 0, 0, 0}, {0, 0});
    bounds::bound_options opt;
    opt.D = 2;
    const auto b = bounds::compute_bounds(theta, quant, opt);
    // max(D,1) N_0 M_1 Delta_1 = 2 * 3 * 4 * 0.5 = 12, and the witness
    // x = (2, 2, 2) moves the output by 4 * 1.5 * 2 = 12: tight.
    CHECK(exact(bounds::find(b, {F::A_per_layer, R::max}).value) == 12);
    CHECK(exact(bounds::find(b, {F::A_per_layer, R::max}).terms.at(0).multiplier) == 4);
}

TEST_CASE("residual networks: chain variants report the main-path reading", "[bounds]") {
    net::network m("res", {2, 1, 1});
    const auto flat = m.flatten(0);
    const auto d1 = m.dense(flat, 2);
    const auto r1 = m.activation(d1, net::op::relu);
    const auto d2 = m.dense(r1, 2);
    const auto sum = m.add(d2, r1);
    m.dense(sum, 1);
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i)) w = 0.5;
    auto quant = m;
    quant.weights(d2)[0] = 0.625;
    const auto b = bounds::compute_bounds(m, quant);
    const auto* h = find_hypothesis(bounds::find(b, {F::A_per_layer, R::max}), "plain chain");
    REQUIRE(h != nullptr);
    CHECK_FALSE(h->holds);
    CHECK_THAT(h->reason, Catch::Contains("residual"));
    // Residual-aware: m_in(d2) = ||relu(d1)|| <= 1 (x in [-1,1]^2, rows sum 1);
    // Lip(d2) = ||W3|| = 1; rows 2, Delta 1/8: 2 * 1/8 * 1 = 0.25.
    CHECK(exact(bounds::find(b, {F::residual_aware, R::max}).value) == rational(1, 4));
    CHECK(bounds::find(b, {F::residual_aware, R::max}).hypotheses_hold());
}

TEST_CASE("bounds refuse pairs that are not comparable", "[bounds]") {
    auto a = net::make_mlp({2, 3, 1});
    auto b = net::make_mlp({2, 4, 1});
    CHECK_THROWS_WITH(bounds::compute_bounds(a, b), Catch::Contains("do not have the same architecture"));
    auto c = a;
    c.weights(1)[0] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(bounds::compute_bounds(a, c), Catch::Contains("not finite") || Catch::Contains("NaN"));
    bounds::bound_options opt;
    opt.D = -1;
    CHECK_THROWS_WITH(bounds::compute_bounds(a, a, opt), Catch::Contains("D must be >= 0"));
}
