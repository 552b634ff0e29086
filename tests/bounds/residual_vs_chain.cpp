// The README's claim about the residual-aware bound (bounds.hpp): on a plain
// chain with shared biases, residual-aware[r=s] <= A-per-layer[r=s] for both
// sources s (proof in bounds.cpp, bound_residual_aware). Checked on the exact
// values through the certified ends (residual.value_lower <= A.value) and on
// the certified values themselves (residual.value <= A.value (1 + 2^-100)),
// over random CNN chains (padding, strides, dilation, groups, max and average
// pooling, small maps) and dense MLP chains with random quantized copies.
// Regression: a CNN chain where the forward pass used the kernel sums
// sum |k_o| instead of the matrix row sums (2.25x above A-per-layer).
// Soundness of the tighter forward pass on CNN chains: the bound is >= the
// output change at sampled points of the box, in exact rationals.
#include "qbound/bounds/bounds.hpp"
#include "qbound/bounds/norms.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"


using namespace qbound;
using arith::rational;

namespace {

using F = bounds::bound_family;
using R = bounds::r_source;

struct chain_pair {
    net::network theta, quant;
    std::string description;
};

double small_weight(testing::operand_generator& gen, int denominator) {
    return static_cast<double>(gen.uniform_int(-15, 15)) / denominator;
}

// A random CNN chain: conv (+ relu) [+ pool] blocks on small maps, flatten,
// dense layers. Redrawn until the shapes are valid.
net::network draw_cnn(testing::operand_generator& gen, std::string& text) {
    for (;;) {
        try {
            const auto c = static_cast<std::size_t>(gen.uniform_int(1, 3)), h = static_cast<std::size_t>(gen.uniform_int(2, 7)),
                       w = static_cast<std::size_t>(gen.uniform_int(2, 7));
            net::network m("cnn-chain", {c, h, w});
            text = "input " + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
            std::size_t x = 0, channels = c;
            const auto blocks = gen.uniform_int(1, 3);
            for (std::int64_t b = 0; b < blocks; ++b) {
                net::conv_geometry g;
                g.kernel_h = static_cast<std::size_t>(gen.uniform_int(1, 3));
                g.kernel_w = gen.chance(0.7) ? g.kernel_h : static_cast<std::size_t>(gen.uniform_int(1, 3));
                g.stride = static_cast<std::size_t>(gen.uniform_int(1, 2));
                const auto pad = [&] { return static_cast<std::size_t>(gen.uniform_int(0, 2)); };
                if (gen.chance(0.7)) g.padding = pad();
                else g.padding = {pad(), pad(), pad(), pad()};
                g.dilation = gen.chance(0.2) ? 2 : 1;
                const auto out = static_cast<std::size_t>(gen.uniform_int(1, 3)) * (gen.chance(0.3) ? channels : 1);
                g.groups = gen.chance(0.3) && out % channels == 0 ? channels : 1;
                x = m.conv2d(x, out, g);
                channels = out;
                text += ", conv k" + std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + " s" + std::to_string(g.stride) + " " +
                        net::to_string(g.padding) + " d" + std::to_string(g.dilation) + " g" + std::to_string(g.groups) + " -> " +
                        std::to_string(out);
                if (gen.chance(0.8)) x = m.activation(x, gen.chance(0.8) ? net::op::relu : net::op::relu6);
                if (gen.chance(0.6)) {
                    net::pool_geometry p;
                    p.kernel = static_cast<std::size_t>(gen.uniform_int(1, 3));
                    p.stride = static_cast<std::size_t>(gen.uniform_int(1, 2));
                    p.padding = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(p.kernel / 2)));
                    p.count_include_pad = gen.chance(0.5);
                    const bool max_pool = gen.chance(0.5);
                    x = max_pool ? m.max_pool(x, p) : m.avg_pool(x, p);
                    text += std::string(max_pool ? ", maxpool" : ", avgpool") + " k" + std::to_string(p.kernel) + " s" +
                            std::to_string(p.stride) + " p" + std::to_string(p.padding);
                }
            }
            if (gen.chance(0.2)) {
                x = m.global_avg_pool(x);
                text += ", global avgpool";
            }
            x = m.flatten(x);
            const auto dense = gen.uniform_int(1, 2);
            for (std::int64_t d = 0; d < dense; ++d) {
                if (d > 0) x = m.activation(x, net::op::relu);
                x = m.dense(x, static_cast<std::size_t>(gen.uniform_int(1, 4)));
            }
            text += ", flatten, " + std::to_string(dense) + " dense";
            return m;
        } catch (const net::model_error&) {
            // invalid shapes: draw again
        }
    }
}

