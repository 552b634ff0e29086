// `qbound check MODEL (--against MODEL2 | quantizer options)`: a certified
// bracket on sup_x ||R_theta(x) - R_theta'(x)||_inf over [-D, D]^d, the
// witness, and a verdict for every bound variant.
#include "cli_support.hpp"
#include "commands.hpp"
#include "reports.hpp"

#include "qbound/verify/case_file.hpp"
#include "qbound/verify/check.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/experiments/check_report.hpp"
#include "qbound/io/region.hpp"
#include "qbound/report/markdown.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace qbound::cli {

namespace {

// Omega from the options: at most one of --box, --vnnlib, --center; else a
// .nnet model's [min, max] box (unless --D is given), else [-D, D]^d.
io::input_region read_region(const check_command_options& opt, const std::string& model, std::size_t inputs) {
    if (auto r = explicit_region(opt.region, inputs)) return *r;
    if (!opt.pair.D_given)
        if (auto r = io::default_region(model, inputs)) return *r;
    auto r = io::centered_region(inputs, arith::parse_rational(opt.pair.D, "--D"));
    r.described = "[-D, D]^" + std::to_string(inputs) + " with D = " + opt.pair.D;
    return r;
}

std::string point_list(const std::vector<double>& x, std::size_t shown = 8) {
    std::string out = "(";
    for (std::size_t i = 0; i < x.size() && i < shown; ++i) out += (i ? ", " : "") + fmt::format("{:.9g}", x[i]);
    if (x.size() > shown) out += fmt::format(", ... {} more", x.size() - shown);
    return out + ")";
}

}  // namespace

