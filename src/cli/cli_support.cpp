#include "cli_support.hpp"
#include "commands.hpp"
#include "quant_options.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/quant/quantize.hpp"


#include <fmt/core.h>

#include <algorithm>

namespace qbound::cli {

loaded_pair load_pair(const pair_options& opt) {
    const arith::rational D = arith::parse_rational(opt.D, "--D");
    if (D < 0) throw core::invalid_argument("--D must be >= 0");
    const bool quantize = opt.against.empty();
    quant::options qopt = opt.quant;
    if (quantize) {
        if (!qopt.eta && !qopt.bits) qopt.bits = 8;  // the default quantization
        qopt.D = std::max(static_cast<double>(D), 1e-300);
        quant::validate(qopt);
    }
    loaded_model theta = load_model_with_weights(opt.model, opt.resolution, opt.seed, opt.bias_std);
    if (!quantize) {
        loaded_model other = load_model_with_weights(opt.against, opt.resolution, opt.against_seed, opt.bias_std);
        return {std::move(theta), std::move(other)};
    }
    qopt.keep_codes = false;  // the pair needs the network only
    quant::result q = quant::quantize(theta.network, qopt);
    const std::string described = fmt::format("theta quantized: {}, {}{}{}", quant::to_string(qopt.kind),
                                              qopt.bits ? fmt::format("{} bits", *qopt.bits) : fmt::format("eta {}", *qopt.eta),
                                              qopt.per_channel ? ", per channel" : ", per tensor",
                                              qopt.quantize_biases ? ", biases quantized" : ", biases kept");
    return {std::move(theta), loaded_model{std::move(q.network), described, false, {}}};
}

void add_pair_options(CLI::App& cmd, pair_options& opt) {
    cmd.add_option("model", opt.model, "theta: zoo name or .onnx/.nnet file")->required();
    cmd.add_option("--against", opt.against, "theta': a second network with the same architecture");
    cmd.add_option("--D", opt.D, "Omega = [-D, D]^d; exact decimal or fraction (default 1)")->each([&opt](const std::string&) { opt.D_given = true; });
    cmd.add_option("--resolution", opt.resolution, "Input resolution of ImageNet zoo models")
        ->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    cmd.add_option("--seed", opt.seed, "He-normal seed of a zoo theta");
    cmd.add_option("--against-seed", opt.against_seed, "He-normal seed of a zoo theta'");
    cmd.add_option("--bias-std", opt.bias_std, "Bias standard deviation of zoo models (default 0)")->check(CLI::Range(0.0, 1e6));
    add_quant_options(cmd, opt.quant, opt.method_name);
}

}  // namespace qbound::cli
