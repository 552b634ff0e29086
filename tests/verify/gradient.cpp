// The search's gradient is the derivative of the piecewise-linear
// difference: along a random direction v, (g(x + t v) - g(x)) / t computed
// exactly in rationals equals grad . v (up to the double rounding of the
// gradient, relative 1e-9) when no kink lies between x and x + t v.
#include "qbound/verify/gradient.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"

#include <cmath>

using namespace qbound;
using arith::rational;

TEST_CASE("difference_gradient matches exact difference quotients", "[verify][gradient]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    std::size_t checked = 0;
    for (std::size_t c = 0; c < test::property_cases(60); ++c) {
        net::network theta = gen.chance(0.5) ? net::make_mlp({3, 6, 5, 2}) : net::make_cnn({});
        net::init_he_normal(theta, gen.bits(), 0.1);
        net::network quant = theta;
        for (std::size_t i : quant.affine_nodes())
            for (double& w : quant.weights(i)) w = std::nearbyint(w * 8) / 8;
        const std::size_t d = theta.input_shape().size();
        std::vector<double> x(d), v(d);
        for (auto& e : x) e = gen.uniform_int(-64, 64) / 64.0 + 0x1p-20 * static_cast<double>(gen.uniform_int(1, 1000));
        for (auto& e : v) e = gen.uniform_int(-8, 8) / 8.0;
        const auto y = net::forward<double>(theta, x);
        const std::size_t out = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(y.size()) - 1));
        const auto grad = verify::difference_gradient(theta, quant, x, out, 1.0);
        // Exact g at x and x + t v (t tiny: no kink in between for almost every draw).
        const rational t = rational(1, 1 << 30);
        std::vector<rational> xr(d), xt(d);
        for (std::size_t k = 0; k < d; ++k) xr[k] = arith::to_rational(x[k]), xt[k] = xr[k] + t * arith::to_rational(v[k]);
        const auto g0 = net::forward<rational>(quant, xr)[out] - net::forward<rational>(theta, xr)[out];
        const auto g1 = net::forward<rational>(quant, xt)[out] - net::forward<rational>(theta, xt)[out];
        const double quotient = static_cast<double>((g1 - g0) / t);
        double directional = 0, scale = 0;
        for (std::size_t k = 0; k < d; ++k) directional += grad[k] * v[k], scale += std::fabs(grad[k] * v[k]);
        // Check only where the quotient is the derivative: compare with a second step t/2.
        std::vector<rational> xh(d);
        for (std::size_t k = 0; k < d; ++k) xh[k] = xr[k] + t / 2 * arith::to_rational(v[k]);
        const auto gh = net::forward<rational>(quant, xh)[out] - net::forward<rational>(theta, xh)[out];
        if ((gh - g0) * 2 != g1 - g0) continue;  // a kink inside [x, x + t v]
        ++checked;
        INFO("seed " << seed << ", case " << c << ": quotient " << quotient << " vs gradient " << directional);
        REQUIRE(std::fabs(quotient - directional) <= 1e-9 * std::max(1.0, scale));
    }
    CHECK(checked > test::property_cases(60) / 2);
}

// parameters_gradient (the hunt's weight gradient): moving the weights and
// bias of one affine layer (the output is affine in one layer's parameters
// for a fixed activation pattern) along a random direction V by a tiny exact
// step t (weights on a 2^-16 grid, so w + t v is exact in double) changes
// the output's weighted sum by t * <gradient, V> exactly, when no kink lies
// in between (checked with a second step t / 2). Every layer is drawn.
TEST_CASE("parameters_gradient matches exact difference quotients in the weights", "[verify][gradient]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    std::size_t checked = 0;
    const std::size_t cases = test::property_cases(40);
    for (std::size_t c = 0; c < cases; ++c) {
        net::cnn_config cfg;
        cfg.input = {2, 5, 5};
        cfg.convs = {{3, {3, 3, 1, gen.chance(0.5) ? net::padding_2d{1} : net::padding_2d{0, 1, 1, 0}, 1, 1}, false}};
        cfg.dense = {2};
        net::network n = gen.chance(0.5) ? net::make_mlp({3, 5, 4, 2}) : net::make_cnn(cfg);
        net::init_he_normal(n, gen.bits(), 0.25);
        for (std::size_t i : n.affine_nodes()) {
            for (double& w : n.weights(i)) w = std::nearbyint(w * 65536) / 65536;
            for (double& b : n.bias(i)) b = std::nearbyint(b * 65536) / 65536;
        }
        const std::size_t d = n.input_shape().size();
        std::vector<double> x(d);
        for (auto& e : x) e = gen.uniform_int(-64, 64) / 64.0;
        std::vector<double> out_weights(n.output_shape().size());
        for (auto& e : out_weights) e = gen.uniform_int(-4, 4) / 4.0;
        const verify::parameter_gradient g = verify::parameters_gradient(n, x, out_weights);
        const double t = 0x1p-30;
        net::network moved = n, half = n;
        double directional = 0, scale = 0;
        const auto affine = n.affine_nodes();
        for (std::size_t i : {affine[static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(affine.size()) - 1))]}) {
            auto w = moved.weights(i), wh = half.weights(i);
            auto b = moved.bias(i), bh = half.bias(i);
            for (std::size_t k = 0; k < w.size(); ++k) {
                const double v = gen.uniform_int(-8, 8) / 8.0;
                w[k] += t * v, wh[k] += t / 2 * v;
                directional += g.weight[i][k] * v, scale += std::fabs(g.weight[i][k] * v);
            }
            for (std::size_t k = 0; k < b.size(); ++k) {
                const double v = gen.uniform_int(-8, 8) / 8.0;
                b[k] += t * v, bh[k] += t / 2 * v;
                directional += g.bias[i][k] * v, scale += std::fabs(g.bias[i][k] * v);
            }
        }
        std::vector<rational> xr(d);
        for (std::size_t k = 0; k < d; ++k) xr[k] = arith::to_rational(x[k]);
        const auto weighted = [&](const net::network& m) {
            const auto y = net::forward<rational>(m, xr);
            rational s = 0;
            for (std::size_t k = 0; k < y.size(); ++k) s += y[k] * arith::to_rational(out_weights[k]);
            return s;
        };
        const rational f0 = weighted(n), f1 = weighted(moved), fh = weighted(half);
        if ((fh - f0) * 2 != f1 - f0) continue;  // a kink between the networks
        ++checked;
        const double quotient = static_cast<double>((f1 - f0) / arith::to_rational(t));
        INFO("seed " << seed << ", case " << c << ": quotient " << quotient << " vs gradient " << directional);
        REQUIRE(std::fabs(quotient - directional) <= 1e-9 * std::max(1.0, scale));
    }
    CHECK(checked > cases / 2);
}
