#include "qbound/experiments/models.hpp"

#include "qbound/io/load.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include <fmt/core.h>

namespace qbound::experiments {

loaded_model load_model_with_weights(const std::string& model, std::size_t resolution, std::uint64_t seed, double bias_std) {
    loaded_model m{io::load_network(model, resolution, true), model, net::is_zoo_name(model)};
    if (m.from_zoo) {
        net::init_he_normal(m.network, seed, bias_std);
        m.described = fmt::format("{} (zoo, He-normal weights, seed {}{})", model, seed,
                                  bias_std > 0 ? fmt::format(", bias std {}", bias_std) : "");
    }
    return m;
}

}  // namespace qbound::experiments
