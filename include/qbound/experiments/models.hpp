#pragma once
// Networks with weights, as the experiments and the CLI load them.
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/network.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace qbound::experiments {

// A model with weights: a file as it is, or a zoo model initialized with
// seeded He-normal weights (biases ~ N(0, bias_std^2)). `described` says
// which, for reports ("resnet18 (zoo, He-normal weights, seed 1)").
struct loaded_model {
    net::network network;
    std::string described;
    bool from_zoo = false;
    // An ONNX file's input name, layout and output name (qbound's defaults
    // for other sources): what `quantize` writes back.
    io::onnx_interface interface;
};
loaded_model load_model_with_weights(const std::string& model, std::size_t resolution, std::uint64_t seed, double bias_std);

}  // namespace qbound::experiments
