#include "quant_options.hpp"

#include <stdexcept>

namespace qbound::cli {

void add_quant_options(CLI::App& cmd, quant::options& opt, std::string& method_name) {
    method_name = std::string(quant::to_string(opt.kind));
    cmd.add_option("--method", method_name, "Quantizer: floor, nearest (ties to even), stochastic, adaround")
        ->check([&opt](const std::string& name) -> std::string {
            try {
                opt.kind = quant::parse_method(name);
                return {};
            } catch (const std::invalid_argument& e) {
                return e.what();
            }
        });
    cmd.add_option_function<unsigned>("--bits", [&opt](const unsigned& b) { opt.bits = b; },
                                      "Bit width b in 1..32: eta = max|w| / (2^(b-1) - 1), rounded up to an exact grid");
    cmd.add_option_function<double>("--eta", [&opt](const double& e) { opt.eta = e; },
                                    "Explicit step eta > 0 (snapped upward, and reported, if k * eta would not be exact)");
    cmd.add_flag("--per-channel", opt.per_channel, "One step per output channel (default: per tensor)");
    cmd.add_flag("--quantize-biases", opt.quantize_biases, "Quantize biases too, with their own steps (default: kept exact)");
    cmd.add_option("--calib", opt.calib_file, "AdaRound calibration inputs: CSV (one input per line) or .npy [n, d] / [n, C, H, W]");
    cmd.add_option("--calib-samples", opt.calib_samples, "Without --calib: inputs drawn uniformly from [-D, D]^d (default 64)");
    if (cmd.get_option_no_throw("--D") == nullptr)
        cmd.add_option("--D", opt.D, "Half-width of Omega = [-D, D]^d for sampled calibration inputs (default 1)");
    cmd.add_option(cmd.get_option_no_throw("--seed") == nullptr ? "--seed,--quant-seed" : "--quant-seed", opt.seed,
                   "Seed of stochastic rounding and of sampled calibration inputs");
    cmd.add_option("--adaround-iterations", opt.adaround.iterations, "AdaRound: Adam iterations per layer (default 1000)");
    cmd.add_option("--adaround-lambda", opt.adaround.lambda, "AdaRound: weight of the rounding regulariser (default 1)");
}

}  // namespace qbound::cli
