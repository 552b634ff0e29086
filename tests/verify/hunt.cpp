// The hunt (verify/hunt.hpp): planted tight cases are found from random
// starts; results depend on the options only (threads, larger budgets);
// every certified number is re-derived independently here (exact
// differences at the witnesses, bounds recomputed); a violation is saved,
// and its case replays in exact arithmetic; the spaces draw what they
// declare; bad spaces are refused by name.
#include "qbound/bounds/bounds.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/io/region.hpp"
#include "qbound/verify/case_file.hpp"
#include "qbound/verify/hunt.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <filesystem>

using namespace qbound;

namespace {

verify::hunt_options planted(std::size_t depth, std::vector<bounds::variant_key> variants, std::size_t budget) {
    verify::hunt_options o;
    o.space.depth = {depth, depth};
    o.space.width = {1, 1};
    o.space.inputs = {1, 1};
    o.space.outputs = 1;
    o.variants = std::move(variants);
    o.budget = budget;
    o.nodes = 60;
    o.threads = 2;
    return o;
}

// The certified ratio of a track, re-derived: the exact (or 256-bit)
// difference at its witness over the bound's certified upper value.
double rederived_ratio(const verify::hunt_variant_result& v, const verify::hunt_track& t) {
    REQUIRE(t.pair);
    const auto pd = verify::certify_difference(t.pair->theta, t.pair->quantized, t.witness);
    bounds::bound_options bo;
    bo.D = t.pair->D;
    const auto b = bounds::find(bounds::compute_bounds(t.pair->theta, t.pair->quantized, bo), v.key);
    const arith::rational value = b.value.to_rational();
    if (value == 0) return pd.lower > 0 ? std::numeric_limits<double>::infinity() : 0.0;  // a bound of 0 (theta' = theta in the weights)
    return static_cast<double>(pd.lower / value);
}

}  // namespace

// Proof step 9 (THEOREMS.md): L = 1, N_0 = 1, D >= 1 attains A and A'
// exactly; a width-1 chain of any depth with one layer unperturbed attains
// A-per-layer. The hunt starts from random pairs (random D, most below 1)
// and must reach 0.99 of it, certified.
TEST_CASE("hunt reaches the planted tight cases from random starts", "[verify][hunt]") {
    using bounds::bound_family;
    const std::vector<bounds::variant_key> keys{{bound_family::A_per_layer, bounds::r_source::max},
                                                {bound_family::A_collapsed, bounds::r_source::max},
                                                {bound_family::A_prime_per_layer, bounds::r_source::max},
                                                {bound_family::B_bias, bounds::r_source::max}};
    for (std::size_t depth : {std::size_t{1}, std::size_t{2}}) {
        const auto keys_here = depth == 1 ? keys : std::vector<bounds::variant_key>{keys.front()};
        const verify::hunt_result r = verify::run_hunt(planted(depth, keys_here, 4000));
        for (const auto& v : r.variants) {
            INFO("depth " << depth << ", " << v.name << ": certified ratio " << v.holding.certified_ratio);
            REQUIRE(v.holding.certified);
            CHECK(v.holding.hypotheses_hold);
            CHECK(v.holding.certified_ratio >= 0.99);
            CHECK(v.holding.certified_ratio <= 1);  // these are theorems: above 1 would refute one (and be reported)
            CHECK(v.holding.result != verify::verdict::violated);
            CHECK(rederived_ratio(v, v.holding) >= v.holding.certified_ratio);
            // Every certified pair lies in the space.
            CHECK(v.holding.size.layers == depth);
            CHECK(v.holding.size.inputs == 1);
        }
    }
}

