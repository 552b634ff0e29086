#pragma once
// Section 2 of `qbound demo`: a campaign over random and adversarial pairs
// for every bound variant, and the campaign plots (also `qbound campaign
// --plots`).
#include "qbound/experiments/progress.hpp"
#include "qbound/verify/campaign.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace qbound::experiments {

struct campaign_section_options {
    std::size_t pairs = 12, nodes = 300;  // pairs per family, branch-and-bound boxes per pair
    std::uint64_t seed = 1;
    unsigned threads = 1;
    std::filesystem::path out;            // report folder: cases in out/cases, plots in out
    std::size_t hunt_pairs = 0, hunt_budget = 4000;  // campaign --hunt: hunted pairs per variant, the hunt's candidates
};

struct campaign_section {
    std::filesystem::path out;  // the report folder (counterexamples are shown relative to it)
    verify::campaign_result result;
    std::vector<std::pair<std::string, verify::variant_tally>> totals;  // over all families, in THEOREMS.md order
    std::size_t violated_proved = 0;  // violations the verdict policy flags
};

// Runs the campaign, saves its counterexamples and writes its two plots.
campaign_section run_campaign_section(const campaign_section_options& opt, const progress_sink& progress);

nlohmann::json to_json(const campaign_section& s);
std::string to_markdown(const campaign_section& s);
std::string summary_row(const campaign_section& s);

// A campaign's plots: DIR/campaign_tightness (bound / certified lower per
// variant, one point per pair) and DIR/campaign_depth (bounds and the
// certified bracket per unit of ||theta - theta'|| against depth), PNG and
// SVG. Throws core::invalid_argument when no pair has a positive lower end.
void write_campaign_plots(const verify::campaign_result& r, const std::filesystem::path& dir);

}  // namespace qbound::experiments
