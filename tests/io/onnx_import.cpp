// ONNX import: the three real exported networks, hand-built graphs in the
// PyTorch, Keras (NHWC) and NNet styles whose outputs are computed
// independently here, and hostile files.
#include "qbound/io/load.hpp"
#include "qbound/io/nnet.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"

#include "onnx_graph_builder.hpp"
#include "property_support.hpp"
#include "test_files.hpp"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <fstream>
#include <random>
#include <sstream>

using namespace qbound;
using qbound::test::graph_builder;
using Catch::Matchers::Contains;

namespace {

const std::string networks = QBOUND_TEST_NETWORKS;


std::string write_bytes(const std::string& bytes, const std::string& tag) {
    return qbound::test::write_temp_file(bytes, tag, ".onnx");
}

std::vector<float> ramp(std::size_t n, float scale, float shift = 0) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7) % 11) - shift;
    return v;
}

template <class T>
void require_enclosures(const net::network& net, const std::vector<double>& x) {
    const auto exact = net::forward<arith::rational>(net, net::input_from_doubles<arith::rational>(x));
    const auto enc = net::forward<T>(net, net::input_from_doubles<T>(x));
    for (std::size_t i = 0; i < exact.size(); ++i) REQUIRE(arith::contains(enc[i], exact[i]));
}

}  // namespace

TEST_CASE("real exports load: tf2onnx MLP, keras2onnx CNN, MATLAB ACAS Xu", "[io][onnx]") {
    const auto fc1 = io::read_onnx(networks + "/fc1.onnx");
    auto a = net::describe_architecture(fc1.network);
    CHECK(a.depth == 4);
    CHECK(a.input.size() == 2);
    CHECK(a.output.size() == 2);
    CHECK(a.max_width == 25);
    require_enclosures<arith::interval_double>(fc1.network, {0.3, -0.7});

    const auto cnn = io::read_onnx(networks + "/cnn_max_mninst2.onnx");
    CHECK(cnn.input_nhwc);
    CHECK(cnn.network.input_shape() == net::shape3{1, 28, 28});
    a = net::describe_architecture(cnn.network);
    CHECK(a.depth == 4);
    CHECK(a.output.size() == 10);
    std::vector<double> image(784);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<double>((i * 37) % 256) / 256.0;
    require_enclosures<arith::interval_double>(cnn.network, image);
    require_enclosures<arith::mpfi_interval>(cnn.network, image);
}

TEST_CASE("the ACAS Xu ONNX and NNet files agree once normalization is applied", "[io][onnx][nnet]") {
    // The ONNX graph subtracts a zero 'AvgImg' and so expects inputs already
    // normalized the NNet way, (x - mean) / range; its weights are float32
    // while the NNet file has decimal weights (nearest double).
    const auto onnx = io::read_onnx(networks + "/ACASXU_experimental_v2a_2_1.onnx");
    const auto nnet = io::read_nnet(networks + "/ACASXU_experimental_v2a_2_1.nnet");
    const auto& norm = nnet.network.at(1);
    REQUIRE(norm.kind == net::op::normalize);
    std::mt19937_64 rng(qbound::test::property_seed());
    double worst = 0;
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<double> x(5), xn(5);
        for (std::size_t i = 0; i < 5; ++i) {
            const double u = static_cast<double>(rng() >> 11) * 0x1p-53;
            x[i] = nnet.input_min[i] + u * (nnet.input_max[i] - nnet.input_min[i]);
            xn[i] = (x[i] - norm.norm_mean[i]) / norm.norm_divisor[i];
        }
        const auto y_nnet = net::forward<double>(nnet.network, x);
        const auto y_onnx = net::forward<double>(onnx.network, xn);
        for (std::size_t i = 0; i < 5; ++i) worst = std::max(worst, std::fabs(y_nnet[i] - y_onnx[i]) / (1 + std::fabs(y_nnet[i])));
    }
    INFO("largest relative difference " << worst);
    CHECK(worst < 1e-5);  // float32 weights vs decimal weights
    CHECK(worst > 0);     // the files really differ in their weights' precision
}

