// The differential linear relaxation (verify/linear_relaxation.hpp): every
// exact difference (rational arithmetic) of random and adversarial network
// pairs lies in its certified per-output bounds, at box vertices and random
// rational points; it is never looser than the interval pass, nor than the
// symbolic pass on an ACAS-like 5-50x6-5 network; the candidates lie in the
// box; and without its rounding terms (negative control) it is refuted. As
// branch and bound runs it (one plan, several threads, no interval pass,
// intermediate back-substitution) it still contains every exact difference,
// and the back-substitution tightens wide boxes.
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/verify/symbolic_difference.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"
#include "verify/pair_builders.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <utility>

using namespace qbound;
using arith::rational;

namespace {

verify::linear_options with_backward(bool backward, bool drop_rounding_terms = false) {
    verify::linear_options o;
    o.backward = backward;
    o.drop_rounding_terms_for_test = drop_rounding_terms;
    return o;
}

// Exact d(x) at n_points random rational points and vertices of the box;
// returns the number of (point, output) pairs outside [lower, upper].
std::size_t violations(const net::network& theta, const net::network& quant, const verify::input_box& box, const verify::box_bounds& b,
                       testing::operand_generator& gen, std::size_t n_points) {
    std::size_t bad = 0;
    for (std::size_t s = 0; s < n_points; ++s) {
        const auto x = test::box_point(gen, box, s % 2 == 0);  // vertices, grid points
        const auto y = net::forward<rational>(theta, x), yq = net::forward<rational>(quant, x);
        for (std::size_t k = 0; k < y.size(); ++k) {
            const rational diff = yq[k] - y[k];
            if (std::isfinite(b.lower[k]) && diff < rational(b.lower[k])) ++bad;
            if (std::isfinite(b.upper[k]) && diff > rational(b.upper[k])) ++bad;
        }
    }
    return bad;
}

void check_shape(const verify::box_bounds& b, const verify::input_box& box, std::size_t outputs) {
    REQUIRE(b.lower.size() == outputs);
    REQUIRE(b.upper.size() == outputs);
    REQUIRE(b.candidates.size() == outputs);
    REQUIRE(b.split_score.size() == box.lower.size());
    for (std::size_t k = 0; k < outputs; ++k) {
        REQUIRE(b.lower[k] <= b.upper[k]);
        REQUIRE(b.candidates[k].size() == box.lower.size());
        for (std::size_t j = 0; j < box.lower.size(); ++j) {
            REQUIRE(b.candidates[k][j] >= box.lower[j]);
            REQUIRE(b.candidates[k][j] <= box.upper[j]);
        }
    }
    for (double s : b.split_score) REQUIRE(s >= 0);
}

// Random box, sometimes a point or very thin in some coordinates.
verify::input_box some_box(testing::operand_generator& gen, std::size_t d) {
    auto box = test::random_box(gen, d, 0, 8);
    for (std::size_t j = 0; j < d; ++j) {
        if (gen.chance(0.15)) box.upper[j] = box.lower[j];                                    // point
        else if (gen.chance(0.15)) box.upper[j] = std::nextafter(box.lower[j], 2.0);          // one ulp wide
    }
    return box;
}

net::network quantizer_copy(const net::network& theta, testing::operand_generator& gen) {
    quant::options q;
    q.bits = static_cast<unsigned>(gen.uniform_int(2, 10));
    q.per_channel = gen.chance(0.5);
    return quant::quantize(theta, q).network;
}

// Weights on a 1/8 grid: with boxes on the same grid, pre-activations are often exactly 0 at corners.
void grid_weights(net::network& n, testing::operand_generator& gen) {
    for (std::size_t i : n.affine_nodes()) {
        for (double& w : n.weights(i)) w = static_cast<double>(gen.uniform_int(-8, 8)) / 8;
        for (double& b : n.bias(i)) b = static_cast<double>(gen.uniform_int(-4, 4)) / 8;
    }
}

// A pair of one of four kinds: the every-layer-kind network, two MLPs (one
// with grid weights), each against a perturbed or a quantized copy.
std::pair<net::network, net::network> drawn_pair(testing::operand_generator& gen, int kind) {
    net::network theta = kind == 0 ? test::every_layer_kind(gen.bits())
                                   : net::make_mlp(kind == 1 ? std::vector<std::size_t>{3, 5, 4, 2} : std::vector<std::size_t>{2, 8, 8, 8, 2});
    if (kind != 0) net::init_he_normal(theta, gen.bits(), 0.2);
    if (kind == 3) grid_weights(theta, gen);
    net::network quant = gen.chance(0.5) ? test::perturbed(theta, gen) : quantizer_copy(theta, gen);
    return {std::move(theta), std::move(quant)};
}

}  // namespace

