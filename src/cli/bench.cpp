// `qbound bench`: maps the options onto experiments::run_bench
// (qbound/experiments/bench.hpp) and prints its table, or its JSON.
#include "cli_support.hpp"
#include "commands.hpp"

#include "qbound/experiments/bench.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace qbound::cli {

int run_bench(const bench_options& opt) {
    experiments::progress_sink progress;
    if (!opt.json) progress.update = [](const std::string& text) { std::cerr << text << "\n"; };
    experiments::bench_options bopt;
    bopt.resolution = opt.resolution, bopt.slow_resolution = opt.slow_resolution, bopt.runs = opt.runs, bopt.slow_runs = opt.slow_runs;
    bopt.skip_ort = opt.skip_ort, bopt.skip_memory = opt.skip_memory, bopt.skip_bounds = opt.skip_bounds, bopt.bab_nodes = opt.bab_nodes;
    const auto r = experiments::run_bench(bopt, progress);
    if (opt.json) {
        std::cout << experiments::to_json(r).dump(2) << "\n";
        return 0;
    }
    const auto& mem = r.memory;
    const std::string missing = r.machine.isa_next_missing.empty()
                                    ? std::string()
                                    : fmt::format("; v{} would need {}", r.machine.isa_supported + 1, fmt::join(r.machine.isa_next_missing, ", "));
    fmt::print("Machine: {}; this CPU runs x86-64-v{} (by /proc/cpuinfo{}), this binary is compiled for x86-64-v{}, its matrix kernel "
               "in use: {}; {} threads\n",
               r.machine.cpu, r.machine.isa_supported, missing, r.machine.isa_compiled, r.machine.kernel, r.machine.threads);
    fmt::print("ResNet18 at {}x{}, one image, {} MACs; median of {} runs; {} threads\n\n", opt.resolution, opt.resolution, grouped(r.macs),
               opt.runs, r.threads);
    fmt::print("{:<38} {:>12} {:>10}  {}\n", "path", "seconds", "x plain", "note");
    for (const auto& row : r.rows)
        fmt::print("{:<38} {:>12} {:>10}  {}\n", row.path, row.measured ? fmt::format("{:.4g}", row.seconds) : "-",
                   row.measured ? fmt::format("{:.2f}", row.seconds / r.plain) : "-", row.note);
    if (!opt.skip_memory)
        fmt::print("\nResNet50 at {}: refined certified point enclosure at 250 bits {:.3g} s, peak memory (the child's) {:.2f} GiB{}\n",
                   opt.resolution, mem.enclose_seconds, mem.peak_gib, mem.ok ? "" : " (child failed)");
    if (r.bounds_memory.ok)
        fmt::print("qbound bounds resnet50 (build, quantize, ingredients, every variant): peak memory {:.3f} GiB for {:.3f} GiB of weights "
                   "(the child's)\n",
                   r.bounds_memory.peak_bytes / (1 << 30), r.bounds_memory.weight_bytes / (1 << 30));
    if (!r.branch_and_bound.empty()) {
        fmt::print("\nBranch and bound, 5 inputs, 6 x 50 MLP pair (16-bit nearest copy), [-1, 1]^5, one thread:\n");
        for (const auto& b : r.branch_and_bound)
            fmt::print("  {:<62} {:>6} boxes {:>8.3g} s {:>9.1f} boxes/s/core\n", b.method, b.boxes, b.seconds, b.boxes_per_second());
    }
    fmt::print("\nTargets (issue 19), this run:\n");
    for (const auto& t : experiments::issue_targets(r))
        fmt::print("  {:<62} {:>10} (limit {}{}): {}\n", t.name, t.measured ? fmt::format("{:.3g}{}", t.value, t.unit) : "-", t.limit, t.unit,
                   t.measured ? (t.met() ? "met" : "NOT met") : "not measured");
    const auto met = [](bool b) { return b ? "met" : "NOT met"; };
    fmt::print("\nGoals: certified point <= 3x plain: a priori {} ({:.2f}x), refined {} ({:.2f}x); IBP <= 5x plain: {} ({:.2f}x);\n"
               "       >= 50x faster than MPFI: a priori {} ({:.0f}x), refined {} ({:.0f}x); ResNet50 peak < 3 GiB: {}\n"
               "The a-priori point enclosure is cheap but uninformative at ResNet depth (see its width); the refined one is\n"
               "the one certify_difference uses.\n",
               met(r.goal_point), r.point / r.plain, met(r.goal_refined), r.refined / r.plain, met(r.goal_box), r.box / r.plain,
               met(r.goal_mpfi), r.mpfi / r.point, met(r.goal_refined_mpfi), r.mpfi / r.refined,
               opt.skip_memory ? "not measured" : met(r.goal_memory));
    return 0;
}

}  // namespace qbound::cli