net::network draw_mlp(testing::operand_generator& gen, std::string& text) {
    std::vector<std::size_t> widths;
    const auto L = gen.uniform_int(1, 5);
    for (std::int64_t l = 0; l <= L; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 6)));
    text = "mlp";
    for (auto v : widths) text += " " + std::to_string(v);
    return net::make_mlp(widths);
}

// Random weights and shared biases; the copy changes weights only (rounded to
// a grid, perturbed, or one layer only: adversarial for per-layer terms).
chain_pair draw_pair(testing::operand_generator& gen, bool cnn) {
    chain_pair p{net::network("x", {1, 1, 1}), net::network("x", {1, 1, 1}), ""};
    p.theta = cnn ? draw_cnn(gen, p.description) : draw_mlp(gen, p.description);
    const bool positive = gen.chance(0.2);
    for (std::size_t i : p.theta.affine_nodes()) {
        for (double& w : p.theta.weights(i)) w = positive ? std::fabs(small_weight(gen, 8)) : small_weight(gen, 8);
        for (double& b : p.theta.bias(i)) b = gen.chance(0.5) ? 0.0 : small_weight(gen, 16);
    }
    p.quant = p.theta;
    const auto mode = gen.uniform_int(0, 2);
    std::size_t affine = 0, chosen = 0;
    for (const auto& n : p.theta.nodes()) affine += n.is_affine() ? 1 : 0;
    chosen = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(affine) - 1));
    std::size_t index = 0;
    for (std::size_t i : p.quant.affine_nodes()) {
        for (double& w : p.quant.weights(i)) {
            if (mode == 0) w = std::nearbyint(w * 4) / 4;
            else if (mode == 1 && gen.chance(0.5)) w += static_cast<double>(gen.uniform_int(-2, 2)) / 32;
            else if (mode == 2 && index == chosen && gen.chance(0.7)) w += static_cast<double>(gen.uniform_int(1, 3)) / 16;
        }
        ++index;
    }
    p.description += std::string(", change: ") + (mode == 0 ? "grid 1/4" : mode == 1 ? "perturbed" : "one layer");
    return p;
}

// residual-aware[r=s] <= A-per-layer[r=s] for s = theta, max: empty when it
// holds, else the values.
std::string claim_failure(const std::vector<bounds::bound_result>& all) {
    for (const R s : {R::theta, R::max}) {
        const auto& res = bounds::find(all, {F::residual_aware, s});
        const auto& A = bounds::find(all, {F::A_per_layer, s});
        if (!A.hypotheses_hold() && s == R::max) return A.name + " hypotheses fail on a chain with shared biases";
        const rational lo = res.value_lower.to_rational(), hi = res.value.to_rational(), a = A.value.to_rational();
        if (lo > a || hi > a * (1 + rational(1) / rational(arith::integer(1) << 100)))
            return res.name + " = [" + arith::to_decimal(lo, 12) + ", " + arith::to_decimal(hi, 12) + "] > " + A.name + " = " +
                   arith::to_decimal(a, 12);
    }
    return {};
}