TEST_CASE("linear relaxation contains every exact difference and is never looser than the interval pass", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(120);
    std::size_t tighter = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const int kind = static_cast<int>(gen.uniform_int(0, 3));
        const auto [theta, quant] = drawn_pair(gen, kind);
        const std::size_t d = theta.input_shape().size();
        const auto box = some_box(gen, d);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind);
        const verify::linear_options opt = with_backward(gen.chance(0.8));
        const auto b = verify::linear_difference_bounds(theta, quant, box, opt);
        check_shape(b, box, theta.output_shape().size());
        const auto iv = verify::differential_intervals(theta, quant, box).back().delta;
        for (std::size_t k = 0; k < b.lower.size(); ++k) {
            REQUIRE(b.lower[k] >= iv[k].lower());
            REQUIRE(b.upper[k] <= iv[k].upper());
            if (b.upper[k] - b.lower[k] < iv[k].upper() - iv[k].lower()) ++tighter;
        }
        REQUIRE(violations(theta, quant, box, b, gen, 6) == 0);
    }
    CHECK(tighter > cases / 4);
}

TEST_CASE("linear relaxation on adversarial pairs: extreme and subnormal weights, cancellation, identical networks", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(150);
    for (std::size_t c = 0; c < cases; ++c) {
        const int kind = static_cast<int>(gen.uniform_int(0, 4));
        net::network theta = net::make_mlp({2, 4, 4, 2});
        net::init_he_normal(theta, gen.bits(), 1.0);
        if (gen.chance(0.5)) grid_weights(theta, gen);
        net::network quant = theta;
        if (kind == 0) {
            // Per layer scales 2^-500..2^500 (the product stays in range), same in both networks.
            int total = 0;
            for (std::size_t i : theta.affine_nodes()) {
                const int e = i == theta.affine_nodes().back() ? -total : static_cast<int>(gen.uniform_int(-500, 500));
                total += e;
                for (double& w : theta.weights(i)) w = std::ldexp(w, e);
                for (double& b : theta.bias(i)) b = std::ldexp(b, total);
            }
            quant = test::perturbed(theta, gen);
        } else if (kind == 1) {
            // Subnormal weights in one layer (in both networks, perturbed by subnormal steps).
            const std::size_t i = theta.affine_nodes()[static_cast<std::size_t>(gen.uniform_int(0, 2))];
            for (double& w : theta.weights(i)) w = std::ldexp(std::round(w * 8), -1070);
            quant = theta;
            for (double& w : quant.weights(i)) w += std::ldexp(static_cast<double>(gen.uniform_int(-2, 2)), -1074);
            for (double& w : quant.weights(theta.affine_nodes().back())) w += std::ldexp(static_cast<double>(gen.uniform_int(-2, 2)), -8);
        } else if (kind == 2) {
            // Catastrophic cancellation: huge weights of opposite signs, tiny differences.
            for (std::size_t i : theta.affine_nodes())
                for (std::size_t k = 0; k < theta.weights(i).size(); ++k) theta.weights(i)[k] = (k % 2 ? -1 : 1) * std::ldexp(1.0 + gen.uniform_int(0, 3) / 4.0, 50);
            quant = theta;
            for (double& w : quant.weights(theta.affine_nodes()[1])) w += static_cast<double>(gen.uniform_int(-4, 4));
        } else if (kind == 4) {
            // Coefficients that underflow: layer scales 2^a, 2^-b, 2^-c with b + c > 1074,
            // so that w3 w2 rounds to 0 in back-substitution while w3 w2 w1 x stays
            // normal (about 2^(a - b - c)); theta' = theta (1 + k 2^-8) per weight.
            const int a = static_cast<int>(gen.uniform_int(500, 600)), b = static_cast<int>(gen.uniform_int(540, 560)),
                      cc = static_cast<int>(gen.uniform_int(540, 560));
            const int scale[3] = {a, -b, -cc};
            int total = 0;
            for (std::size_t l = 0; l < 3; ++l) {
                const std::size_t i = theta.affine_nodes()[l];
                total += scale[l];
                for (double& w : theta.weights(i)) w = std::ldexp(w, scale[l]);
                for (double& bias : theta.bias(i)) bias = std::ldexp(bias, total);
            }
            quant = theta;
            for (std::size_t i : quant.affine_nodes())
                for (double& w : quant.weights(i)) w += std::ldexp(w, -8) * static_cast<double>(gen.uniform_int(-2, 2));
        }  // kind 3: theta' == theta
        const auto box = some_box(gen, 2);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind);
        const auto b = verify::linear_difference_bounds(theta, quant, box);
        check_shape(b, box, 2);
        REQUIRE(violations(theta, quant, box, b, gen, 8) == 0);
        if (kind == 3)
            for (std::size_t k = 0; k < 2; ++k) {
                REQUIRE(std::fabs(b.lower[k]) <= 1e-300);
                REQUIRE(std::fabs(b.upper[k]) <= 1e-300);
            }
    }
}

