// `qbound check MODEL (--against MODEL2 | quantizer options)`: a certified
// bracket on sup_x ||R_theta(x) - R_theta'(x)||_inf over [-D, D]^d, the
// witness, and a verdict for every bound variant.
#include "cli_support.hpp"
#include "commands.hpp"

#include "qbound/verify/check.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace qbound::cli {

namespace {

std::string hex(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    return buf;
}

std::vector<double> read_witness(const std::string& path, std::size_t dim) {
    std::ifstream in(path);
    if (!in) throw arith::invalid_argument(path + ": cannot open the witness file");
    nlohmann::json j;
    try {
        in >> j;
    } catch (const std::exception& e) {
        throw arith::invalid_argument(path + ": not a witness file (JSON): " + e.what());
    }
    if (!j.contains("x_hex") || !j["x_hex"].is_array())
        throw arith::invalid_argument(path + ": field 'x_hex' (the witness input, hex floats) is missing");
    std::vector<double> x;
    for (const auto& v : j["x_hex"]) {
        if (!v.is_string()) throw arith::invalid_argument(path + ": 'x_hex' entries must be strings like \"0x1.8p+0\"");
        const std::string s = v.get<std::string>();
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !std::isfinite(d)) throw arith::invalid_argument(path + ": bad 'x_hex' entry '" + s + "'");
        x.push_back(d);
    }
    if (x.size() != dim)
        throw arith::invalid_argument(path + ": the witness has " + std::to_string(x.size()) + " inputs, the network " + std::to_string(dim));
    return x;
}

}  // namespace

int run_check(const check_command_options& opt) {
    const auto pair = load_pair(opt.pair);
    const arith::rational D = arith::parse_rational(opt.pair.D, "--D");
    if (!opt.replay.empty()) {
        const auto x = read_witness(opt.replay, pair.theta.network.input_shape().size());
        for (double v : x)
            if (arith::to_rational(v) > D || arith::to_rational(v) < -D)
                throw arith::invalid_argument(opt.replay + ": the witness lies outside [-D, D] for D = " + opt.pair.D);
        const auto p = verify::certify_difference(pair.theta.network, pair.quantized.network, x);
        fmt::print("replayed witness {}: ||R_theta(x) - R_theta'(x)||_inf in [{}, {}] ({}; output {})\n", opt.replay,
                   arith::to_decimal(p.lower, 17), arith::to_decimal(p.upper, 17), p.arithmetic, p.output);
        return 0;
    }
    verify::check_options copt;
    copt.D = D;
    copt.search.seed = opt.search_seed;
    copt.search.max_seconds = opt.search_seconds;
    copt.branch.max_nodes = opt.nodes;
    copt.branch.max_seconds = opt.seconds;
    copt.branch.target_relative_gap = opt.gap;
    if (!opt.json)
        copt.branch.progress = [](std::size_t nodes, double upper, double lower) {
            if (nodes % 50 == 0) std::cerr << fmt::format("\r  branch and bound: {} boxes, sup in [{:.6g}, {:.6g}]", nodes, lower, upper) << std::flush;
        };
    const auto r = verify::check_pair(pair.theta.network, pair.quantized.network, copt);
    if (!opt.json) std::cerr << "\r" << std::string(70, ' ') << "\r";

    bool theorem_violated = false;
    for (const auto& v : r.verdicts) theorem_violated = theorem_violated || (v.result == verify::verdict::violated && v.hypotheses_hold);

    nlohmann::json witness{{"theta", pair.theta.described},
                           {"theta_quantized", pair.quantized.described},
                           {"D", opt.pair.D},
                           {"lower", arith::to_decimal(r.witness.lower, 20)},
                           {"arithmetic", r.witness.arithmetic},
                           {"output", r.witness.output}};
    for (double v : r.witness.x) witness["x_hex"].push_back(hex(v));
    if (!opt.witness_out.empty()) std::ofstream(opt.witness_out) << witness.dump(2) << "\n";

    if (opt.json) {
        nlohmann::json j{{"theta", pair.theta.described},
                         {"theta_quantized", pair.quantized.described},
                         {"D", opt.pair.D},
                         {"lower", arith::to_decimal(r.witness.lower, 20)},
                         {"upper", arith::to_decimal(r.upper, 20)},
                         {"relative_gap", r.relative_gap},
                         {"witness", witness},
                         {"boxes", r.boxes},
                         {"stopped_by", r.stopped_by},
                         {"search_evaluations", r.search_evaluations},
                         {"theorem_violated", theorem_violated}};
        for (const auto& v : r.verdicts)
            j["verdicts"].push_back({{"bound", v.bound},
                                     {"hypotheses_hold", v.hypotheses_hold},
                                     {"value", bounds::scientific_up(v.value, 8)},
                                     {"verdict", verify::to_string(v.result)},
                                     {"ratio_to_lower", v.ratio_to_lower}});
        std::cout << j.dump(2) << "\n";
        return theorem_violated ? 1 : 0;
    }
    fmt::print("theta:  {}\ntheta': {}\nOmega = [-D, D]^{} with D = {}\n\n", pair.theta.described, pair.quantized.described,
               pair.theta.network.input_shape().size(), opt.pair.D);
    fmt::print("sup_x ||R_theta(x) - R_theta'(x)||_inf in [{}, {}]  (relative gap {:.3g})\n", arith::to_decimal(r.witness.lower, 10),
               arith::to_decimal(r.upper, 10), r.relative_gap);
    fmt::print("  lower: certified at the witness x ({}), upper: differential branch and bound, {} boxes (stopped by {})\n\n",
               r.witness.arithmetic, r.boxes, r.stopped_by);
    fmt::print("{:<26} {:<11} {:>16} {:>12} {:>11}\n", "bound", "hypotheses", "value", "bound/lower", "verdict");
    for (const auto& v : r.verdicts)
        fmt::print("{:<26} {:<11} {:>16} {:>12} {:>11}\n", v.bound, v.hypotheses_hold ? "met" : "NOT MET",
                   bounds::scientific_up(v.value, 4), std::isfinite(v.ratio_to_lower) ? fmt::format("{:.3g}", v.ratio_to_lower) : "inf",
                   verify::to_string(v.result));
    fmt::print("\nHOLDS: the certified sup is below the bound. VIOLATED: the certified witness exceeds it (a counterexample).\n"
               "UNDECIDED: the bracket straddles the bound. A VIOLATED bound whose hypotheses are not met refutes that reading;\n"
               "one whose hypotheses are met would refute the theorem (exit status 1).\n");
    if (!opt.witness_out.empty()) fmt::print("witness written to {} (replay: qbound check ... --replay {})\n", opt.witness_out, opt.witness_out);
    return theorem_violated ? 1 : 0;
}

}  // namespace qbound::cli