TEST_CASE("Keras-style NHWC graph: the Flatten permutation is folded exactly", "[io][onnx]") {
    // input NHWC 1x2x2x3 -> Transpose(0,3,1,2) -> Conv 1x1 (identity weights, separate Add bias)
    // -> Transpose(0,2,3,1) -> Flatten -> MatMul -> Add
    graph_builder b;
    b.input("x", {1, 2, 2, 3});
    auto* t1 = b.node("Transpose", {"x"}, "xt");
    graph_builder::ints(t1, "perm", {0, 3, 1, 2});
    std::vector<float> eye(9, 0.0f);
    for (int c = 0; c < 3; ++c) eye[static_cast<std::size_t>(c * 3 + c)] = 1.0f;
    b.constant("k", {3, 3, 1, 1}, eye);
    b.node("Conv", {"xt", "k"}, "conv");
    b.constant("cb", {1, 3, 1, 1}, {0.5f, -0.25f, 1.0f});
    b.node("Add", {"conv", "cb"}, "biased");
    auto* t2 = b.node("Transpose", {"biased"}, "back");
    graph_builder::ints(t2, "perm", {0, 2, 3, 1});
    b.node("Flatten", {"back"}, "flat");
    const auto w = ramp(12 * 2, 0.125f, 0.5f);
    b.constant("W", {12, 2}, w);
    b.node("MatMul", {"flat", "W"}, "mm");
    b.constant("B", {2}, {0.0625f, -1.0f});
    b.node("Add", {"mm", "B"}, "y");
    b.output("y");
    const auto m = io::read_onnx(b.save("keras"));
    REQUIRE(m.input_nhwc);
    // qbound's input is CHW; the file's is NHWC. Compute the file's result by hand.
    std::vector<double> nhwc(12);
    for (std::size_t i = 0; i < 12; ++i) nhwc[i] = 0.25 * static_cast<double>(i) - 1.0;
    std::vector<double> chw(12);
    for (std::size_t h = 0; h < 2; ++h)
        for (std::size_t w2 = 0; w2 < 2; ++w2)
            for (std::size_t c = 0; c < 3; ++c) chw[(c * 2 + h) * 2 + w2] = nhwc[(h * 2 + w2) * 3 + c];
    const double bias[3] = {0.5, -0.25, 1.0};
    std::vector<arith::rational> flat(12);  // NHWC order, after conv + bias
    for (std::size_t k = 0; k < 12; ++k) flat[k] = arith::to_rational(nhwc[k]) + arith::to_rational(bias[k % 3]);
    const auto y = net::forward<arith::rational>(m.network, net::input_from_doubles<arith::rational>(chw));
    for (std::size_t o = 0; o < 2; ++o) {
        arith::rational expected = arith::to_rational(o == 0 ? 0.0625 : -1.0);
        for (std::size_t k = 0; k < 12; ++k) expected += flat[k] * arith::to_rational(w[k * 2 + o]);
        CHECK(y[o] == expected);
    }
}

