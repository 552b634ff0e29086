// ONNX export: round trips are bit-identical, and ONNX Runtime (an
// independent implementation, run through node) agrees with qbound's
// evaluation on zoo models, hand-built exporter-style graphs and the real
// exported networks. If node or onnxruntime-node is missing these tests fail
// (scripts/install-deps.sh installs them); they never skip.
#include "qbound/io/load.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include "onnx_graph_builder.hpp"
#include "property_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

using namespace qbound;

namespace {

const std::string networks = QBOUND_TEST_NETWORKS;

// Every layer kind: normalized input, grouped / depthwise / dilated convs,
// residual add, ReLU6, max and both average poolings, global pooling, dense.
net::network make_everything_net(std::uint64_t seed) {
    net::network n("everything", {2, 10, 10});
    std::size_t x = n.normalize(0, {0.5, -0.25}, {2.0, 4.0}, "norm");
    x = n.conv2d(x, 4, {3, 3, 1, 1, 1, 2}, "grouped");
    x = n.activation(x, net::op::relu);
    std::size_t y = n.conv2d(x, 4, {3, 3, 1, 2, 2, 4}, "depthwise_dilated");
    y = n.activation(y, net::op::relu6);
    x = n.add(y, x, "residual");
    x = n.max_pool(x, {3, 2, 1, true});
    x = n.avg_pool(x, {3, 1, 1, false});
    x = n.conv2d(x, 6, {2, 2, 2, 0, 1, 1}, "strided");
    x = n.activation(x, net::op::relu);
    x = n.avg_pool(x, {2, 1, 1, true});
    std::size_t g = n.global_avg_pool(x);
    g = n.dense(g, 5, "fc1");
    g = n.activation(g, net::op::relu);
    n.dense(g, 3, "fc2");
    net::init_he_normal(n, seed, 0.1);
    return n;
}

std::vector<double> float_input(std::size_t n, std::uint64_t seed, double scale = 1.0) {
    std::mt19937_64 rng(seed);
    std::vector<double> x(n);
    for (auto& v : x) v = static_cast<double>(static_cast<float>(scale * (static_cast<double>(rng() >> 11) * 0x1p-52 - 1.0)));
    return x;
}

// An input given in NHWC order (as a Keras file takes it) in qbound's CHW order.
std::vector<double> nhwc_to_chw(const std::vector<double>& nhwc, std::size_t height, std::size_t width, std::size_t channels) {
    std::vector<double> chw(nhwc.size());
    for (std::size_t h = 0; h < height; ++h)
        for (std::size_t w = 0; w < width; ++w)
            for (std::size_t c = 0; c < channels; ++c) chw[(c * height + h) * width + w] = nhwc[(h * width + w) * channels + c];
    return chw;
}

// Seeded float weights in [-0.5, 0.5): weights(n) gives the next n.
auto float_weights(std::uint64_t seed) {
    return [rng = std::mt19937_64(seed)](std::size_t n) mutable {
        std::vector<float> w(n);
        for (auto& v : w) v = static_cast<float>(static_cast<double>(rng() >> 11) * 0x1p-52 - 0.5);
        return w;
    };
}

// ONNX Runtime's output for `model` on input x (given in the file's layout).
std::vector<double> run_onnx_runtime(const std::string& model, const std::vector<double>& x, const std::vector<std::int64_t>& dims) {
    const std::string input_path = test::temp_onnx_path("ort-input") + ".bin";
    {
        std::ofstream out(input_path, std::ios::binary);
        for (double v : x) {
            const float f = static_cast<float>(v);
            out.write(reinterpret_cast<const char*>(&f), 4);
        }
    }
    std::string cmd = "node '" + std::string(QBOUND_ORT_RUNNER) + "' '" + model + "' '" + input_path + "'";
    for (auto d : dims) cmd += " " + std::to_string(d);
    cmd += " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string text;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) text += buf;
    const int status = pclose(pipe);
    INFO("command: " << cmd << "\noutput: " << text.substr(0, 2000));
    REQUIRE(status == 0);  // node missing or ONNX Runtime failing is a test failure, never a skip
    const auto j = nlohmann::json::parse(text);
    return j.at("data").get<std::vector<double>>();
}

// qbound (double) vs ONNX Runtime (float32): agreement to float32 accuracy,
// relative to the largest output magnitude (at least 1).
std::size_t first_disagreement(const std::vector<double>& ours, const std::vector<double>& ort) {
    if (ours.size() != ort.size()) return 0;
    double scale = 1;
    for (double v : ours) scale = std::max(scale, std::fabs(v));
    for (std::size_t i = 0; i < ours.size(); ++i)
        if (!(std::fabs(ours[i] - ort[i]) <= 1e-4 * scale)) return i;
    return ours.size();
}

void require_agreement(const std::vector<double>& ours, const std::vector<double>& ort) {
    REQUIRE(ours.size() == ort.size());
    const std::size_t i = first_disagreement(ours, ort);
    INFO("first disagreeing output " << i << (i < ours.size() ? ": qbound " + std::to_string(ours[i]) + ", onnxruntime " + std::to_string(ort[i]) : std::string()));
    REQUIRE(i == ours.size());
}

std::vector<std::int64_t> nchw_dims(const net::shape3& s) {
    if (s.height == 1 && s.width == 1) return {1, static_cast<std::int64_t>(s.channels)};
    return {1, static_cast<std::int64_t>(s.channels), static_cast<std::int64_t>(s.height), static_cast<std::int64_t>(s.width)};
}

}  // namespace

