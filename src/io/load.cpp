#include "qbound/io/load.hpp"

#include "qbound/io/nnet.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/zoo.hpp"

#include <filesystem>

namespace qbound::io {

net::network load_network(const std::string& model, std::size_t resolution, bool with_weights) {
    if (net::is_zoo_name(model) || !std::filesystem::exists(model)) return net::make_zoo_model(model, resolution, with_weights);
    const std::string ext = std::filesystem::path(model).extension().string();
    if (ext == ".nnet") return read_nnet(model).network;
    if (ext == ".onnx") return read_onnx(model).network;
    throw net::model_error(model + ": unknown network format '" + ext + "' (supported: .onnx, .nnet)");
}

}  // namespace qbound::io
