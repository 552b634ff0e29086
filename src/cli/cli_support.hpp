#pragma once
// Small pieces shared by the CLI's subcommands.
#include "qbound/net/network.hpp"

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace qbound::cli {

// 1234567 -> "1,234,567"
std::string grouped(std::size_t v);

// A model with weights: a file as it is, or a zoo model initialized with
// seeded He-normal weights (biases ~ N(0, bias_std^2)). `described` says
// which, for reports ("resnet18 (He-normal, seed 1)").
struct loaded_model {
    net::network network;
    std::string described;
    bool from_zoo = false;
};
loaded_model load_model_with_weights(const std::string& model, std::size_t resolution, std::uint64_t seed, double bias_std);

// theta and theta' from the pair options (commands.hpp): --against, or theta
// quantized (default: nearest, 8 bits, per tensor). Validates the quantizer
// options and --D before loading anything.
struct loaded_pair {
    loaded_model theta, quantized;
};
struct pair_options;
loaded_pair load_pair(const pair_options& opt);
// Registers the pair's options (model, --against, --D, --resolution, --seed,
// --against-seed, --bias-std and the quantizer's) on a subcommand.
void add_pair_options(CLI::App& cmd, pair_options& opt);

}  // namespace qbound::cli
