#include "cli_support.hpp"

#include "qbound/io/load.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include <fmt/core.h>

namespace qbound::cli {

std::string grouped(std::size_t v) {
    const std::string digits = std::to_string(v);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

loaded_model load_model_with_weights(const std::string& model, std::size_t resolution, std::uint64_t seed, double bias_std) {
    loaded_model m{io::load_network(model, resolution, true), model, net::is_zoo_name(model)};
    if (m.from_zoo) {
        net::init_he_normal(m.network, seed, bias_std);
        m.described = fmt::format("{} (zoo, He-normal weights, seed {}{})", model, seed,
                                  bias_std > 0 ? fmt::format(", bias std {}", bias_std) : "");
    }
    return m;
}

}  // namespace qbound::cli
