#pragma once
// `qbound demo`: every kind of experiment qbound offers, as one report
// folder a reader can follow:
//   report.md    tables, what each verdict means, counterexamples and the
//                commands that replay them
//   report.json  the same numbers, machine-readable
//   *.png/*.svg  plots (with their .dat data and .gp gnuplot scripts)
//   cases/       replayable case folders (`qbound replay cases/NAME`)
// Every budget is a count (search evaluations, branch-and-bound boxes), never
// a time, so a seed gives the same report on any machine and for any thread
// count.
#include "qbound/experiments/campaign_section.hpp"
#include "qbound/experiments/depth.hpp"
#include "qbound/experiments/equalization.hpp"
#include "qbound/experiments/hunt_report.hpp"
#include "qbound/experiments/number_types.hpp"
#include "qbound/experiments/paper_table.hpp"
#include "qbound/experiments/progress.hpp"
#include "qbound/experiments/small_cnn.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace qbound::experiments {

struct demo_options {
    long precision = 256;  // MPFR/MPFI bits for the whole run
    bool quick = false;    // smaller budgets (about a minute)
    std::uint64_t seed = 1;
    unsigned threads = 1;
    std::filesystem::path out = "qbound-report";
};

struct demo_report {
    demo_options options;
    number_types_section number_types;
    campaign_section campaign;
    paper_table table;
    depth_section depth;
    small_cnn_section small_cnn;
    equalization_section equalization;
    hunt_section hunt;
    bool theorem_violated = false;  // the verdict policy (verdicts.hpp) over every section
    double seconds = 0;             // wall time of the run
};

// Runs the seven sections in order at options.precision, writing plots and
// cases into options.out (created); does not write report.md/report.json.
demo_report run_demo(const demo_options& opt, const progress_sink& progress);

// These format at options.precision (certified values are rounded at the working precision).
nlohmann::json to_json(const demo_report& r);  // report.json
std::string to_markdown(const demo_report& r);  // report.md
std::string summary_table(const demo_report& r);  // the summary rows (report.md and the CLI print them)

// Writes out/report.md and out/report.json.
void write_demo_report(const demo_report& r);

}  // namespace qbound::experiments