TEST_CASE("export then import gives bit-identical weights and identical outputs", "[io][onnx][export]") {
    net::network mlp = net::make_mlp({4, 16, 16, 3});
    net::init_he_normal(mlp, 11, 0.2);
    net::network cnn = net::make_cnn({});
    net::init_he_normal(cnn, 12, 0.2);
    const net::network everything = make_everything_net(13);
    for (const net::network* original : {static_cast<const net::network*>(&mlp), static_cast<const net::network*>(&cnn), &everything}) {
        INFO(original->name());
        const std::string path = test::temp_onnx_path("roundtrip");
        io::write_onnx(*original, path, io::onnx_element_type::float64);
        const net::network back = io::read_onnx(path).network;
        std::vector<const net::node*> a, b;
        for (const auto& n : original->nodes())
            if (n.is_affine()) a.push_back(&n);
        for (const auto& n : back.nodes())
            if (n.is_affine()) b.push_back(&n);
        REQUIRE(a.size() == b.size());
        for (std::size_t k = 0; k < a.size(); ++k) {
            REQUIRE(a[k]->weight == b[k]->weight);  // bit-identical doubles
            REQUIRE(a[k]->bias == b[k]->bias);
        }
        const auto x = float_input(original->input_shape().size(), 5);
        CHECK(net::forward<arith::rational>(*original, net::input_from_doubles<arith::rational>(x)) ==
              net::forward<arith::rational>(back, net::input_from_doubles<arith::rational>(x)));
    }
}

TEST_CASE("float32 export refuses weights that float cannot hold", "[io][onnx][export]") {
    net::network mlp = net::make_mlp({2, 3});
    mlp.weights(1)[0] = 0.1;  // not a float
    CHECK_THROWS_WITH(io::write_onnx(mlp, test::temp_onnx_path("f32"), io::onnx_element_type::float32),
                      Catch::Matchers::Contains("not exactly representable in float32"));
    io::round_weights_to_float(mlp);
    CHECK_NOTHROW(io::write_onnx(mlp, test::temp_onnx_path("f32"), io::onnx_element_type::float32));
}

