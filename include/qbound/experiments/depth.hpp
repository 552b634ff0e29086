#pragma once
// Section 4 of `qbound demo`, and `qbound depth-sweep`: bounds against depth.
// (a) The sweep: G and A-collapsed constants of constant-width MLPs against
// depth (seeded He-normal weights, nested in depth): log G/A grows linearly
// in L, i.e. the gain is exponential. (b) The checks: the bounds against the
// certified sup on small quantized MLPs of each depth.
#include "qbound/arith/rational.hpp"
#include "qbound/experiments/progress.hpp"
#include "qbound/verify/check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qbound::experiments {

struct depth_sweep_options {
    std::size_t width = 16, min_depth = 2, max_depth = 40;
    std::uint64_t seed = 1;
    double bias_std = 0.01;
    std::filesystem::path out = "depth-sweep";  // depth_sweep.json and the plots
};

struct depth_sweep_row {
    std::size_t L = 0;
    std::string r, r_short, r_mean_short, C_G_short, C_A_short, r_mean, C_G, C_A;  // certified upper values as text
    double log10_C_G = 0, log10_C_A = 0, log10_G_over_A = 0;
};

struct depth_sweep {
    depth_sweep_options options;
    std::vector<depth_sweep_row> rows;
    std::vector<std::string> plots;  // the two PNG files written
};

// Throws core::invalid_argument on out-of-range options. Writes
// out/depth_sweep.json and the plots out/depth_sweep_constants and
// out/depth_sweep_gain (PNG and SVG). progress.status is told each depth.
depth_sweep run_depth_sweep(const depth_sweep_options& opt, const progress_sink& progress);
nlohmann::json to_json(const depth_sweep& s);

struct depth_check_options {
    std::size_t max_depth = 8, nodes = 3000;  // depths 1..max_depth; branch-and-bound boxes per check
    double search_scale = 1;                  // of the counted search budget (verify::counted_search)
    std::uint64_t seed = 1;
    unsigned threads = 1;
};

// A 2-input MLP of width 8 and depth L (He-normal, bias std 0.1) against its
// nearest 4-bit copy, D = 1.
struct depth_point {
    std::size_t L = 0;
    verify::check_result check;
    arith::rational max_change;
};

std::vector<depth_point> run_depth_checks(const depth_check_options& opt, const progress_sink& progress);

// The demo's section: the sweep, the checks and the plot out/bounds_vs_depth.
struct depth_section_options {
    depth_sweep_options sweep;
    depth_check_options checks;
};

struct depth_section {
    depth_sweep sweep;
    std::vector<depth_point> checks;
};

depth_section run_depth_section(const depth_section_options& opt, const progress_sink& progress);

nlohmann::json to_json(const depth_section& s);  // {"constants": sweep, "checks": [...]}
std::string to_markdown(const depth_section& s);
std::string summary_row(const depth_section& s);

}  // namespace qbound::experiments
