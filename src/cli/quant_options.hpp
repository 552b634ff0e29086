#pragma once
// The quantizer's command-line options, shared by `qbound quantize` and any
// command that quantizes a network on the fly (e.g. `qbound bounds --quant`).
#include "qbound/quant/quantize.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace qbound::cli {

// Registers on `cmd`:
//   --method floor|nearest|stochastic|adaround   (sets opt.kind while parsing;
//                                                 the name also lands in method_name)
//   --bits B | --eta E        (exactly one; checked by quant::validate)
//   --per-channel, --quantize-biases
//   --calib FILE, --calib-samples N, --D value   (AdaRound calibration)
//   --quant-seed S, also spelled --seed when cmd has no --seed of its own
//   --adaround-iterations N, --adaround-lambda L
// Call it after the command's own options: --seed and --D are registered
// only if cmd does not already have them (the caller then fills opt.seed /
// opt.D itself). Range checks are left to quant::validate, so the library
// and the CLI give the same messages; call it before loading a model.
void add_quant_options(CLI::App& cmd, quant::options& opt, std::string& method_name);

}  // namespace qbound::cli