TEST_CASE("ONNX Runtime agrees with qbound on exported zoo models", "[io][onnx][ort]") {
    std::vector<net::network> models;
    models.push_back(net::make_mlp({5, 32, 32, 4}));
    models.push_back(net::make_cnn({}));
    models.push_back(make_everything_net(21));
    models.push_back(net::make_resnet18(32, 10));
    models.push_back(net::make_mobilenet_v2(32, 10));
    for (std::size_t k = 0; k < models.size(); ++k) {
        auto& m = models[k];
        if (m.name() != "everything") net::init_he_normal(m, 100 + k, 0.05);
        io::round_weights_to_float(m);
        INFO(m.name());
        const std::string path = test::temp_onnx_path("ort-zoo");
        io::write_onnx(m, path, io::onnx_element_type::float32);
        const auto x = float_input(m.input_shape().size(), 7 + k);
        require_agreement(net::forward<double>(m, x), run_onnx_runtime(path, x, nchw_dims(m.input_shape())));
        if (m.parameter_count() < 100000) {  // and the enclosure contains our exact result
            const auto exact = net::forward<arith::rational>(m, net::input_from_doubles<arith::rational>(x));
            const auto enc = net::forward<arith::interval_double>(m, net::input_from_doubles<arith::interval_double>(x));
            for (std::size_t i = 0; i < exact.size(); ++i) REQUIRE(arith::contains(enc[i], exact[i]));
        }
    }
}

TEST_CASE("ONNX Runtime agrees with qbound on the real exported networks", "[io][onnx][ort]") {
    // tf2onnx MLP
    const std::string fc1 = networks + "/fc1.onnx";
    auto x = float_input(2, 1);
    require_agreement(net::forward<double>(io::read_onnx(fc1).network, x), run_onnx_runtime(fc1, x, {1, 2}));
    // MATLAB ACAS Xu (inputs already normalized)
    const std::string acas = networks + "/ACASXU_experimental_v2a_2_1.onnx";
    x = float_input(5, 2, 0.5);
    require_agreement(net::forward<double>(io::read_onnx(acas).network, x), run_onnx_runtime(acas, x, {1, 1, 1, 5}));
    // keras2onnx CNN: ONNX Runtime takes NHWC, qbound CHW.
    const std::string cnn = networks + "/cnn_max_mninst2.onnx";
    const auto m = io::read_onnx(cnn);
    REQUIRE(m.input_nhwc);
    const auto nhwc = float_input(784, 3, 0.5);
    require_agreement(net::forward<double>(m.network, nhwc_to_chw(nhwc, 28, 28, 1)), run_onnx_runtime(cnn, nhwc, {1, 28, 28, 1}));
}