TEST_CASE("PyTorch-style graph: BN folded, Clip as ReLU6, Reshape from a Shape chain, residual Add", "[io][onnx]") {
    graph_builder b;
    b.input("x", {1, 2, 4, 4});
    b.constant("k", {2, 2, 3, 3}, ramp(36, 0.0625f, 0.25f));
    auto* conv = b.node("Conv", {"x", "k"}, "c");
    graph_builder::ints(conv, "pads", {1, 1, 1, 1});
    b.constant("g", {2}, {2.0f, 0.5f});
    b.constant("be", {2}, {0.25f, -0.5f});
    b.constant("mu", {2}, {0.125f, 0.0f});
    b.constant("var", {2}, {4.0f, 1.0f});
    auto* bn = b.node("BatchNormalization", {"c", "g", "be", "mu", "var"}, "bn");
    auto* eps = bn->add_attribute();
    eps->set_name("epsilon");
    eps->set_type(onnx::AttributeProto::FLOAT);
    eps->set_f(0.0f);
    b.constant("zero", {}, {0.0f});
    b.constant("six", {}, {6.0f});
    b.node("Clip", {"bn", "zero", "six"}, "r6");
    b.node("Add", {"r6", "x"}, "res");
    b.node("Shape", {"res"}, "shape");
    auto* idx = b.g->add_initializer();
    idx->set_name("i0");
    idx->set_data_type(onnx::TensorProto::INT64);
    idx->add_int64_data(0);
    b.node("Gather", {"shape", "i0"}, "n");
    auto* ax = b.g->add_initializer();
    ax->set_name("axes");
    ax->set_data_type(onnx::TensorProto::INT64);
    ax->add_dims(1);
    ax->add_int64_data(0);
    b.node("Unsqueeze", {"n", "axes"}, "n1");
    auto* m1 = b.g->add_initializer();
    m1->set_name("minus1");
    m1->set_data_type(onnx::TensorProto::INT64);
    m1->add_dims(1);
    m1->add_int64_data(-1);
    b.node("Concat", {"n1", "minus1"}, "target");
    b.node("Reshape", {"res", "target"}, "flat");
    b.constant("W", {3, 32}, ramp(96, 0.03125f, 0.125f));
    b.constant("B", {3}, {1.0f, 0.0f, -1.0f});
    auto* gemm = b.node("Gemm", {"flat", "W", "B"}, "y");
    auto* tb = gemm->add_attribute();
    tb->set_name("transB");
    tb->set_type(onnx::AttributeProto::INT);
    tb->set_i(1);
    b.output("y");
    const auto m = io::read_onnx(b.save("pytorch"));
    const auto a = net::describe_architecture(m.network);
    CHECK(a.depth == 2);
    CHECK(a.has_residual);
    std::vector<double> x(32);
    for (std::size_t i = 0; i < 32; ++i) x[i] = 0.125 * static_cast<double>(i % 9) - 0.5;
    // Reference by hand: conv (pad 1), BN with sigma = 2 and 1, ReLU6, + x, then W flat + B.
    const auto k = ramp(36, 0.0625f, 0.25f);
    const double gamma[2] = {2.0, 0.5}, beta[2] = {0.25, -0.5}, mu[2] = {0.125, 0.0}, sigma[2] = {2.0, 1.0};
    std::vector<arith::rational> res(32);
    for (std::size_t o = 0; o < 2; ++o)
        for (std::size_t h = 0; h < 4; ++h)
            for (std::size_t w2 = 0; w2 < 4; ++w2) {
                arith::rational acc = 0;
                for (std::size_t c = 0; c < 2; ++c)
                    for (std::size_t u = 0; u < 3; ++u)
                        for (std::size_t v = 0; v < 3; ++v) {
                            const long ih = static_cast<long>(h + u) - 1, iw = static_cast<long>(w2 + v) - 1;
                            if (ih < 0 || iw < 0 || ih >= 4 || iw >= 4) continue;
                            acc += arith::to_rational(k[((o * 2 + c) * 3 + u) * 3 + v]) *
                                   arith::to_rational(x[(c * 4 + static_cast<std::size_t>(ih)) * 4 + static_cast<std::size_t>(iw)]);
                        }
                const arith::rational z = arith::to_rational(gamma[o]) * (acc - arith::to_rational(mu[o])) / arith::to_rational(sigma[o]) +
                                          arith::to_rational(beta[o]);
                res[(o * 4 + h) * 4 + w2] = arith::relu6(z) + arith::to_rational(x[(o * 4 + h) * 4 + w2]);
            }
    const auto W = ramp(96, 0.03125f, 0.125f);
    const auto y = net::forward<arith::rational>(m.network, net::input_from_doubles<arith::rational>(x));
    for (std::size_t o = 0; o < 3; ++o) {
        arith::rational expected = o == 0 ? 1 : (o == 1 ? 0 : -1);
        for (std::size_t j = 0; j < 32; ++j) expected += arith::to_rational(W[o * 32 + j]) * res[j];
        // BN folding rounds (gamma / sigma) W and the bias in double: here
        // gamma / sigma are powers of two, so folding is exact.
        CHECK(y[o] == expected);
    }
}

