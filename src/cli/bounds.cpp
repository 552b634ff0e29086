// `qbound bounds MODEL (--against MODEL2 | --method ...)`: every bound
// variant for a pair (theta, theta'), with its hypotheses, ingredients and
// certified value.
#include "cli_support.hpp"
#include "commands.hpp"

#include "qbound/bounds/bounds.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

namespace qbound::cli {

namespace {

// Integers and short fractions exactly, anything else as a decimal.
std::string exact_text(const arith::rational& q) {
    const auto den = boost::multiprecision::denominator(q);
    if (den == 1) return boost::multiprecision::numerator(q).str();
    if (den < 1000000 && boost::multiprecision::abs(boost::multiprecision::numerator(q)) < 1000000)
        return boost::multiprecision::numerator(q).str() + "/" + den.str();
    return arith::to_decimal(q, 8);
}

nlohmann::json upper_json(const bounds::upper& v) {
    nlohmann::json j;
    j["text"] = bounds::scientific_up(v, 8);
    j["log10"] = v.sign() > 0 ? bounds::log10_text(v, 6) : "-inf";
    j["double_upper"] = v.to_rational() <= arith::to_rational(std::numeric_limits<double>::max())
                            ? nlohmann::json(bounds::round_up(v.to_rational(), 53).to_double())
                            : nlohmann::json(nullptr);
    return j;
}

nlohmann::json bound_json(const bounds::bound_result& b, const bounds::pair_ingredients& p) {
    nlohmann::json j;
    j["name"] = b.name;
    j["family"] = b.family;
    j["r_source"] = bounds::to_string(b.source);
    j["formula"] = b.formula;
    j["hypotheses_hold"] = b.hypotheses_hold();
    for (const auto& h : b.hypotheses) j["hypotheses"].push_back({{"name", h.name}, {"holds", h.holds}, {"reason", h.reason}});
    if (!b.r_summary_name.empty()) j["r_summary"] = {{"name", b.r_summary_name}, {"value", upper_json(b.r_summary)}};
    j["constant"] = upper_json(b.constant);
    j["value"] = upper_json(b.value);
    for (const auto& t : b.terms)
        j["terms"].push_back({{"layer", p.layers[t.layer].name},
                              {"width", t.width},
                              {"r", upper_json(t.r)},
                              {"multiplier", upper_json(t.multiplier)},
                              {"delta", upper_json(t.delta)},
                              {"term", upper_json(t.term)}});
    return j;
}

nlohmann::json ingredients_json(const bounds::pair_ingredients& p) {
    nlohmann::json j;
    j["D"] = exact_text(p.D);
    j["D_effective"] = exact_text(p.D_effective);
    j["L"] = p.depth;
    j["W"] = p.width;
    j["structure"] = p.has_residual ? "residual" : (p.has_pooling ? "chain with pooling" : "plain chain");
    j["has_biases"] = p.has_biases;
    j["biases_changed"] = p.biases_changed;
    j["max_change"] = exact_text(p.max_change);
    j["max_weight_change"] = exact_text(p.max_weight_change);
    for (const auto& l : p.layers)
        j["layers"].push_back({{"l", l.depth},
                               {"name", l.name},
                               {"kind", std::string(net::to_string(l.kind))},
                               {"N_in", l.n_in},
                               {"N_out", l.n_out},
                               {"p2c", l.dense_count},
                               {"p2c_over_g", l.group_count},
                               {"row_nonzeros", l.row_nonzeros},
                               {"rho_theta", exact_text(l.rho[bounds::original])},
                               {"rho_theta_q", exact_text(l.rho[bounds::quantized])},
                               {"r_conv_theta", exact_text(l.conv_norm[bounds::original])},
                               {"r_conv_theta_q", exact_text(l.conv_norm[bounds::quantized])},
                               {"weight_norm_theta", exact_text(l.weight_norm[bounds::original])},
                               {"max_entry_theta", exact_text(l.max_entry[bounds::original])},
                               {"delta_weight", exact_text(l.delta_weight)},
                               {"delta_bias", exact_text(l.delta_bias)}});
    return j;
}

}  // namespace

int run_bounds(const bounds_options& opt) {
    const pair_source pair = load_pair_source(opt.pair);
    const loaded_model& theta = pair.theta;
    bounds::bound_options bopt;
    bopt.D = arith::parse_rational(opt.pair.D, "--D");
    const std::string quant_described = pair.against ? pair.against->described : pair.quantized_described;
    // theta quantized: its layers streamed, one network in memory, not two.
    const bounds::pair_ingredients p = pair.against ? bounds::collect_ingredients(theta.network, pair.against->network, bopt.D)
                                                    : bounds::collect_ingredients(theta.network, pair.quantizer, bopt.D);
    const auto all = bounds::compute_bounds(p, theta.network, bopt);

    if (opt.json) {
        nlohmann::json j;
        j["theta"] = theta.described;
        j["theta_quantized"] = quant_described;
        j["ingredients"] = ingredients_json(p);
        for (const auto& b : all) j["bounds"].push_back(bound_json(b, p));
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    fmt::print("theta:  {}\ntheta': {}\n", theta.described, quant_described);
    fmt::print("Omega = [-D, D]^{} with D = {}", theta.network.input_shape().size(), exact_text(p.D));
    if (p.has_input_normalization) fmt::print(" (after the input normalization: ||x||_inf <= {})", exact_text(p.D_effective));
    fmt::print("\nL = {}, W = {}, structure: {}{}\n", p.depth, grouped(p.width),
               p.has_residual ? "residual connections" : (p.has_pooling ? "chain with pooling" : "plain chain"),
               p.has_biases ? ", with biases" : ", no biases");
    fmt::print("||theta - theta'||_inf = {} (weights only: {}){}\n", exact_text(p.max_change), exact_text(p.max_weight_change),
               p.biases_changed ? ", biases changed" : ", biases shared");
    if (opt.layers) {
        fmt::print("\n{:>3}  {:<24} {:>10} {:>8} {:>14} {:>14} {:>14} {:>12}\n", "l", "layer", "N_{l-1}", "p^2c/g",
                   "rho(theta)", "rho(theta')", "r_conv(theta)", "Delta_l");
        for (const auto& l : p.layers)
            fmt::print("{:>3}  {:<24} {:>10} {:>8} {:>14} {:>14} {:>14} {:>12}\n", l.depth ? std::to_string(l.depth) : "-",
                       l.name.substr(0, 24), l.n_in, l.group_count, arith::to_decimal(l.rho[bounds::original], 6),
                       arith::to_decimal(l.rho[bounds::quantized], 6), arith::to_decimal(l.conv_norm[bounds::original], 6),
                       arith::to_decimal(l.delta_weight, 4));
    }
    fmt::print("\n{:<26} {:<11} {:>22} {:>22} {:>11}\n", "bound", "hypotheses", "C", "value (certified >=)", "log10 value");
    for (const auto& b : all)
        fmt::print("{:<26} {:<11} {:>22} {:>22} {:>11}\n", b.name, b.hypotheses_hold() ? "met" : "NOT MET",
                   bounds::scientific_up(b.constant, 5), bounds::scientific_up(b.value, 5),
                   b.value.sign() > 0 ? bounds::log10_text(b.value, 3) : "-inf");
    bool header = false;
    for (const auto& b : all)
        for (const auto& h : b.hypotheses) {
            if (h.holds) continue;
            if (!header) fmt::print("\nhypotheses not met:\n"), header = true;
            fmt::print("  {}: {}: {}\n", b.name, h.name, h.reason);
        }
    fmt::print("\nValues are certified upper bounds on each formula (exact ingredients, MPFR rounded upward).\n"
               "A bound whose hypotheses are not met is still printed: it is a reading the suite tests, not a theorem.\n");
    return 0;
}

}  // namespace qbound::cli