TEST_CASE("ONNX Runtime agrees on hand-built Keras (NHWC) and NNet-style graphs", "[io][onnx][ort]") {
    // Keras: NHWC input, Transpose, Conv with a separate bias Add, Transpose back, Flatten, MatMul + Add.
    test::graph_builder k;
    k.input("x", {1, 3, 3, 2});
    test::graph_builder::ints(k.node("Transpose", {"x"}, "xt"), "perm", {0, 3, 1, 2});
    std::vector<float> kw(3 * 2 * 2 * 2);
    for (std::size_t i = 0; i < kw.size(); ++i) kw[i] = 0.125f * static_cast<float>(static_cast<int>(i % 7) - 3);
    k.constant("k", {3, 2, 2, 2}, kw);
    k.node("Conv", {"xt", "k"}, "conv");
    k.constant("cb", {1, 3, 1, 1}, {0.25f, -0.5f, 0.125f});
    k.node("Add", {"conv", "cb"}, "biased");
    k.node("Relu", {"biased"}, "r");
    test::graph_builder::ints(k.node("Transpose", {"r"}, "back"), "perm", {0, 2, 3, 1});
    k.node("Flatten", {"back"}, "flat");
    std::vector<float> w(12 * 4);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.0625f * static_cast<float>(static_cast<int>((i * 5) % 13) - 6);
    k.constant("W", {12, 4}, w);
    k.node("MatMul", {"flat", "W"}, "mm");
    k.constant("B", {4}, {0.5f, 0.0f, -0.25f, 1.0f});
    k.node("Add", {"mm", "B"}, "y");
    k.output("y");
    const std::string keras = k.save("ort-keras");
    const auto km = io::read_onnx(keras);
    const auto nhwc = float_input(18, 9);
    require_agreement(net::forward<double>(km.network, nhwc_to_chw(nhwc, 3, 3, 2)), run_onnx_runtime(keras, nhwc, {1, 3, 3, 2}));

    // NNet converter style: Sub mean, Div range, Flatten, MatMul + Add, Relu, MatMul + Add.
    test::graph_builder s;
    s.input("x", {1, 3});
    s.constant("mean", {3}, {1.5f, -2.0f, 0.25f});
    s.node("Sub", {"x", "mean"}, "centered");
    s.constant("range", {3}, {3.0f, 0.5f, 10.0f});
    s.node("Div", {"centered", "range"}, "scaled");
    s.node("Flatten", {"scaled"}, "f");
    s.constant("W1", {3, 4}, {0.5f, -1.0f, 0.25f, 2.0f, 1.5f, 0.75f, -0.5f, 0.0f, -2.0f, 1.0f, 0.125f, -0.25f});
    s.node("MatMul", {"f", "W1"}, "m1");
    s.constant("b1", {4}, {0.1f, -0.2f, 0.3f, 0.0f});
    s.node("Add", {"m1", "b1"}, "a1");
    s.node("Relu", {"a1"}, "r1");
    s.constant("W2", {4, 2}, {1.0f, -1.0f, 0.5f, 0.25f, -0.75f, 2.0f, 0.0f, 1.0f});
    s.node("MatMul", {"r1", "W2"}, "m2");
    s.constant("b2", {2}, {0.0f, 0.5f});
    s.node("Add", {"m2", "b2"}, "y");
    s.output("y");
    const std::string nnet_style = s.save("ort-nnet");
    const auto sm = io::read_onnx(nnet_style);
    const auto xs = float_input(3, 10, 4.0);
    require_agreement(net::forward<double>(sm.network, xs), run_onnx_runtime(nnet_style, xs, {1, 3}));
    const auto exact = net::forward<arith::rational>(sm.network, net::input_from_doubles<arith::rational>(xs));
    const auto enc = net::forward<arith::mpfi_interval>(sm.network, net::input_from_doubles<arith::mpfi_interval>(xs));
    for (std::size_t i = 0; i < exact.size(); ++i) REQUIRE(arith::contains(enc[i], exact[i]));
}

TEST_CASE("the ONNX Runtime comparison catches a network that differs", "[io][onnx][ort][negative]") {
    // Negative control: ONNX Runtime runs the exported network, qbound a copy
    // with one weight changed by 1/64; the comparison must notice.
    net::network m = net::make_mlp({3, 8, 2});
    net::init_he_normal(m, 31, 0.1);
    io::round_weights_to_float(m);
    const std::string path = test::temp_onnx_path("ort-negative");
    io::write_onnx(m, path, io::onnx_element_type::float32);
    const std::vector<double> x{1.0, 1.0, 1.0};
    const auto ort = run_onnx_runtime(path, x, {1, 3});
    CHECK(first_disagreement(net::forward<double>(m, x), ort) == 2);  // agrees
    net::network changed = m;
    for (double& w : changed.weights(3)) w += 1.0 / 64;
    CHECK(first_disagreement(net::forward<double>(changed, x), ort) < 2);
}

