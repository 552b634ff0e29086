#include "qbound/io/nnet.hpp"

#include "qbound/net/errors.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace qbound::io {

namespace {

// Reads comma-separated numbers line by line, skipping // comments, and
// reports errors with the file name and line number.
class nnet_reader {
public:
    nnet_reader(const std::string& path, const limits& lim) : path_(path) {
        const auto size = check_file_size(path, lim.max_file_bytes, "max_file_bytes");
        if (!size.error.empty()) throw net::model_error(path + ": " + size.error);
        bytes_ = size.bytes;
        in_.open(path);
        if (!in_) throw net::model_error(path + ": cannot open file");
    }

    std::uint64_t file_bytes() const { return bytes_; }

    // The next data line's values (at least one).
    std::vector<double> line(const char* field) {
        std::string text;
        while (std::getline(in_, text)) {
            ++line_no_;
            if (text.rfind("//", 0) == 0) continue;
            std::vector<double> values;
            std::stringstream ss(text);
            std::string item;
            while (std::getline(ss, item, ',')) {
                const auto first = item.find_first_not_of(" \t\r");
                if (first == std::string::npos) continue;
                const std::string token = item.substr(first, item.find_last_not_of(" \t\r") - first + 1);
                char* end = nullptr;
                const double v = std::strtod(token.c_str(), &end);
                if (end == token.c_str() || *end != '\0')
                    fail(std::string(field) + ": '" + token + "' is not a number");
                if (!std::isfinite(v))
                    fail(std::string(field) + ": value '" + token + "' is not finite");
                values.push_back(v);
            }
            if (values.empty()) fail(std::string(field) + ": empty line");
            return values;
        }
        fail(std::string("file ends before ") + field + " (truncated)");
    }

    std::vector<double> exactly(std::size_t count, const char* field) {
        auto v = line(field);
        if (v.size() < count)
            fail(std::string(field) + ": expected " + std::to_string(count) + " values, found " + std::to_string(v.size()));
        v.resize(count);  // the format allows a trailing comma and nothing else
        return v;
    }

    // A positive integer size, at most `max` (the limit called `limit_name`).
    std::size_t size_value(double v, const char* field, std::uint64_t max, const char* limit_name) {
        if (v < 1 || v != std::floor(v)) fail(std::string(field) + ": " + number_text(v) + " is not a positive integer");
        if (v > static_cast<double>(max)) fail(limit_message(field, static_cast<std::uint64_t>(std::min(v, 0x1p63)), limit_name, max));
        return static_cast<std::size_t>(v);
    }

    static std::string number_text(double v) {
        std::ostringstream s;
        s.precision(17);
        s << v;
        return s.str();
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw net::model_error(path_ + ":" + std::to_string(line_no_) + ": " + what);
    }

    bool at_end() {
        std::string text;
        while (std::getline(in_, text)) {
            ++line_no_;
            if (text.find_first_not_of(" \t\r") != std::string::npos) return false;
        }
        return true;
    }

private:
    std::string path_;
    std::uint64_t bytes_ = 0;
    std::ifstream in_;
    std::size_t line_no_ = 0;
};

}  // namespace

nnet_model read_nnet(const std::string& path, const limits& lim) {
    nnet_reader r(path, lim);
    const auto header = r.exactly(4, "header (numLayers, inputSize, outputSize, maxLayerSize)");
    const std::size_t layers = r.size_value(header[0], "numLayers", lim.max_nnet_layers, "max_nnet_layers");
    const std::size_t input_size = r.size_value(header[1], "inputSize", lim.max_nnet_layer_size, "max_nnet_layer_size");
    const std::size_t output_size = r.size_value(header[2], "outputSize", lim.max_nnet_layer_size, "max_nnet_layer_size");
    const auto sizes_raw = r.exactly(layers + 1, "layer sizes");
    std::vector<std::size_t> sizes;
    for (double v : sizes_raw) sizes.push_back(r.size_value(v, "layer size", lim.max_nnet_layer_size, "max_nnet_layer_size"));
    if (sizes.front() != input_size || sizes.back() != output_size)
        r.fail("layer sizes start at " + std::to_string(sizes.front()) + " and end at " + std::to_string(sizes.back()) +
               ", but the header says " + std::to_string(input_size) + " inputs and " + std::to_string(output_size) + " outputs");
    // Every value takes at least two bytes ("0," or "0\n"), so the declared
    // weights and biases must fit the file before they are allocated.
    std::uint64_t parameters = 0;
    for (std::size_t l = 0; l < layers; ++l) parameters += std::uint64_t{sizes[l]} * sizes[l + 1] + sizes[l + 1];
    if (parameters > lim.max_parameters) r.fail(limit_message("weights and biases", parameters, "max_parameters", lim.max_parameters));
    if (parameters > r.file_bytes() / 2 + 1)
        r.fail("layer sizes declare " + std::to_string(parameters) + " weights and biases, more than a file of " +
               std::to_string(r.file_bytes()) + " bytes can hold (truncated?)");
    r.line("symmetric flag");
    nnet_model m{net::network(path, {input_size, 1, 1}), {}, {}, 0, 1};
    m.input_min = r.exactly(input_size, "input minimums");
    m.input_max = r.exactly(input_size, "input maximums");
    auto means = r.exactly(input_size + 1, "means");
    auto ranges = r.exactly(input_size + 1, "ranges");
    m.output_mean = means.back();
    m.output_range = ranges.back();
    means.pop_back();
    ranges.pop_back();
    for (std::size_t i = 0; i < input_size; ++i)
        if (ranges[i] == 0) r.fail("input range " + std::to_string(i) + " is zero");
    auto& net = m.network;
    std::size_t x = net.normalize(0, means, ranges, "input_normalization");
    for (std::size_t l = 0; l < layers; ++l) {
        x = net.dense(x, sizes[l + 1], "layer" + std::to_string(l + 1));
        std::vector<double> weight, bias;
        weight.reserve(sizes[l + 1] * sizes[l]);
        for (std::size_t row = 0; row < sizes[l + 1]; ++row) {
            const auto w = r.exactly(sizes[l], "weight row");
            weight.insert(weight.end(), w.begin(), w.end());
        }
        for (std::size_t row = 0; row < sizes[l + 1]; ++row) bias.push_back(r.exactly(1, "bias")[0]);
        net.set_weights(x, std::move(weight));
        net.set_bias(x, std::move(bias));
        if (l + 1 < layers) x = net.activation(x, net::op::relu, "relu" + std::to_string(l + 1));
    }
    if (!r.at_end()) r.fail("unexpected data after the last layer");
    return m;
}

}  // namespace qbound::io
