// Counterexample shrinking (verify/shrink.hpp): the shrunk pair is never
// larger than the original and still violates the same bound variant, which
// the test re-certifies independently (check_pair's verdict on the shrunk
// pair, and the certified difference at the saved witness against the
// recomputed bound), also after a save/load round trip of the case folder.
#include "qbound/bounds/bounds.hpp"
#include "qbound/verify/case_file.hpp"
#include "qbound/verify/check.hpp"
#include "qbound/verify/shrink.hpp"

#include "qbound/net/zoo.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace qbound;

namespace {

struct pair_case {
    net::network theta, quant;
    arith::rational D;
};

// THEOREMS.md 3, G: constant weights 1, layer 1 perturbed by delta.
pair_case entrywise_g(std::size_t width, std::size_t hidden, int delta_exponent) {
    std::vector<std::size_t> widths{1};
    for (std::size_t l = 0; l < hidden; ++l) widths.push_back(width);
    widths.push_back(1);
    net::network m = net::make_mlp(widths);
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i)) w = 1;
    net::network q = m;
    for (double& w : q.weights(1)) w += std::ldexp(1.0, delta_exponent);
    return {m, q, 1};
}

// Residual blocks with a tiny branch; only the stem is perturbed (the chain
// reading of the bounds counts the branches' small norms as the main path).
pair_case skip_dominant(std::mt19937_64& g, std::size_t blocks) {
    const auto pick = [&](std::size_t lo, std::size_t hi) { return lo + static_cast<std::size_t>(g() % (hi - lo + 1)); };
    const std::size_t d = pick(1, 3), n = pick(3, 6);
    net::network m("residual", {d, 1, 1});
    std::size_t x = m.activation(m.dense(m.flatten(0), n, "stem"), net::op::relu);
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::string p = "block" + std::to_string(b + 1);
        const auto branch = m.dense(m.activation(m.dense(x, n, p + ".fc1"), net::op::relu), n, p + ".fc2");
        x = m.activation(m.add(branch, x, p + ".add"), net::op::relu);
    }
    m.dense(x, pick(1, 3), "head");
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i)) w = (m.at(i).name.find(".fc") != std::string::npos ? 0x1p-12 : 1.0) * static_cast<double>(pick(1, 4)) / 4;
    net::network q = m;
    for (std::size_t i : q.affine_nodes())
        if (q.at(i).name == "stem")
            for (double& w : q.weights(i)) w += static_cast<double>(pick(1, 8)) / 16;
    return {m, q, 1};
}

verify::check_result check(const net::network& a, const net::network& b, const arith::rational& D, std::uint64_t seed) {
    verify::check_options c;
    c.D = D;
    c.branch.max_nodes = 50;
    c.search = verify::counted_search(a.input_shape().size(), 0.25, seed);
    c.search.max_seconds = 1e6;  // the counts decide: reproducible
    return verify::check_pair(a, b, c);
}

using F = bounds::bound_family;
using R = bounds::r_source;

const verify::bound_verdict& verdict_of(const verify::check_result& r, const bounds::variant_key& bound) {
    for (const auto& v : r.verdicts)
        if (bounds::parse_variant(v.bound) == bound) return v;
    FAIL("no variant " << bounds::to_string(bound));
    throw;
}

// The claims: no larger on every measure, the variant still VIOLATED (re-certified
// by check_pair and at the returned witness), and the saved case replays.
verify::shrink_result require_shrunk_and_violated(const pair_case& p, const bounds::variant_key& bound, std::uint64_t seed) {
    const auto before = check(p.theta, p.quant, p.D, seed);
    REQUIRE(verdict_of(before, bound).result == verify::verdict::violated);
    verify::shrink_options so;
    so.seed = seed;
    so.max_candidates = 200;
    verify::shrink_result out = verify::shrink_counterexample(p.theta, p.quant, p.D, before.witness.x, bounds::to_string(bound), so);
    const auto& o = out.original;
    const auto& s = out.shrunk;
    CHECK(o == verify::size_of(p.theta));
    CHECK(s == verify::size_of(out.theta));
    CHECK(s.layers <= o.layers);
    CHECK(s.inputs <= o.inputs);
    CHECK(s.hidden_units <= o.hidden_units);
    CHECK(s.parameters <= o.parameters);
    CHECK(s.nonzero_parameters <= o.nonzero_parameters);
    // Re-certified: check_pair on the shrunk pair, and the witness against the recomputed bound.
    const auto after = check(out.theta, out.quantized, out.D, seed + 1);
    CHECK(verdict_of(after, bound).result == verify::verdict::violated);
    bounds::bound_options bopt;
    bopt.D = out.D;
    const arith::rational limit = bounds::find(bounds::compute_bounds(out.theta, out.quantized, bopt), bound).value.to_rational();
    REQUIRE(limit >= 0);
    const auto at = verify::certify_difference(out.theta, out.quantized, out.witness.x);
    CHECK(at.lower > limit);
    CHECK(out.witness.lower > limit);
    // The saved case loads back and still violates.
    const auto dir = std::filesystem::temp_directory_path() / ("qbound-shrink-test-" + std::to_string(seed));
    verify::save_case(dir, out.theta, out.quantized, out.D, out.witness, "shrink test");
    const auto c = verify::load_case(dir);
    CHECK(verify::certify_difference(c.theta, c.quantized, c.x).lower > limit);
    std::filesystem::remove_all(dir);
    return out;
}

}  // namespace