TEST_CASE("hunt results do not depend on the thread count, and grow with the budget", "[verify][hunt]") {
    verify::hunt_options o;
    o.space.depth = {1, 3};
    o.space.width = {1, 4};
    o.variants = {{bounds::bound_family::A_per_layer, bounds::r_source::max}, {bounds::bound_family::G, bounds::r_source::theta}};
    o.budget = 1200;
    o.nodes = 40;
    o.shrink_candidates = 0;
    o.threads = 1;
    const auto one = verify::run_hunt(o);
    o.threads = 2;
    const auto two = verify::run_hunt(o);
    REQUIRE(one.variants.size() == two.variants.size());
    for (std::size_t v = 0; v < one.variants.size(); ++v)
        for (auto track : std::array{&verify::hunt_variant_result::holding, &verify::hunt_variant_result::any}) {
            const auto &a = one.variants[v].*track, &b = two.variants[v].*track;
            CHECK(a.best_score == b.best_score);
            CHECK(a.certified_ratio == b.certified_ratio);
            CHECK(a.witness == b.witness);
            CHECK(a.perturbation == b.perturbation);
        }
    CHECK(verify::hunt_to_json(one) == verify::hunt_to_json(two));
    // A larger budget's runs extend the smaller one's: with a history point
    // after every run, the larger budget's history starts with the smaller
    // one's, point for point, and no best score falls.
    o.certify = false;
    o.history_points = 1000;
    const auto fewer = verify::run_hunt(o);
    o.budget = 2400;
    const auto more = verify::run_hunt(o);
    for (std::size_t v = 0; v < one.variants.size(); ++v) {
        CHECK(more.variants[v].holding.best_score >= one.variants[v].holding.best_score);
        CHECK(more.variants[v].any.best_score >= one.variants[v].any.best_score);
        const auto &h = more.variants[v].any.history, &h1 = fewer.variants[v].any.history;
        REQUIRE(h1.size() == 12);
        REQUIRE(h.size() == 24);
        for (std::size_t k = 0; k < h1.size(); ++k) {
            CHECK(h[k].evaluations == h1[k].evaluations);
            CHECK(h[k].best_score == h1[k].best_score);
        }
        for (std::size_t k = 1; k < h.size(); ++k) CHECK(h[k].best_score >= h[k - 1].best_score);  // cumulative
    }
}

// G as cited, max(D, 1) W L^2 r^(L-1) ||theta - theta'||, counts W = the
// largest width; with the biases quantized too, L = 1 and N = (1, 1) the
// change at x = D = 1 is |dw| + |db| = 2 ||theta - theta'|| (the augmented
// input (x, 1) has two coordinates). The hunt must find a violation with
// every hypothesis of G met, save it shrunk, and the saved case must
// violate G in exact arithmetic when read back.
TEST_CASE("hunt finds and saves a certified violation that replays exactly", "[verify][hunt]") {
    const auto dir = std::filesystem::temp_directory_path() / "qbound-hunt-test-violation";
    std::filesystem::remove_all(dir);
    verify::hunt_options o;
    o.space.depth = {1, 2};
    o.space.width = {1, 2};
    o.space.inputs = {1, 2};
    o.variants = {{bounds::bound_family::G, bounds::r_source::max}};
    o.budget = 4000;
    o.nodes = 40;
    o.out = dir;
    const auto r = verify::run_hunt(o);
    const auto& t = r.variants.front().holding;
    INFO("certified ratio " << t.certified_ratio);
    REQUIRE(t.result == verify::verdict::violated);
    CHECK(t.hypotheses_hold);
    CHECK(t.certified_ratio > 1);
    CHECK(r.theorem_violated());
    REQUIRE(!t.saved.empty());
    const verify::replay_case c = verify::load_case(t.saved);
    const auto pd = verify::certify_difference(c.theta, c.quantized, c.x);
    CHECK(pd.arithmetic == "exact rational");
    bounds::bound_options bo;
    bo.D = c.D;
    const auto g = bounds::find(bounds::compute_bounds(c.theta, c.quantized, bo), o.variants.front());
    CHECK(g.hypotheses_hold());
    CHECK(pd.lower > g.value.to_rational());
    CHECK(verify::size_of(c.theta).parameters <= t.size.parameters);
    std::filesystem::remove_all(dir);
}

TEST_CASE("hunt spaces draw the architectures they declare", "[verify][hunt]") {
    for (const char* name : {"cnn", "residual"}) {
        verify::hunt_options o;
        o.space = verify::default_hunt_space(name);
        o.variants = {{bounds::bound_family::residual_aware, bounds::r_source::max}};
        o.budget = 240;
        o.nodes = 30;
        o.shrink_candidates = 0;
        const auto r = verify::run_hunt(o);
        const auto& t = r.variants.front().any;
        INFO(name);
        REQUIRE(t.certified);
        REQUIRE(t.pair);
        bool conv = false, add = false;
        for (const auto& n : t.pair->theta.nodes()) conv |= n.kind == net::op::conv2d, add |= n.kind == net::op::add;
        if (std::string(name) == "cnn") {
            CHECK(t.size.layers >= o.space.depth.lo);
            CHECK(t.size.layers <= o.space.depth.hi);
            CHECK((conv || t.size.layers == 1));
        } else {
            CHECK(add);
        }
        CHECK(rederived_ratio(r.variants.front(), t) >= t.certified_ratio);
    }
}

