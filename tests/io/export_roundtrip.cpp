// Whatever qbound writes reads back as the same architecture: `qbound
// quantize M -o q.onnx` then `qbound check M --against q.onnx` must pair the
// two networks node by node. Regressions: a folded batch norm (an identity
// node) and a trivial input normalization were written as a bare Identity,
// which the reader dropped ("16 vs 15 nodes" on the ACAS Xu ONNX file).
#include "qbound/bounds/ingredients.hpp"
#include "qbound/io/load.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/batch_norm.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include "onnx_graph_builder.hpp"
#include "property_support.hpp"

#include <random>

using namespace qbound;

namespace {

const std::string networks = QBOUND_TEST_NETWORKS;

std::vector<double> random_input(std::size_t n, std::mt19937_64& g) {
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(n);
    for (auto& v : x) v = u(g);
    return x;
}

// Written, read back: same architecture (the pair check of the bounds and of
// `check` accepts them), identical normalization, the same exact function.
void require_round_trip(const net::network& original, std::mt19937_64& g, const std::string& what) {
    INFO(what);
    const std::string path = test::temp_onnx_path("export-roundtrip");
    io::write_onnx(original, path, io::onnx_element_type::float64);
    const net::network back = io::read_onnx(path).network;
    REQUIRE(back.nodes().size() == original.nodes().size());
    for (std::size_t i = 0; i < back.nodes().size(); ++i) {
        INFO("node " << i << " '" << original.at(i).name << "'");
        REQUIRE(back.at(i).kind == original.at(i).kind);
    }
    REQUIRE_NOTHROW(bounds::collect_ingredients(original, back, 1));  // throws on any architecture difference
    const auto x = random_input(original.input_shape().size(), g);
    REQUIRE(net::forward<arith::rational>(original, net::input_from_doubles<arith::rational>(x)) ==
            net::forward<arith::rational>(back, net::input_from_doubles<arith::rational>(x)));
}

// An MLP behind a normalization whose four steps are each neutral or not.
net::network normalized_mlp(unsigned steps, std::size_t channels, std::mt19937_64& g) {
    std::uniform_int_distribution<int> small(1, 8);
    const auto values = [&](bool active, double neutral) {
        std::vector<double> v(channels, neutral);
        if (active)
            for (auto& e : v) e = neutral + small(g) / 4.0;  // exact in binary64, never neutral
        return v;
    };
    net::network n("normalized", {channels, 1, 1});
    std::size_t x = n.normalize(0, values(steps & 1, 0.0), values(steps & 4, 1.0), "norm", values(steps & 2, 1.0), values(steps & 8, 0.0));
    x = n.dense(x, 6, "fc1");
    x = n.activation(x, net::op::relu);
    n.dense(x, 2, "fc2");
    net::init_he_normal(n, g(), 0.1);
    return n;
}

}  // namespace

TEST_CASE("every combination of normalization steps reads back as one equal normalize node", "[io][onnx][export]") {
    std::mt19937_64 g(test::property_seed());
    for (unsigned steps = 0; steps < 16; ++steps)
        for (std::size_t channels : {1, 3}) {
            const net::network n = normalized_mlp(steps, channels, g);
            require_round_trip(n, g, "normalization steps " + std::to_string(steps) + ", channels " + std::to_string(channels));
            const std::string path = test::temp_onnx_path("export-normalize");
            io::write_onnx(n, path, io::onnx_element_type::float64);
            const net::network back = io::read_onnx(path).network;
            const net::node& a = n.at(1);
            const net::node& b = back.at(1);
            REQUIRE(b.kind == net::op::normalize);
            CHECK(a.norm_mean == b.norm_mean);
            CHECK(a.norm_scale == b.norm_scale);
            CHECK(a.norm_divisor == b.norm_divisor);
            CHECK(a.norm_offset == b.norm_offset);
        }
}

TEST_CASE("a folded batch norm and Identity nodes survive the round trip", "[io][onnx][export]") {
    std::mt19937_64 g(test::property_seed() + 1);
    net::network n("bn-cnn", {2, 6, 6});
    std::size_t x = n.conv2d(0, 3, {3, 3, 1, 1, 1, 1}, "conv1");
    x = n.batch_norm(x, {{1.5, 0.5, 2.0}, {0.25, -0.5, 0.0}, {0.125, 0.0, -1.0}, {1.0, 4.0, 0.25}, 0.0}, "bn1");
    x = n.activation(x, net::op::relu);
    x = n.activation(x, net::op::identity, "kept");
    x = n.global_avg_pool(x);
    n.dense(x, 2, "fc");
    net::init_he_normal(n, 3, 0.1);
    net::fold_batch_norm(n);
    require_round_trip(n, g, "folded batch norm");
    // The quantized copy written by `qbound quantize` pairs with the original.
    quant::options q;
    q.bits = 4;
    require_round_trip(quant::quantize(n, q).network, g, "quantized, folded batch norm");
}

TEST_CASE("the shipped real networks and zoo models pair with their written quantized copies", "[io][onnx][export]") {
    std::mt19937_64 g(test::property_seed() + 2);
    for (const char* file : {"fc1.onnx", "cnn_max_mninst2.onnx", "ACASXU_experimental_v2a_2_1.onnx", "ACASXU_experimental_v2a_2_1.nnet"}) {
        net::network original = io::load_network(networks + "/" + file);
        net::fold_batch_norm(original);
        quant::options q;
        q.bits = 8;
        const net::network quantized = quant::quantize(original, q).network;
        const std::string path = test::temp_onnx_path("export-real");
        io::write_onnx(quantized, path, io::onnx_element_type::float64);
        INFO(file);
        REQUIRE_NOTHROW(bounds::collect_ingredients(original, io::read_onnx(path).network, 1));
        require_round_trip(original, g, file);
    }
    for (const char* model : {"cnn", "mlp:3,8,2"}) {
        net::network original = io::load_network(model);
        net::fold_batch_norm(original);
        require_round_trip(original, g, model);
    }
    net::network resnet = net::make_zoo_model("resnet18", 32, true);
    net::fold_batch_norm(resnet);
    require_round_trip(resnet, g, "resnet18 at 32");
}