testing::property_result check_claim(std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result("residual-aware <= A-per-layer on plain chains with shared biases", "bounds", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        const bool cnn = gen.chance(0.7);
        const auto pair = draw_pair(gen, cnn);
        bounds::bound_options opt;
        opt.D = gen.chance(0.5) ? rational(1) : rational(gen.uniform_int(1, 12), gen.uniform_int(1, 5));
        const auto failure = claim_failure(bounds::compute_bounds(pair.theta, pair.quant, opt));
        ++res.cases;
        if (!failure.empty() && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, c, pair.description) + "D = " + arith::to_decimal(opt.D, 6) + ": " + failure;
    }
    return res;
}

// conv 3x3 pad 1 on 4x4 (interior pixels see the whole kernel), relu,
// maxpool 2 -> 2x2, conv 3x3 pad 1 on 2x2 (each pixel sees 4 of 9 taps), relu,
// flatten, dense 4 -> 1; only the dense layer changes.
chain_pair pooled_regression_pair() {
    net::network m("pooled-chain", {1, 4, 4});
    net::conv_geometry g;
    g.kernel_h = g.kernel_w = 3;
    g.padding = 1;
    net::pool_geometry p;
    p.kernel = p.stride = 2;
    std::size_t x = m.activation(m.conv2d(0, 1, g, "conv1"), net::op::relu);
    x = m.max_pool(x, p);
    x = m.activation(m.conv2d(x, 1, g, "conv2"), net::op::relu);
    m.dense(m.flatten(x), 1, "fc");
    for (double& w : m.weights(1)) w = 0.125;  // sum |k| = 9/8 = rho_1 (full field inside)
    for (std::size_t i : m.affine_nodes())
        if (m.at(i).name == "conv2")
            for (double& w : m.weights(i)) w = 1;  // sum |k| = 9, matrix row sums 4
    for (std::size_t i : m.affine_nodes())
        if (m.at(i).name == "fc")
            for (double& w : m.weights(i)) w = 0.25;
    chain_pair out{m, m, "pooled chain"};
    for (std::size_t i : out.quant.affine_nodes())
        if (out.quant.at(i).name == "fc") out.quant.weights(i)[0] = 0.3125;  // Delta = 1/16
    return out;
}

}  // namespace

TEST_CASE("regression: residual-aware uses the matrix row sums of a conv on a small map", "[bounds][residual]") {
    const auto pair = pooled_regression_pair();
    const auto p = bounds::collect_ingredients(pair.theta, pair.quant, 1);
    // conv2 on the pooled 2x2 map: kernel sum 9, matrix row sums 4.
    const auto& conv2 = p.layers.at(1);
    CHECK(conv2.channel_abs_sum[bounds::original].at(0) == 9);
    CHECK(conv2.channel_row_sum[bounds::original].at(0) == 4);
    CHECK(conv2.weight_norm[bounds::original] == 4);
    CHECK(p.layers.at(0).channel_row_sum[bounds::original].at(0) == rational(9, 8));
    const auto b = bounds::compute_bounds(p, pair.theta);
    // A: N_2 M_3 Delta_3 = 4 * max(9/8 * 4, 4) * 1/16 = 9/8. Residual-aware:
    // rows 4 * Delta 1/16 * Lip 1 * m = ||input of fc|| <= 4 * 9/8: also 9/8
    // (with sum |k| = 9 for conv2 it was 4 * 1/16 * 81/8 = 81/32, 2.25x above A).
    CHECK(bounds::find(b, {F::A_per_layer, R::max}).value.to_rational() == rational(9, 8));
    CHECK(bounds::find(b, {F::residual_aware, R::max}).value.to_rational() == rational(9, 8));
    CHECK(bounds::find(b, {F::residual_aware, R::theta}).value.to_rational() == rational(9, 8));
    CHECK(claim_failure(bounds::compute_bounds(p, pair.theta)).empty());
    // The bound still holds: x = 1 everywhere moves the output by 9/8 * 4 / 16.
    const std::vector<rational> ones(16, rational(1));
    const auto y = net::forward<rational>(pair.theta, ones), yq = net::forward<rational>(pair.quant, ones);
    CHECK(yq.at(0) - y.at(0) == rational(9, 32));
}

