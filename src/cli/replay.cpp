// `qbound replay CASE`: re-certify a saved case's witness and recompute
// every bound's verdict at it.
#include "commands.hpp"

#include "qbound/bounds/bounds.hpp"
#include "qbound/experiments/verdicts.hpp"
#include "qbound/verify/case_file.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace qbound::cli {

int run_replay(const replay_options& opt) {
    const verify::replay_case c = verify::load_case(opt.path);
    const verify::point_difference p = verify::certify_difference(c.theta, c.quantized, c.x);
    bounds::bound_options bopt;
    bopt.D = c.D;
    const auto all = bounds::compute_bounds(c.theta, c.quantized, bopt);
    bool violated_theorem = false;
    nlohmann::json j{{"case", opt.path},
                     {"note", c.note},
                     {"D", arith::to_decimal(c.D, 20)},
                     {"certified_lower", arith::to_decimal(p.lower, 20)},
                     {"certified_upper", arith::to_decimal(p.upper, 20)},
                     {"arithmetic", p.arithmetic}};
    std::vector<std::string> violated;
    for (const auto& b : all) {
        const bool v = p.lower > b.value.to_rational();
        if (v) violated.push_back(b.name + (b.hypotheses_hold() ? " (hypotheses met: a theorem would be refuted)" : " (hypotheses not met)"));
        violated_theorem = violated_theorem || experiments::theorem_violated(v, b.hypotheses_hold());
        j["bounds"].push_back({{"bound", b.name}, {"value", bounds::scientific_up(b.value, 8)}, {"hypotheses_hold", b.hypotheses_hold()},
                               {"violated_at_witness", v}});
    }
    j["theorem_violated"] = violated_theorem;
    if (opt.json) {
        std::cout << j.dump(2) << "\n";
        return violated_theorem ? 1 : 0;
    }
    fmt::print("case {}{}\n", opt.path, c.note.empty() ? "" : " (" + c.note + ")");
    fmt::print("at the witness x: ||R_theta(x) - R_theta'(x)||_inf in [{}, {}] ({})\n", arith::to_decimal(p.lower, 17),
               arith::to_decimal(p.upper, 17), p.arithmetic);
    if (violated.empty()) fmt::print("no bound is violated at this witness\n");
    for (const auto& v : violated) fmt::print("VIOLATED: {}\n", v);
    return violated_theorem ? 1 : 0;
}

}  // namespace qbound::cli