int run_check(const check_command_options& opt) {
    const auto pair = load_pair(opt.pair);
    const std::size_t inputs = pair.theta.network.input_shape().size();
    const io::input_region region = read_region(opt, opt.pair.model, inputs);
    // The bounds' D: the smallest that covers Omega, or --D (which must cover it).
    arith::rational D = io::covering_D(region);
    if (opt.pair.D_given) {
        const arith::rational given = arith::parse_rational(opt.pair.D, "--D");
        if (given < D)
            throw core::invalid_argument("--D " + opt.pair.D + " does not cover Omega (" + region.described + "): it needs D >= " +
                                         io::exact_text(D));
        D = given;
    }
    verify::check_options copt;
    copt.D = D;
    copt.region = verify::region_boxes(region);
    copt.search.seed = opt.search_seed;
    copt.search.max_seconds = opt.search_seconds;
    copt.search.max_evaluations = opt.search_evaluations;
    copt.per_output_samples = opt.samples;
    copt.per_output_starts = opt.sweep_starts;
    copt.branch.max_nodes = opt.nodes;
    copt.branch.max_seconds = opt.seconds;
    copt.branch.target_relative_gap = opt.gap;
    if (opt.relu_splits) copt.branch.relu_split_above_inputs = 0;
    copt.branch.lp = opt.lp;
    copt.branch.threads = core::thread_count(0);
    if (!opt.json) copt.stage = [](const std::string& what) { std::cerr << "\r" << std::string(110, ' ') << "\r  " << what << "..." << std::flush; };
    if (!opt.json) {
        auto last = std::make_shared<double>(-1.0);
        copt.branch.progress = [last](const verify::output_progress& p) {
            if (p.seconds - *last < 0.25) return;
            *last = p.seconds;
            double upper = 0, lower = 0;
            for (std::size_t k = 0; k < p.upper.size(); ++k) upper = std::max(upper, p.upper[k]), lower = std::max(lower, p.lower[k]);
            std::cerr << fmt::format("\r  branch and bound: {} boxes, {:.1f} s, sup in [{:.6g}, {:.6g}]      ", p.nodes, p.seconds, lower, upper)
                      << std::flush;
        };
    }
    const auto r = verify::check_pair(pair.theta.network, pair.quantized.network, copt);
    if (!opt.json) std::cerr << "\r" << std::string(110, ' ') << "\r";
    if (!opt.plot.empty()) experiments::write_bracket_plot(r, opt.plot);

    const bool violated = theorem_violated(r.verdicts);
    const std::string D_text = io::exact_text(D);

    if (!opt.save_case.empty())
        verify::save_case(opt.save_case, pair.theta.network, pair.quantized.network, D, r.witness,
                          "qbound check: " + pair.theta.described + " vs " + pair.quantized.described + " on " + region.described);
    nlohmann::json witness{{"certified_lower", arith::to_decimal(r.witness.lower, 20)}, {"arithmetic", r.witness.arithmetic},
                           {"output", r.witness.output}, {"x", r.witness.x}};
    if (opt.json) {
        nlohmann::json outputs = nlohmann::json::array();
        for (const auto& o : r.outputs)
            outputs.push_back({{"index", o.index},
                               {"lower", arith::to_decimal(o.lower, 20)},
                               {"upper", r.upper_computed ? nlohmann::json(arith::to_decimal(o.upper, 20)) : nlohmann::json()},
                               {"relative_gap", o.relative_gap},
                               {"witness", {{"x", o.witness.x}, {"arithmetic", o.witness.arithmetic}}}});
        nlohmann::json trace = nlohmann::json::array();
        for (const auto& t : r.trace) trace.push_back({{"seconds", t.seconds}, {"boxes", t.nodes}, {"lower", t.lower}, {"upper", t.upper}});
        nlohmann::json j{{"theta", pair.theta.described},
                         {"theta_quantized", pair.quantized.described},
                         {"region", {{"described", region.described}, {"boxes", region.boxes.size()}, {"notes", region.notes}}},
                         {"D", D_text},
                         {"lower", arith::to_decimal(r.witness.lower, 20)},
                         {"upper", r.upper_computed ? nlohmann::json(arith::to_decimal(r.upper, 20)) : nlohmann::json()},
                         {"upper_method", r.upper_method},
                         {"relative_gap", r.relative_gap},
                         {"witness", witness},
                         {"outputs", outputs},
                         {"trace", trace},
                         {"boxes", r.boxes},
                         {"stopped_by", r.stopped_by},
                         {"search_evaluations", r.search_evaluations},
                         {"theorem_violated", violated}};
        j["verdicts"] = verdicts_json(r.verdicts);
        std::cout << j.dump(2) << "\n";
        return violated ? 1 : 0;
    }
    fmt::print("theta:  {}\ntheta': {}\nOmega:  {}\n", pair.theta.described, pair.quantized.described, region.described);
    for (const auto& n : region.notes) fmt::print("        ({})\n", n);
    fmt::print("bounds computed with D = {} (Omega lies in [-D, D]^{})\n\n", D_text, inputs);
    if (r.upper_computed)
        fmt::print("sup_x ||R_theta(x) - R_theta'(x)||_inf in [{}, {}]  (relative gap {})\n", arith::to_decimal(r.witness.lower, 10),
                   arith::to_decimal(r.upper, 10), report::fraction_text(r.relative_gap));
    else
        fmt::print("sup_x ||R_theta(x) - R_theta'(x)||_inf >= {}  (upper side: not computed at this size)\n",
                   arith::to_decimal(r.witness.lower, 10));
    fmt::print("  lower: certified at the witness x = {} ({}, output {})\n", point_list(r.witness.x), r.witness.arithmetic, r.witness.output);
    fmt::print("  upper: {}, {} boxes (stopped by {})\n\n", r.upper_method, r.boxes, r.stopped_by);
    if (r.outputs.size() > 1) {
        fmt::print("{:>6} {:>16} {:>16} {:>10}  {}\n", "output", "lower", "upper", "rel. gap", "witness x");
        for (const auto& o : r.outputs)
            fmt::print("{:>6} {:>16} {:>16} {:>10}  {}\n", o.index, arith::to_decimal(o.lower, 6),
                       r.upper_computed ? arith::to_decimal(o.upper, 6) : "-", r.upper_computed ? report::fraction_text(o.relative_gap) : "-",
                       point_list(o.witness.x, 5));
        fmt::print("\n");
    }
    fmt::print("{:<26} {:<11} {:>16} {:>12} {:>11}\n", "bound", "hypotheses", "value", "bound/lower", "verdict");
    for (const auto& v : r.verdicts)
        fmt::print("{:<26} {:<11} {:>16} {:>12} {:>11}\n", v.bound, v.hypotheses_hold ? "met" : "NOT MET",
                   bounds::scientific_up(v.value, 4), std::isfinite(v.ratio_to_lower) ? fmt::format("{:.3g}", v.ratio_to_lower) : "inf",
                   verify::to_string(v.result));
    fmt::print("\nHOLDS: the certified sup is below the bound. VIOLATED: the certified witness exceeds it (a counterexample).\n"
               "UNDECIDED: the bracket straddles the bound. A VIOLATED bound whose hypotheses are not met refutes that reading;\n"
               "one whose hypotheses are met would refute the theorem (exit status 1).\n");
    if (!opt.plot.empty()) fmt::print("bracket against time: {}.png and {}.svg\n", opt.plot, opt.plot);
    if (!opt.save_case.empty()) fmt::print("case saved to {} (replay: qbound replay {})\n", opt.save_case, opt.save_case);
    return violated ? 1 : 0;
}

}  // namespace qbound::cli
