// `qbound quantize MODEL ... -o OUT.onnx`: quantize every affine layer and
// write the quantized network with the source's interface: float64 ONNX (the
// weights bit-exact), or with --float32 a float32 file whose weights are
// still exact (grid points of at most 24 significant bits).
#include "cli_support.hpp"
#include "commands.hpp"

#include "qbound/io/onnx_export.hpp"
#include "qbound/quant/grid.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

namespace qbound::cli {

namespace {

std::string kind_name(net::op kind) { return kind == net::op::dense ? "dense" : "conv"; }

// One value, or "min..max" over channels; `full`: shortest round-trip digits.
std::string step_text(const std::vector<double>& eta, bool full = false) {
    if (eta.empty()) return "exact";
    const auto [lo, hi] = std::minmax_element(eta.begin(), eta.end());
    if (full) return *lo == *hi ? fmt::format("{}", *lo) : fmt::format("{}..{}", *lo, *hi);
    if (*lo == *hi) return fmt::format("{:.6g}", *lo);
    return fmt::format("{:.4g}..{:.4g}", *lo, *hi);
}

std::string step_rule(const quant::options& q) {
    const std::string scope = q.per_channel ? "per output channel" : "per tensor";
    if (q.bits) {
        const std::int64_t q_max = quant::max_code_for_bits(*q.bits);
        return fmt::format("{} bits {}: eta = max|w| / {} rounded up to <= {} significant bits, codes in [-{}, {}]", *q.bits,
                           scope, q_max, q.significand_bits - quant::bit_length(arith::integer(q_max)), q_max, q_max);
    }
    return fmt::format("eta = {} {} (snapped upward where k * eta would not be exact)", *q.eta, scope);
}

nlohmann::json to_json(const quant::layer_report& l, const quant::quantized_layer& codes) {
    nlohmann::json j{{"node", l.node},
                     {"name", l.name},
                     {"kind", kind_name(l.kind)},
                     {"eta", l.eta},
                     {"eta_snapped", l.eta_snapped},
                     {"zero_groups", l.zero_groups},
                     {"code_min", l.min_code},
                     {"code_max", l.max_code},
                     {"weights", codes.codes.size()},
                     {"max_weight_change", l.max_weight_change},
                     {"max_weight_change_exact", l.max_weight_change_exact.str()},
                     {"biases_quantized", !l.bias_eta.empty()},
                     {"max_bias_change", l.max_bias_change},
                     {"max_bias_change_exact", l.max_bias_change_exact.str()}};
    if (!l.bias_eta.empty()) j["bias_eta"] = l.bias_eta;
    if (l.reconstruction_error) {
        j["reconstruction_error"] = *l.reconstruction_error;
        j["nearest_reconstruction_error"] = *l.nearest_reconstruction_error;
        j["adaround_soft_choices"] = l.adaround_soft_choices;
        j["adaround_fallback_rows"] = l.adaround_fallback_rows;
    }
    return j;
}

}  // namespace

int run_quantize(const quantize_command_options& opt) {
    quant::options q_opt = opt.quant;
    if (opt.float32) q_opt.significand_bits = 24;
    quant::validate(q_opt);  // before a possibly slow model load
    const loaded_model model = load_model_with_weights(opt.model, opt.resolution, opt.init_seed, opt.bias_std);
    const quant::result r = quant::quantize(model.network, q_opt);
    const auto type = opt.float32 ? io::onnx_element_type::float32 : io::onnx_element_type::float64;
    const std::string interface = io::write_onnx(r.network, opt.output, type, model.interface);

    const auto& q = q_opt;
    const bool adaround = q.kind == quant::method::adaround;
    if (opt.json) {
        nlohmann::json j;
        j["model"] = model.described;
        j["output"] = opt.output;
        j["interface"] = interface;
        j["element_type"] = opt.float32 ? "float32" : "float64";
        j["method"] = std::string(quant::to_string(q.kind));
        j["tie_rule"] = "nearest: ties to even";
        j["step_rule"] = step_rule(q);
        j["per_channel"] = q.per_channel;
        j["biases_quantized"] = q.quantize_biases;
        j["seed"] = q.seed;
        if (adaround) {
            j["calibration"] = {{"source", r.calibration_source}, {"samples", r.calibration_samples}};
            j["adaround"] = {{"iterations", q.adaround.iterations}, {"lambda", q.adaround.lambda},
                             {"learning_rate", q.adaround.learning_rate}, {"warmup", q.adaround.warmup},
                             {"beta_start", q.adaround.beta_start}, {"beta_end", q.adaround.beta_end}};
        }
        j["layers"] = nlohmann::json::array();
        for (std::size_t k = 0; k < r.layers.size(); ++k) j["layers"].push_back(to_json(r.layers[k], r.codes[k]));
        j["max_change"] = r.max_change_upper;
        j["max_change_exact"] = r.max_change.str();
        std::cout << j.dump(2) << "\n";
        return 0;
    }

    fmt::print("{} -> {} ({} ONNX, weights bit-exact)\n", model.described, opt.output, opt.float32 ? "float32" : "float64");
    fmt::print("interface: {}\n", interface);
    fmt::print("method {}{}, {}; biases {}\n", quant::to_string(q.kind), q.kind == quant::method::nearest ? " (ties to even)" : "",
               step_rule(q), q.quantize_biases ? "quantized (own steps)" : "kept exact");
    if (adaround)
        fmt::print("AdaRound: {} calibration inputs ({}), {} iterations per layer, lambda {}\n", r.calibration_samples,
                   r.calibration_source, q.adaround.iterations, q.adaround.lambda);
    fmt::print("\n{:<24} {:<6} {:>19} {:>25} {:>13} {:>13}", "layer", "kind", "eta", "codes", "||W-W'||_max", "max|b-b'|");
    if (adaround) fmt::print(" {:>12} {:>12}", "rec AdaRound", "rec nearest");
    fmt::print("\n");
    for (const auto& l : r.layers) {
        fmt::print("{:<24} {:<6} {:>19} {:>25} {:>13.6g} {:>13}", l.name.substr(0, 24), kind_name(l.kind), step_text(l.eta),
                   fmt::format("[{}, {}]", l.min_code, l.max_code), l.max_weight_change,
                   l.bias_eta.empty() ? std::string("exact") : fmt::format("{:.6g}", l.max_bias_change));
        if (l.reconstruction_error) fmt::print(" {:>12.4g} {:>12.4g}", *l.reconstruction_error, *l.nearest_reconstruction_error);
        fmt::print("\n");
    }
    for (const auto& l : r.layers) {
        if (l.eta_snapped)
            fmt::print("note: {}: eta {} was snapped upward to {}{} so that every k * eta is an exact double\n", l.name, *q.eta,
                       step_text(l.eta, true), l.bias_eta.empty() ? "" : " (weights), " + step_text(l.bias_eta, true) + " (biases)");
        if (l.zero_groups > 0 && q.bits)
            fmt::print("note: {}: {} all-zero {} got eta = 1 (codes 0)\n", l.name, l.zero_groups,
                       q.per_channel ? "channel(s)" : "tensor");
        if (l.adaround_fallback_rows > 0)
            fmt::print("note: {}: {} row(s) kept nearest rounding (non-finite calibration activations)\n", l.name,
                       l.adaround_fallback_rows);
    }
    fmt::print("\n||theta - theta'||_inf = {:.6g} (over {})\n", r.max_change_upper,
               q.quantize_biases ? "weights and biases" : "weights; biases unchanged");
    return 0;
}

}  // namespace qbound::cli
