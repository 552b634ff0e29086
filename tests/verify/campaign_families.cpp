// The campaign family registry (verify/campaign.hpp): every expected family,
// in order, with a description and a generator; an unknown name is an error
// listing the valid ones; README's family list is the registry's.
#include "qbound/core/errors.hpp"
#include "qbound/verify/campaign.hpp"

#include "test_files.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace qbound;

namespace {

// The families of the reports, in their order.
const std::vector<std::string> expected_families{"random-mlp",    "deep-mlp",      "small-norms",     "sign-aligned",
                                                 "dominant-layer", "tight",        "random-cnn",      "entrywise-G",
                                                 "skip-dominant", "random-residual", "mixed-mlp",     "mixed-cnn"};

}  // namespace

TEST_CASE("campaign families: every expected family is registered with a description and a generator", "[verify][campaign]") {
    const auto& registry = verify::campaign_family_registry();
    REQUIRE(registry.size() == expected_families.size());
    std::string list;
    for (std::size_t i = 0; i < registry.size(); ++i) {
        INFO(expected_families[i]);
        CHECK(registry[i].name == expected_families[i]);
        CHECK_FALSE(registry[i].description.empty());
        CHECK(registry[i].description.find('\n') == std::string_view::npos);  // one line
        CHECK(registry[i].draw != nullptr);
        CHECK(&verify::find_campaign_family(expected_families[i]) == &registry[i]);
        list += (i ? ", " : "") + expected_families[i];
    }
    CHECK(verify::campaign_families() == expected_families);
    CHECK(verify::campaign_family_list() == list);
}

TEST_CASE("campaign families: an unknown family is an error listing the valid names", "[verify][campaign]") {
    for (const std::string bad : {"transformers", "Random-MLP", ""}) {
        INFO("'" << bad << "'");
        try {
            verify::find_campaign_family(bad);
            FAIL("accepted");
        } catch (const core::invalid_argument& e) {
            const std::string what = e.what();
            CHECK_THAT(what, Catch::Contains("unknown campaign family '" + bad + "'"));
            for (const auto& name : expected_families) CHECK_THAT(what, Catch::Contains(name));
        }
        CHECK_THROWS_WITH(verify::draw_campaign_pair(bad, 1, 0), Catch::Contains("unknown campaign family '" + bad + "'"));
    }
}

TEST_CASE("campaign families: README lists the registry's families, in its order", "[verify][campaign]") {
    // README.md sits in the repository root, three levels above tests/data/networks.
    const auto readme = std::filesystem::path(QBOUND_TEST_NETWORKS).parent_path().parent_path().parent_path() / "README.md";
    const std::string text = test::read_file_bytes(readme.string());
    // The `campaign` paragraph: "... adversarial families: `random-mlp`, ... and `mixed-cnn` (...). It prints".
    const std::string opening = "runs `check` on many seeded pairs from random and adversarial\n  families:";
    const auto begin = text.find(opening);
    REQUIRE(begin != std::string::npos);
    const auto end = text.find("It prints", begin);
    REQUIRE(end != std::string::npos);
    const std::string paragraph = text.substr(begin + opening.size(), end - begin - opening.size());
    std::vector<std::string> listed;
    for (std::size_t at = paragraph.find('`'); at != std::string::npos; at = paragraph.find('`', at + 1)) {
        const auto close = paragraph.find('`', at + 1);
        REQUIRE(close != std::string::npos);
        listed.push_back(paragraph.substr(at + 1, close - at - 1));
        at = close;
    }
    CHECK(listed == verify::campaign_families());
}
