// The symbolic differential bound (verify/symbolic_difference.hpp): it
// contains every exact difference in its box (random boxes, every layer
// kind), it is never looser than the interval differential bound, and where
// both networks are linear on the box (every ReLU stable, in the same state
// in both networks) it equals the exact sup, which the interval bound does not.
#include "qbound/verify/symbolic_difference.hpp"
#include "qbound/verify/point_difference.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"
#include "verify/pair_builders.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>

using namespace qbound;
using arith::rational;

namespace {

// Both networks linear on the box: every ReLU input has the same constant sign in theta and theta'.
bool linear_on_box(const net::network& theta, const net::network& quant, const verify::input_box& box) {
    const auto v = verify::differential_intervals(theta, quant, box);
    for (std::size_t i = 1; i < theta.nodes().size(); ++i) {
        if (theta.at(i).kind != net::op::relu) continue;
        const auto& in = v[theta.at(i).inputs.at(0)];
        for (std::size_t k = 0; k < in.a.size(); ++k) {
            const bool active = in.a[k].lower() > 0 && in.aq[k].lower() > 0;
            const bool inactive = in.a[k].upper() < 0 && in.aq[k].upper() < 0;
            if (!active && !inactive) return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE("the symbolic bound contains every exact difference and is never looser than intervals", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(80);
    std::size_t strictly_tighter = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const int kind = static_cast<int>(gen.uniform_int(0, 2));
        net::network theta = kind == 0 ? test::every_layer_kind(gen.bits()) : net::make_mlp(kind == 1 ? std::vector<std::size_t>{3, 5, 4, 2}
                                                                                                     : std::vector<std::size_t>{2, 8, 8, 8, 1});
        if (kind != 0) net::init_he_normal(theta, gen.bits(), 0.2);
        const net::network quant = test::perturbed(theta, gen);
        const std::size_t d = theta.input_shape().size();
        const auto box = test::random_box(gen, d, 0, 8);
        const double symbolic = verify::symbolic_difference_bound(theta, quant, box);
        const double interval = verify::differential_upper_bound(theta, quant, box);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind);
        REQUIRE(symbolic <= interval);
        if (symbolic < interval) ++strictly_tighter;
        const auto per_output = verify::symbolic_difference_bounds(theta, quant, box);
        const auto enclosures = verify::symbolic_difference_enclosures(theta, quant, box);
        for (std::size_t s = 0; s < 8; ++s) {
            std::vector<double> x(d);
            for (std::size_t k = 0; k < d; ++k) {
                const auto t = gen.uniform_int(0, 4);  // corners and interior points
                x[k] = box.lower[k] + (box.upper[k] - box.lower[k]) * static_cast<double>(t) / 4;
            }
            const auto p = verify::certify_difference(theta, quant, x);
            REQUIRE(p.arithmetic == "exact rational");
            REQUIRE(p.lower <= arith::to_rational(symbolic));
            REQUIRE(p.lower <= arith::to_rational(per_output.at(p.output)));
            // Signed: every output's exact difference lies in its enclosure.
            std::vector<rational> xr(x.begin(), x.end());
            const auto y = net::forward<rational>(theta, xr), yq = net::forward<rational>(quant, xr);
            for (std::size_t k = 0; k < y.size(); ++k) REQUIRE(arith::contains(enclosures[k], yq[k] - y[k]));
        }
    }
    CHECK(strictly_tighter > cases / 4);  // it must also be worth its cost
}

TEST_CASE("on a box where both networks are linear the symbolic bound is the exact sup", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(200);
    std::size_t linear_cases = 0, interval_loose = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        net::network theta = net::make_mlp({2, 6, 6, 6, 2});
        net::init_he_normal(theta, gen.bits(), 1.0);
        const net::network quant = test::perturbed(theta, gen);
        const auto box = test::random_box(gen, 2, 1, 1);  // radius 1/16
        if (!linear_on_box(theta, quant, box)) continue;
        ++linear_cases;
        // The difference is affine on the box: its sup norm is attained at a vertex.
        rational exact_sup = 0;
        for (int corner = 0; corner < 4; ++corner) {
            const std::vector<double> x{corner & 1 ? box.upper[0] : box.lower[0], corner & 2 ? box.upper[1] : box.lower[1]};
            const auto p = verify::certify_difference(theta, quant, x);
            REQUIRE(p.lower == p.upper);
            exact_sup = std::max(exact_sup, p.lower);
        }
        const double symbolic = verify::symbolic_difference_bound(theta, quant, box);
        const double interval = verify::differential_upper_bound(theta, quant, box);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", exact sup "
                     << arith::to_decimal(exact_sup, 20) << ", symbolic " << symbolic << ", interval " << interval);
        REQUIRE(arith::to_rational(symbolic) >= exact_sup);
        // Only the interval rounding of the coefficients separates them.
        REQUIRE(arith::to_rational(symbolic) <= exact_sup * rational(1 + 1e-9) + rational(1e-12));
        if (interval > symbolic * (1 + 1e-6)) ++interval_loose;
    }
    INFO("seed " << seed << ": " << linear_cases << " linear cases, interval bound loose in " << interval_loose);
    CHECK(linear_cases >= cases / 10);
    CHECK(interval_loose >= linear_cases / 2);
}