TEST_CASE("ONNX Runtime agrees on PyTorch exports: weight-only QDQ (fake-quant and int8 codes), x.view(-1)", "[io][onnx][ort][qdq]") {
    // ONNX Runtime runs QuantizeLinear / DequantizeLinear itself (rounding the
    // dequantized weights to float32); qbound folds them exactly at load.
    for (const std::string file : {"torch_cnn.onnx", "torch_cnn_fakequant.onnx", "torch_cnn_qdq_int8.onnx"}) {
        INFO(file);
        const std::string path = networks + "/" + file;
        for (std::uint64_t seed : {11, 12}) {
            const auto x = float_input(196, seed);
            require_agreement(net::forward<double>(io::read_onnx(path).network, x), run_onnx_runtime(path, x, {1, 1, 14, 14}));
        }
    }
    const std::string mlp = networks + "/torch_mlp_view.onnx";
    const auto x = float_input(12, 13);
    require_agreement(net::forward<double>(io::read_onnx(mlp).network, x), run_onnx_runtime(mlp, x, {1, 3, 2, 2}));
    // F.pad and ZeroPad2d before Convs: ONNX Runtime runs the Pad nodes, qbound folds them into the Convs' pads.
    const std::string pad = networks + "/torch_cnn_pad.onnx";
    for (std::uint64_t seed : {14, 15}) {
        const auto xp = float_input(60, seed);
        require_agreement(net::forward<double>(io::read_onnx(pad).network, xp), run_onnx_runtime(pad, xp, {1, 2, 6, 5}));
    }
}

TEST_CASE("ONNX Runtime agrees on constants folded into layers and on an NHWC input rescaled before its Transpose", "[io][onnx][ort]") {
    using test::graph_builder;
    const auto int_attr = [](onnx::NodeProto* n, const std::string& name, std::int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    };
    auto weights = float_weights(21);
    SECTION("Conv, bias Add, per-channel Mul, Add 0.0, Relu, Flatten, Gemm, Div 2, Sub per feature") {
        graph_builder b;
        b.input("x", {1, 2, 5, 5});
        b.constant("W", {3, 2, 3, 3}, weights(54));
        auto* conv = b.node("Conv", {"x", "W"}, "c");
        graph_builder::ints(conv, "pads", {1, 1, 1, 1});
        b.constant("bias", {3, 1, 1}, {0.25f, -0.5f, 0.125f});
        b.node("Add", {"c", "bias"}, "cb");
        b.constant("scale", {1, 3, 1, 1}, {0.5f, 2.0f, -0.25f});
        b.node("Mul", {"cb", "scale"}, "cs");
        b.constant("zero", {}, {0.0f});
        b.node("Add", {"cs", "zero"}, "c0");
        b.node("Relu", {"c0"}, "r");
        auto* f = b.node("Flatten", {"r"}, "f");
        int_attr(f, "axis", 1);
        b.constant("G", {4, 75}, weights(300));
        b.constant("gb", {4}, {1, 2, 3, 4});
        auto* gemm = b.node("Gemm", {"f", "G", "gb"}, "g");
        int_attr(gemm, "transB", 1);
        b.constant("two", {}, {2.0f});
        b.node("Div", {"g", "two"}, "gd");
        b.constant("shift", {4}, {0.5f, -0.5f, 1.0f, 0.0f});
        b.node("Sub", {"gd", "shift"}, "y");
        b.output("y");
        const std::string path = b.save("ort-fold");
        const auto x = float_input(50, 31);
        require_agreement(net::forward<double>(io::read_onnx(path).network, x), run_onnx_runtime(path, x, {1, 2, 5, 5}));
    }
    SECTION("Keras Rescaling (Mul 1/255, Add per channel) on the NHWC input, then Transpose(0, 3, 1, 2)") {
        graph_builder b;
        b.input("x", {1, 4, 4, 2});
        b.constant("s", {}, {1.0f / 255});
        b.node("Mul", {"x", "s"}, "xs");
        b.constant("o", {2}, {0.5f, -1.0f});  // NHWC: broadcasts along channels
        b.node("Add", {"xs", "o"}, "xo");
        auto* t = b.node("Transpose", {"xo"}, "xt");
        graph_builder::ints(t, "perm", {0, 3, 1, 2});
        b.constant("W", {3, 2, 3, 3}, weights(54));
        b.constant("cb", {3}, {0.1f, 0.2f, 0.3f});
        auto* conv = b.node("Conv", {"xt", "W", "cb"}, "c");
        graph_builder::ints(conv, "pads", {1, 1, 1, 1});
        b.node("Relu", {"c"}, "r");
        b.node("Flatten", {"r"}, "f");
        b.constant("M", {48, 2}, weights(96));
        b.node("MatMul", {"f", "M"}, "y");
        b.output("y");
        const std::string path = b.save("ort-rescale");
        const auto m = io::read_onnx(path);
        REQUIRE(m.input_nhwc);
        const auto nhwc = float_input(32, 32, 200.0);
        const auto chw = nhwc_to_chw(nhwc, 4, 4, 2);
        require_agreement(net::forward<double>(m.network, chw), run_onnx_runtime(path, nhwc, {1, 4, 4, 2}));
    }
}

