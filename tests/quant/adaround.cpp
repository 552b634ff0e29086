// AdaRound really optimises: on a small MLP and a small CNN with calibration
// data, its layer reconstruction error (computed here independently, with
// forward passes) is below that of nearest rounding on the same grid, and
// every final choice is hard: each code is floor(w/eta) or ceil(w/eta).
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/calibration.hpp"
#include "qbound/quant/grid.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"
#include "test_files.hpp"

#include <cmath>
#include <iomanip>
#include <numbers>
#include <sstream>

using namespace qbound;

namespace {

// Calibration rows as a CSV file (17 significant digits: read back exactly).
std::string write_csv(const std::vector<std::vector<double>>& rows, const std::string& tag) {
    std::ostringstream out;
    out << std::setprecision(17);
    for (const auto& row : rows) {
        for (std::size_t j = 0; j < row.size(); ++j) out << (j ? "," : "") << row[j];
        out << "\n";
    }
    return qbound::test::write_temp_file(out.str(), "adaround-" + tag, ".csv");
}

// Smooth, correlated inputs (a few random low-frequency waves over the
// input's channels and pixels), like images rather than white noise: there
// the first layer's input Gram matrix is far from diagonal and AdaRound can
// beat nearest rounding on layer 1 too.
std::vector<std::vector<double>> smooth_inputs(const net::shape3& s, std::size_t n, std::uint64_t seed) {
    testing::operand_generator gen(seed);
    auto unit = [&gen] { return static_cast<double>(gen.bits() >> 11) * 0x1p-53; };
    std::vector<std::vector<double>> rows(n, std::vector<double>(s.size()));
    for (auto& row : rows) {
        const double fx = 2 * unit(), fy = 2 * unit(), phase = 2 * std::numbers::pi * unit(), offset = unit() - 0.5;
        for (std::size_t c = 0; c < s.channels; ++c)
            for (std::size_t y = 0; y < s.height; ++y)
                for (std::size_t x = 0; x < s.width; ++x) {
                    const double t = (fx * static_cast<double>(x + c) / static_cast<double>(s.width) + fy * static_cast<double>(y) / static_cast<double>(s.height));
                    row[(c * s.height + y) * s.width + x] = offset + 0.5 * std::sin(2 * std::numbers::pi * t + phase);
                }
    }
    return rows;
}

struct layer_errors {
    std::string name;
    double adaround = 0, nearest = 0, reported = 0;
};

// For each affine node l: the mean over calibration inputs of
// ||node_l(x; W~) - node_l(x; W)||^2, with x the node's input in the
// AdaRound-quantized network, for AdaRound's weights and for nearest
// rounding's weights (same grid), by forward passes.
std::vector<layer_errors> reconstruction_errors(const net::network& original, const quant::result& ada, const quant::result& nearest,
                                                const std::vector<std::vector<double>>& calibration) {
    std::vector<layer_errors> out;
    for (std::size_t k = 0; k < ada.layers.size(); ++k) {
        const std::size_t l = ada.layers[k].node;
        net::network with_original = ada.network, with_nearest = ada.network;
        with_original.set_weights(l, original.at(l).weight);
        with_original.set_bias(l, original.at(l).bias);
        with_nearest.set_weights(l, nearest.network.at(l).weight);
        with_nearest.set_bias(l, nearest.network.at(l).bias);
        layer_errors e{ada.layers[k].name, 0, 0, *ada.layers[k].reconstruction_error};
        for (const auto& x : calibration) {
            const auto a = net::forward_all<double>(ada.network, x)[l];
            const auto o = net::forward_all<double>(with_original, x)[l];
            const auto nn = net::forward_all<double>(with_nearest, x)[l];
            for (std::size_t i = 0; i < a.size(); ++i) {
                e.adaround += (a[i] - o[i]) * (a[i] - o[i]);
                e.nearest += (nn[i] - o[i]) * (nn[i] - o[i]);
            }
        }
        e.adaround /= static_cast<double>(calibration.size());
        e.nearest /= static_cast<double>(calibration.size());
        out.push_back(e);
    }
    return out;
}

// Each code is floor(w/eta) or ceil(w/eta), exactly.
void require_hard_choices(const net::network& original, const quant::result& r) {
    for (const auto& q : r.codes) {
        const auto& n = original.at(q.node);
        for (std::size_t i = 0; i < n.weight.size(); ++i) {
            const auto split = quant::divide(n.weight[i], q.weight_step(i));
            REQUIRE((q.codes[i] == split.floor || q.codes[i] == split.ceil()));
        }
        for (std::size_t o = 0; o < q.bias_codes.size(); ++o) {
            const auto split = quant::divide(n.bias[o], q.bias_step(o));
            REQUIRE((q.bias_codes[o] == split.floor || q.bias_codes[o] == split.ceil()));
        }
    }
}

// AdaRound against nearest on one network, bit width and calibration set.
// `strict_everywhere`: every layer strictly better (correlated inputs);
// otherwise every layer no worse and the total strictly better.
void compare_with_nearest(const net::network& m, unsigned bits, bool per_channel, bool biases,
                          const std::vector<std::vector<double>>& calibration, const std::string& tag, bool strict_everywhere) {
    quant::options o;
    o.kind = quant::method::adaround;
    o.bits = bits;
    o.per_channel = per_channel;
    o.quantize_biases = biases;
    o.calib_file = write_csv(calibration, tag);
    const auto ada = quant::quantize(m, o);
    o.kind = quant::method::nearest;
    const auto nearest = quant::quantize(m, o);
    require_hard_choices(m, ada);
    double total_ada = 0, total_nearest = 0;
    std::size_t differing = 0;
    for (std::size_t k = 0; k < ada.layers.size(); ++k) {
        REQUIRE(ada.layers[k].eta == nearest.layers[k].eta);  // the same grid
        REQUIRE(ada.layers[k].adaround_fallback_rows == 0);
        differing += ada.codes[k].codes != nearest.codes[k].codes;
    }
    CHECK(differing > 0);
    for (const auto& e : reconstruction_errors(m, ada, nearest, calibration)) {
        INFO(tag << ", layer " << e.name << ": AdaRound " << e.adaround << ", nearest " << e.nearest << ", reported " << e.reported);
        CHECK(e.adaround <= e.nearest);
        if (strict_everywhere) CHECK(e.adaround < e.nearest);
        CHECK(std::fabs(e.reported - e.adaround) <= 1e-9 * (e.adaround + e.nearest) + 1e-300);  // the Gram form agrees
        total_ada += e.adaround;
        total_nearest += e.nearest;
    }
    INFO(tag << ": total AdaRound " << total_ada << ", nearest " << total_nearest);
    CHECK(total_ada < 0.8 * total_nearest);
}

}  // namespace

