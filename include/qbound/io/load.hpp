#pragma once
// One entry point for "a model": a zoo name or a network file.
#include "qbound/net/network.hpp"

#include <cstddef>
#include <string>

namespace qbound::io {

// Zoo names (see net/zoo.hpp) are built; files are read by extension:
// .onnx (ONNX) and .nnet (NNet text). Other files throw model_error naming the file and the
// supported formats. `with_weights == false` is honoured for zoo models
// (files always bring their weights).
net::network load_network(const std::string& model, std::size_t resolution = 224, bool with_weights = true);

}  // namespace qbound::io