TEST_CASE("ONNX Runtime agrees on asymmetric pads and on auto_pad SAME_UPPER / SAME_LOWER", "[io][onnx][ort][pads]") {
    using test::graph_builder;
    auto weights = float_weights(41);
    struct conv_case {
        std::int64_t h, w, kh, kw, stride;
        std::vector<std::int64_t> pads;  // empty: auto_pad
        std::string auto_pad;
        net::padding_2d expected;
    };
    // Keras 'same' with even kernels through tf2onnx writes [0, 0, 1, 1];
    // SAME_UPPER puts the odd entry at the end, SAME_LOWER at the beginning.
    const std::vector<conv_case> cases{
        {5, 5, 2, 2, 1, {0, 0, 1, 1}, "", {0, 0, 1, 1}},
        {6, 7, 3, 2, 2, {1, 0, 2, 1}, "", {1, 0, 2, 1}},
        {6, 6, 2, 2, 1, {}, "SAME_UPPER", {0, 0, 1, 1}},
        {6, 6, 2, 2, 1, {}, "SAME_LOWER", {1, 1, 0, 0}},
        {6, 7, 3, 3, 2, {}, "SAME_UPPER", {0, 1, 1, 1}},
        {7, 6, 3, 4, 2, {}, "SAME_LOWER", {1, 1, 1, 1}},
        {5, 5, 1, 1, 3, {}, "SAME_UPPER", {0, 0, 0, 0}},
        {4, 5, 2, 3, 1, {}, "VALID", {0, 0, 0, 0}},
    };
    for (const auto& c : cases) {
        INFO("input " << c.h << "x" << c.w << ", kernel " << c.kh << "x" << c.kw << ", stride " << c.stride << ", "
                      << (c.pads.empty() ? c.auto_pad : "pads"));
        graph_builder b;
        b.input("x", {1, 2, c.h, c.w});
        b.constant("W", {3, 2, c.kh, c.kw}, weights(static_cast<std::size_t>(6 * c.kh * c.kw)));
        b.constant("B", {3}, {0.25f, -0.5f, 0.125f});
        auto* conv = b.node("Conv", {"x", "W", "B"}, "c");
        graph_builder::ints(conv, "strides", {c.stride, c.stride});
        if (c.pads.empty()) graph_builder::text(conv, "auto_pad", c.auto_pad);
        else graph_builder::ints(conv, "pads", c.pads);
        b.node("Relu", {"c"}, "r");
        auto* pool = b.node("MaxPool", {"r"}, "p");  // odd kernel, stride 1: SAME is symmetric
        graph_builder::ints(pool, "kernel_shape", {3, 3});
        graph_builder::text(pool, "auto_pad", "SAME_UPPER");
        b.node("Flatten", {"p"}, "f");
        const std::int64_t oh = (c.h + static_cast<std::int64_t>(c.expected.top + c.expected.bottom) - c.kh) / c.stride + 1;
        const std::int64_t ow = (c.w + static_cast<std::int64_t>(c.expected.left + c.expected.right) - c.kw) / c.stride + 1;
        if (c.pads.empty() && c.auto_pad != "VALID") {  // SAME: ceil(input / stride) outputs per axis
            CHECK(oh == (c.h + c.stride - 1) / c.stride);
            CHECK(ow == (c.w + c.stride - 1) / c.stride);
        }
        b.constant("D", {3 * oh * ow, 2}, weights(static_cast<std::size_t>(6 * oh * ow)));
        b.node("MatMul", {"f", "D"}, "y");
        b.output("y");
        const std::string path = b.save("ort-pads");
        const auto full = io::read_onnx(path);
        CHECK(full.network.at(full.network.affine_nodes().front()).conv.padding == c.expected);
        const auto x = float_input(static_cast<std::size_t>(2 * c.h * c.w), 43);
        require_agreement(net::forward<double>(full.network, x), run_onnx_runtime(path, x, {1, 2, c.h, c.w}));
        // qbound writes the padding back as explicit pads and reads the same network.
        const std::string again = test::temp_onnx_path("ort-pads-export");
        io::write_onnx(full.network, again);
        const auto back = io::read_onnx(again);
        CHECK(back.network.at(back.network.affine_nodes().front()).conv.padding == c.expected);
        CHECK(net::forward<double>(back.network, x) == net::forward<double>(full.network, x));
    }

    SECTION("Keras padding='same', even kernel, through tf2onnx: NHWC input, Transpose, Conv pads [0, 0, 1, 1], Transpose back") {
        graph_builder k;
        k.input("x", {1, 4, 4, 2});
        graph_builder::ints(k.node("Transpose", {"x"}, "xt"), "perm", {0, 3, 1, 2});
        k.constant("K", {3, 2, 2, 2}, weights(24));
        k.constant("KB", {3}, {0.5f, 0.0f, -0.25f});
        graph_builder::ints(k.node("Conv", {"xt", "K", "KB"}, "conv"), "pads", {0, 0, 1, 1});
        k.node("Relu", {"conv"}, "r");
        graph_builder::ints(k.node("Transpose", {"r"}, "back"), "perm", {0, 2, 3, 1});
        k.node("Flatten", {"back"}, "flat");
        k.constant("W", {48, 2}, weights(96));
        k.node("MatMul", {"flat", "W"}, "y");
        k.output("y");
        const std::string path = k.save("ort-keras-same");
        const auto km = io::read_onnx(path);
        const auto nhwc = float_input(32, 44);
        const auto chw = nhwc_to_chw(nhwc, 4, 4, 2);
        require_agreement(net::forward<double>(km.network, chw), run_onnx_runtime(path, nhwc, {1, 4, 4, 2}));
    }
}

