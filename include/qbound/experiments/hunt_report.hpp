#pragma once
// How a hunt (verify/hunt.hpp) is shown: the per-variant table, the
// tightness frontier's table, and their plots (`qbound hunt`, the demo's
// hunt section).
#include "qbound/verify/hunt.hpp"

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

}  // namespace qbound::experiments
