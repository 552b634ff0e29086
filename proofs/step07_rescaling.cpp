// Proof step 7 (THEOREMS.md section 4, step 7): rescaling by positive diagonals.
//
// Statement. Let 1 <= l < L, s_1..s_{N_l} > 0 and S = diag(s). The map
//   (W_l, b_l, W_{l+1}) -> (S^-1 W_l, S^-1 b_l, W_{l+1} S)
// (a) leaves R_theta unchanged, exactly, when sigma between layers l and l+1
//     is ReLU (or the identity): sigma(t / s) = sigma(t) / s for s > 0;
// (b) moves the norms exactly as predicted:
//       rho_l      -> max_i (sum_j |W_l,ij| + |b_l,i|) / s_i,   ||W_l|| -> max_i sum_j |W_l,ij| / s_i,
//       ||W_{l+1}|| -> max_i sum_j |W_{l+1,ij}| s_j,
//       rho_{l+1}  -> max_i (sum_j |W_{l+1,ij}| s_j + |b_{l+1,i}|),
//     and leaves every other layer's norms alone. So r_l and r_{l+1}, and with
//     them the bounds of section 3, change while the function does not.
// (c) the library's net::rescale_layer_pair computes, for S a power-of-two
//     diagonal, exactly these rescaled weights (double scaling by 2^k is
//     exact here), and the rescaled double network has the same output;
// (d) net::cross_layer_equalization (Nagel et al. 2019, with s_c rounded to
//     powers of two) is a composition of such rescalings: each layer becomes
//     W_l[o][i] 2^(e_{l-1,i} - e_{l,o}), b_l[o] 2^(-e_{l,o}) with the reported
//     exponents, the output is unchanged exactly, and the reported norms are
//     the recomputed ones.
// Proof sketch: the i-th pre-activation of layer l is divided by s_i > 0, so
// is its ReLU, and column i of W_{l+1} S multiplies it back by s_i; the row
// sums of S^-1 [W_l | b_l] are those of [W_l | b_l] divided by s_i, and row i of
// W_{l+1} S has entries |W_{l+1,ij}| s_j.
//
// Checked exactly in rationals on random MLPs (draw_mlp; ReLU or ReLU6 at the
// other layers) with S rational: powers of two from 2^-8 to 2^8, mixed 2^60 /
// 2^-60 / 1 (ratios of 2^120), all 2^-60, p/q with p, q <= 1000, arbitrary
// positive doubles, and S = 1; at random points, box vertices and large
// inputs. Failures are shrunk to the fewest scaled channels. Documented
// refuted claims (negative controls): invariance with one negative s_i;
// invariance across a ReLU6 (min(t, 6) is not positively homogeneous) with
// S != 1; the prediction of ||W_{l+1} S|| with S^-1 in place of S; and "the
// product rho_l rho_{l+1} is invariant" (it is not, which is why CLE moves
// the bounds).
#include "qbound/net/forward.hpp"
#include "qbound/net/rescale.hpp"

#include "mlp_support.hpp"

#include <cmath>
#include <optional>

using namespace qbound;
using namespace qbound::test;