TEST_CASE("shrink: entrywise-G counterexamples shrink and stay certified violations", "[verify][shrink]") {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        INFO("seed " << seed);
        std::mt19937_64 g(seed);
        const std::size_t width = 8 + g() % 9, hidden = 3 + g() % 2;
        const auto p = entrywise_g(width, hidden, -static_cast<int>(8 + g() % 5));
        const auto r = require_shrunk_and_violated(p, {F::G_entrywise, R::max}, seed);
        INFO("shrunk to " << r.shrunk.layers << " layers, " << r.shrunk.hidden_units << " hidden units, " << r.shrunk.parameters
                          << " parameters after " << r.candidates << " candidates");
        // The construction needs depth and width to beat the entrywise formula, but far less than drawn.
        CHECK(r.shrunk.parameters < r.original.parameters);
        CHECK(r.accepted > 0);
    }
}

TEST_CASE("shrink: skip-dominant residual counterexamples to the chain reading shrink", "[verify][shrink]") {
    std::size_t shrunk = 0;
    for (std::uint64_t seed = 1; seed <= 10 && shrunk < 3; ++seed) {
        INFO("seed " << seed);
        std::mt19937_64 g(seed);
        const auto p = skip_dominant(g, 1 + seed % 2);
        if (verdict_of(check(p.theta, p.quant, p.D, seed), {F::A_per_layer, R::max}).result != verify::verdict::violated) continue;
        const auto r = require_shrunk_and_violated(p, {F::A_per_layer, R::max}, seed);
        CHECK(r.shrunk.parameters < r.original.parameters);
        ++shrunk;
    }
    CHECK(shrunk == 3);
}

TEST_CASE("shrink: convolutional pairs are simplified but keep their structure", "[verify][shrink]") {
    net::cnn_config cfg;
    cfg.input = {1, 5, 5};
    cfg.convs = {{2, {3, 3, 1, 1, 1, 1}, false}};
    cfg.dense = {1};
    net::network m = net::make_cnn(cfg);
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i)) w = 1;
    net::network q = m;
    for (double& w : q.weights(1)) w += 0x1p-6;
    const pair_case p{m, q, 1};
    const auto r = require_shrunk_and_violated(p, {F::G_entrywise, R::max}, 7);
    CHECK(r.shrunk.layers == r.original.layers);
}

TEST_CASE("shrink: a witness that does not violate is refused", "[verify][shrink]") {
    const auto p = entrywise_g(8, 3, -10);
    CHECK_THROWS_WITH(verify::shrink_counterexample(p.theta, p.quant, p.D, {0.0}, bounds::to_string({F::G_entrywise, R::max})),
                      Catch::Contains("does not certifiably violate"));
    CHECK_THROWS_WITH(verify::shrink_counterexample(p.theta, p.quant, p.D, {1.0}, bounds::to_string({F::A_per_layer, R::max})),
                      Catch::Contains("does not certifiably violate"));
}

TEST_CASE("shrink: an unknown variant name is refused, naming it", "[verify][shrink]") {
    const auto p = entrywise_g(8, 3, -10);
    CHECK_THROWS_WITH(verify::shrink_counterexample(p.theta, p.quant, p.D, {1.0}, "G-entrywise[r=mean]"),
                      Catch::Contains("unknown bound variant 'G-entrywise[r=mean]'"));
}