TEST_CASE("negative control: without the rounding terms the linear relaxation is refuted", "[verify]") {
    // d = (2^k x + 1) + (-2^k x - 2^k) + 2^k = 1 exactly: the difference lives
    // in the last layer (W = 0, W' = 1), and the constants cancel
    // catastrophically in the coefficient sums. No ReLU: both hidden values linear.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(40);
    std::size_t refuted = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const double big = std::ldexp(1.0, static_cast<int>(gen.uniform_int(54, 200)));
        net::network theta("cancel", {1, 1, 1});
        const std::size_t h = theta.dense(0, 2, "hidden");
        const std::size_t o = theta.dense(h, 1, "out");
        theta.set_weights(h, {big, -big});
        theta.set_bias(h, {1.0, -big});
        theta.set_weights(o, {0.0, 0.0});
        theta.set_bias(o, {0.0});
        net::network quant = theta;
        quant.set_weights(o, {1.0, 1.0});
        quant.set_bias(o, {big});
        const double x0 = static_cast<double>(gen.uniform_int(-4, 4)) / 4;
        const verify::input_box box{{x0}, {x0 + (gen.chance(0.5) ? 0.0 : 0.25)}};
        INFO("seed " << seed << ", case " << c);
        const auto sound = verify::linear_difference_bounds(theta, quant, box, with_backward(gen.chance(0.5)));
        REQUIRE(violations(theta, quant, box, sound, gen, 4) == 0);
        try {
            const auto weak = verify::linear_difference_bounds(theta, quant, box, with_backward(false, true));
            if (violations(theta, quant, box, weak, gen, 4) > 0) ++refuted;
        } catch (const core::unsound_error&) {
            ++refuted;  // the weakened bounds contradict the interval pass
        }
    }
    CHECK(refuted > cases / 2);
}

TEST_CASE("on an ACAS-like 5-50x6-5 network the linear relaxation is never looser than the symbolic pass", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(6);
    std::size_t much_tighter = 0, outputs = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        net::network theta = net::make_mlp({5, 50, 50, 50, 50, 50, 50, 5});
        net::init_he_normal(theta, gen.bits(), 1.0);
        quant::options q;
        q.bits = 8;
        const net::network quant = quant::quantize(theta, q).network;
        const auto box = test::random_box(gen, 5, 1, 3);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        const auto lin = verify::linear_difference_bounds(theta, quant, box);
        const auto sym = verify::symbolic_difference_bounds(theta, quant, box);
        check_shape(lin, box, 5);
        for (std::size_t k = 0; k < 5; ++k) {
            ++outputs;
            REQUIRE(lin.magnitude(k) <= sym[k]);
            if (lin.magnitude(k) < 0.8 * sym[k]) ++much_tighter;
        }
        REQUIRE(violations(theta, quant, box, lin, gen, 4) == 0);
    }
    CHECK(much_tighter > outputs / 2);
}