namespace {

enum class claim { truth, negative_scale, relu6_between, inverse_prediction, product_invariant };

std::string to_string(claim c) {
    switch (c) {
        case claim::truth: return "rescaling invariance and norm predictions";
        case claim::negative_scale: return "invariance with a negative scale";
        case claim::relu6_between: return "invariance across ReLU6";
        case claim::inverse_prediction: return "||W_{l+1} S|| predicted with S^-1";
        case claim::product_invariant: return "rho_l rho_{l+1} invariant";
    }
    return "?";
}

// An MLP with exact rational weights and its hidden activations.
struct exact_mlp {
    std::vector<std::size_t> widths;
    std::vector<std::vector<rational>> W, b;  // W[l-1]: N_l x N_{l-1}
    std::vector<net::op> activation;          // activation[l-1] after layer l < L
};

std::vector<rational> evaluate(const exact_mlp& m, std::vector<rational> a) {
    const std::size_t L = m.widths.size() - 1;
    for (std::size_t l = 1; l <= L; ++l) {
        std::vector<rational> z(m.widths[l]);
        for (std::size_t o = 0; o < m.widths[l]; ++o) {
            rational acc = m.b[l - 1][o];
            for (std::size_t i = 0; i < m.widths[l - 1]; ++i) acc += m.W[l - 1][o * m.widths[l - 1] + i] * a[i];
            if (l < L && m.activation[l - 1] == net::op::relu) acc = arith::relu(acc);
            if (l < L && m.activation[l - 1] == net::op::relu6) acc = arith::relu6(acc);
            z[o] = acc;
        }
        a = std::move(z);
    }
    return a;
}

// Row sums sum_j |A_ij| (+ |b_i|), exact.
std::vector<rational> row_sums(const std::vector<rational>& A, std::size_t cols, const std::vector<rational>* bias) {
    std::vector<rational> sums(A.size() / cols, rational(0));
    for (std::size_t i = 0; i < sums.size(); ++i) {
        if (bias) sums[i] = arith::abs((*bias)[i]);
        for (std::size_t j = 0; j < cols; ++j) sums[i] += arith::abs(A[i * cols + j]);
    }
    return sums;
}

rational max_of(const std::vector<rational>& v) {
    rational best = 0;
    for (const auto& e : v) best = arith::max(best, e);
    return best;
}

struct rescale_case {
    net::network net{"mlp", {1, 1, 1}};  // the double network (ReLU / ReLU6 activations)
    exact_mlp exact;
    std::size_t l = 1;                    // rescale between layers l and l + 1
    std::vector<rational> s;
    std::vector<double> s_double;         // s as doubles when every s_i is a power of two
    std::vector<std::vector<rational>> inputs;
    std::string family;
};

net::network build_network(const std::vector<std::size_t>& widths, const std::vector<net::op>& activation) {
    net::network m("mlp", {widths[0], 1, 1});
    std::size_t x = 0;
    for (std::size_t l = 1; l < widths.size(); ++l) {
        x = m.dense(x, widths[l], "fc" + std::to_string(l));
        if (l + 1 < widths.size()) x = m.activation(x, activation[l - 1], "act" + std::to_string(l));
    }
    return m;
}

rescale_case draw_case(testing::operand_generator& gen, claim c) {
    rescale_case rc;
    net::network drawn = draw_mlp(gen, rc.family);
    while (affine_layers(drawn).size() < 2) drawn = draw_mlp(gen, rc.family);
    const auto layers = affine_layers(drawn);
    const std::size_t L = layers.size();
    rc.l = static_cast<std::size_t>(gen.uniform_int(1, static_cast<std::int64_t>(L) - 1));
    auto& e = rc.exact;
    e.widths.push_back(layers[0]->in_features);
    for (const auto* n : layers) e.widths.push_back(n->out_features);
    for (std::size_t k = 1; k < L; ++k)
        e.activation.push_back(k == rc.l ? (c == claim::relu6_between ? net::op::relu6 : gen.chance(0.1) ? net::op::identity : net::op::relu)
                                         : (gen.chance(0.3) ? net::op::relu6 : net::op::relu));
    rc.net = build_network(e.widths, e.activation);
    std::size_t k = 0;
    for (std::size_t i : rc.net.affine_nodes()) {
        rc.net.set_weights(i, layers[k]->weight);
        rc.net.set_bias(i, layers[k]->bias);
        const net::node& n = rc.net.at(i);
        std::vector<rational> W, b;
        for (double w : n.weight) W.push_back(arith::to_rational(w));
        for (double v : n.bias) b.push_back(arith::to_rational(v));
        e.W.push_back(std::move(W));
        e.b.push_back(std::move(b));
        ++k;
    }
    // S
    const std::size_t n = e.widths[rc.l];
    const auto kind = c == claim::relu6_between ? 0 : gen.uniform_int(0, 5);
    const char* names[] = {"2^k, |k| <= 8", "2^60 / 2^-60 / 1", "all 2^-60", "p/q", "positive doubles", "S = 1"};
    rc.family += std::string(", S: ") + names[kind];
    bool powers_of_two = true;
    for (std::size_t i = 0; i < n; ++i) {
        double d = 1;
        switch (kind) {
            case 0: d = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-8, 8))); break;
            case 1: d = std::ldexp(1.0, 60 * static_cast<int>(gen.uniform_int(-1, 1))); break;
            case 2: d = 0x1p-60; break;
            case 3: powers_of_two = false; break;
            case 4: d = std::fabs(gen.moderate()); powers_of_two = false; break;
            default: break;
        }
        rc.s.push_back(kind == 3 ? rational(gen.uniform_int(1, 1000)) / rational(gen.uniform_int(1, 1000)) : arith::to_rational(d));
        rc.s_double.push_back(d);
    }
    if (c == claim::relu6_between && rc.s[0] == 1) rc.s[0] = 2, rc.s_double[0] = 2;  // S != 1
    if (c == claim::negative_scale) {
        const auto i = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(n) - 1));
        rc.s[i] = -rc.s[i];
    }
    if (!powers_of_two) rc.s_double.clear();
    // inputs: a random point, a vertex of [-1, 1]^d, a large point (ReLU6 saturates)
    for (int t = 0; t < 3; ++t) {
        std::vector<rational> x;
        for (std::size_t i = 0; i < e.widths[0]; ++i) {
            const double v = t == 1 ? (gen.chance(0.5) ? 1.0 : -1.0) : 2 * std::ldexp(static_cast<double>(gen.uniform_int(0, 1024)), -10) - 1;
            x.push_back(arith::to_rational(t == 2 ? std::ldexp(v, 12) : v));
        }
        rc.inputs.push_back(std::move(x));
    }
    return rc;
}