TEST_CASE("ONNX Runtime agrees on older tf2onnx graphs: Conv, Transpose to NHWC, bias Add, Relu, Transpose back", "[io][onnx][ort][nhwc]") {
    using test::graph_builder;
    auto weights = float_weights(51);
    graph_builder b;
    b.input("x", {1, 5, 5, 2});
    graph_builder::ints(b.node("Transpose", {"x"}, "xt"), "perm", {0, 3, 1, 2});
    b.constant("K1", {3, 2, 3, 3}, weights(54));
    graph_builder::ints(b.node("Conv", {"xt", "K1"}, "c1"), "pads", {1, 1, 1, 1});
    graph_builder::ints(b.node("Transpose", {"c1"}, "c1t"), "perm", {0, 2, 3, 1});
    b.constant("b1", {3}, {0.25f, -0.5f, 0.125f});  // NHWC: broadcasts along channels
    b.node("Add", {"c1t", "b1"}, "c1b");
    b.node("Relu", {"c1b"}, "r1");
    graph_builder::ints(b.node("Transpose", {"r1"}, "r1n"), "perm", {0, 3, 1, 2});
    auto* pool = b.node("MaxPool", {"r1n"}, "p");
    graph_builder::ints(pool, "kernel_shape", {2, 2});
    graph_builder::ints(pool, "strides", {2, 2});
    b.constant("K2", {4, 3, 2, 2}, weights(48));
    graph_builder::ints(b.node("Conv", {"p", "K2"}, "c2"), "pads", {0, 0, 1, 1});
    graph_builder::ints(b.node("Transpose", {"c2"}, "c2t"), "perm", {0, 2, 3, 1});
    b.constant("b2", {1, 1, 1, 4}, {0.5f, 0.0f, -0.25f, 1.0f});
    b.node("Add", {"c2t", "b2"}, "c2b");
    auto* clip = b.node("Clip", {"c2b"}, "r2");
    b.constant("lo", {}, {0.0f});
    b.constant("hi", {}, {6.0f});
    clip->add_input("lo");
    clip->add_input("hi");
    b.node("Flatten", {"r2"}, "f");  // NHWC order
    b.constant("W", {16, 3}, weights(48));
    b.node("MatMul", {"f", "W"}, "m");
    b.constant("B", {3}, {0.1f, 0.2f, -0.3f});
    b.node("Add", {"m", "B"}, "y");
    b.output("y");
    const std::string path = b.save("ort-tf2onnx-old");
    const auto m = io::read_onnx(path);
    for (std::uint64_t seed : {52, 53}) {
        const auto nhwc = float_input(50, seed);
        const auto chw = nhwc_to_chw(nhwc, 5, 5, 2);
        require_agreement(net::forward<double>(m.network, chw), run_onnx_runtime(path, nhwc, {1, 5, 5, 2}));
    }
    // The biases went into the convolutions: no extra node.
    CHECK(m.network.at(m.network.affine_nodes()[0]).bias == std::vector<double>{0.25, -0.5, 0.125});
    CHECK(m.network.at(m.network.affine_nodes()[1]).bias == std::vector<double>{0.5, 0.0, -0.25, 1.0});
}

