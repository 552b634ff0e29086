#include "qbound/io/limits.hpp"

#include "qbound/core/errors.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>
#include <system_error>

namespace qbound::io {

namespace {

struct named_limit {
    const char* name;
    std::uint64_t limits::*field;
};

constexpr named_limit all_limits[] = {
    {"max_file_bytes", &limits::max_file_bytes},
    {"max_tensor_elements", &limits::max_tensor_elements},
    {"max_tensor_bytes", &limits::max_tensor_bytes},
    {"max_nodes", &limits::max_nodes},
    {"max_graph_depth", &limits::max_graph_depth},
    {"max_nnet_layers", &limits::max_nnet_layers},
    {"max_nnet_layer_size", &limits::max_nnet_layer_size},
    {"max_parameters", &limits::max_parameters},
    {"max_calibration_samples", &limits::max_calibration_samples},
    {"max_case_file_bytes", &limits::max_case_file_bytes},
    {"max_region_file_bytes", &limits::max_region_file_bytes},
    {"max_region_coordinates", &limits::max_region_coordinates},
};

}  // namespace

limits limits_from_environment() {
    limits result;
    const char* env = std::getenv("QBOUND_LIMITS");
    if (!env) return result;
    std::string_view rest(env);
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view entry = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (entry.empty()) continue;
        const std::size_t eq = entry.find('=');
        const std::string_view name = entry.substr(0, eq);
        const named_limit* found = nullptr;
        for (const auto& l : all_limits)
            if (name == l.name) found = &l;
        if (!found || eq == std::string_view::npos)
            throw core::invalid_argument("QBOUND_LIMITS: '" + std::string(entry) +
                                          "' is not name=value with a known limit name (max_file_bytes, max_tensor_elements, "
                                          "max_tensor_bytes, max_nodes, max_graph_depth, max_nnet_layers, max_nnet_layer_size, "
                                          "max_parameters, max_calibration_samples, max_case_file_bytes, max_region_file_bytes, "
                                          "max_region_coordinates)");
        const std::string_view value = entry.substr(eq + 1);
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || end != value.data() + value.size() || v == 0)
            throw core::invalid_argument("QBOUND_LIMITS: " + std::string(name) + " = '" + std::string(value) +
                                          "' is not a positive integer");
        result.*(found->field) = v;
    }
    return result;
}

std::string limit_message(const std::string& what, std::uint64_t value, const char* name, std::uint64_t limit) {
    return what + ": " + std::to_string(value) + " exceeds the limit " + name + " = " + std::to_string(limit) +
           " (raise it with QBOUND_LIMITS=" + name + "=N)";
}

file_size_check check_file_size(const std::filesystem::path& path, std::uint64_t max_bytes, const char* limit_name) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) return {0, "cannot open file"};
    if (!std::filesystem::is_regular_file(status)) return {0, "not a regular file"};
    const std::uint64_t bytes = std::filesystem::file_size(path, ec);
    if (ec) return {0, "cannot read the file size"};
    if (bytes > max_bytes) return {bytes, limit_message("file size in bytes", bytes, limit_name, max_bytes)};
    return {bytes, {}};
}

}  // namespace qbound::io
