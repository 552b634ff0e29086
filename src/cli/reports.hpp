#pragma once
// Reports that more than one subcommand shows: `qbound table` and `qbound
// depth-sweep` print them, `qbound demo` puts them in its report folder.
#include "commands.hpp"

#include "qbound/bounds/paper_table.hpp"
#include "qbound/verify/campaign.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace qbound::cli {

// The paper's comparison (THEOREMS.md section 5): (a) with the paper's rounded
// norms, (b) with norms computed from weights (opt.files or the zoo models).
struct table_report {
    nlohmann::json json;                        // what `qbound table --json` prints
    std::vector<bounds::gain_row> rows_a;       // (a)
    std::vector<std::optional<double>> paper_a; // the paper's log10 gains for (a)
    std::vector<bounds::gain_row> rows_b;       // (b)
    std::vector<std::string> sources;           // where (b)'s weights come from
    std::string matches;                        // the width convention the paper's gains follow
    double miss_best = 0, miss_other = 0;       // its total |log10| miss on the ResNets, and the other's
};
table_report compute_table(const table_options& opt, bool progress);

// G and A-collapsed constants of constant-width MLPs against depth; writes
// depth_sweep.json and the two plots into opt.out and returns the JSON.
nlohmann::json compute_depth_sweep(const depth_sweep_options& opt, bool progress);

// A campaign's plots: DIR/campaign_tightness (bound / certified lower per
// variant, one point per pair) and DIR/campaign_depth (bounds and the
// certified bracket per unit of ||theta - theta'|| against depth), PNG and SVG.
void write_campaign_plots(const verify::campaign_result& r, const std::filesystem::path& dir);

// The verdicts of a check as JSON (bound, hypotheses_hold, value rounded up,
// verdict, ratio_to_lower; an infinite ratio as "inf"): check and demo.
nlohmann::json verdicts_json(const std::vector<verify::bound_verdict>& verdicts);

// "3L/21u/120p": layers, units (inputs and hidden), non-zero parameters.
std::string case_size_text(const verify::case_size& s);

}  // namespace qbound::cli
