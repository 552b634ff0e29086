// `qbound depth-sweep`: the paper's MLP experiment (experiments/depth.hpp):
// the ratio of the old constant G to the new collapsed constant A against
// depth, as a table, JSON and a plot.
#include "commands.hpp"

#include "qbound/experiments/depth.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace qbound::cli {

int run_depth_sweep(const depth_sweep_options& opt) {
    experiments::progress_sink progress;
    if (!opt.json) {
        progress.update = [](const std::string& text) { std::cerr << "\r" << text << std::flush; };
        progress.clear = [] { std::cerr << "\r" << std::string(40, ' ') << "\r"; };
    }
    const auto sweep = experiments::run_depth_sweep({opt.width, opt.min_depth, opt.max_depth, opt.seed, opt.bias_std, opt.out}, progress);
    if (opt.json) {
        std::cout << experiments::to_json(sweep).dump(2) << "\n";
        return 0;
    }
    fmt::print("{:>4} {:>10} {:>10} {:>14} {:>14} {:>10}\n", "L", "r (max)", "r_mean", "C_G", "C_A", "log10 G/A");
    for (const auto& r : sweep.rows)
        fmt::print("{:>4} {:>10} {:>10} {:>14} {:>14} {:>10.3f}\n", r.L, r.r_short, r.r_mean_short, r.C_G_short, r.C_A_short,
                   r.log10_G_over_A);
    fmt::print("\nwrote {0}/depth_sweep.json, {0}/depth_sweep_constants.{{png,svg}}, {0}/depth_sweep_gain.{{png,svg}}\n",
               opt.out.string());
    return 0;
}

}  // namespace qbound::cli
