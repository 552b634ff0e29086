// Contradictions are reported, never patched (issue item 3). Two certified
// enclosures of the same real values that do not overlap prove a bug: each
// place that intersects two of them throws core::unsound_error naming the
// node (index and name), the box and both enclosures. The tests inject a
// deliberately narrowed (wrong) enclosure through the test-only hooks and
// expect that error, and check that the correct passes never throw.
#include "qbound/verify/check.hpp"
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/verify/symbolic_difference.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include "verify/pair_builders.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace qbound;
using I = arith::interval_double;

namespace {

struct pair {
    net::network theta, quant;
};

pair mlp_pair(std::uint64_t seed) {
    net::network m = net::make_mlp({3, 6, 5, 2});
    net::init_he_normal(m, seed, 0.1);
    testing::operand_generator gen(seed);
    return {m, test::perturbed(m, gen)};
}

// The message of the unsound_error that f throws (fails if it throws nothing or something else).
template <class F>
std::string unsound_message(F&& f) {
    try {
        f();
    } catch (const core::unsound_error& e) {
        return e.what();
    }
    FAIL("no core::unsound_error");
    return {};
}

// Moves element 0 of the node's enclosure far from any real difference.
void narrow_far(std::vector<I>& delta) { delta.at(0) = arith::make_interval(1e6, 1e6); }

}  // namespace

TEST_CASE("differential intervals: a narrowed difference at a node is reported with the node, the box and both enclosures",
          "[verify][unsound]") {
    const pair p = mlp_pair(3);
    const auto box = verify::centered_box(3, 0.5);
    REQUIRE_NOTHROW(verify::differential_intervals(p.theta, p.quant, box));
    for (std::size_t target = 1; target < p.theta.nodes().size(); ++target) {
        const auto& node = p.theta.nodes()[target];
        if (node.kind == net::op::identity || node.kind == net::op::flatten) continue;
        INFO("node " << target << " ('" << node.name << "')");
        const std::string msg = unsound_message([&] {
            verify::differential_intervals(p.theta, p.quant, box, [&](std::size_t i, std::vector<I>& d) {
                if (i == target) narrow_far(d);
            });
        });
        CHECK(msg.rfind("UNSOUND: differential interval pass", 0) == 0);
        CHECK(msg.find("node " + std::to_string(target) + " ('" + node.name + "')") != std::string::npos);
        CHECK(msg.find("[1000000, 1000000]") != std::string::npos);         // the narrowed enclosure
        CHECK(msg.find("[-0.5, 0.5]^3") != std::string::npos);              // the box
    }
}

TEST_CASE("symbolic pass: a symbolic bound that misses the interval pass's enclosure is reported", "[verify][unsound]") {
    const pair p = mlp_pair(5);
    const auto box = verify::centered_box(3, 0.5);
    REQUIRE_NOTHROW(verify::symbolic_difference_enclosures(p.theta, p.quant, box));
    // The last node (the output) and a dense node feeding a ReLU.
    const std::size_t last = p.theta.nodes().size() - 1;
    for (std::size_t target : {last, std::size_t{1}}) {
        const auto& node = p.theta.nodes()[target];
        INFO("node " << target << " ('" << node.name << "')");
        const std::string msg = unsound_message([&] {
            verify::symbolic_difference_enclosures(p.theta, p.quant, box, [&](std::size_t i, std::vector<I>& d) {
                if (i == target) narrow_far(d);
            });
        });
        CHECK(msg.rfind("UNSOUND: symbolic differential pass", 0) == 0);
        CHECK(msg.find("node " + std::to_string(target) + " ('" + node.name + "')") != std::string::npos);
        CHECK(msg.find("[1000000, 1000000]") != std::string::npos);
        CHECK(msg.find("[-0.5, 0.5]^3") != std::string::npos);
    }
}

TEST_CASE("branch and bound: an upper bound below the certified lower is reported", "[verify][unsound]") {
    const pair p = mlp_pair(7);
    const auto box = verify::centered_box(3, 1.0);
    const auto x = std::vector<double>{0.25, -0.5, 1.0};
    const double lower = static_cast<double>(verify::certify_difference(p.theta, p.quant, x).lower) * (1 - 0x1p-50);
    REQUIRE(lower > 0);
    verify::branch_and_bound_options o;
    o.max_nodes = 20;
    REQUIRE_NOTHROW(verify::branch_and_bound(p.theta, p.quant, box, lower, o));
    // A deliberately narrowed pass: a millionth of the true bound.
    o.bound_for_test = [&](const verify::input_box& b) { return verify::symbolic_difference_bound(p.theta, p.quant, b) * 1e-6; };
    const std::string msg = unsound_message([&] { verify::branch_and_bound(p.theta, p.quant, box, lower, o); });
    CHECK(msg.rfind("UNSOUND: branch and bound", 0) == 0);
    CHECK(msg.find(core::exact_digits(lower)) != std::string::npos);
    CHECK(msg.find("[-1, 1]^3") != std::string::npos);
}

TEST_CASE("check: a certified upper below the certified witness is reported, not patched", "[verify][unsound]") {
    const pair p = mlp_pair(11);
    verify::check_options o;
    o.D = 1;
    o.search = verify::counted_search(3, 0.25, 1);
    o.branch.max_nodes = 10;
    o.use_branch_points = false;
    // The true pass without its candidates: the witness is the search's, the same in both runs.
    o.branch.bounder_for_test = [&](const verify::input_box& b, std::size_t k) {
        verify::linear_options lo;
        lo.output = k;
        auto r = verify::linear_difference_bounds(p.theta, p.quant, b, lo);
        r.candidates.clear();
        return r;
    };
    const auto good = verify::check_pair(p.theta, p.quant, o);
    REQUIRE(good.witness.lower > 0);
    REQUIRE(good.upper >= good.witness.lower);
    // A pass claiming an upper just below the witness on every output: within
    // the witness's rounding to a double, so only check's own guard sees it.
    double wrong = static_cast<double>(good.witness.lower);
    if (arith::to_rational(wrong) >= good.witness.lower) wrong = std::nextafter(wrong, 0.0);
    const auto claim = [&](double value) {
        return [&p, value](const verify::input_box&, std::size_t) {
            verify::box_bounds b;
            b.lower.assign(p.theta.output_shape().size(), -value);
            b.upper.assign(p.theta.output_shape().size(), value);
            return b;
        };
    };
    o.branch.bounder_for_test = claim(wrong);
    const std::string msg = unsound_message([&] { verify::check_pair(p.theta, p.quant, o); });
    INFO(msg);
    CHECK(msg.rfind("UNSOUND: check: the certified upper bound", 0) == 0);
    CHECK(msg.find("on output " + std::to_string(good.witness.output)) != std::string::npos);
    CHECK(msg.find("witness x = (") != std::string::npos);
    CHECK(msg.find(arith::to_decimal(good.witness.lower, 20)) != std::string::npos);
    // Half the witness: branch and bound's guard sees it at the root, which holds the witness.
    const double half = wrong / 2;
    o.branch.bounder_for_test = claim(half);
    const std::string msg2 = unsound_message([&] { verify::check_pair(p.theta, p.quant, o); });
    INFO(msg2);
    CHECK(msg2.rfind("UNSOUND: branch and bound, output " + std::to_string(good.witness.output), 0) == 0);
    CHECK(msg2.find("below the certified lower value") != std::string::npos);
    CHECK(msg2.find(core::exact_digits(half)) != std::string::npos);
    CHECK(msg2.find("[-1, 1]^3") != std::string::npos);
}
