// The quantizers through the public API: codes and reports, the tie rule,
// stochastic rounding (reproducible, unbiased), bad options, ONNX round
// trips with bit-identical weights, and the real imported networks.
#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/io/load.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/grid.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"
#include "test_files.hpp"

#include <cmath>
#include <cstring>
#include <limits>

using namespace qbound;
using arith::rational;
using Catch::Matchers::Contains;

namespace {

const std::string networks = QBOUND_TEST_NETWORKS;

quant::options with_bits(quant::method kind, unsigned bits) {
    quant::options o;
    o.kind = kind;
    o.bits = bits;
    return o;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every entry of every quantized layer is code * eta exactly, and the
// report's exact changes are the true maxima.
void require_exact_result(const net::network& original, const quant::result& r) {
    rational overall = 0;
    std::size_t layer = 0;
    for (std::size_t i = 0; i < original.nodes().size(); ++i) {
        if (!original.at(i).is_affine()) continue;
        REQUIRE(layer < r.codes.size());
        const auto& q = r.codes[layer];
        const auto& rep = r.layers[layer];
        ++layer;
        REQUIRE(q.node == i);
        const auto& before = original.at(i);
        const auto& after = r.network.at(i);
        rational largest = 0;
        for (std::size_t k = 0; k < before.weight.size(); ++k) {
            REQUIRE(arith::to_rational(after.weight[k]) == rational(q.codes[k]) * arith::to_rational(q.weight_step(k)));
            largest = arith::max(largest, arith::abs(arith::to_rational(before.weight[k]) - arith::to_rational(after.weight[k])));
        }
        CHECK(rep.max_weight_change_exact == largest);
        CHECK(arith::to_rational(rep.max_weight_change) >= largest);
        CHECK(arith::to_rational(std::nextafter(rep.max_weight_change, 0.0)) < largest + (largest == 0 ? 1 : 0));
        rational bias_largest = 0;
        for (std::size_t o = 0; o < before.bias.size(); ++o) {
            if (q.bias_codes.empty()) {
                REQUIRE(same_bits(before.bias[o], after.bias[o]));
            } else {
                REQUIRE(arith::to_rational(after.bias[o]) == rational(q.bias_codes[o]) * arith::to_rational(q.bias_step(o)));
                bias_largest = arith::max(bias_largest, arith::abs(arith::to_rational(before.bias[o]) - arith::to_rational(after.bias[o])));
            }
        }
        CHECK(rep.max_bias_change_exact == bias_largest);
        overall = arith::max(overall, arith::max(largest, bias_largest));
    }
    CHECK(layer == r.codes.size());
    CHECK(r.max_change == overall);
    CHECK(arith::to_rational(r.max_change_upper) >= overall);
}

// write_onnx (float64) then read_onnx gives the same weights, bit for bit.
void require_bit_identical_round_trip(const net::network& quantized, const std::string& tag) {
    const auto path = qbound::test::write_temp_file("", "quant-roundtrip-" + tag, ".onnx");
    io::write_onnx(quantized, path, io::onnx_element_type::float64);
    const net::network back = io::read_onnx(path).network;
    std::vector<const net::node*> a, b;
    for (const auto& n : quantized.nodes())
        if (n.is_affine()) a.push_back(&n);
    for (const auto& n : back.nodes())
        if (n.is_affine()) b.push_back(&n);
    REQUIRE(a.size() == b.size());
    for (std::size_t l = 0; l < a.size(); ++l) {
        REQUIRE(a[l]->weight.size() == b[l]->weight.size());
        REQUIRE(a[l]->bias.size() == b[l]->bias.size());
        REQUIRE(std::memcmp(a[l]->weight.data(), b[l]->weight.data(), a[l]->weight.size() * sizeof(double)) == 0);
        REQUIRE(std::memcmp(a[l]->bias.data(), b[l]->bias.data(), a[l]->bias.size() * sizeof(double)) == 0);
    }
}

}  // namespace

TEST_CASE("method names", "[quant]") {
    for (auto m : {quant::method::floor, quant::method::nearest, quant::method::stochastic, quant::method::adaround})
        CHECK(quant::parse_method(quant::to_string(m)) == m);
    CHECK_THROWS_AS(quant::parse_method("round"), std::invalid_argument);
    CHECK_THROWS_WITH(quant::parse_method("round"), Contains("unknown quantization method 'round'") &&
                                                        Contains("valid: floor, nearest, stochastic, adaround"));
}

TEST_CASE("floor and nearest on hand-picked weights: ties to even, negative values", "[quant]") {
    net::network m = net::make_mlp({8, 1});
    m.set_weights(1, {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.75, -0.25});
    quant::options o;
    o.eta = 1.0;
    o.kind = quant::method::nearest;
    auto r = quant::quantize(m, o);
    CHECK(r.codes[0].codes == std::vector<std::int64_t>{0, 2, 2, 0, -2, -2, 3, 0});
    CHECK(r.max_change == rational(1, 2));
    o.kind = quant::method::floor;
    r = quant::quantize(m, o);
    CHECK(r.codes[0].codes == std::vector<std::int64_t>{0, 1, 2, -1, -2, -3, 2, -1});
    CHECK(r.max_change == rational(3, 4));
    require_exact_result(m, r);
}

TEST_CASE("reports: steps per tensor and per channel, zero tensors, snapped steps, biases", "[quant]") {
    net::network m = net::make_cnn(net::cnn_config{});
    SECTION("all-zero weights get eta = 1 and codes 0") {
        auto r = quant::quantize(m, with_bits(quant::method::nearest, 8));
        for (const auto& l : r.layers) {
            CHECK(l.eta == std::vector<double>{1.0});
            CHECK(l.zero_groups == 1);
            CHECK(l.min_code == 0);
            CHECK(l.max_code == 0);
        }
        CHECK(r.max_change == 0);
    }
    net::init_he_normal(m, 3, 0.1);
    SECTION("per tensor and per channel") {
        auto o = with_bits(quant::method::nearest, 4);
        auto r = quant::quantize(m, o);
        for (std::size_t k = 0; k < r.layers.size(); ++k) {
            CHECK(r.layers[k].eta.size() == 1);
            CHECK(r.layers[k].min_code >= -7);
            CHECK(r.layers[k].max_code <= 7);
            CHECK(r.layers[k].bias_eta.empty());
        }
        require_exact_result(m, r);
        o.per_channel = true;
        o.quantize_biases = true;
        r = quant::quantize(m, o);
        for (std::size_t k = 0; k < r.layers.size(); ++k) {
            const auto& n = m.at(r.layers[k].node);
            CHECK(r.layers[k].eta.size() == n.out_features);
            CHECK(r.layers[k].bias_eta.size() == n.out_features);
            CHECK(r.codes[k].bias_codes.size() == n.out_features);
            CHECK(r.layers[k].max_bias_change > 0);
        }
        require_exact_result(m, r);
    }
    SECTION("an explicit step is snapped upward, and says so") {
        quant::options o;
        o.eta = 0.1;
        auto r = quant::quantize(m, o);
        for (const auto& l : r.layers) {
            CHECK(l.eta_snapped);
            CHECK(l.eta[0] > 0.1);
            CHECK(l.eta[0] < 0.1 * (1 + 1e-12));
        }
        require_exact_result(m, r);
        o.eta = 0.03125;
        r = quant::quantize(m, o);
        for (const auto& l : r.layers) {
            CHECK_FALSE(l.eta_snapped);
            CHECK(l.eta[0] == 0.03125);
        }
    }
}

TEST_CASE("stochastic rounding is reproducible from the seed and unbiased", "[quant]") {
    net::network m = net::make_mlp({64, 64});
    net::init_he_normal(m, 11, 0.1);
    quant::options o;
    o.kind = quant::method::stochastic;
    o.eta = 0.125;
    o.seed = 42;
    const auto a = quant::quantize(m, o), b = quant::quantize(m, o);
    CHECK(a.codes[0].codes == b.codes[0].codes);
    o.seed = 43;
    const auto c = quant::quantize(m, o);
    CHECK(a.codes[0].codes != c.codes[0].codes);
    require_exact_result(m, a);

    // E[Q(w)] = w: the mean of (Q(w) - w) / eta over 4096 weights is 0 within
    // 5 standard deviations (<= 0.5 / 64 each); floor's is about -1/2.
    double mean = 0;
    for (std::size_t k = 0; k < 4096; ++k) mean += (a.network.at(1).weight[k] - m.at(1).weight[k]) / 0.125;
    mean /= 4096;
    CHECK(std::fabs(mean) < 5 * 0.5 / 64);

    // Weights a quarter above a grid point go up a quarter of the time.
    for (std::size_t k = 0; k < 4096; ++k) m.weights(1)[k] = (static_cast<double>(k % 7) - 3 + 0.25) * 0.125;
    const auto q = quant::quantize(m, o);
    std::size_t up = 0;
    for (std::size_t k = 0; k < 4096; ++k) up += q.network.at(1).weight[k] > m.at(1).weight[k];
    const double p = static_cast<double>(up) / 4096, sigma = std::sqrt(0.25 * 0.75 / 4096);
    INFO("fraction rounded up " << p);
    CHECK(std::fabs(p - 0.25) < 5 * sigma);
}

TEST_CASE("bad options are refused with clear messages", "[quant]") {
    net::network m = net::make_mlp({2, 3, 1});
    net::init_he_normal(m, 1);
    quant::options o;
    for (double eta : {0.0, -0.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
        o.eta = eta;
        CHECK_THROWS_WITH(quant::quantize(m, o), Contains("--eta must be positive and finite"));
        CHECK_THROWS_AS(quant::quantize(m, o), std::invalid_argument);
    }
    o.eta.reset();
    for (unsigned bits : {0u, 33u, 64u}) {
        o.bits = bits;
        CHECK_THROWS_WITH(quant::quantize(m, o), Contains("--bits " + std::to_string(bits) + " is outside 1..32"));
    }
    o.bits.reset();
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("give a step: --eta E or --bits B"));
    o.bits = 8;
    o.eta = 0.5;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("either --eta or --bits, not both"));
    o.eta.reset();
    o.calib_samples = 0;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("--calib-samples must be at least 1"));
    o.calib_samples = 8;
    o.D = -1;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("--D must be positive and finite"));
    o.D = 1;
    o.kind = quant::method::adaround;
    o.adaround.iterations = 0;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("AdaRound: iterations must be at least 1"));
    o.adaround.iterations = 10;
    o.adaround.lambda = -1;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("AdaRound: lambda must be >= 0"));
    o.adaround.lambda = 1;
    o.adaround.warmup = 1;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("warm-up fraction must be in [0, 1)"));
    o.adaround.warmup = 0.2;
    // A network without weights, and one with a NaN weight.
    CHECK_THROWS_AS(quant::quantize(net::make_mlp({2, 3}, false), o), net::model_error);
    m.weights(1)[0] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("NaN"));
    // Weights that make the codes too large for the step.
    m.weights(1)[0] = 1.0;
    o = quant::options{};
    o.eta = 1e-300;
    CHECK_THROWS_WITH(quant::quantize(m, o), Contains("too small"));
}