TEST_CASE("unsupported operators and bad files are named", "[io][onnx][bad-input]") {
    graph_builder b;
    b.input("x", {1, 3});
    b.node("Softmax", {"x"}, "y");
    b.output("y");
    CHECK_THROWS_WITH(io::read_onnx(b.save("softmax")), Contains("node 'Softmax_y' (Softmax): operator 'Softmax' is not supported"));

    graph_builder nan_graph;
    nan_graph.input("x", {1, 2});
    nan_graph.constant("W", {2, 2}, {1.0f, std::nanf(""), 0.0f, 1.0f});
    nan_graph.node("MatMul", {"x", "W"}, "y");
    nan_graph.output("y");
    CHECK_THROWS_WITH(io::read_onnx(nan_graph.save("nan")), Contains("initializer 'W': value 1 is NaN"));

    graph_builder dynamic;
    auto* in = dynamic.g->add_input();
    in->set_name("x");
    auto* shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->add_dim()->set_dim_value(1);
    shape->add_dim()->set_dim_param("features");
    dynamic.node("Relu", {"x"}, "y");
    dynamic.output("y");
    CHECK_THROWS_WITH(io::read_onnx(dynamic.save("dynamic")), Contains("dynamic ('features')"));

    CHECK_THROWS_WITH(io::read_onnx("/nonexistent.onnx"), Contains("cannot open"));
    CHECK_THROWS_WITH(io::read_onnx(write_bytes("this is not protobuf \xff\xff\xff", "garbage")), Contains("not a valid ONNX"));
}

TEST_CASE("truncated and corrupted ONNX files never crash the importer", "[io][onnx][bad-input]") {
    const std::string content = qbound::test::read_file_bytes(networks + "/cnn_max_mninst2.onnx");
    std::size_t refused = 0, tried = 0;
    for (std::size_t cut = 1; cut < content.size(); cut += content.size() / 97 + 1) {
        ++tried;
        try {
            io::read_onnx(write_bytes(content.substr(0, cut), "truncated"));
        } catch (const net::model_error& e) {
            ++refused;
            REQUIRE_THAT(e.what(), Contains("qbound-test-truncated"));
        }
    }
    CHECK(refused == tried);
    std::mt19937_64 rng(qbound::test::property_seed());
    for (int trial = 0; trial < 100; ++trial) {
        std::string corrupted = content;
        for (int k = 0; k < 4; ++k) corrupted[rng() % corrupted.size()] = static_cast<char>(rng() & 0xff);
        try {
            const auto m = io::read_onnx(write_bytes(corrupted, "corrupted"));
            net::check_finite_weights(m.network);
        } catch (const net::model_error&) {
        }
    }
}