TEST_CASE("AdaRound beats nearest rounding on a small MLP", "[quant][adaround]") {
    for (std::uint64_t seed : {1, 2}) {
        net::network m = net::make_mlp({8, 32, 32, 4});
        net::init_he_normal(m, seed, 0.1);
        const std::string tag = "mlp-" + std::to_string(seed);
        compare_with_nearest(m, 4, false, false, quant::sample_calibration(8, 64, 1.0, seed), tag + "-uniform", false);
        compare_with_nearest(m, 3, true, true, smooth_inputs(m.input_shape(), 64, seed), tag + "-smooth", true);
    }
}

TEST_CASE("AdaRound beats nearest rounding on a small CNN", "[quant][adaround]") {
    for (std::uint64_t seed : {1, 2}) {
        net::network m = net::make_cnn(net::cnn_config{});
        net::init_he_normal(m, seed, 0.1);
        const std::string tag = "cnn-" + std::to_string(seed);
        compare_with_nearest(m, 4, false, false, quant::sample_calibration(256, 32, 1.0, seed), tag + "-uniform", false);
        compare_with_nearest(m, 4, true, false, smooth_inputs(m.input_shape(), 32, seed), tag + "-smooth", true);
    }
}

TEST_CASE("AdaRound's receptive fields match the conv for groups, depthwise, dilation, stride and residual adds", "[quant][adaround]") {
    // The reported reconstruction error comes from AdaRound's own receptive
    // fields (Gram form); the forward passes recompute it independently.
    net::network m("layer kinds", {2, 9, 9});
    std::size_t x = m.normalize(0, {0.25, -0.5}, {2.0, 0.5}, "norm");
    x = m.conv2d(x, 4, {3, 3, 1, 1, 1, 2}, "grouped");
    x = m.activation(x, net::op::relu);
    std::size_t y = m.conv2d(x, 4, {3, 3, 1, 2, 2, 4}, "depthwise_dilated");
    y = m.activation(y, net::op::relu6);
    x = m.add(y, x, "residual");
    x = m.max_pool(x, {2, 2, 0, true});
    x = m.conv2d(x, 6, {2, 2, 2, 1, 1, 1}, "strided_padded");
    x = m.activation(x, net::op::relu);
    x = m.global_avg_pool(x);
    m.dense(x, 3, "fc");
    net::init_he_normal(m, 4, 0.2);
    const auto calibration = smooth_inputs(m.input_shape(), 24, 4);
    for (bool biases : {false, true}) {
        quant::options o;
        o.kind = quant::method::adaround;
        o.bits = 3;
        o.per_channel = biases;
        o.quantize_biases = biases;
        o.adaround.iterations = 300;
        o.calib_file = write_csv(calibration, biases ? "kinds-b" : "kinds");
        const auto ada = quant::quantize(m, o);
        o.kind = quant::method::nearest;
        const auto nearest = quant::quantize(m, o);
        require_hard_choices(m, ada);
        REQUIRE(ada.layers.size() == 4);
        for (const auto& e : reconstruction_errors(m, ada, nearest, calibration)) {
            INFO(e.name << ": AdaRound " << e.adaround << ", reported " << e.reported << ", nearest " << e.nearest);
            CHECK(std::fabs(e.reported - e.adaround) <= 1e-9 * (e.adaround + e.nearest) + 1e-300);
        }
    }
}

TEST_CASE("AdaRound is deterministic and its soft choices end hard", "[quant][adaround]") {
    net::network m = net::make_mlp({6, 16, 3});
    net::init_he_normal(m, 9, 0.1);
    quant::options o;
    o.kind = quant::method::adaround;
    o.bits = 4;
    const auto a = quant::quantize(m, o), b = quant::quantize(m, o);
    for (std::size_t k = 0; k < a.codes.size(); ++k) {
        CHECK(a.codes[k].codes == b.codes[k].codes);
        // The annealed regulariser has driven (almost) every h to 0 or 1
        // before the final threshold.
        CHECK(a.layers[k].adaround_soft_choices * 20 <= a.codes[k].codes.size());
    }
    require_hard_choices(m, a);
    CHECK(a.calibration_samples == 64);
    CHECK_THAT(a.calibration_source, Catch::Matchers::Contains("uniform on [-1, 1]^6"));
}
