#include "qbound/experiments/models.hpp"

#include "qbound/io/load.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include <fmt/core.h>

#include <filesystem>

namespace qbound::experiments {

loaded_model load_model_with_weights(const std::string& model, std::size_t resolution, std::uint64_t seed, double bias_std) {
    const bool zoo = net::is_zoo_name(model) || !std::filesystem::exists(model);
    if (!zoo && std::filesystem::path(model).extension() == ".onnx") {
        io::onnx_model file = io::read_onnx(model);
        return {std::move(file.network), model, false, {file.input_name, file.output_name, file.input_nhwc}};
    }
    loaded_model m{io::load_network(model, resolution, true), model, net::is_zoo_name(model), {}};
    if (m.from_zoo) {
        net::init_he_normal(m.network, seed, bias_std);
        m.described = fmt::format("{} (zoo, He-normal weights, seed {}{})", model, seed,
                                  bias_std > 0 ? fmt::format(", bias std {}", bias_std) : "");
    }
    return m;
}

}  // namespace qbound::experiments
