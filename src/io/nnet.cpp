#include "qbound/io/nnet.hpp"

#include "qbound/net/errors.hpp"

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
    explicit nnet_reader(const std::string& path) : path_(path), in_(path) {
        if (!in_) throw net::model_error(path + ": cannot open file");
    }

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

    std::size_t size_value(double v, const char* field, std::size_t max) {
        if (v < 1 || v > static_cast<double>(max) || v != std::floor(v))
            fail(std::string(field) + ": " + std::to_string(v) + " is not a size in 1.." + std::to_string(max));
        return static_cast<std::size_t>(v);
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
    std::ifstream in_;
    std::size_t line_no_ = 0;
};

}  // namespace

nnet_model read_nnet(const std::string& path) {
    nnet_reader r(path);
    const auto header = r.exactly(4, "header (numLayers, inputSize, outputSize, maxLayerSize)");
    const std::size_t layers = r.size_value(header[0], "numLayers", 1000);
    const std::size_t input_size = r.size_value(header[1], "inputSize", 1 << 20);
    const std::size_t output_size = r.size_value(header[2], "outputSize", 1 << 20);
    const auto sizes_raw = r.exactly(layers + 1, "layer sizes");
    std::vector<std::size_t> sizes;
    for (double v : sizes_raw) sizes.push_back(r.size_value(v, "layer size", 1 << 16));
    if (sizes.front() != input_size || sizes.back() != output_size)
        r.fail("layer sizes start at " + std::to_string(sizes.front()) + " and end at " + std::to_string(sizes.back()) +
               ", but the header says " + std::to_string(input_size) + " inputs and " + std::to_string(output_size) + " outputs");
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
        auto& n = net.at(x);
        for (std::size_t row = 0; row < sizes[l + 1]; ++row) {
            const auto w = r.exactly(sizes[l], "weight row");
            std::copy(w.begin(), w.end(), n.weight.begin() + static_cast<std::ptrdiff_t>(row * sizes[l]));
        }
        for (std::size_t row = 0; row < sizes[l + 1]; ++row) n.bias[row] = r.exactly(1, "bias")[0];
        if (l + 1 < layers) x = net.activation(x, net::op::relu, "relu" + std::to_string(l + 1));
    }
    if (!r.at_end()) r.fail("unexpected data after the last layer");
    return m;
}

}  // namespace qbound::io
