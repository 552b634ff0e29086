#pragma once
// Shared helpers for the MLP proof steps (4, 5): random plain-chain MLPs with
// hostile layer norms, and exact layer-by-layer evaluation in rationals.
#include "qbound/bounds/norms.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"

#include <cmath>
#include <vector>

namespace qbound::test {

using arith::rational;

// widths N_0..N_L; weights scaled so some layers have norm < 1 and some > 1.
inline net::network draw_mlp(testing::operand_generator& gen, std::string& family) {
    const auto L = static_cast<std::size_t>(gen.uniform_int(1, 5));
    std::vector<std::size_t> widths;
    for (std::size_t l = 0; l <= L; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 7)));
    net::network m = net::make_mlp(widths);
    const auto kind = gen.uniform_int(0, 3);
    family = kind == 0 ? "random" : kind == 1 ? "small norms" : kind == 2 ? "sign-aligned" : "zero rows and biases";
    for (std::size_t i : m.affine_nodes()) {
        const double scale = kind == 1 ? 0x1p-3 : std::ldexp(1.0, static_cast<int>(gen.uniform_int(-2, 2)));
        for (double& w : m.weights(i)) {
            w = scale * gen.few_bits() / 8;
            if (kind == 2) w = std::fabs(w);
            if (kind == 3 && gen.chance(0.3)) w = 0;
        }
        for (double& b : m.bias(i)) b = kind == 3 && gen.chance(0.5) ? 0.0 : scale * gen.few_bits() / 16;
    }
    return m;
}

// The affine nodes of an MLP built by make_mlp, in order (layer l = index l-1).
inline std::vector<const net::node*> affine_layers(const net::network& m) {
    std::vector<const net::node*> out;
    for (const auto& n : m.nodes())
        if (n.is_affine()) out.push_back(&n);
    return out;
}

// W x + b for an affine node, exactly.
inline std::vector<rational> affine(const net::node& n, const std::vector<rational>& x) {
    std::vector<rational> y(n.out_features);
    for (std::size_t o = 0; o < n.out_features; ++o) {
        rational acc = arith::to_rational(n.bias[o]);
        for (std::size_t i = 0; i < n.in_features; ++i) acc += arith::to_rational(n.weight[o * n.in_features + i]) * x[i];
        y[o] = acc;
    }
    return y;
}

inline std::vector<rational> relu(std::vector<rational> v) {
    for (auto& e : v) e = arith::relu(e);
    return v;
}

// rho_l = ||[W_l | b_l]||_{inf->inf} and ||W_l||_{inf->inf}, exact.
inline rational rho(const net::node& n) { return bounds::operator_norm_inf(n.weight, n.out_features, n.in_features, n.bias); }
inline rational weight_norm(const net::node& n) { return bounds::operator_norm_inf(n.weight, n.out_features, n.in_features); }

}  // namespace qbound::test
