// `qbound campaign`: every bound variant against many random and adversarial
// pairs; per variant the counts of HOLDS / VIOLATED / UNDECIDED, the
// bound / certified-lower ratios (max and median), the largest bracket gap,
// and the first certified counterexample, shrunk and saved as a replayable
// case; optionally plots of the tightness and of bound vs certified sup
// against depth.
// `qbound merge`: the sum of campaign shards (their --json reports).
#include "commands.hpp"
#include "reports.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/report/plot.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/verify/campaign.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>

namespace qbound::cli {

namespace {

std::string ratio_text(double v) { return std::isfinite(v) ? fmt::format("{:.3g}", v) : std::string("inf"); }

int report(const verify::campaign_result& r, bool json, const std::string& title, const std::filesystem::path& plots) {
    const auto totals = verify::variant_totals(r);
    const bool theorem_violated = experiments::theorem_violated(totals);
    if (!plots.empty()) write_campaign_plots(r, plots);
    if (json) {
        auto j = verify::campaign_to_json(r);
        j["theorem_violated"] = theorem_violated;
        std::cout << j.dump(2) << "\n";
        return theorem_violated ? 1 : 0;
    }
    fmt::print("\n{} pairs ({}): ", r.pairs, title);
    for (std::size_t i = 0; i < r.families.size(); ++i) fmt::print("{}{}", i ? ", " : "", r.families[i]);
    fmt::print("\n\n{:<26} {:>5} {:>6} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8}  {}\n", "bound", "pairs", "HOLDS", "VIOLATED", "UNDECIDED",
               "viol.hyp", "max b/low", "med b/low", "max gap", "first counterexample (size -> shrunk)");
    for (const auto& [name, t] : totals) {
        std::string cex = "-";
        if (!t.first_counterexample.empty())
            cex = fmt::format("{} ({} -> {})", t.first_counterexample, case_size_text(t.counterexample_original), case_size_text(t.counterexample_shrunk));
        fmt::print("{:<26} {:>5} {:>6} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8}  {}\n", name, t.pairs(), t.holds, t.violated, t.undecided,
                   t.violated_with_hypotheses, ratio_text(t.max_bound_over_lower()), ratio_text(t.median_bound_over_lower()), report::fraction_text(t.max_relative_gap, 2),
                   cex);
    }
    fmt::print("\nVIOLATED counts certified counterexamples; 'viol.hyp' those where the bound's hypotheses hold (a theorem\n"
               "refuted: exit status 1). b/low: bound / certified lower end of the sup (max and median over the pairs; below 1:\n"
               "violated); gap: (upper - lower) / upper of the certified bracket. Sizes: layers L / units u (inputs and hidden) /\n"
               "non-zero parameters p of the counterexample as drawn and after shrinking. Replay a saved case: qbound replay FOLDER\n");
    if (!plots.empty()) fmt::print("wrote {0}/campaign_tightness.png|svg and {0}/campaign_depth.png|svg\n", plots.string());
    return theorem_violated ? 1 : 0;
}

}  // namespace

int run_campaign(const campaign_command_options& opt) {
    verify::campaign_options c;
    c.pairs = opt.pairs;
    c.seed = opt.seed;
    c.families = opt.families;
    c.out = opt.out;
    c.nodes = opt.nodes;
    c.shrink_candidates = opt.shrink_candidates;
    c.threads = opt.threads;
    c.hunt_pairs = opt.hunt_pairs;
    c.hunt_budget = opt.hunt_budget;
    if (!opt.shard.empty()) {
        const auto slash = opt.shard.find('/');
        try {
            if (slash == std::string::npos) throw std::invalid_argument("no /");
            c.shard_index = std::stoul(opt.shard.substr(0, slash));
            c.shard_count = std::stoul(opt.shard.substr(slash + 1));
        } catch (const std::exception&) {
            throw core::invalid_argument("--shard must be i/n with 0 <= i < n, got '" + opt.shard + "'");
        }
    }
    if (!opt.json)
        c.progress = [](const std::string& family, std::size_t done, std::size_t total) {
            std::cerr << fmt::format("\r  {:<16} {:>4} / {}", family, done, total) << (done == total ? "\n" : "") << std::flush;
        };
    const auto r = verify::run_campaign(c);
    return report(r, opt.json,
                  fmt::format("{} per family, seed {}{}", opt.pairs, opt.seed,
                              c.shard_count > 1 ? fmt::format(", shard {}/{}", c.shard_index, c.shard_count) : std::string()),
                  opt.plots);
}

int run_merge(const merge_options& opt) {
    verify::campaign_result total;
    for (const auto& file : opt.files) {
        std::ifstream in(file);
        if (!in) throw core::invalid_argument(file + ": cannot open the campaign report");
        nlohmann::json j;
        try {
            in >> j;
        } catch (const std::exception& e) {
            throw core::invalid_argument(file + ": not JSON (" + e.what() + ")");
        }
        verify::merge_into(total, verify::campaign_from_json(j, file));
    }
    return report(total, opt.json, fmt::format("merged from {} reports", opt.files.size()), opt.plots);
}

}  // namespace qbound::cli
