// A small campaign: the false readings are refuted with saved, replayable,
// certified counterexamples, and no bound whose hypotheses hold is violated.
#include "qbound/io/onnx.hpp"
#include "qbound/verify/campaign.hpp"

#include "test_files.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace qbound;

TEST_CASE("campaign: false readings refuted, proved bounds never violated", "[verify][campaign]") {
    const auto dir = std::filesystem::temp_directory_path() / "qbound-campaign-test";
    std::filesystem::remove_all(dir);
    verify::campaign_options opt;
    opt.pairs = 6;
    opt.seed = 3;
    opt.out = dir;
    opt.nodes = 100;
    opt.search_seconds = 0.1;
    const auto r = verify::run_campaign(opt);
    CHECK(r.pairs == 6 * verify::campaign_families().size());
    for (const auto& [family, variants] : r.tally)
        for (const auto& [name, t] : variants) {
            INFO(family << " / " << name);
            CHECK(t.violated_with_hypotheses == 0);
            CHECK(t.holds + t.violated + t.undecided == opt.pairs);
        }
    const auto& g = r.tally.at("entrywise-G").at("G-entrywise[r=max]");
    CHECK(g.violated == opt.pairs);
    const auto& main_path = r.tally.at("skip-dominant").at("A-per-layer[r=max]");
    CHECK(main_path.violated > 0);
    CHECK(r.tally.at("skip-dominant").at("residual-aware[r=max]").violated == 0);
    // The saved case is complete and its networks load back bit-exactly.
    const std::filesystem::path saved = g.first_counterexample;
    REQUIRE(std::filesystem::exists(saved / "witness.json"));
    const auto theta = io::read_onnx((saved / "theta.onnx").string()).network;
    const auto quant = io::read_onnx((saved / "theta_q.onnx").string()).network;
    const auto replay = verify::certify_difference(theta, quant, {1.0});
    CHECK(replay.lower > 1);  // width^(hidden layers) * delta >= 8^3 * 2^-12
    std::filesystem::remove_all(dir);
}

TEST_CASE("campaign: unknown family is a clear error", "[verify][campaign]") {
    verify::campaign_options opt;
    opt.families = {"transformers"};
    CHECK_THROWS_WITH(verify::run_campaign(opt), Catch::Contains("unknown campaign family 'transformers'"));
}