TEST_CASE("linear relaxation as branch and bound runs it: no interval pass, intermediate back-substitution, one plan for many boxes, threads", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(60);
    for (std::size_t c = 0; c < cases; ++c) {
        const int kind = static_cast<int>(gen.uniform_int(0, 3));
        const auto [theta, quant] = drawn_pair(gen, kind);
        const std::size_t d = theta.input_shape().size();
        const verify::linear_relaxation pass(theta, quant);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind);
        for (int b = 0; b < 3; ++b) {
            const auto box = some_box(gen, d);
            verify::linear_options opt;
            opt.interval_pass = false;
            opt.intermediate = gen.chance(0.7);
            opt.output = gen.chance(0.5) ? verify::linear_options::npos : static_cast<std::size_t>(gen.uniform_int(0, 1));
            if (gen.chance(0.3)) opt.intermediate_sweep_bytes = gen.chance(0.5) ? 1 : 4096;  // chunks of one objective, or a few
            const auto r = pass.bounds(box, opt);
            check_shape(r, box, theta.output_shape().size());
            REQUIRE(violations(theta, quant, box, r, gen, 6) == 0);
            // Bounding every output at once: each output's own smear, one of them the split score.
            if (opt.output == verify::linear_options::npos) {
                REQUIRE(r.output_split_score.size() == theta.output_shape().size());
                for (const auto& score : r.output_split_score) {
                    REQUIRE(score.size() == d);
                    for (double v : score) REQUIRE(v >= 0);
                }
                REQUIRE(std::find(r.output_split_score.begin(), r.output_split_score.end(), r.split_score) != r.output_split_score.end());
            } else {
                REQUIRE(r.output_split_score.empty());
            }
            // The same numbers as a pass that builds its plans anew.
            const auto again = verify::linear_difference_bounds(theta, quant, box, opt);
            REQUIRE(again.lower == r.lower);
            REQUIRE(again.upper == r.upper);
        }
    }
    // One plan used from two threads at once gives each thread's numbers unchanged.
    net::network theta = net::make_mlp({5, 30, 30, 30, 5});
    net::init_he_normal(theta, seed, 0.5);
    quant::options q;
    q.bits = 8;
    const net::network quant = quant::quantize(theta, q).network;
    const verify::linear_relaxation pass(theta, quant);
    std::vector<verify::input_box> boxes;
    for (int b = 0; b < 16; ++b) boxes.push_back(test::random_box(gen, 5, 1, 4));
    std::vector<verify::box_bounds> alone, shared(boxes.size());
    for (const auto& box : boxes) alone.push_back(pass.bounds(box));
    std::thread other([&] {
        for (std::size_t b = 0; b < boxes.size(); b += 2) shared[b] = pass.bounds(boxes[b]);
    });
    for (std::size_t b = 1; b < boxes.size(); b += 2) shared[b] = pass.bounds(boxes[b]);
    other.join();
    for (std::size_t b = 0; b < boxes.size(); ++b) {
        REQUIRE(shared[b].lower == alone[b].lower);
        REQUIRE(shared[b].upper == alone[b].upper);
    }
}

TEST_CASE("intermediate sweeps in chunks: sound, and the same bounds up to rounding terms", "[verify]") {
    // One objective per sweep against all of a node's objectives in one: the
    // relaxation is the same, only the error terms' counts differ.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(4);
    for (std::size_t c = 0; c < cases; ++c) {
        net::network theta = net::make_mlp({5, 40, 40, 40, 5});
        net::init_he_normal(theta, gen.bits(), 1.0);
        quant::options q;
        q.bits = 6;
        const net::network quant = quant::quantize(theta, q).network;
        const verify::linear_relaxation pass(theta, quant);
        const auto box = test::random_box(gen, 5, 2, 6);
        verify::linear_options one_sweep, chunked;
        chunked.intermediate_sweep_bytes = 1;
        const auto a = pass.bounds(box, one_sweep), b = pass.bounds(box, chunked);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        REQUIRE(violations(theta, quant, box, b, gen, 6) == 0);
        for (std::size_t k = 0; k < 5; ++k) {
            CHECK(std::fabs(a.lower[k] - b.lower[k]) <= 1e-9 * (1 + std::fabs(a.lower[k])));
            CHECK(std::fabs(a.upper[k] - b.upper[k]) <= 1e-9 * (1 + std::fabs(a.upper[k])));
        }
    }
}

TEST_CASE("intermediate back-substitution tightens wide boxes of a deep network", "[verify]") {
    // Not a pointwise promise (a tighter interval may switch a ReLU's lower
    // slope), so the property is on the sum over outputs and boxes.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(4);
    double with = 0, without = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        net::network theta = net::make_mlp({5, 40, 40, 40, 40, 5});
        net::init_he_normal(theta, gen.bits(), 1.0);
        quant::options q;
        q.bits = 8;
        const net::network quant = quant::quantize(theta, q).network;
        const verify::linear_relaxation pass(theta, quant);
        const auto box = test::random_box(gen, 5, 4, 8);
        verify::linear_options on, off;
        off.intermediate = false;
        const auto a = pass.bounds(box, on), b = pass.bounds(box, off);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        REQUIRE(violations(theta, quant, box, a, gen, 4) == 0);
        for (std::size_t k = 0; k < 5; ++k) with += a.magnitude(k), without += b.magnitude(k);
    }
    CHECK(with < 0.8 * without);
}