// With a fixed input region (a box away from 0, here [1/4, 1/2] x [-1/8, 0]),
// every pair has the region's dimension, the bounds use its covering D, the
// witnesses stay in the box, and the certified ratio is re-derived with that D.
TEST_CASE("hunt on a fixed input region keeps its witnesses in the region", "[verify][hunt]") {
    io::input_region region;
    region.boxes.push_back({{arith::rational(1, 4), arith::rational(-1, 8)}, {arith::rational(1, 2), arith::rational(0)}});
    region.described = "a test box";
    verify::hunt_options o;
    o.space.depth = {1, 3};
    o.space.width = {1, 4};
    o.space.inputs = {2, 2};
    o.space.region = verify::region_boxes(region);
    o.space.region_D = io::covering_D(region);
    o.space.region_described = region.described;
    o.variants = {{bounds::bound_family::A_per_layer, bounds::r_source::max}, {bounds::bound_family::G, bounds::r_source::max}};
    o.budget = 800;
    o.nodes = 30;
    o.shrink_candidates = 0;
    const auto r = verify::run_hunt(o);
    CHECK(o.space.region_D == arith::rational(1, 2));
    for (const auto& v : r.variants)
        for (const auto* t : {&v.holding, &v.any}) {
            if (!t->certified) continue;
            INFO(v.name);
            REQUIRE(t->witness.size() == 2);
            CHECK(t->witness[0] >= 0.25);
            CHECK(t->witness[0] <= 0.5);
            CHECK(t->witness[1] >= -0.125);
            CHECK(t->witness[1] <= 0);
            CHECK(t->D == 0.5);
            CHECK(t->pair->D == arith::rational(1, 2));
            CHECK(rederived_ratio(v, *t) >= t->certified_ratio);
        }
    for (const auto& archive : r.archive)
        for (const auto& c : archive) CHECK(c.theta.input_shape().size() == 2);
    // The region's space is refused with the cnn architecture and with another input range.
    verify::hunt_space bad = o.space;
    bad.inputs = {1, 2};
    CHECK_THROWS_WITH(verify::validate(bad), Catch::Contains("--inputs") && Catch::Contains("region of 2 inputs"));
    bad = o.space;
    bad.architecture = verify::hunt_architecture::cnn;
    CHECK_THROWS_WITH(verify::validate(bad), Catch::Contains("cnn space"));
}

TEST_CASE("hunt refuses bad spaces and ranges by name", "[verify][hunt]") {
    verify::hunt_space s;
    s.depth = {3, 2};
    CHECK_THROWS_WITH(verify::validate(s), Catch::Contains("--depth") && Catch::Contains("empty range"));
    s = verify::default_hunt_space("residual");
    s.depth = {2, 4};
    CHECK_THROWS_WITH(verify::validate(s), Catch::Contains("--depth") && Catch::Contains("at least 3"));
    s = {};
    s.width = {1, 65};
    CHECK_THROWS_WITH(verify::validate(s), Catch::Contains("--width") && Catch::Contains("at most 64"));
    s = {};
    s.min_D_exponent = -41;
    CHECK_THROWS_WITH(verify::validate(s), Catch::Contains("D exponents"));
    CHECK_THROWS_WITH(verify::default_hunt_space("transformer"), Catch::Contains("transformer") && Catch::Contains("mlp, cnn, residual"));
    CHECK(verify::parse_count_range("2-7", "--depth").lo == 2);
    CHECK(verify::parse_count_range("5", "--depth").hi == 5);
    CHECK_THROWS_WITH(verify::parse_count_range("2-x", "--depth"), Catch::Contains("--depth") && Catch::Contains("2-x"));
    CHECK_THROWS_WITH(verify::parse_count_range("", "--width"), Catch::Contains("--width"));
    verify::hunt_options o;
    o.budget = 0;
    CHECK_THROWS_WITH(verify::run_hunt(o), Catch::Contains("--budget"));
}