TEST_CASE("a quantized copy written as float32 with the source's interface runs in ONNX Runtime", "[io][onnx][ort][quantize]") {
    // The Keras CNN: NHWC input 'conv2d_14_input', output 'dense_15'.
    const auto source = io::read_onnx(networks + "/cnn_max_mninst2.onnx");
    REQUIRE(source.input_nhwc);
    quant::options q;
    q.bits = 8;
    q.per_channel = true;
    q.significand_bits = 24;  // what `qbound quantize --float32` asks for
    const quant::result r = quant::quantize(source.network, q);
    const std::string path = test::temp_onnx_path("ort-quantized-float32");
    const io::onnx_interface interface{source.input_name, source.output_name, source.input_nhwc};
    CHECK(io::write_onnx(r.network, path, io::onnx_element_type::float32, interface) ==
          "input 'conv2d_14_input' [1, 28, 28, 1] (NHWC), output 'dense_15' [1, 10], float32");
    const auto back = io::read_onnx(path);
    CHECK(back.input_name == "conv2d_14_input");
    CHECK(back.output_name == "dense_15");
    CHECK(back.input_nhwc);
    for (std::size_t i : r.network.affine_nodes()) CHECK(back.network.at(i).weight == r.network.at(i).weight);  // bit-exact
    const auto nhwc = float_input(784, 61);  // one channel: NHWC and CHW orders coincide
    require_agreement(net::forward<double>(r.network, nhwc), run_onnx_runtime(path, nhwc, {1, 28, 28, 1}));
    // The same network on a double grid has weights float32 cannot hold: the float32 writer refuses it.
    q.significand_bits = 53;
    CHECK_THROWS_WITH(io::write_onnx(quant::quantize(source.network, q).network, path, io::onnx_element_type::float32, interface),
                      Catch::Matchers::Contains("is not exactly representable in float32"));
    // Names that collide with a generated tensor are refused.
    CHECK_THROWS_WITH(io::write_onnx(r.network, path, io::onnx_element_type::float64, {"t1", "", false}),
                      Catch::Matchers::Contains("the ONNX tensor name 't1' would be used twice"));
}