TEST_CASE("every ReLU case of the difference (each network active, inactive or unstable) is enclosed", "[verify]") {
    // One input, one hidden ReLU unit per network, output weight +-1: the
    // nine combinations of theta's and theta''s unit states on the box are
    // all drawn, and the signed difference is checked at many points.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(3000);
    std::map<std::pair<int, int>, std::size_t> seen;
    const auto state = [](double lo, double hi) { return lo >= 0 ? 1 : hi <= 0 ? -1 : 0; };
    for (std::size_t c = 0; c < cases; ++c) {
        net::network theta = net::make_mlp({1, 1, 1});
        theta.set_weights(1, {gen.uniform_int(-16, 16) / 8.0});
        theta.set_bias(1, {gen.uniform_int(-16, 16) / 8.0});
        theta.set_weights(3, {gen.chance(0.5) ? 1.0 : -1.0});
        theta.set_bias(3, {0});
        net::network quant = theta;
        quant.weights(1)[0] += gen.uniform_int(-16, 16) / 8.0;
        quant.bias(1)[0] += gen.uniform_int(-16, 16) / 8.0;
        quant.weights(3)[0] += gen.uniform_int(-2, 2) / 8.0;
        const double centre = gen.uniform_int(-8, 8) / 8.0, radius = gen.uniform_int(1, 8) / 8.0;
        const verify::input_box box{{centre - radius}, {centre + radius}};
        const auto z = [&](const net::network& n, double x) { return n.at(1).weight[0] * x + n.at(1).bias[0]; };  // exact on this grid
        const double zl = std::min(z(theta, box.lower[0]), z(theta, box.upper[0])), zu = std::max(z(theta, box.lower[0]), z(theta, box.upper[0]));
        const double ql = std::min(z(quant, box.lower[0]), z(quant, box.upper[0])), qu = std::max(z(quant, box.lower[0]), z(quant, box.upper[0]));
        ++seen[{state(zl, zu), state(ql, qu)}];
        const auto enclosure = verify::symbolic_difference_enclosures(theta, quant, box).at(0);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        for (int t = 0; t <= 16; ++t) {
            const rational x = rational(box.lower[0]) + (rational(box.upper[0]) - rational(box.lower[0])) * rational(t, 16);
            const auto y = net::forward<rational>(theta, {x}), yq = net::forward<rational>(quant, {x});
            REQUIRE(arith::contains(enclosure, yq[0] - y[0]));
        }
    }
    INFO("seed " << seed);
    CHECK(seen.size() == 9);
}