TEST_CASE("every method on a zoo CNN: exact result and a bit-identical ONNX round trip", "[quant][onnx]") {
    net::network m = net::make_cnn(net::cnn_config{});
    net::init_he_normal(m, 5, 0.1);
    for (auto kind : {quant::method::floor, quant::method::nearest, quant::method::stochastic, quant::method::adaround}) {
        auto o = with_bits(kind, 6);
        o.per_channel = kind != quant::method::nearest;
        o.quantize_biases = kind == quant::method::floor || kind == quant::method::adaround;
        o.calib_samples = 16;
        o.adaround.iterations = 200;
        INFO(quant::to_string(kind));
        const auto r = quant::quantize(m, o);
        require_exact_result(m, r);
        require_bit_identical_round_trip(r.network, std::string(quant::to_string(kind)));
    }
}

TEST_CASE("imported ONNX and NNet networks quantize with every method", "[quant][onnx]") {
    for (const std::string file : {"fc1.onnx", "cnn_max_mninst2.onnx", "ACASXU_experimental_v2a_2_1.onnx", "ACASXU_experimental_v2a_2_1.nnet"}) {
        const net::network m = io::load_network(networks + "/" + file);
        for (auto kind : {quant::method::floor, quant::method::nearest, quant::method::stochastic, quant::method::adaround}) {
            INFO(file << ", " << quant::to_string(kind));
            auto o = with_bits(kind, 8);
            o.per_channel = kind == quant::method::stochastic || kind == quant::method::adaround;
            o.calib_samples = 8;
            o.adaround.iterations = 50;
            const auto r = quant::quantize(m, o);
            REQUIRE(r.layers.size() >= 4);
            require_exact_result(m, r);
            for (const auto& l : r.layers) {
                CHECK(l.min_code >= -127);
                CHECK(l.max_code <= 127);
            }
            // 8 bits: every weight moves by at most one step.
            for (const auto& l : r.layers)
                CHECK(l.max_weight_change <= *std::max_element(l.eta.begin(), l.eta.end()));
            if (kind == quant::method::adaround) {
                CHECK(r.calibration_samples == 8);
                require_bit_identical_round_trip(r.network, "import");
            }
        }
    }
}

