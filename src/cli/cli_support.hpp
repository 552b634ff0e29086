#pragma once
// Small pieces shared by the CLI's subcommands.
#include "qbound/experiments/models.hpp"
#include "qbound/io/region.hpp"
#include "qbound/net/network.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/report/markdown.hpp"

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace qbound::cli {

using report::grouped;  // 1234567 -> "1,234,567"

// A model with weights: a file as it is, or a seeded He-normal zoo model.
using experiments::load_model_with_weights;
using experiments::loaded_model;

// theta and theta' from the pair options (commands.hpp): --against, or theta
// quantized (default: nearest, 8 bits, per tensor). Validates the quantizer
// options and --D before loading anything.
struct loaded_pair {
    loaded_model theta, quantized;
};
struct pair_options;
loaded_pair load_pair(const pair_options& opt);
// The same before quantizing: theta, and theta' either loaded (--against)
// or as the quantizer that makes it from theta, for callers that stream
// its layers (bounds: bounds::collect_ingredients from a quantizer).
struct pair_source {
    loaded_model theta;
    std::optional<loaded_model> against;  // --against; empty: theta quantized by `quantizer`
    quant::options quantizer;
    std::string quantized_described;
};
pair_source load_pair_source(const pair_options& opt);
// Registers the pair's options (model, --against, --D, --resolution, --seed,
// --against-seed, --bias-std and the quantizer's) on a subcommand.
void add_pair_options(CLI::App& cmd, pair_options& opt);

// Omega from --box, --vnnlib or --center/--eps/--clip on `inputs` inputs, or
// none when no option gives it. Throws core::invalid_argument naming the
// options when more than one is given, or --eps/--clip without --center.
struct region_options;
std::optional<io::input_region> explicit_region(const region_options& opt, std::size_t inputs);
// Registers those options on a subcommand.
void add_region_options(CLI::App& cmd, region_options& opt);

}  // namespace qbound::cli
