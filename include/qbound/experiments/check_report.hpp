#pragma once
// Reports of one `qbound check`: the bracket against time as a plot.
#include "qbound/verify/check.hpp"

#include <filesystem>

namespace qbound::experiments {

// The certified upper and lower (max over outputs) of branch and bound's
// trace against seconds, log y, as STEM.png / STEM.svg (with .dat and .gp).
// Throws std::runtime_error when gnuplot fails, core::invalid_argument when
// the check has no trace (only per-output branch and bound records one: not
// above check_options::linear_budget or the fast path's size).
void write_bracket_plot(const verify::check_result& r, const std::filesystem::path& stem);

}  // namespace qbound::experiments
