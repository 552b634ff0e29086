// Campaigns: the false readings are refuted with saved, shrunk, replayable,
// certified counterexamples; no bound whose hypotheses hold is violated;
// per-variant summaries (including medians) survive sharding and merging
// exactly; every pair is recorded; the mixed families cover every quantizer.
#include "qbound/io/onnx.hpp"
#include "qbound/verify/campaign.hpp"
#include "qbound/verify/case_file.hpp"

#include "test_files.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>

using namespace qbound;
using F = bounds::bound_family;
using R = bounds::r_source;

namespace {

verify::campaign_options small(std::vector<std::string> families, std::size_t pairs, std::uint64_t seed) {
    verify::campaign_options opt;
    opt.families = std::move(families);
    opt.pairs = pairs;
    opt.seed = seed;
    opt.nodes = 60;
    opt.search_effort = 0.1;
    opt.shrink_candidates = 60;
    return opt;
}

}  // namespace

TEST_CASE("campaign: false readings refuted, proved bounds never violated", "[verify][campaign]") {
    const auto dir = std::filesystem::temp_directory_path() / "qbound-campaign-test";
    std::filesystem::remove_all(dir);
    verify::campaign_options opt;
    opt.pairs = 4;
    opt.seed = 3;
    opt.out = dir;
    opt.nodes = 30;  // the verdicts tested here need the certified lower side; the upper side only decides HOLDS
    opt.search_effort = 0.1;
    opt.shrink_candidates = 100;
    const auto r = verify::run_campaign(opt);
    CHECK(r.pairs == 4 * verify::campaign_families().size());
    CHECK(r.records.size() == r.pairs);
    for (const auto& [family, variants] : r.tally)
        for (const auto& [name, t] : variants) {
            INFO(family << " / " << name);
            CHECK(t.violated_with_hypotheses == 0);
            CHECK(t.holds + t.violated + t.undecided == opt.pairs);
            CHECK(t.bound_over_lower.size() <= opt.pairs);  // 0 / 0 pairs are left out
            CHECK(t.median_bound_over_lower() <= t.max_bound_over_lower());
            if (t.violated > 0) {
                CHECK(t.max_relative_gap >= 0);
                CHECK(!t.first_counterexample.empty());
                CHECK(t.counterexample_shrunk.parameters <= t.counterexample_original.parameters);
            }
        }
    const auto& g = r.tally.at("entrywise-G").at(bounds::to_string({F::G_entrywise, R::max}));
    CHECK(g.violated == opt.pairs);
    CHECK(g.counterexample_shrunk.parameters < g.counterexample_original.parameters);
    const auto& main_path = r.tally.at("skip-dominant").at(bounds::to_string({F::A_per_layer, R::max}));
    CHECK(main_path.violated > 0);
    CHECK(r.tally.at("skip-dominant").at(bounds::to_string({F::residual_aware, R::max})).violated == 0);
    // The saved (shrunk) case is complete, its networks load back bit-exactly
    // and its witness still violates the entrywise reading.
    const std::filesystem::path saved = g.first_counterexample;
    REQUIRE(std::filesystem::exists(saved / "witness.json"));
    const auto c = verify::load_case(saved);
    CHECK(verify::size_of(c.theta) == g.counterexample_shrunk);
    const auto replay = verify::certify_difference(c.theta, c.quantized, c.x);
    bounds::bound_options bopt;
    bopt.D = c.D;
    CHECK(replay.lower > bounds::find(bounds::compute_bounds(c.theta, c.quantized, bopt), {F::G_entrywise, R::max}).value.to_rational());
    std::filesystem::remove_all(dir);
}