exact_mlp rescaled(const exact_mlp& m, std::size_t l, const std::vector<rational>& s) {
    exact_mlp r = m;
    const std::size_t rows = m.widths[l], cols = m.widths[l - 1], next_rows = m.widths[l + 1];
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < cols; ++j) r.W[l - 1][i * cols + j] /= s[i];
        r.b[l - 1][i] /= s[i];
        for (std::size_t o = 0; o < next_rows; ++o) r.W[l][o * rows + i] *= s[i];
    }
    return r;
}

std::optional<std::string> case_failure(const rescale_case& rc, claim c) {
    const exact_mlp& m = rc.exact;
    const std::size_t l = rc.l, L = m.widths.size() - 1;
    const exact_mlp r = rescaled(m, l, rc.s);
    // (a) the output is unchanged (the exact evaluator is checked against the library's forward pass).
    for (const auto& x : rc.inputs) {
        const auto before = evaluate(m, x);
        if (c == claim::truth && before != net::forward<rational>(rc.net, x)) return std::string("exact evaluator disagrees with forward<rational>");
        if ((c == claim::truth || c == claim::negative_scale || c == claim::relu6_between) && evaluate(r, x) != before)
            return "(a) the output changed at x = (" + arith::to_decimal(x[0], 6) + ", ...)";
    }
    if (c == claim::negative_scale || c == claim::relu6_between) return std::nullopt;
    // (b) predicted norms from the original weights vs norms recomputed from the rescaled ones.
    const std::size_t Nl = m.widths[l], Nprev = m.widths[l - 1], Nnext = m.widths[l + 1];
    std::vector<rational> rho_rows = row_sums(m.W[l - 1], Nprev, &m.b[l - 1]), w_rows = row_sums(m.W[l - 1], Nprev, nullptr);
    for (std::size_t i = 0; i < Nl; ++i) rho_rows[i] /= rc.s[i], w_rows[i] /= rc.s[i];
    std::vector<rational> next_rows(Nnext, rational(0)), next_rho_rows(Nnext);
    for (std::size_t o = 0; o < Nnext; ++o) {
        for (std::size_t j = 0; j < Nl; ++j)
            next_rows[o] += arith::abs(m.W[l][o * Nl + j]) * (c == claim::inverse_prediction ? 1 / rc.s[j] : rc.s[j]);
        next_rho_rows[o] = next_rows[o] + arith::abs(m.b[l][o]);
    }
    const rational rho_l = max_of(row_sums(r.W[l - 1], Nprev, &r.b[l - 1])), w_l = max_of(row_sums(r.W[l - 1], Nprev, nullptr));
    const rational rho_next = max_of(row_sums(r.W[l], Nl, &r.b[l])), w_next = max_of(row_sums(r.W[l], Nl, nullptr));
    if (c == claim::product_invariant) {
        const rational before = max_of(row_sums(m.W[l - 1], Nprev, &m.b[l - 1])) * max_of(row_sums(m.W[l], Nl, &m.b[l]));
        if (rho_l * rho_next != before)
            return "rho_l rho_{l+1} moved from " + arith::to_decimal(before) + " to " + arith::to_decimal(rho_l * rho_next);
        return std::nullopt;
    }
    if (w_next != max_of(next_rows))
        return "(b) ||W_{l+1} S|| = " + arith::to_decimal(w_next) + ", predicted " + arith::to_decimal(max_of(next_rows));
    if (c == claim::inverse_prediction) return std::nullopt;
    if (rho_l != max_of(rho_rows)) return "(b) rho_l = " + arith::to_decimal(rho_l) + ", predicted " + arith::to_decimal(max_of(rho_rows));
    if (w_l != max_of(w_rows)) return std::string("(b) ||S^-1 W_l|| differs from its prediction");
    if (rho_next != max_of(next_rho_rows)) return std::string("(b) rho_{l+1} differs from its prediction");
    for (std::size_t j = 1; j <= L; ++j)
        if (j != l && j != l + 1 && (r.W[j - 1] != m.W[j - 1] || r.b[j - 1] != m.b[j - 1])) return "(b) layer " + std::to_string(j) + " changed";
    // (c) the library's rescale_layer_pair for power-of-two S.
    if (!rc.s_double.empty()) {
        net::network lib = rc.net;
        std::vector<std::size_t> affine;
        for (std::size_t k = 0; k < lib.nodes().size(); ++k)
            if (lib.at(k).is_affine()) affine.push_back(k);
        net::rescale_layer_pair(lib, affine[l - 1], rc.s_double);
        for (std::size_t j = 1; j <= L; ++j) {
            const auto& n = lib.at(affine[j - 1]);
            for (std::size_t k = 0; k < n.weight.size(); ++k)
                if (arith::to_rational(n.weight[k]) != r.W[j - 1][k])
                    return "(c) rescale_layer_pair: weight " + std::to_string(k) + " of layer " + std::to_string(j);
            for (std::size_t k = 0; k < n.bias.size(); ++k)
                if (arith::to_rational(n.bias[k]) != r.b[j - 1][k])
                    return "(c) rescale_layer_pair: bias " + std::to_string(k) + " of layer " + std::to_string(j);
        }
        for (const auto& x : rc.inputs)
            if (net::forward<rational>(lib, x) != evaluate(m, x)) return std::string("(c) the library-rescaled network's output changed");
    }
    return std::nullopt;
}

