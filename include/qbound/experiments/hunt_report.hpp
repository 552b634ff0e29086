#pragma once
// How a hunt (verify/hunt.hpp) is shown: the per-variant table, the
// tightness frontier's table, and their plots (`qbound hunt`, the demo's
// hunt section).
#include "qbound/experiments/progress.hpp"
#include "qbound/verify/hunt.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace qbound::experiments {

// One row per variant: approximate best score, certified ratio (lower and
// upper end), verdict, hypotheses, the pair's size and perturbation, D, and
// the saved case when violated.
std::string hunt_table(const verify::hunt_result& r);
std::string hunt_markdown(const verify::hunt_result& r);

// Per variant, the certified ratio by depth (rows) and width (columns).
std::string frontier_table(const verify::frontier_result& f);
std::string frontier_markdown(const verify::frontier_result& f);

// DIR/hunt_history: best approximate score against candidates scored, one
// line per variant (log y). DIR/hunt_frontier: per variant, the largest
// certified ratio over the widths against depth. PNG and SVG.
void write_hunt_history_plot(const verify::hunt_result& r, const std::filesystem::path& dir);
void write_frontier_plot(const verify::frontier_result& f, const std::filesystem::path& dir);

// Section 7 of `qbound demo`: a hunt over MLPs for every variant, the
// tightness frontier, and the plots; violations saved to out/cases.
struct hunt_section_options {
    std::size_t budget = 40000, frontier_budget = 1000;  // candidates: the hunt, each frontier cell
    std::size_t max_depth = 8, max_width = 16;           // the frontier's space (the hunt's too)
    std::uint64_t seed = 1;
    unsigned threads = 1;
    std::filesystem::path out;
};

struct hunt_section {
    std::filesystem::path out;
    verify::hunt_result result;
    verify::frontier_result frontier;
};

hunt_section run_hunt_section(const hunt_section_options& opt, const progress_sink& progress);
nlohmann::json to_json(const hunt_section& s);
std::string to_markdown(const hunt_section& s);
std::string summary_row(const hunt_section& s);

}  // namespace qbound::experiments
