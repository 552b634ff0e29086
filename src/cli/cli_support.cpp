#include "cli_support.hpp"
#include "commands.hpp"
#include "quant_options.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/quant/quantize.hpp"


#include <fmt/core.h>

#include <algorithm>

namespace qbound::cli {

pair_source load_pair_source(const pair_options& opt) {
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
        return {std::move(theta), std::move(other), {}, {}};
    }
    qopt.keep_codes = false;  // the pair needs the network only
    std::string described = fmt::format("theta quantized: {}, {}{}{}", quant::to_string(qopt.kind),
                                        qopt.bits ? fmt::format("{} bits", *qopt.bits) : fmt::format("eta {}", *qopt.eta),
                                        qopt.per_channel ? ", per channel" : ", per tensor",
                                        qopt.quantize_biases ? ", biases quantized" : ", biases kept");
    return {std::move(theta), std::nullopt, qopt, std::move(described)};
}

loaded_pair load_pair(const pair_options& opt) {
    pair_source s = load_pair_source(opt);
    if (s.against) return {std::move(s.theta), std::move(*s.against)};
    quant::result q = quant::quantize(s.theta.network, s.quantizer);
    return {std::move(s.theta), loaded_model{std::move(q.network), std::move(s.quantized_described), false, {}}};
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

namespace qbound::cli {

std::optional<io::input_region> explicit_region(const region_options& opt, std::size_t inputs) {
    const int given = !opt.box.empty() + !opt.vnnlib.empty() + !opt.center.empty();
    if (given > 1) throw core::invalid_argument("--box, --vnnlib and --center each give Omega: use one of them");
    if (opt.center.empty() && !opt.eps.empty()) throw core::invalid_argument("--eps needs --center (the centre of the ball)");
    if (opt.center.empty() && !opt.clip.empty()) throw core::invalid_argument("--clip needs --center (it clips the ball)");
    if (!opt.box.empty()) return io::read_box_file(opt.box, inputs);
    if (!opt.vnnlib.empty()) return io::read_vnnlib(opt.vnnlib, inputs);
    if (opt.center.empty()) return std::nullopt;
    if (opt.eps.empty()) throw core::invalid_argument("--center needs --eps (the radius of the ball)");
    const arith::rational eps = arith::parse_number(opt.eps, "--eps");
    std::optional<std::pair<arith::rational, arith::rational>> clip;
    if (!opt.clip.empty()) {
        const auto comma = opt.clip.find(',');
        if (comma == std::string::npos) throw core::invalid_argument("--clip: expected lo,hi, got '" + opt.clip + "'");
        clip = std::pair{arith::parse_number(opt.clip.substr(0, comma), "--clip lo"), arith::parse_number(opt.clip.substr(comma + 1), "--clip hi")};
    }
    std::string described = "L_inf ball of radius " + opt.eps + " around " + opt.center;
    if (clip) described += ", clipped to [" + io::exact_text(clip->first) + ", " + io::exact_text(clip->second) + "]";
    return io::ball_region(io::read_point_file(opt.center, inputs), eps, clip, described);
}

void add_region_options(CLI::App& cmd, region_options& opt) {
    cmd.add_option("--box", opt.box, "Omega: a box file, one line \"lo hi\" per input (exact decimals, fractions, hex floats)");
    cmd.add_option("--vnnlib", opt.vnnlib, "Omega: the input constraints of a VNN-COMP vnnlib property (boxes, or a disjunction of boxes)");
    cmd.add_option("--center", opt.center, "Omega: an L_inf ball around the point in this file (numbers in input order), radius --eps");
    cmd.add_option("--eps", opt.eps, "Radius of the --center ball (exact decimal or fraction, e.g. 2/255)");
    cmd.add_option("--clip", opt.clip, "Clip the --center ball to lo,hi (e.g. 0,1)");
}

}  // namespace qbound::cli