TEST_CASE("floor and nearest give the same codes, weights and changes on 1 and 2 threads, and match the exact quotient", "[quant][threads]") {
    // Layers of 300 x 400 = 120,000 weights span two chunks of the parallel loops.
    net::network m = net::make_mlp({300, 400, 300, 10});
    net::init_he_normal(m, 5, 0.1);
    // Adversarial entries: exact ties, grid points and their neighbours, a subnormal, zero.
    const std::span<double> w = m.weights(m.affine_nodes().front());
    w[0] = 0, w[1] = 1e-310, w[70000] = -w[70001];
    for (const auto kind : {quant::method::floor, quant::method::nearest})
        for (const bool per_channel : {false, true}) {
            quant::options q;
            q.kind = kind;
            q.bits = 6;
            q.per_channel = per_channel;
            q.quantize_biases = true;
            INFO(quant::to_string(kind) << (per_channel ? ", per channel" : ", per tensor"));
            const unsigned saved = core::default_threads();
            core::default_threads() = 1;
            const auto one = quant::quantize(m, q);
            core::default_threads() = 2;
            const auto two = quant::quantize(m, q);
            core::default_threads() = saved;
            REQUIRE(one.max_change == two.max_change);
            for (std::size_t k = 0; k < one.codes.size(); ++k) {
                REQUIRE(one.codes[k].codes == two.codes[k].codes);
                REQUIRE(one.codes[k].bias_codes == two.codes[k].bias_codes);
                const auto& layer = m.at(one.codes[k].node);
                for (std::size_t i = 0; i < layer.weight.size(); i += 97) {  // a sample against the exact path
                    const quant::exact_quotient e = quant::divide(layer.weight[i], one.codes[k].weight_step(i));
                    REQUIRE(one.codes[k].codes[i] == quant::to_code(kind == quant::method::floor ? e.floor : e.nearest()));
                }
            }
        }
}

TEST_CASE("keep_codes = false gives the same network and reports without the codes", "[quant]") {
    net::network m = net::make_zoo_model("cnn", 32, true);
    net::init_he_normal(m, 3, 0.05);
    quant::options q;
    q.bits = 5;
    q.quantize_biases = true;
    const auto kept = quant::quantize(m, q);
    q.keep_codes = false;
    const auto dropped = quant::quantize(m, q);
    REQUIRE(kept.max_change == dropped.max_change);
    for (std::size_t i : m.affine_nodes()) {
        REQUIRE(kept.network.at(i).weight == dropped.network.at(i).weight);
        REQUIRE(kept.network.at(i).bias == dropped.network.at(i).bias);
    }
    for (std::size_t k = 0; k < kept.layers.size(); ++k) {
        CHECK(kept.layers[k].min_code == dropped.layers[k].min_code);
        CHECK(kept.layers[k].max_code == dropped.layers[k].max_code);
        CHECK(kept.codes[k].eta == dropped.codes[k].eta);
        CHECK_FALSE(kept.codes[k].codes.empty());
        CHECK(dropped.codes[k].codes.empty());
        CHECK(dropped.codes[k].bias_codes.empty());
    }
}