TEST_CASE("residual-aware <= A-per-layer on random CNN and MLP chains with shared biases", "[bounds][residual]") {
    QBOUND_REQUIRE_PROPERTY(check_claim(test::property_cases(300), test::property_seed()));
}

TEST_CASE("channel_row_sum is the per-channel largest row sum of the explicit conv matrix", "[bounds][residual]") {
    // Cross-check against bounds::conv_as_matrix (every tap inside the input,
    // one row per output pixel), for both networks of random CNN chains.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(200);
    for (std::size_t c = 0; c < cases; ++c) {
        const auto pair = draw_pair(gen, true);
        const auto p = bounds::collect_ingredients(pair.theta, pair.quant, 1);
        for (const auto& l : p.layers) {
            for (const auto side : {bounds::original, bounds::quantized}) {
                const net::network& m = side == bounds::original ? pair.theta : pair.quant;
                const auto& n = m.at(l.node);
                std::vector<rational> expected(n.out_features, rational(0));
                if (n.kind == net::op::conv2d) {
                    const auto K = bounds::conv_as_matrix(n, m.at(n.inputs.at(0)).output);
                    const std::size_t per_channel = n.output.height * n.output.width;
                    for (std::size_t row = 0; row < K.rows; ++row) {
                        rational sum = 0;
                        for (const auto& [col, v] : K.entries[row]) sum += arith::abs(arith::to_rational(v));
                        expected[row / per_channel] = arith::max(expected[row / per_channel], sum);
                    }
                } else {
                    expected = l.channel_abs_sum[side];
                }
                INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ": " << pair.description << ", layer '"
                             << l.name << "'");
                REQUIRE(l.channel_row_sum[side] == expected);
                rational largest = 0;
                for (const auto& v : expected) largest = arith::max(largest, v);
                REQUIRE(l.weight_norm[side] == largest);
            }
        }
    }
}

TEST_CASE("residual-aware on CNN chains: >= the output change at sampled points (exact)", "[bounds][residual]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(60);
    for (std::size_t c = 0; c < cases; ++c) {
        auto pair = draw_pair(gen, true);
        if (gen.chance(0.3))  // biases changed too: the Delta b term
            for (std::size_t i : pair.quant.affine_nodes())
                for (double& b : pair.quant.bias(i)) b += static_cast<double>(gen.uniform_int(-2, 2)) / 16;
        const rational D(gen.uniform_int(1, 8), 4);
        bounds::bound_options opt;
        opt.D = D;
        const auto b = bounds::compute_bounds(pair.theta, pair.quant, opt);
        const rational bound = bounds::find(b, {F::residual_aware, R::max}).value.to_rational();
        const std::size_t d = pair.theta.input_shape().size();
        rational worst = 0;
        for (int s = 0; s < 24; ++s) {
            std::vector<rational> x(d);
            for (auto& e : x) e = s < 16 ? (gen.chance(0.5) ? D : rational(-D)) : D * rational(gen.uniform_int(-8, 8), 8);
            if (s == 0) std::fill(x.begin(), x.end(), D);
            const auto y = net::forward<rational>(pair.theta, x), yq = net::forward<rational>(pair.quant, x);
            for (std::size_t i = 0; i < y.size(); ++i) worst = arith::max(worst, arith::abs(yq[i] - y[i]));
        }
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ": " << pair.description << ", D = "
                     << arith::to_decimal(D, 6) << ": change " << arith::to_decimal(worst, 12) << " vs bound " << arith::to_decimal(bound, 12));
        REQUIRE(worst <= bound);
    }
}