TEST_CASE("padding that qbound cannot represent is refused naming the node and the pads", "[io][onnx][bad-input][pads]") {
    const auto conv_graph = [](const std::function<void(onnx::NodeProto*)>& set, const char* op = "Conv") {
        graph_builder b;
        b.input("x", {1, 1, 5, 5});
        onnx::NodeProto* n = nullptr;
        if (std::string(op) == "Conv") {
            b.constant("W", {1, 1, 2, 2}, {1, 1, 1, 1});
            n = b.node("Conv", {"x", "W"}, "c");
        } else {
            n = b.node(op, {"x"}, "c");
            graph_builder::ints(n, "kernel_shape", {2, 2});
        }
        set(n);
        b.node("Flatten", {"c"}, "y");
        b.output("y");
        return b.save("pads-hostile");
    };
    CHECK_THROWS_WITH(io::read_onnx(conv_graph([](auto* n) { graph_builder::ints(n, "pads", {1, 1}); })),
                      Contains("node 'Conv_c' (Conv): pads [1, 1] has 2 entries; a 2-D Conv or pool takes 4"));
    CHECK_THROWS_WITH(io::read_onnx(conv_graph([](auto* n) { graph_builder::ints(n, "pads", {0, -1, 0, 1}); })),
                      Contains("negative pads [0, -1, 0, 1] (cropping) are not supported"));
    CHECK_THROWS_WITH(io::read_onnx(conv_graph([](auto* n) { graph_builder::text(n, "auto_pad", "SAME"); })),
                      Contains("auto_pad 'SAME' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"));
    CHECK_THROWS_WITH(io::read_onnx(conv_graph([](auto* n) {
                          graph_builder::text(n, "auto_pad", "SAME_UPPER");
                          graph_builder::ints(n, "dilations", {2, 2});
                      })),
                      Contains("auto_pad SAME_UPPER with dilation 2 is not supported"));
    // A pool pads with -infinity (max) or skips the pad (average): only equal padding on every side is represented.
    CHECK_THROWS_WITH(io::read_onnx(conv_graph([](auto* n) { graph_builder::text(n, "auto_pad", "SAME_UPPER"); }, "MaxPool")),
                      Contains("node 'MaxPool_c' (MaxPool): MaxPool with padding p[0,0,1,1] (top, left, bottom, right) is not supported"));
    CHECK_THROWS_WITH(io::read_onnx(conv_graph([](auto* n) { graph_builder::ints(n, "pads", {0, 0, 1, 1}); }, "AveragePool")),
                      Contains("AveragePool with padding p[0,0,1,1]"));
    // The same graphs with what is supported read.
    CHECK(io::read_onnx(conv_graph([](auto* n) { graph_builder::ints(n, "pads", {0, 0, 1, 1}); })).network.output_shape().size() == 25);
    CHECK(io::read_onnx(conv_graph([](auto* n) { graph_builder::text(n, "auto_pad", "SAME_LOWER"); })).network.output_shape().size() == 25);
    CHECK(io::read_onnx(conv_graph([](auto* n) { graph_builder::text(n, "auto_pad", "VALID"); })).network.output_shape().size() == 16);
}

TEST_CASE("a constant on an NHWC view folds into the layer only when nothing else reads it", "[io][onnx][bad-input][nhwc]") {
    const auto graph = [](const std::vector<std::int64_t>& bias_dims, std::size_t bias_values, bool second_reader) {
        graph_builder b;
        b.input("x", {1, 1, 3, 3});
        b.constant("K", {2, 1, 1, 1}, {1.0f, -1.0f});
        b.node("Conv", {"x", "K"}, "c");
        graph_builder::ints(b.node("Transpose", {"c"}, "ct"), "perm", {0, 2, 3, 1});
        b.constant("bias", bias_dims, std::vector<float>(bias_values, 0.5f));
        b.g->mutable_initializer()->rbegin()->set_float_data(0, 0.25f);
        b.node("Add", {"ct", "bias"}, "cb");
        b.node("Relu", {"cb"}, "r");
        graph_builder::ints(b.node("Transpose", {"r"}, "rn"), "perm", {0, 3, 1, 2});
        std::string last = "rn";
        if (second_reader) {
            b.node("Add", {"rn", "c"}, "sum");  // the Conv's output read a second time
            last = "sum";
        }
        b.node("Flatten", {last}, "y");
        b.output("y");
        return b.save("nhwc-view-fold");
    };
    const auto good = io::read_onnx(graph({2}, 2, false));
    CHECK(good.network.at(good.network.affine_nodes()[0]).bias == std::vector<double>{0.25, 0.5});
    CHECK_THROWS_WITH(io::read_onnx(graph({2}, 2, true)), Contains("node 'Add_cb' (Add): Add by a constant on an NHWC view of layer 'Conv_c', "
                                                                   "whose output other nodes also read"));
    // [1, 1, 3, 1] broadcasts along W in NHWC: it varies within an output channel.
    CHECK_THROWS_WITH(io::read_onnx(graph({1, 1, 3, 1}, 3, false)), Contains("varies within output channel 0"));
    // Pooling needs NCHW: on a view it is refused.
    graph_builder p;
    p.input("x", {1, 1, 4, 4});
    p.constant("K", {2, 1, 1, 1}, {1.0f, -1.0f});
    p.node("Conv", {"x", "K"}, "c");
    graph_builder::ints(p.node("Transpose", {"c"}, "ct"), "perm", {0, 2, 3, 1});
    graph_builder::ints(p.node("MaxPool", {"ct"}, "mp"), "kernel_shape", {2, 2});
    p.node("Flatten", {"mp"}, "y");
    p.output("y");
    CHECK_THROWS_WITH(io::read_onnx(p.save("nhwc-view-pool")), Contains("node 'MaxPool_mp' (MaxPool): input 'ct' is an NHWC view"));
}