std::string describe(const rescale_case& rc) {
    std::string out = rc.net.name() + " widths";
    for (std::size_t n : rc.exact.widths) out += " " + std::to_string(n);
    out += ", activations";
    for (auto a : rc.exact.activation) out += " " + std::string(net::to_string(a));
    out += ", l = " + std::to_string(rc.l) + ", s =";
    for (const auto& v : rc.s) out += " " + v.str();
    for (std::size_t j = 0; j < rc.exact.W.size(); ++j) {
        out += "; layer " + std::to_string(j + 1) + ": W =";
        for (const auto& w : rc.exact.W[j]) out += " " + w.str();
        out += ", b =";
        for (const auto& v : rc.exact.b[j]) out += " " + v.str();
    }
    out += "; x =";
    for (const auto& x : rc.inputs)
        for (const auto& v : x) out += " " + v.str();
    return out;
}

// Shrinks a failure to the fewest channels with s_i != 1.
rescale_case shrink(rescale_case rc, claim c) {
    for (std::size_t i = 0; i < rc.s.size(); ++i) {
        if (rc.s[i] == 1) continue;
        rescale_case t = rc;
        t.s[i] = 1;
        if (!t.s_double.empty()) t.s_double[i] = 1;
        if (case_failure(t, c)) rc = std::move(t);
    }
    return rc;
}

testing::property_result check_rescaling(claim c, std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result(to_string(c), "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t k = 0; k < cases; ++k) {
        const rescale_case rc = draw_case(gen, c);
        ++res.cases;
        if (!case_failure(rc, c)) continue;
        if (res.failures++ == 0) {
            const rescale_case small = shrink(rc, c);
            res.counterexample = testing::failure_header(seed, k, rc.family) + describe(small) + ": " + *case_failure(small, c);
        }
    }
    return res;
}

