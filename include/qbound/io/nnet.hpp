#pragma once
// NNet text format (Kyle Julian's ACAS Xu format) import.
//
// The file gives numLayers, sizes, input minimums/maximums, means and ranges
// (input_size + 1 values each; the last pair is for the outputs), then per
// layer the weight rows and the biases. qbound builds:
//   normalize (x_i - mean_i) / range_i   an explicit input layer, exact
//   dense + ReLU ... dense              the layers, weights as parsed
//                                        (decimal -> nearest double)
// Not represented, by design: the clipping of inputs to [min, max] (the input
// domain Omega is chosen by the user) and the output de-normalization
// y * range_out + mean_out (outputs stay as the network computes them, like
// the ONNX export of the same network); both are returned for reference.
#include "qbound/io/limits.hpp"
#include "qbound/net/network.hpp"

#include <string>
#include <vector>

namespace qbound::io {

struct nnet_model {
    net::network network;
    std::vector<double> input_min, input_max;
    double output_mean = 0, output_range = 1;
};

// Throws net::model_error naming the file, line and field on malformed,
// truncated or absurd content (sizes, NaN/Inf values), and for files beyond
// `lim` (file size, numLayers, layer sizes, weights and biases; see
// limits.hpp), before allocating for them.
nnet_model read_nnet(const std::string& path, const limits& lim = limits_from_environment());

}  // namespace qbound::io