TEST_CASE("campaign: every pair is recorded with its drawing and its verdicts", "[verify][campaign]") {
    const auto r = verify::run_campaign(small({"random-mlp", "tight", "entrywise-G"}, 4, 5));
    REQUIRE(r.records.size() == 12);
    for (std::size_t k = 0; k < r.records.size(); ++k) {
        const auto& p = r.records[k];
        INFO(p.family << " pair " << p.index);
        CHECK(p.family == r.families[k / 4]);
        CHECK(p.index == k % 4);
        CHECK(p.seed == 5);
        CHECK(p.widths.size() == p.depth + 1);  // plain MLPs: N_0 .. N_L
        CHECK(p.lower <= p.upper);
        CHECK(p.relative_gap >= 0);
        CHECK(p.parameter_change > 0);
        REQUIRE(p.variants.size() == r.tally.at(p.family).size());
        for (const auto& v : p.variants) CHECK(r.tally.at(p.family).count(v.bound) == 1);
        if (p.family == "random-mlp") CHECK((p.method == "nearest" || p.method == "floor"));
        if (p.family == "random-mlp") CHECK((p.bits >= 2 && p.bits <= 6));
        if (p.family == "tight") CHECK(p.method == "constructed");
    }
    // Tallies are the sums of the records' verdicts.
    for (const auto& family : r.families)
        for (const auto& [name, t] : r.tally.at(family)) {
            std::size_t violated = 0;
            for (const auto& p : r.records)
                for (const auto& v : p.variants) violated += p.family == family && v.bound == name && v.result == verify::verdict::violated;
            CHECK(violated == t.violated);
        }
}

TEST_CASE("campaign: shards merged through their JSON reports give the single run's table, medians included", "[verify][campaign]") {
    const std::vector<std::string> families{"random-mlp", "sign-aligned", "entrywise-G"};
    // Every budget is a count, so the runs are reproducible.
    auto base = small(families, 5, 11);
    const auto whole = verify::run_campaign(base);
    verify::campaign_result merged;
    for (std::size_t i = 0; i < 3; ++i) {
        auto opt = base;
        opt.shard_index = i;
        opt.shard_count = 3;
        const auto shard = verify::run_campaign(opt);
        verify::merge_into(merged, verify::campaign_from_json(nlohmann::json::parse(verify::campaign_to_json(shard).dump()), "shard"));
    }
    CHECK(merged.pairs == whole.pairs);
    const auto a = verify::variant_totals(whole), b = verify::variant_totals(merged);
    REQUIRE(a.size() == b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        INFO(a[k].first);
        CHECK(a[k].first == b[k].first);
        CHECK(a[k].second.pairs() == b[k].second.pairs());
        CHECK(a[k].second.holds == b[k].second.holds);
        CHECK(a[k].second.violated == b[k].second.violated);
        CHECK(a[k].second.undecided == b[k].second.undecided);
        CHECK(a[k].second.max_relative_gap == b[k].second.max_relative_gap);
        CHECK(a[k].second.max_bound_over_lower() == b[k].second.max_bound_over_lower());
        CHECK(a[k].second.median_bound_over_lower() == b[k].second.median_bound_over_lower());  // exact, not approximate
    }
    REQUIRE(merged.records.size() == whole.records.size());
    for (std::size_t k = 0; k < whole.records.size(); ++k) {
        CHECK(merged.records[k].family == whole.records[k].family);
        CHECK(merged.records[k].index == whole.records[k].index);
        CHECK(merged.records[k].lower == whole.records[k].lower);
        CHECK(merged.records[k].widths == whole.records[k].widths);
    }
}

TEST_CASE("campaign: the median is the middle of the pooled ratios", "[verify][campaign]") {
    verify::variant_tally t;
    t.bound_over_lower = {5, 1, 3};
    CHECK(t.median_bound_over_lower() == 3);
    verify::variant_tally u;
    u.bound_over_lower = {2, std::numeric_limits<double>::infinity()};
    verify::add_tally(t, u);  // {1, 2, 3, 5, inf}
    CHECK(t.median_bound_over_lower() == 3);
    CHECK(t.max_bound_over_lower() == std::numeric_limits<double>::infinity());
    t.bound_over_lower.push_back(4);  // {1, 2, 3, 4, 5, inf}
    CHECK(t.median_bound_over_lower() == 3.5);
}

