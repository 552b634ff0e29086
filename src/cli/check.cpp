// `qbound check MODEL (--against MODEL2 | quantizer options)`: a certified
// bracket on sup_x ||R_theta(x) - R_theta'(x)||_inf over [-D, D]^d, the
// witness, and a verdict for every bound variant.
#include "cli_support.hpp"
#include "commands.hpp"
#include "reports.hpp"

#include "qbound/verify/case_file.hpp"
#include "qbound/verify/check.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace qbound::cli {

int run_check(const check_command_options& opt) {
    const auto pair = load_pair(opt.pair);
    const arith::rational D = arith::parse_rational(opt.pair.D, "--D");
    verify::check_options copt;
    copt.D = D;
    copt.search.seed = opt.search_seed;
    copt.search.max_seconds = opt.search_seconds;
    copt.search.max_evaluations = opt.search_evaluations;
    copt.branch.max_nodes = opt.nodes;
    copt.branch.max_seconds = opt.seconds;
    copt.branch.target_relative_gap = opt.gap;
    if (!opt.json) copt.stage = [](const std::string& what) { std::cerr << "\r" << std::string(110, ' ') << "\r  " << what << "..." << std::flush; };
    if (!opt.json)
        copt.branch.progress = [](const verify::output_progress& p) {
            double upper = 0, lower = 0;
            for (std::size_t k = 0; k < p.upper.size(); ++k) upper = std::max(upper, p.upper[k]), lower = std::max(lower, p.lower[k]);
            std::cerr << fmt::format("\r  branch and bound: {} boxes, {:.1f} s, sup in [{:.6g}, {:.6g}]", p.nodes, p.seconds, lower, upper) << std::flush;
        };
    const auto r = verify::check_pair(pair.theta.network, pair.quantized.network, copt);
    if (!opt.json) std::cerr << "\r" << std::string(110, ' ') << "\r";

    const bool violated = theorem_violated(r.verdicts);

    if (!opt.save_case.empty())
        verify::save_case(opt.save_case, pair.theta.network, pair.quantized.network, D, r.witness,
                          "qbound check: " + pair.theta.described + " vs " + pair.quantized.described);
    nlohmann::json witness{{"certified_lower", arith::to_decimal(r.witness.lower, 20)}, {"arithmetic", r.witness.arithmetic},
                           {"output", r.witness.output}, {"x", r.witness.x}};
    if (opt.json) {
        nlohmann::json j{{"theta", pair.theta.described},
                         {"theta_quantized", pair.quantized.described},
                         {"D", opt.pair.D},
                         {"lower", arith::to_decimal(r.witness.lower, 20)},
                         {"upper", r.upper_computed ? nlohmann::json(arith::to_decimal(r.upper, 20)) : nlohmann::json()},
                         {"upper_method", r.upper_method},
                         {"relative_gap", r.relative_gap},
                         {"witness", witness},
                         {"boxes", r.boxes},
                         {"stopped_by", r.stopped_by},
                         {"search_evaluations", r.search_evaluations},
                         {"theorem_violated", violated}};
        j["verdicts"] = verdicts_json(r.verdicts);
        std::cout << j.dump(2) << "\n";
        return violated ? 1 : 0;
    }
    fmt::print("theta:  {}\ntheta': {}\nOmega = [-D, D]^{} with D = {}\n\n", pair.theta.described, pair.quantized.described,
               pair.theta.network.input_shape().size(), opt.pair.D);
    if (r.upper_computed)
        fmt::print("sup_x ||R_theta(x) - R_theta'(x)||_inf in [{}, {}]  (relative gap {:.3g})\n", arith::to_decimal(r.witness.lower, 10),
                   arith::to_decimal(r.upper, 10), r.relative_gap);
    else
        fmt::print("sup_x ||R_theta(x) - R_theta'(x)||_inf >= {}  (upper side: not computed at this size)\n",
                   arith::to_decimal(r.witness.lower, 10));
    if (r.upper_method == "differential branch and bound")
        fmt::print("  lower: certified at the witness x ({}), upper: differential branch and bound, {} boxes (stopped by {})\n\n",
                   r.witness.arithmetic, r.boxes, r.stopped_by);
    else
        fmt::print("  lower: certified at the witness x ({}), upper: {}\n\n", r.witness.arithmetic, r.upper_method);
    fmt::print("{:<26} {:<11} {:>16} {:>12} {:>11}\n", "bound", "hypotheses", "value", "bound/lower", "verdict");
    for (const auto& v : r.verdicts)
        fmt::print("{:<26} {:<11} {:>16} {:>12} {:>11}\n", v.bound, v.hypotheses_hold ? "met" : "NOT MET",
                   bounds::scientific_up(v.value, 4), std::isfinite(v.ratio_to_lower) ? fmt::format("{:.3g}", v.ratio_to_lower) : "inf",
                   verify::to_string(v.result));
    fmt::print("\nHOLDS: the certified sup is below the bound. VIOLATED: the certified witness exceeds it (a counterexample).\n"
               "UNDECIDED: the bracket straddles the bound. A VIOLATED bound whose hypotheses are not met refutes that reading;\n"
               "one whose hypotheses are met would refute the theorem (exit status 1).\n");
    if (!opt.save_case.empty()) fmt::print("case saved to {} (replay: qbound replay {})\n", opt.save_case, opt.save_case);
    return violated ? 1 : 0;
}

}  // namespace qbound::cli