// (d) cross-layer equalization on random MLPs (ReLU everywhere).
testing::property_result check_cle(std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result("cross_layer_equalization is exact power-of-two rescaling", "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t k = 0; k < cases; ++k) {
        std::string family;
        const net::network before = draw_mlp(gen, family);
        net::network after = before;
        const net::cle_report report = net::cross_layer_equalization(after);
        const auto old_layers = affine_layers(before), new_layers = affine_layers(after);
        const std::size_t L = old_layers.size();
        std::string failure;
        if (report.pairs.size() != L - 1) failure = "expected " + std::to_string(L - 1) + " pairs, got " + std::to_string(report.pairs.size());
        // e[l][c]: exponent of pair (l, l+1) for channel c of layer l (0 where there is no pair).
        std::vector<std::vector<int>> e(L + 1);
        e[0].assign(old_layers[0]->in_features, 0);
        for (std::size_t l = 1; l <= L; ++l)
            e[l] = l < L && failure.empty() ? report.pairs[l - 1].exponents : std::vector<int>(old_layers[l - 1]->out_features, 0);
        for (std::size_t l = 1; l <= L && failure.empty(); ++l) {
            const auto& o = *old_layers[l - 1];
            const auto& n = *new_layers[l - 1];
            for (std::size_t r = 0; r < o.out_features && failure.empty(); ++r) {
                if (arith::to_rational(n.bias[r]) != arith::to_rational(o.bias[r]) * arith::to_rational(std::ldexp(1.0, -e[l][r])))
                    failure = "bias " + std::to_string(r) + " of layer " + std::to_string(l) + " is not b 2^-e";
                for (std::size_t i = 0; i < o.in_features; ++i)
                    if (arith::to_rational(n.weight[r * o.in_features + i]) !=
                        arith::to_rational(o.weight[r * o.in_features + i]) * arith::to_rational(std::ldexp(1.0, e[l - 1][i] - e[l][r])))
                        failure = "weight (" + std::to_string(r) + ", " + std::to_string(i) + ") of layer " + std::to_string(l) +
                                  " is not W 2^(e_in - e_out)";
            }
            if (failure.empty() && (report.layers[l - 1].rho_after != rho(n) || report.layers[l - 1].rho_before != rho(o) ||
                                    report.layers[l - 1].weight_norm_after != weight_norm(n)))
                failure = "reported norms of layer " + std::to_string(l) + " differ from the recomputed ones";
        }
        for (int t = 0; t < 2 && failure.empty(); ++t) {
            std::vector<rational> x;
            for (std::size_t i = 0; i < before.input_shape().size(); ++i)
                x.push_back(t == 0 ? rational(gen.uniform_int(-1000, 1000)) / rational(gen.uniform_int(1, 999)) : arith::to_rational(gen.few_bits()));
            if (net::forward<rational>(after, x) != net::forward<rational>(before, x)) failure = "the output changed";
        }
        ++res.cases;
        if (!failure.empty() && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, k, family) + before.name() + ": " + failure;
    }
    return res;
}

}  // namespace

TEST_CASE("step 7: rescaling by a positive diagonal keeps R_theta exactly and moves the norms as predicted", "[proofs][step7]") {
    QBOUND_REQUIRE_PROPERTY(check_rescaling(claim::truth, property_cases(5000), property_seed()));
}

TEST_CASE("step 7: cross-layer equalization is an exact power-of-two rescaling", "[proofs][step7]") {
    QBOUND_REQUIRE_PROPERTY(check_cle(property_cases(2000), property_seed()));
}

TEST_CASE("step 7 negative control: a negative scale breaks invariance", "[proofs][step7][negative]") {
    QBOUND_REQUIRE_REFUTED(check_rescaling(claim::negative_scale, 300, property_seed()));
}

TEST_CASE("step 7 negative control (documented refuted claim): rescaling across ReLU6 breaks invariance", "[proofs][step7][negative]") {
    QBOUND_REQUIRE_REFUTED(check_rescaling(claim::relu6_between, 300, property_seed()));
}

TEST_CASE("step 7 negative control: predicting ||W_{l+1} S|| with S^-1 is refuted", "[proofs][step7][negative]") {
    QBOUND_REQUIRE_REFUTED(check_rescaling(claim::inverse_prediction, 300, property_seed()));
}

TEST_CASE("step 7 negative control: rho_l rho_{l+1} is not invariant", "[proofs][step7][negative]") {
    QBOUND_REQUIRE_REFUTED(check_rescaling(claim::product_invariant, 300, property_seed()));
}
