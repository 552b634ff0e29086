// The linear program of the linear relaxation pass (linear_options::lp,
// verify/linear_relaxation.hpp, "Linear program"): with and without random
// ReLU splits, every exact difference (rational arithmetic) at a point of
// the box that satisfies the splits lies in the certified bounds, a result
// marked infeasible has no such point, and the bounds are never looser
// than the pass's own; solving only the side that decides each output's
// magnitude gives the same magnitudes. On a campaign pair the program is strictly tighter
// and its maximizer (box_bounds::more_candidates) is a good lower-side point. Negative control: the
// certificate without its column term (trusting the solver's reduced costs
// to vanish) is refuted by exact differences at the program's own
// maximizers. Branch and bound with ReLU splitting and the program
// brackets every exact difference, with the same result on 1 and 2 threads.
#include "qbound/verify/branch_and_bound.hpp"
#include "qbound/verify/campaign.hpp"
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/net/forward.hpp"

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

using test::exact_difference;

TEST_CASE("the linear program's bounds contain every exact difference of the split part of the box", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = std::max<std::size_t>(test::property_cases(60), 40);
    std::size_t inside = 0, tighter = 0, infeasible = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        // MLP, max-pool CNN, and (a fifth of the cases: its programs are large) every kind but ReLU6.
        const int kind = gen.chance(0.2) ? 3 : static_cast<int>(gen.uniform_int(1, 2));
        const bool adversarial = gen.chance(0.25);
        const auto [theta, quant] = test::drawn_pair(gen, kind, adversarial);
        const std::size_t d = theta.input_shape().size();
        const auto box = test::random_box(gen, d, 0, 16);
        verify::linear_options opt;
        if (gen.chance(0.6)) opt.splits = test::random_splits(gen, theta);
        opt.intermediate = gen.chance(0.6);
        opt.interval_pass = gen.chance(0.5);
        opt.relu_candidate = gen.chance(0.5);
        if (gen.chance(0.5)) opt.output = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(theta.output_shape().size()) - 1));
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind << ", adversarial " << adversarial
                     << ", splits " << opt.splits.size());
        const auto pass = verify::linear_difference_bounds(theta, quant, box, opt);
        opt.lp = true;
        const auto b = verify::linear_difference_bounds(theta, quant, box, opt);
        const test::tally t = test::check_points(theta, quant, box, b, opt.splits, gen, 24);
        if (b.infeasible) {
            ++infeasible;
            REQUIRE(t.inside == 0);
            continue;
        }
        REQUIRE_FALSE(pass.infeasible);  // the program only adds facts: the pass alone cannot prove more
        inside += t.inside;
        REQUIRE(t.bad_inside == 0);
        bool strictly = false;
        for (std::size_t k = 0; k < b.lower.size(); ++k) {
            REQUIRE(b.upper[k] <= pass.upper[k]);
            REQUIRE(b.lower[k] >= pass.lower[k]);
            strictly = strictly || b.upper[k] < pass.upper[k] || b.lower[k] > pass.lower[k];
            // The program's maximizer (for the outputs it bounded) is a point of the box;
            // without splits, its exact difference lies in the bounds.
            REQUIRE(b.more_candidates.size() == b.lower.size());
            const auto& x = b.more_candidates[k];
            if (x.empty()) continue;
            REQUIRE(x.size() == d);
            for (std::size_t j = 0; j < d; ++j) REQUIRE((box.lower[j] <= x[j] && x[j] <= box.upper[j]));
            if (opt.splits.empty()) {
                const rational diff = exact_difference(theta, quant, x, k);
                REQUIRE(diff <= rational(b.upper[k]));
                REQUIRE(diff >= rational(b.lower[k]));
            }
        }
        tighter += strictly;
        // Solving only the side that decides each output's magnitude gives the same magnitudes
        // (up to the solver's tolerance: the solves may come in another order). On weights
        // scaled by 2^+-40 the solver's multipliers depend on that order (either may be the
        // tighter certificate), so there only containment is checked.
        if (c % 3 == 0 && kind != 3) {
            opt.lp_magnitude_only = true;
            const auto half = verify::linear_difference_bounds(theta, quant, box, opt);
            REQUIRE_FALSE(half.infeasible);
            for (std::size_t k = 0; k < b.lower.size(); ++k) {
                REQUIRE(half.upper[k] <= pass.upper[k]);
                REQUIRE(half.lower[k] >= pass.lower[k]);
                INFO("half " << half.magnitude(k) << " full " << b.magnitude(k) << " pass " << pass.magnitude(k));
                if (!adversarial) CHECK(std::fabs(half.magnitude(k) - b.magnitude(k)) <= 1e-6 * b.magnitude(k) + 1e-300);
            }
            const test::tally th = test::check_points(theta, quant, box, half, opt.splits, gen, 8);
            REQUIRE(th.bad_inside == 0);
        }
        if (b.has_relu_candidate) {
            REQUIRE(theta.at(b.relu_candidate.node).kind == net::op::relu);
            REQUIRE(b.relu_candidate.element < theta.at(b.relu_candidate.node).output.size());
        }
    }
    INFO("infeasible " << infeasible << ", tighter than the pass in " << tighter << " of " << cases);
    CHECK(inside > cases);
    CHECK(tighter > 0);
}

