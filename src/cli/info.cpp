// `qbound info MODEL`: what the bounds need to know about a network's shape.
#include "cli_support.hpp"
#include "commands.hpp"

#include "qbound/net/architecture.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/io/load.hpp"
#include "qbound/io/onnx.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <optional>

namespace qbound::cli {

int run_info(const info_options& opt) {
    using namespace qbound::net;
    const network net = io::load_network(opt.model, opt.resolution, /*with_weights=*/false);
    const architecture a = describe_architecture(net);
    // For ONNX files: how batch-norm folding went (exact, or each folded parameter rounded once).
    std::optional<fold_report> fold;
    std::vector<io::quantized_tensor> qdq;  // weight-only QDQ: the quantizer the file's tool applied
    if (std::filesystem::path(opt.model).extension() == ".onnx") {
        auto m = io::read_onnx(opt.model);
        fold = m.batch_norm_fold;
        qdq = std::move(m.quantized_tensors);
    }
    const auto per_text = [](const io::quantized_tensor& q) {
        return q.per_axis ? fmt::format("axis {} ({})", q.axis, q.scales) : std::string("tensor");
    };
    const auto range_text = [](auto lo, auto hi, auto format) { return lo == hi ? format(lo) : "[" + format(lo) + ", " + format(hi) + "]"; };
    const auto fold_text = [&] {
        if (!fold || fold->folded == 0) return std::string("no batch norm");
        if (fold->exact()) return fmt::format("{} batch norms folded exactly ({} parameters)", fold->folded, fold->parameters);
        return fmt::format("{} batch norms folded; {} of {} folded parameters are not doubles and were rounded to nearest once "
                           "(relative change <= {:.3g}); qbound analyzes the folded network",
                           fold->folded, fold->rounded, fold->parameters, fold->max_relative_rounding);
    };
    if (opt.json) {
        nlohmann::json j;
        j["model"] = a.name;
        j["input"] = to_string(a.input);
        j["output"] = to_string(a.output);
        j["L"] = a.depth;
        j["parameters"] = a.parameters;
        j["largest_feature_map"] = a.largest_feature_map;
        j["max_width"] = a.max_width;
        j["max_p2c_plus_1"] = a.max_dense_count;
        j["max_p2c_over_g_plus_1"] = a.max_group_count;
        j["input_normalization"] = a.has_input_normalization;
        j["structure"] = a.is_plain_chain() ? "chain" : (a.has_residual ? "residual" : "pooling");
        if (fold)
            j["batch_norm_fold"] = {{"folded", fold->folded}, {"parameters", fold->parameters}, {"rounded", fold->rounded},
                                    {"exact", fold->exact()}, {"max_relative_rounding", fold->max_relative_rounding}};
        j["quantization"] = nlohmann::json::array();
        for (const auto& q : qdq)
            j["quantization"].push_back({{"tensor", q.tensor},
                                         {"layer", q.layer},
                                         {"role", q.role},
                                         {"source", q.source},
                                         {"integer_type", q.integer_type},
                                         {"code_range", {q.code_min, q.code_max}},
                                         {"codes_used", {q.used_min, q.used_max}},
                                         {"per_axis", q.per_axis},
                                         {"axis", q.axis},
                                         {"scales", q.scales},
                                         {"eta", {q.scale_min, q.scale_max}},
                                         {"zero_point", {q.zero_point_min, q.zero_point_max}},
                                         {"elements", q.elements},
                                         {"float32_exact", q.float32_exact}});
        for (const auto& l : a.layers)
            j["layers"].push_back({{"l", l.depth},
                                   {"name", l.name},
                                   {"kind", std::string(to_string(l.kind))},
                                   {"main_path", l.main_path},
                                   {"N_in", l.n_in},
                                   {"N_out", l.n_out},
                                   {"kernel", fmt::format("{}x{}", l.kernel_h, l.kernel_w)},
                                   {"c_in", l.channels_in},
                                   {"groups", l.groups},
                                   {"max_row_nonzeros", l.max_row_nonzeros},
                                   {"p2c_plus_1", l.dense_count},
                                   {"p2c_over_g_plus_1", l.group_count}});
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    fmt::print("{}: input {}, output {}, {} parameters, {}\n", a.name, to_string(a.input), to_string(a.output),
               grouped(a.parameters),
               a.is_plain_chain() ? "plain chain" : (a.has_residual ? "residual connections" : "pooling layers"));
    fmt::print("\n{:>3}  {:<28} {:<6} {:>10} {:>10} {:>5} {:>6} {:>6} {:>9} {:>9} {:>9}\n", "l", "layer", "kind", "N_{l-1}",
               "N_l", "p", "c_in", "groups", "row nnz", "p^2c+1", "p^2c/g+1");
    for (const auto& l : a.layers) {
        fmt::print("{:>3}  {:<28} {:<6} {:>10} {:>10} {:>5} {:>6} {:>6} {:>9} {:>9} {:>9}\n",
                   l.depth ? std::to_string(l.depth) : std::string("-"), l.name.substr(0, 28),
                   l.kind == op::dense ? "dense" : "conv", l.n_in, l.n_out, fmt::format("{}x{}", l.kernel_h, l.kernel_w),
                   l.channels_in, l.groups, l.max_row_nonzeros, l.dense_count, l.group_count);
    }
    fmt::print("\n('-': a shortcut projection, not counted in L)\n");
    if (a.has_input_normalization) fmt::print("input normalization: an explicit normalize node before layer 1 (not counted in L)\n");
    if (fold) fmt::print("batch norm: {}\n", fold_text());
    if (!qdq.empty()) {
        fmt::print("weight-only quantization (QDQ): value = eta * (code - zero point), read exactly\n");
        fmt::print("  {:<22} {:<8} {:<12} {:<7} {:<16} {:<12} {:<22} {:<10} {}\n", "layer", "role", "source", "type", "codes used",
                   "per", "eta", "zero pt", "float32");
        const auto integer = [](std::int64_t v) { return std::to_string(v); };
        const auto real = [](double v) { return fmt::format("{:.4g}", v); };
        for (const auto& q : qdq)
            fmt::print("  {:<22} {:<8} {:<12} {:<7} {:<16} {:<12} {:<22} {:<10} {}\n", q.layer.empty() ? "(no layer)" : q.layer.substr(0, 22),
                       q.role, q.source, q.integer_type, range_text(q.used_min, q.used_max, integer), per_text(q),
                       range_text(q.scale_min, q.scale_max, real), range_text(q.zero_point_min, q.zero_point_max, integer),
                       q.float32_exact ? "yes" : "no (ONNX Runtime rounds these weights to float32)");
    }
    fmt::print("L = {}\n", a.depth);
    fmt::print("largest feature map = {}\n", grouped(a.largest_feature_map));
    fmt::print("max p^2 c_(l-1) + 1 = {} (paper's dense count); group-aware max p^2 c_(l-1)/g + 1 = {}\n",
               grouped(a.max_dense_count), grouped(a.max_group_count));
    return 0;
}

}  // namespace qbound::cli
