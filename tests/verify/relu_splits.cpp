// ReLU splits in the linear relaxation pass (verify/linear_relaxation.hpp,
// "ReLU splits"): under random splits of random ReLU elements (theta's z or
// theta''s z + d, either sign), every exact difference (rational arithmetic)
// at a point of the box that satisfies the splits lies in the certified
// bounds, and a result marked infeasible has no such point among those
// drawn. Negative controls: the bounds under splits are refuted by points
// of the box that violate the splits (so the splits really narrow the set
// the bounds speak about), and without rounding terms the pass is refuted
// on adversarial scales. Branch and bound with ReLU splitting keeps every
// exact difference below its per-output upper and above its certified lower.
#include "qbound/verify/branch_and_bound.hpp"
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"
#include "verify/pair_builders.hpp"
#include "verify/split_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

using namespace qbound;
using arith::rational;

using test::check_points;
using test::drawn_pair;
using test::random_splits;
using test::relu_nodes;
using test::tally;


TEST_CASE("linear relaxation under ReLU splits contains every exact difference of the split part of the box", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    // At least 40 cases even in the reduced stages (the non-vacuity checks below need them).
    const std::size_t cases = std::max<std::size_t>(test::property_cases(150), 40);
    std::size_t infeasible = 0, inside = 0, refuted_outside = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const int kind = static_cast<int>(gen.uniform_int(0, 2));
        const bool adversarial = gen.chance(0.25);
        const auto [theta, quant] = drawn_pair(gen, kind, adversarial);
        const std::size_t d = theta.input_shape().size();
        const auto box = test::random_box(gen, d, 0, 16);
        verify::linear_options opt;
        opt.splits = random_splits(gen, theta);
        opt.intermediate = gen.chance(0.6);
        opt.interval_pass = gen.chance(0.5);
        opt.relu_candidate = gen.chance(0.5);
        if (gen.chance(0.5)) opt.output = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(theta.output_shape().size()) - 1));
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind << ", adversarial " << adversarial
                     << ", splits " << opt.splits.size());
        const auto b = verify::linear_difference_bounds(theta, quant, box, opt);
        REQUIRE(b.lower.size() == theta.output_shape().size());
        const tally t = check_points(theta, quant, box, b, opt.splits, gen, 24);
        if (b.infeasible) {
            ++infeasible;
            REQUIRE(t.inside == 0);  // a point satisfying the splits refutes "infeasible"
            continue;
        }
        inside += t.inside;
        REQUIRE(t.bad_inside == 0);
        refuted_outside += t.bad_outside;
        if (b.has_relu_candidate) {
            const auto& r = b.relu_candidate;
            REQUIRE(theta.at(r.node).kind == net::op::relu);
            REQUIRE(r.element < theta.at(r.node).output.size());
        }
    }
    // The property is not vacuous: many points satisfied the splits (how
    // often splits were infeasible, or their bounds false outside S, is
    // reported; the planted case below checks both for certain).
    INFO("infeasible " << infeasible << ", points refuting the bounds outside the split part " << refuted_outside);
    CHECK(inside > cases);
}

TEST_CASE("ReLU splits: a planted case where the split decides the bound, and an infeasible split", "[verify]") {
    // x in [-1, 1] -> z = x -> relu -> y = w relu(z); theta' has w' = w + 1/2, so d = relu(x) / 2.
    net::network theta = net::make_mlp({1, 1, 1});
    for (std::size_t i : theta.affine_nodes()) {
        theta.weights(i)[0] = 1;
        theta.bias(i)[0] = 0;
    }
    net::network quant = theta;
    quant.weights(quant.affine_nodes().back())[0] = 1.5;
    const std::size_t relu = relu_nodes(theta).at(0);
    verify::linear_options opt;
    // z <= 0: on S = [-1, 0] the difference is 0, while the box holds x = 1 with d = 1/2.
    opt.splits = {{relu, 0, false, false}};
    const verify::input_box box{{-1.0}, {1.0}};
    const auto b = verify::linear_difference_bounds(theta, quant, box, opt);
    REQUIRE_FALSE(b.infeasible);
    CHECK(b.upper[0] < 1e-12);
    CHECK(b.lower[0] > -1e-12);
    const auto unsplit = verify::linear_difference_bounds(theta, quant, box);
    CHECK(unsplit.upper[0] >= 0.5);  // the claim "on the whole box" would be false
    // z <= 0 on [1/2, 1]: no such x.
    const auto none = verify::linear_difference_bounds(theta, quant, verify::input_box{{0.5}, {1.0}}, opt);
    CHECK(none.infeasible);
    // z' >= 0 on [-1, 1]: S = [0, 1], where d = x / 2.
    opt.splits = {{relu, 0, true, true}};
    const auto active = verify::linear_difference_bounds(theta, quant, box, opt);
    CHECK(active.upper[0] >= 0.5);
    CHECK(active.upper[0] < 0.5 + 1e-12);
    CHECK(active.lower[0] > -1e-12);
}

TEST_CASE("ReLU splits: the pass without its rounding terms is refuted (negative control)", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    std::size_t refuted = 0;
    for (std::size_t c = 0; c < 300 && refuted == 0; ++c) {
        // Huge and tiny weights on a tiny box: the rounding terms are what keeps the bounds sound.
        const auto [theta, quant] = drawn_pair(gen, 1, true);
        const std::size_t d = theta.input_shape().size();
        auto box = test::random_box(gen, d, 0, 16);
        for (std::size_t j = 0; j < d; ++j) box.upper[j] = box.lower[j];  // a point: every bound is tight there
        verify::linear_options opt;
        opt.splits = random_splits(gen, theta);
        opt.drop_rounding_terms_for_test = true;
        verify::box_bounds b;
        try {
            b = verify::linear_difference_bounds(theta, quant, box, opt);
        } catch (const core::unsound_error&) {
            ++refuted;  // the pass's own cross-check (against interval propagation) caught it
            continue;
        }
        if (b.infeasible) continue;
        const tally t = check_points(theta, quant, box, b, opt.splits, gen, 1);
        refuted += t.bad_inside;
    }
    INFO("seed " << seed);
    CHECK(refuted > 0);
}

TEST_CASE("branch and bound with ReLU splitting brackets every exact difference", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = std::max<std::size_t>(test::property_cases(16), 4);
    std::size_t relu_rounds = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const int kind = static_cast<int>(gen.uniform_int(0, 2));
        const auto [theta, quant] = drawn_pair(gen, kind, gen.chance(0.2));
        const std::size_t d = theta.input_shape().size();
        const auto box = test::random_box(gen, d, 0, 16);
        verify::per_output_options o;
        o.max_nodes = static_cast<std::size_t>(gen.uniform_int(10, 120));
        o.max_seconds = 1e9;  // counts decide
        o.relu_split_above_inputs = 0;
        o.relu_split_intermediate = gen.chance(0.5);
        o.threads = static_cast<std::size_t>(gen.uniform_int(1, 2));
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind);
        const auto r = verify::per_output_branch_and_bound(theta, quant, {box}, o);
        relu_rounds += r.nodes > theta.output_shape().size();
        // Exact differences at vertices and random points never exceed an output's upper;
        // the certified lower of each output holds at its point.
        test::require_bracket(theta, quant, box, r, gen);
    }
    CHECK(relu_rounds > 0);
}