TEST_CASE("campaign: mixed families cover every quantizer, bit widths, wide and sparse layers", "[verify][campaign]") {
    auto opt = small({"mixed-mlp", "mixed-cnn"}, 12, 2);
    opt.nodes = 8;  // CNN inputs have 36..72 dimensions: branch-and-bound boxes are the cost here
    const auto r = verify::run_campaign(opt);
    std::set<std::string> methods;
    std::set<unsigned> bits;
    std::set<bool> per_channel;
    std::size_t widest = 0;
    for (const auto& p : r.records) {
        methods.insert(p.method);
        bits.insert(p.bits);
        per_channel.insert(p.per_channel);
        if (p.family == "mixed-mlp") widest = std::max(widest, *std::max_element(p.widths.begin(), p.widths.end()));
    }
    CHECK(methods == std::set<std::string>{"floor", "nearest", "stochastic", "adaround"});
    CHECK(bits.size() >= 4);
    CHECK(per_channel.size() == 2);
    CHECK(widest > 32);
    for (const auto& [family, variants] : r.tally)
        for (const auto& [name, t] : variants) {
            INFO(family << " / " << name);
            CHECK(t.violated_with_hypotheses == 0);
        }
}

TEST_CASE("campaign: unknown family is a clear error", "[verify][campaign]") {
    verify::campaign_options opt;
    opt.families = {"transformers"};
    CHECK_THROWS_WITH(verify::run_campaign(opt), Catch::Contains("unknown campaign family 'transformers'"));
}

TEST_CASE("campaign: a pair is a function of seed, family and index only", "[verify][campaign]") {
    // Regression: each family's generator was seeded with its position in the
    // --family list, so "family F, pair i, seed s" changed with the list.
    const auto weights = [](const net::network& n) {
        std::vector<double> w;
        for (const auto& node : n.nodes()) {
            w.insert(w.end(), node.weight.begin(), node.weight.end());
            w.insert(w.end(), node.bias.begin(), node.bias.end());
        }
        return w;
    };
    const auto alone = verify::run_campaign(small({"random-cnn"}, 3, 5));
    const auto second = verify::run_campaign(small({"tight", "random-cnn"}, 3, 5));
    auto sharded = small({"sign-aligned", "random-cnn"}, 3, 5);
    sharded.shard_index = 1, sharded.shard_count = 2;
    const auto shard = verify::run_campaign(sharded);
    std::size_t compared = 0;
    for (const auto* other : {&second, &shard})
        for (const auto& r : other->records) {
            if (r.family != "random-cnn") continue;
            const auto& a = alone.records.at(r.index);
            INFO("random-cnn pair " << r.index);
            REQUIRE(a.index == r.index);
            CHECK(a.widths == r.widths);
            CHECK(a.method == r.method);
            CHECK(a.bits == r.bits);
            CHECK(a.parameter_change == r.parameter_change);
            CHECK(a.lower == r.lower);
            ++compared;
        }
    CHECK(compared == 4);  // 3 from the two-family run, 1 (index 1) from the shard
    for (std::size_t i = 0; i < 3; ++i) {
        const auto p = verify::draw_campaign_pair("random-cnn", 5, i), q = verify::draw_campaign_pair("random-cnn", 5, i);
        CHECK(weights(p.theta) == weights(q.theta));
        CHECK(weights(p.quant) == weights(q.quant));
    }
    // Different indices, families and seeds draw different pairs.
    CHECK(weights(verify::draw_campaign_pair("random-mlp", 5, 0).theta) != weights(verify::draw_campaign_pair("random-mlp", 5, 1).theta));
    CHECK(weights(verify::draw_campaign_pair("random-mlp", 5, 0).theta) != weights(verify::draw_campaign_pair("random-mlp", 6, 0).theta));
    CHECK(verify::campaign_pair_seed(5, "random-mlp", 0) != verify::campaign_pair_seed(5, "small-norms", 0));
    CHECK_THROWS_WITH(verify::draw_campaign_pair("no-such-family", 1, 0), Catch::Contains("unknown campaign family 'no-such-family'"));
}
