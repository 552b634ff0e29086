// `qbound hunt`: searches the space of pairs for the largest certified
// sup / bound of each bound variant (verify/hunt.hpp), certifies the best,
// saves violations as replayable cases; optionally the tightness frontier.
#include "cli_support.hpp"
#include "commands.hpp"

#include "qbound/bounds/variant.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/experiments/hunt_report.hpp"
#include "qbound/verify/hunt.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace qbound::cli {

int run_hunt(const hunt_command_options& opt) {
    verify::hunt_options h;
    h.space = verify::default_hunt_space(opt.space);
    if (!opt.depth.empty()) h.space.depth = verify::parse_count_range(opt.depth, "--depth");
    if (!opt.width.empty()) h.space.width = verify::parse_count_range(opt.width, "--width");
    if (!opt.inputs.empty()) h.space.inputs = verify::parse_count_range(opt.inputs, "--inputs");
    if (opt.outputs) h.space.outputs = *opt.outputs;
    if (opt.perturbation == "free") {
        h.space.perturbation = verify::hunt_perturbation::free;
    } else if (opt.perturbation == "grid") {
        h.space.perturbation = verify::hunt_perturbation::grid;
    } else if (opt.perturbation != "any") {
        throw core::invalid_argument("--perturbation: expected any, free or grid, got '" + opt.perturbation + "'");
    }
    h.space.initializer = opt.initializer;
    const auto& rg = opt.region;
    if (!rg.box.empty() || !rg.vnnlib.empty() || !rg.center.empty() || !rg.eps.empty() || !rg.clip.empty()) {
        if (opt.inputs.empty() || h.space.inputs.lo != h.space.inputs.hi)
            throw core::invalid_argument("--box/--vnnlib/--center: give the region's dimension as --inputs N (one number)");
        const auto region = explicit_region(rg, h.space.inputs.lo);
        if (!region) throw core::invalid_argument("--eps and --clip need --center");
        h.space.region = verify::region_boxes(*region);
        h.space.region_D = io::covering_D(*region);
        h.space.region_described = region->described;
    }
    verify::validate(h.space);
    for (const auto& v : opt.variants)
        if (v != "all") h.variants.push_back(bounds::parse_variant(v));
    if (std::find(opt.variants.begin(), opt.variants.end(), "all") != opt.variants.end()) h.variants.clear();
    h.budget = opt.budget;
    h.seed = opt.seed;
    h.threads = opt.threads;
    h.nodes = opt.nodes;
    h.out = opt.out;
    h.shrink_candidates = opt.shrink_candidates;
    if (!opt.json)
        h.progress = [](std::size_t done, std::size_t total) {
            std::cerr << fmt::format("\r  hunt runs {:>5} / {}", done, total) << (done == total ? "\n" : "") << std::flush;
        };
    const verify::hunt_result r = verify::run_hunt(h);
    std::optional<verify::frontier_result> frontier;
    if (opt.frontier_budget > 0) {
        if (!opt.json) std::cerr << "  frontier: depths " << h.space.depth.lo << "-" << h.space.depth.hi << "\n";
        frontier = verify::hunt_frontier(h, opt.frontier_budget);
    }
    if (!opt.plots.empty()) {
        experiments::write_hunt_history_plot(r, opt.plots);
        if (frontier) experiments::write_frontier_plot(*frontier, opt.plots);
    }
    if (opt.json) {
        nlohmann::json j = verify::hunt_to_json(r);
        if (frontier) j["frontier"] = verify::frontier_to_json(*frontier);
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << experiments::hunt_table(r);
        if (frontier) std::cout << "\n" << experiments::frontier_table(*frontier);
        if (!opt.plots.empty())
            std::cout << fmt::format("wrote {0}/hunt_history.png|svg{1}\n", opt.plots.string(), frontier ? " and " + opt.plots.string() + "/hunt_frontier.png|svg" : "");
        for (const auto& v : r.variants)
            for (const auto* t : {&v.holding, &v.any})
                if (!t->saved.empty()) std::cout << "replay: qbound replay " << t->saved << "\n";
    }
    return r.theorem_violated() ? 1 : 0;
}

}  // namespace qbound::cli