TEST_CASE("constant folding of Slice, Reshape, ConstantOfShape and integer arithmetic follows ONNX and refuses absurd sizes", "[io][onnx][bad-input][pads]") {
    // pads = Slice(Concat(ConstantOfShape([4]), [1, 2]) reshaped to [3, 2], step -1) -> Reshape [-1]:
    // [[0, 0], [0, 0], [1, 2]] reversed along axis 0 = [[1, 2], [0, 0], [0, 0]] -> with the ONNX layout below.
    graph_builder b;
    b.input("x", {1, 1, 3, 3});
    b.int64s("four", {4});
    b.node("ConstantOfShape", {"four"}, "zeros");
    b.int64s("tail", {1, 2});
    auto* concat = b.node("Concat", {"zeros", "tail"}, "six");
    graph_builder::ints(concat, "axis", {0});
    concat->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
    concat->mutable_attribute(0)->set_i(0);
    b.int64s("shape32", {3, 2});
    b.node("Reshape", {"six", "shape32"}, "m");
    b.int64s("start", {-1});
    b.int64s("end", {std::numeric_limits<std::int64_t>::min()});
    b.int64s("axis0", {0});
    b.int64s("back", {-1});
    b.node("Slice", {"m", "start", "end", "axis0", "back"}, "r");  // rows 2, 1, 0
    b.int64s("flat", {-1});
    b.node("Reshape", {"r", "flat"}, "p6");  // [1, 2, 0, 0, 0, 0]
    b.int64s("two", {2});
    b.node("ConstantOfShape", {"two"}, "z2");
    auto* c2 = b.node("Concat", {"z2", "p6"}, "pads");  // [0, 0, 1, 2, 0, 0, 0, 0]
    c2->add_attribute()->set_name("axis");
    c2->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
    c2->mutable_attribute(0)->set_i(0);
    b.node("Pad", {"x", "pads"}, "xp");
    b.constant("W", {1, 1, 1, 1}, {1.0f});
    b.node("Conv", {"xp", "W"}, "c");
    b.node("Flatten", {"c"}, "y");
    b.output("y");
    const auto m = io::read_onnx(b.save("fold-chain")).network;
    CHECK(m.at(m.affine_nodes().front()).conv.padding == net::padding_2d{1, 2, 0, 0});
    CHECK(m.output_shape().size() == 4 * 5);

    const auto constant_of_shape = [](std::int64_t side) {
        graph_builder huge;
        huge.input("x", {1, 2});
        huge.int64s("dims", {side, side});
        huge.node("ConstantOfShape", {"dims"}, "big");
        huge.node("Relu", {"x"}, "y");
        huge.output("y");
        return huge.save("constant-of-shape-huge");
    };
    CHECK_THROWS_WITH(io::read_onnx(constant_of_shape(std::int64_t{1} << 20)),
                      Contains("ConstantOfShape: elements of dims [1048576, 1048576]: 1099511627776 exceeds the limit max_tensor_elements"));
    CHECK_THROWS_WITH(io::read_onnx(constant_of_shape(std::int64_t{1} << 40)),
                      Contains("ConstantOfShape: dims [1099511627776, 1099511627776] multiply to more than 2^64 elements"));
}
