// `qbound demo`: maps the options onto experiments::run_demo (the six report
// sections, qbound/experiments/demo.hpp), writes report.md and report.json,
// and prints the summary; `--numbers-only` prints the number-types table.
#include "commands.hpp"
#include "status_line.hpp"

#include "qbound/arith/precision.hpp"
#include "qbound/experiments/demo.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <iostream>
#include <thread>

namespace qbound::cli {

namespace {

// The original `qbound demo` output: kept as `qbound demo --numbers-only`.
int print_number_types(const experiments::number_types_section& s, bool as_json) {
    if (as_json) {
        std::cout << experiments::to_json(s).dump(2) << "\n";
        return 0;
    }
    fmt::print("qbound demo: one computation, five number types (MPFR/MPFI at {} bits)\n", s.precision_bits);
    fmt::print("'exact?' says whether the value (or enclosure) contains the exact real result.\n");
    std::string current;
    for (const auto& r : s.rows) {
        if (r.computation != current) {
            current = r.computation;
            fmt::print("\n{}\n  {:<16} {:<18} {:<25} {:<25} {:<11} {}\n", current, "type", "guarantee", "lower", "upper", "width", "exact?");
        }
        fmt::print("  {:<16} {:<18} {:<25} {:<25} {:<11} {}\n", r.type, r.guarantee, r.lower, r.upper, r.width,
                   r.contains_exact ? "yes" : "NO");
    }
    fmt::print("\nEvery enclosure contains the exact result; plain double may not (that is why qbound exists).\n");
    return 0;
}

}  // namespace

int run_demo(const demo_options& opt) {
    if (opt.numbers_only) {
        const arith::precision_scope scope(opt.precision);
        return print_number_types(experiments::run_number_types(), opt.json);
    }
    experiments::demo_options o;
    o.precision = opt.precision;
    o.quick = opt.quick;
    o.seed = opt.seed;
    o.threads = opt.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : static_cast<unsigned>(opt.threads);
    o.out = opt.out;
    status_line progress(true);
    if (!opt.json)
        fmt::print("qbound demo ({} run, seed {}, {} threads): writing the report to {}/\n", o.quick ? "quick" : "full", o.seed, o.threads,
                   o.out.string());
    const auto report = experiments::run_demo(o, progress.sink());
    experiments::write_demo_report(report);
    progress.section("done");
    if (opt.json) {
        std::cout << experiments::to_json(report).dump(2) << "\n";
    } else {
        fmt::print("\n| section | result |\n|---|---|\n{}\nwrote {}/report.md, report.json, plots (*.png, *.svg) and cases/\n",
                   experiments::summary_table(report), o.out.string());
    }
    return report.theorem_violated ? 1 : 0;
}

}  // namespace qbound::cli