TEST_CASE("the linear program on a campaign pair: strictly tighter than the pass, its maximizer a point of the box", "[verify]") {
    // random-cnn pair 5 of seed 1: one convolution (18 ReLUs), one output, 6-bit nearest copy.
    const auto p = verify::draw_campaign_pair("random-cnn", 1, 5);
    const std::size_t d = p.theta.input_shape().size();
    const auto box = verify::centered_box(d, static_cast<double>(p.D));
    verify::linear_options opt;
    const auto pass = verify::linear_difference_bounds(p.theta, p.quant, box, opt);
    opt.lp = true;
    const auto b = verify::linear_difference_bounds(p.theta, p.quant, box, opt);
    INFO("pass [" << pass.lower[0] << ", " << pass.upper[0] << "], program [" << b.lower[0] << ", " << b.upper[0] << "]");
    CHECK(b.upper[0] < pass.upper[0] * 0.99);
    CHECK(b.lower[0] > pass.lower[0] * 0.99);
    REQUIRE(b.more_candidates.size() == 1);
    const rational diff = exact_difference(p.theta, p.quant, b.more_candidates[0], 0);
    CHECK(diff <= rational(b.upper[0]));
    CHECK(diff >= rational(b.lower[0]));
    // The maximizer of the larger side is a good lower-side point: within 3x of the bound.
    const rational magnitude = diff < 0 ? rational(0) - diff : diff;
    CHECK(magnitude * rational(3) >= rational(b.magnitude(0)));
}

TEST_CASE("the linear program's certificate without its column term is refuted (negative control)", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    std::size_t refuted = 0;
    for (std::size_t c = 0; c < 200 && refuted == 0; ++c) {
        const auto [theta, quant] = test::drawn_pair(gen, static_cast<int>(gen.uniform_int(1, 3)), false);
        const std::size_t d = theta.input_shape().size();
        const auto box = test::random_box(gen, d, 4, 16);
        verify::linear_options opt;
        opt.lp = true;
        opt.lp_drop_column_term_for_test = true;
        verify::box_bounds b;
        try {
            b = verify::linear_difference_bounds(theta, quant, box, opt);
        } catch (const core::unsound_error&) {
            ++refuted;  // the bounds contradicted the forward ones
            continue;
        }
        for (std::size_t k = 0; k < b.more_candidates.size(); ++k) {
            if (b.more_candidates[k].empty()) continue;
            const rational diff = exact_difference(theta, quant, b.more_candidates[k], k);
            if (diff > rational(b.upper[k]) || diff < rational(b.lower[k])) ++refuted;
        }
    }
    INFO("seed " << seed);
    CHECK(refuted > 0);
}

TEST_CASE("branch and bound with ReLU splitting and the linear program brackets every exact difference", "[verify]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = std::max<std::size_t>(test::property_cases(10), 4);
    for (std::size_t c = 0; c < cases; ++c) {
        // The every-kind network's program is large (about 0.1 s a solve): rarely, and with fewer boxes.
        const int kind = gen.chance(0.2) ? 3 : static_cast<int>(gen.uniform_int(1, 2));
        const auto [theta, quant] = test::drawn_pair(gen, kind, gen.chance(0.2));
        const std::size_t d = theta.input_shape().size();
        const auto box = test::random_box(gen, d, 0, 16);
        verify::per_output_options o;
        o.max_nodes = static_cast<std::size_t>(kind == 3 ? gen.uniform_int(4, 12) : gen.uniform_int(10, 60));
        o.max_seconds = 1e9;  // counts decide
        o.relu_split_above_inputs = gen.chance(0.7) ? 0 : static_cast<std::size_t>(-1);
        o.lp = true;
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", kind " << kind);
        o.threads = 1;
        const auto r = verify::per_output_branch_and_bound(theta, quant, {box}, o);
        o.threads = 2;
        const auto r2 = verify::per_output_branch_and_bound(theta, quant, {box}, o);
        REQUIRE(r.outputs.size() == r2.outputs.size());
        for (std::size_t k = 0; k < r.outputs.size(); ++k) {
            REQUIRE(r.outputs[k].upper == r2.outputs[k].upper);
            REQUIRE(r.outputs[k].lower == r2.outputs[k].lower);
        }
        test::require_bracket(theta, quant, box, r, gen);
    }
}
