// What real exporters and quantization tools write (qbound issue 21): weight-only
// QDQ (QuantizeLinear / DequantizeLinear on weights) in the PyTorch fixtures (a
// QAT-style fake-quant export, the same weights as int8 codes as ONNX Runtime's
// tool writes them, torch's own PTQ export), the exact dequantization checked
// against rationals on seeded random and adversarial graphs, QuantizeLinear's
// rounding, x.view(-1), Flatten axis 0, Transpose of a constant, constants folded
// into layers, the NHWC input rescaled before its Transpose, and hostile graphs.
#include "qbound/arith/rational.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"

#include "onnx_graph_builder.hpp"
#include "property_support.hpp"

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

using namespace qbound;
using qbound::test::graph_builder;
using Catch::Matchers::Contains;

namespace {

const std::string networks = QBOUND_TEST_NETWORKS;

// An initializer of an integer type, its values in raw_data (little endian) or in int32_data.
void integer_initializer(graph_builder& b, const std::string& name, int type, std::vector<std::int64_t> dims, const std::vector<std::int64_t>& v,
                         bool raw = true) {
    auto* t = b.g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (auto d : dims) t->add_dims(d);
    if (!raw) {
        for (auto x : v) t->add_int32_data(static_cast<std::int32_t>(x));
        return;
    }
    std::string bytes;
    for (auto x : v) {
        if (type == onnx::TensorProto::INT32) {
            const auto y = static_cast<std::int32_t>(x);
            bytes.append(reinterpret_cast<const char*>(&y), 4);
        } else if (type == onnx::TensorProto::INT16 || type == onnx::TensorProto::UINT16) {
            const auto y = static_cast<std::uint16_t>(x);
            bytes.append(reinterpret_cast<const char*>(&y), 2);
        } else {
            bytes.push_back(static_cast<char>(static_cast<std::uint8_t>(x)));
        }
    }
    t->set_raw_data(bytes);
}

void int_attr(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

// x (1 x in) -> MatMul with W = DequantizeLinear(codes in x out; scale, zero point) -> y.
graph_builder dequantized_matmul(std::size_t in, std::size_t out, int type, const std::vector<std::int64_t>& codes, const std::vector<float>& scale,
                                 const std::vector<std::int64_t>& zero_point, std::int64_t axis) {
    graph_builder b;
    b.input("x", {1, static_cast<std::int64_t>(in)});
    integer_initializer(b, "Wq", type, {static_cast<std::int64_t>(in), static_cast<std::int64_t>(out)}, codes);
    const std::vector<std::int64_t> sdims = scale.size() == 1 ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{static_cast<std::int64_t>(scale.size())};
    b.constant("s", sdims, scale);
    integer_initializer(b, "zp", type, sdims, zero_point);
    auto* dq = b.node("DequantizeLinear", {"Wq", "s", "zp"}, "W");
    int_attr(dq, "axis", axis);
    b.node("MatMul", {"x", "W"}, "y");
    b.output("y");
    return b;
}

std::vector<double> read_doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

// |a - b| <= 1e-4 max(1, max |b|): torch computes in float32.
void require_close(const std::vector<double>& ours, const std::vector<double>& theirs) {
    REQUIRE(ours.size() == theirs.size());
    double scale = 1;
    for (double v : theirs) scale = std::max(scale, std::fabs(v));
    for (std::size_t i = 0; i < ours.size(); ++i) {
        INFO("output " << i << ": qbound " << ours[i] << ", torch " << theirs[i]);
        REQUIRE(std::fabs(ours[i] - theirs[i]) <= 1e-4 * scale);
    }
}

}  // namespace

TEST_CASE("PyTorch fake-quant export and int8 weight-only QDQ read as the same quantized network", "[io][onnx][qdq]") {
    const auto fake = io::read_onnx(networks + "/torch_cnn_fakequant.onnx");
    const auto codes = io::read_onnx(networks + "/torch_cnn_qdq_int8.onnx");
    const auto plain = io::read_onnx(networks + "/torch_cnn.onnx");
    REQUIRE(fake.network.nodes().size() == codes.network.nodes().size());
    REQUIRE(plain.network.nodes().size() == codes.network.nodes().size());
    // qbound's QuantizeLinear (C++) and the fixture script's numpy codes agree on every weight, bit for bit.
    std::size_t weights = 0;
    for (std::size_t i = 0; i < codes.network.nodes().size(); ++i) {
        const auto& a = fake.network.at(i);
        const auto& b = codes.network.at(i);
        REQUIRE(a.kind == b.kind);
        REQUIRE(a.weight == b.weight);
        REQUIRE(a.bias == b.bias);
        weights += a.weight.size();
    }
    REQUIRE(weights == 1347 - 15);
    // Three dequantized tensors, each the weights of one layer, per output channel (axis 0).
    REQUIRE(codes.quantized_tensors.size() == 3);
    REQUIRE(fake.quantized_tensors.size() == 3);
    for (std::size_t t = 0; t < 3; ++t) {
        const auto& q = codes.quantized_tensors[t];
        CHECK(q.source == "initializer");
        CHECK(fake.quantized_tensors[t].source == "fake-quant");
        CHECK(q.role == "weights");
        CHECK_FALSE(q.layer.empty());
        CHECK(q.integer_type == "int8");
        CHECK(q.per_axis);
        CHECK(q.axis == 0);
        CHECK(q.zero_point_min == 0);
        CHECK(q.zero_point_max == 0);
        CHECK(q.code_min == -128);
        CHECK(q.code_max == 127);
        CHECK(q.scale_min > 0);
    }
    // Each quantized weight is within half a step of the float weight (nearest rounding, no clipping).
    for (std::size_t i = 0, t = 0; i < codes.network.nodes().size(); ++i) {
        const auto& q = codes.network.at(i);
        if (q.weight.empty()) continue;
        const auto& w = plain.network.at(i).weight;
        const double eta = codes.quantized_tensors.at(t++).scale_max;
        for (std::size_t k = 0; k < w.size(); ++k) {
            INFO("node " << i << " weight " << k);
            REQUIRE(std::fabs(q.weight[k] - w[k]) <= eta * (0.5 + 1e-5));  // + float32 rounding of w / eta near the clip
        }
    }
}

TEST_CASE("PyTorch exports agree with torch's own outputs: float, fake-quant, x.view(-1)", "[io][onnx][qdq]") {
    std::ifstream in(networks + "/torch_reference.json");
    REQUIRE(in);
    const auto ref = nlohmann::json::parse(in);
    const auto plain = io::read_onnx(networks + "/torch_cnn.onnx").network;
    const auto fake = io::read_onnx(networks + "/torch_cnn_fakequant.onnx").network;
    for (const auto& c : ref.at("cnn")) {
        const auto x = read_doubles(c.at("input"));
        require_close(net::forward<double>(plain, x), read_doubles(c.at("float")));
        require_close(net::forward<double>(fake, x), read_doubles(c.at("fakequant")));
    }
    const auto mlp = io::read_onnx(networks + "/torch_mlp_view.onnx").network;
    for (const auto& c : ref.at("mlp_view")) require_close(net::forward<double>(mlp, read_doubles(c.at("input"))), read_doubles(c.at("output")));
}

TEST_CASE("PyTorch's F.pad and ZeroPad2d before a Conv fold into its asymmetric pads and agree with torch", "[io][onnx][pads]") {
    std::ifstream in(networks + "/torch_reference.json");
    REQUIRE(in);
    const auto ref = nlohmann::json::parse(in);
    // torch 1.13 writes each Pad's amounts through ConstantOfShape / Concat / Reshape / Slice (step -1) /
    // Transpose / Cast, without constant folding also Shape and integer Mul / Sub: all folded at load.
    const auto m = io::read_onnx(networks + "/torch_cnn_pad.onnx").network;
    const auto& convs = m.affine_nodes();
    REQUIRE(convs.size() == 3);
    CHECK(m.at(convs[0]).conv.padding == net::padding_2d{0, 0, 1, 1});  // F.pad(x, (0, 1, 0, 1)): left, right, top, bottom
    CHECK(m.at(convs[1]).conv.padding == net::padding_2d{2, 1, 1, 0});  // ZeroPad2d((1, 0, 2, 1))
    for (const auto& c : ref.at("cnn_pad")) require_close(net::forward<double>(m, read_doubles(c.at("input"))), read_doubles(c.at("output")));
}

TEST_CASE("a Pad that does not fold into a Conv is refused with the reason", "[io][onnx][pads][bad-input]") {
    const auto graph = [](const std::vector<std::int64_t>& pads, const std::string& reader, const std::string& mode = "") {
        test::graph_builder b;
        b.input("x", {1, 1, 4, 4});
        b.int64s("pads", pads);
        auto* p = b.node("Pad", {"x", "pads"}, "p");
        if (!mode.empty()) test::graph_builder::text(p, "mode", mode);
        if (reader == "Conv") {
            b.constant("W", {1, 1, 2, 2}, {1, 2, 3, 4});
            b.node("Conv", {"p", "W"}, "c");
        } else {
            auto* r = b.node(reader, {"p"}, "c");
            if (reader == "MaxPool") test::graph_builder::ints(r, "kernel_shape", {2, 2});
        }
        b.node("Flatten", {"c"}, "y");
        b.output("y");
        return b.save("pad-hostile");
    };
    const auto m = io::read_onnx(graph({0, 0, 1, 0, 0, 0, 0, 2}, "Conv")).network;
    CHECK(m.at(m.affine_nodes().front()).conv.padding == net::padding_2d{1, 0, 0, 2});
    CHECK_THROWS_WITH(io::read_onnx(graph({0, 0, 1, 0, 0, 0, 0, 2}, "MaxPool")),
                      Contains("node 'MaxPool_c' (MaxPool): input 'p' is the output of a Pad; only a Conv may read it"));
    CHECK_THROWS_WITH(io::read_onnx(graph({0, 0, 1, 0, 0, 0, 0, 2}, "Relu")), Contains("is the output of a Pad"));
    CHECK_THROWS_WITH(io::read_onnx(graph({0, 1, 0, 0, 0, 0, 0, 0}, "Conv")), Contains("Pad of the batch or channel axis"));
    CHECK_THROWS_WITH(io::read_onnx(graph({0, 0, -1, 0, 0, 0, 0, 0}, "Conv")), Contains("negative (cropping)"));
    CHECK_THROWS_WITH(io::read_onnx(graph({0, 0, 1, 1, 0, 0, 1, 1}, "Conv", "reflect")), Contains("Pad mode 'reflect' is not supported"));
}

TEST_CASE("torch's post-training static quantization quantizes activations: refused, naming the node", "[io][onnx][qdq][bad-input]") {
    CHECK_THROWS_WITH(io::read_onnx(networks + "/torch_cnn_ptq.onnx"),
                      Contains("QuantizeLinear") && Contains("activation quantization, which qbound does not analyse") && Contains("'input'"));
}

TEST_CASE("DequantizeLinear is exact: seeded random and adversarial codes, scales and zero points against rationals", "[io][onnx][qdq][property]") {
    const std::uint64_t seed = test::property_seed();
    std::mt19937_64 rng(seed);
    const int types[] = {onnx::TensorProto::INT8, onnx::TensorProto::UINT8, onnx::TensorProto::INT16, onnx::TensorProto::UINT16,
                         onnx::TensorProto::INT32};
    std::size_t exact_cases = 0, refused_cases = 0;
    const std::size_t cases = std::max<std::size_t>(40, test::property_cases(200));
    for (std::size_t c = 0; c < cases; ++c) {
        const int type = types[rng() % 5];
        std::string name;
        std::int64_t lo = 0, hi = 0;
        switch (type) {
            case onnx::TensorProto::INT8: lo = -128, hi = 127; break;
            case onnx::TensorProto::UINT8: lo = 0, hi = 255; break;
            case onnx::TensorProto::INT16: lo = -32768, hi = 32767; break;
            case onnx::TensorProto::UINT16: lo = 0, hi = 65535; break;
            default: lo = -2147483648LL, hi = 2147483647LL; break;
        }
        const std::size_t in = 1 + rng() % 3, out = 1 + rng() % 3;
        const bool per_axis = rng() % 2;
        const std::int64_t axis = per_axis ? static_cast<std::int64_t>(rng() % 2) : 1;
        const std::size_t scales = per_axis ? (axis == 0 ? in : out) : 1;
        const auto code = [&] {
            // adversarial: the type's ends half of the time
            if (rng() % 2) return rng() % 2 ? lo : hi;
            return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
        };
        std::vector<std::int64_t> codes(in * out), zp(scales);
        for (auto& q : codes) q = code();
        for (auto& z : zp) z = rng() % 3 == 0 ? 0 : code();
        std::vector<float> scale(scales);
        for (auto& s : scale) {
            // full-mantissa float32 scales (products of 24 x up to 33 bits: often not doubles), short ones, tiny ones
            const int kind = static_cast<int>(rng() % 3);
            const float m = kind == 1 ? static_cast<float>(1 + rng() % 8) : static_cast<float>(1.0 + static_cast<double>(rng() >> 40) * 0x1p-24);
            s = std::ldexp(m, kind == 2 ? -140 + static_cast<int>(rng() % 10) : -static_cast<int>(rng() % 20));
        }
        auto b = dequantized_matmul(in, out, type, codes, scale, zp, axis);
        const std::string path = b.save("qdq-property");
        // The exact weights, element (i, o) of the in x out matrix.
        bool representable = true;
        std::vector<double> want(in * out);
        for (std::size_t i = 0; i < in; ++i)
            for (std::size_t o = 0; o < out; ++o) {
                const std::size_t k = i * out + o, si = per_axis ? (axis == 0 ? i : o) : 0;
                const arith::rational exact = arith::rational(codes[k] - zp[si]) * arith::to_rational(static_cast<double>(scale[si]));
                const double d = static_cast<double>(exact);  // exact whenever the product is a double
                representable = representable && std::isfinite(d) && arith::compare(exact, d) == 0;
                want[k] = d;
            }
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ": type " << type << ", " << in << " x " << out
                     << (per_axis ? ", per axis " + std::to_string(axis) : ", per tensor"));
        if (!representable) {
            REQUIRE_THROWS_WITH(io::read_onnx(path), Contains("is not a double"));
            ++refused_cases;
            continue;
        }
        const auto m = io::read_onnx(path);
        const auto& w = m.network.at(1).weight;  // out x in, row-major
        for (std::size_t i = 0; i < in; ++i)
            for (std::size_t o = 0; o < out; ++o) REQUIRE(w[o * in + i] == want[i * out + o]);
        REQUIRE(m.quantized_tensors.size() == 1);
        REQUIRE(m.quantized_tensors[0].per_axis == (per_axis && scales > 1));  // one scale is per tensor
        ++exact_cases;
    }
    // The generator reaches both outcomes.
    CHECK(exact_cases > 0);
    CHECK(refused_cases > 0);
}

TEST_CASE("QuantizeLinear rounds x / scale in float32 half to even and saturates to the zero point's type", "[io][onnx][qdq]") {
    const auto fake_quant = [](const std::vector<float>& w, float scale, int type, std::int64_t zp) {
        graph_builder b;
        b.input("x", {1, static_cast<std::int64_t>(w.size())});
        b.constant("W", {static_cast<std::int64_t>(w.size()), 1}, w);
        b.constant("s", {}, {scale});
        integer_initializer(b, "zp", type, {}, {zp});
        b.node("QuantizeLinear", {"W", "s", "zp"}, "Wq");
        b.node("DequantizeLinear", {"Wq", "s", "zp"}, "Wd");
        b.node("MatMul", {"x", "Wd"}, "y");
        b.output("y");
        return io::read_onnx(b.save("fake-quant")).network.at(1).weight;
    };
    // ties: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4; 0.49999997 -> 0
    CHECK(fake_quant({2.5f, 3.5f, -2.5f, -3.5f, 0.49999997f}, 1.0f, onnx::TensorProto::INT8, 0) == std::vector<double>{2, 4, -2, -4, 0});
    // saturation to int8 and to uint8 (the zero point shifts the codes)
    CHECK(fake_quant({300.0f, -300.0f}, 1.0f, onnx::TensorProto::INT8, 0) == std::vector<double>{127, -128});
    CHECK(fake_quant({300.0f, -300.0f, 1.0f}, 1.0f, onnx::TensorProto::UINT8, 128) == std::vector<double>{127, -128, 1});
    // the division is float32's: 0.3f / 0.1f = 3.0f exactly in float32 (2.9999998 in double)
    CHECK(fake_quant({0.3f}, 0.1f, onnx::TensorProto::INT8, 0) == std::vector<double>{3 * static_cast<double>(0.1f)});
}

TEST_CASE("hostile QDQ graphs are refused with the node and the reason", "[io][onnx][qdq][bad-input]") {
    // wrong per-axis scale count
    auto wrong_axis = dequantized_matmul(2, 3, onnx::TensorProto::INT8, {1, 2, 3, 4, 5, 6}, {0.5f, 0.25f}, {0, 0}, 1);
    CHECK_THROWS_WITH(io::read_onnx(wrong_axis.save("qdq-axis")), Contains("DequantizeLinear") && Contains("per-axis scale of 2 values for axis 1 of length 3"));
    // zero and negative scales
    auto zero_scale = dequantized_matmul(1, 1, onnx::TensorProto::INT8, {1}, {0.0f}, {0}, 1);
    CHECK_THROWS_WITH(io::read_onnx(zero_scale.save("qdq-zero")), Contains("not a positive finite number"));
    auto negative = dequantized_matmul(1, 1, onnx::TensorProto::INT8, {1}, {-1.0f}, {0}, 1);
    CHECK_THROWS_WITH(io::read_onnx(negative.save("qdq-neg")), Contains("not a positive finite number"));
    // axis out of range
    auto far_axis = dequantized_matmul(2, 2, onnx::TensorProto::INT8, {1, 2, 3, 4}, {0.5f, 0.25f}, {0, 0}, 5);
    CHECK_THROWS_WITH(io::read_onnx(far_axis.save("qdq-far")), Contains("axis 5 is out of range"));
    // an int8 tensor whose int32_data holds a value outside int8
    {
        graph_builder b;
        b.input("x", {1, 1});
        integer_initializer(b, "Wq", onnx::TensorProto::INT8, {1, 1}, {300}, /*raw=*/false);
        b.constant("s", {}, {1.0f});
        b.node("DequantizeLinear", {"Wq", "s"}, "W");
        b.node("MatMul", {"x", "W"}, "y");
        b.output("y");
        CHECK_THROWS_WITH(io::read_onnx(b.save("qdq-range")), Contains("initializer 'Wq': value 300 is not a int8 value"));
    }
    // zero point of another type
    {
        graph_builder b;
        b.input("x", {1, 1});
        integer_initializer(b, "Wq", onnx::TensorProto::INT8, {1, 1}, {3});
        b.constant("s", {}, {1.0f});
        integer_initializer(b, "zp", onnx::TensorProto::UINT8, {}, {3});
        b.node("DequantizeLinear", {"Wq", "s", "zp"}, "W");
        b.node("MatMul", {"x", "W"}, "y");
        b.output("y");
        CHECK_THROWS_WITH(io::read_onnx(b.save("qdq-zp-type")), Contains("zero point's data type"));
    }
    // DequantizeLinear of float data
    {
        graph_builder b;
        b.input("x", {1, 1});
        b.constant("Wq", {1, 1}, {3.0f});
        b.constant("s", {}, {1.0f});
        b.node("DequantizeLinear", {"Wq", "s"}, "W");
        b.node("MatMul", {"x", "W"}, "y");
        b.output("y");
        CHECK_THROWS_WITH(io::read_onnx(b.save("qdq-float")), Contains("DequantizeLinear of a tensor of data type 1 is not supported"));
    }
    // blocked quantization
    {
        auto b = dequantized_matmul(2, 2, onnx::TensorProto::INT8, {1, 2, 3, 4}, {0.5f}, {0}, 1);
        int_attr(b.g->mutable_node(0), "block_size", 2);
        CHECK_THROWS_WITH(io::read_onnx(b.save("qdq-block")), Contains("blocked quantization"));
    }
    // activation quantization: QDQ on the computed tensor
    {
        graph_builder b;
        b.input("x", {1, 2});
        b.constant("s", {}, {0.5f});
        b.node("QuantizeLinear", {"x", "s"}, "xq");
        b.node("DequantizeLinear", {"xq", "s"}, "xd");
        b.node("Relu", {"xd"}, "y");
        b.output("y");
        CHECK_THROWS_WITH(io::read_onnx(b.save("qdq-act")),
                          Contains("node 'QuantizeLinear_xq' (QuantizeLinear)") && Contains("activation quantization"));
    }
}

TEST_CASE("Flatten with axis 0, Reshape to [-1] and Transpose of a constant at batch 1", "[io][onnx]") {
    for (const std::string form : {"flatten0", "reshape-1", "reshape-n"}) {
        graph_builder b;
        b.input("x", {1, 2, 2, 1});
        if (form == "flatten0") {
            auto* f = b.node("Flatten", {"x"}, "f");
            int_attr(f, "axis", 0);
        } else {
            b.constant("shape", {1}, {form == "reshape-1" ? -1.0f : 4.0f});
            b.node("Reshape", {"x", "shape"}, "f");
        }
        // W^T stored as 3 x 4, transposed at load (PyTorch's Linear on a 1-D tensor)
        b.constant("Wt", {3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        auto* t = b.node("Transpose", {"Wt"}, "W");
        test::graph_builder::ints(t, "perm", {1, 0});
        b.node("MatMul", {"f", "W"}, "y");
        b.output("y");
        INFO(form);
        const auto n = io::read_onnx(b.save("flatten-" + form)).network;
        const auto y = net::forward<double>(n, {1, -1, 2, 0.5});
        REQUIRE(y == std::vector<double>{1 - 2 + 6 + 2, 5 - 6 + 14 + 4, 9 - 10 + 22 + 6});
    }
    graph_builder bad;
    bad.input("x", {1, 2, 2});
    bad.constant("shape", {1}, {3.0f});
    bad.node("Reshape", {"x", "shape"}, "f");
    bad.output("f");
    CHECK_THROWS_WITH(io::read_onnx(bad.save("reshape-bad")), Contains("Reshape to this shape is not supported"));
}

TEST_CASE("constants inside the network that cannot be folded exactly are refused with the reason", "[io][onnx][bad-input]") {
    // x (1 x 2) -> Gemm -> [step] -> y
    const auto dense_then = [](const std::string& op, const std::string& after, std::vector<std::int64_t> cdims, std::vector<float> c) {
        graph_builder b;
        b.input("x", {1, 2});
        b.constant("W", {2, 3}, {1, 2, 3, 4, 5, 6});
        b.node("MatMul", {"x", "W"}, "h");
        std::string in = "h";
        if (after == "relu") {
            b.node("Relu", {"h"}, "hr");
            in = "hr";
        }
        b.constant("c", cdims, c);
        b.node(op, {in, "c"}, "y");
        if (after == "shared") {
            b.node("Add", {"y", "h"}, "z");  // h read twice
            b.output("z");
        } else {
            b.output("y");
        }
        return b.save("fold-" + op + "-" + after);
    };
    CHECK_THROWS_WITH(io::read_onnx(dense_then("Div", "", {}, {3.0f})), Contains("cannot be folded exactly into layer") && Contains("would not be a double"));
    CHECK_THROWS_WITH(io::read_onnx(dense_then("Mul", "relu", {}, {2.0f})), Contains("after a 'relu' node is not supported"));
    CHECK_THROWS_WITH(io::read_onnx(dense_then("Mul", "shared", {}, {2.0f})), Contains("which other nodes also read"));
    CHECK_THROWS_WITH(io::read_onnx(dense_then("Mul", "", {2}, {2.0f, 3.0f})), Contains("does not broadcast to [1, 3]"));
    CHECK_THROWS_WITH(io::read_onnx(dense_then("Div", "", {}, {0.0f})), Contains("Div by a constant 0"));
    // folded exactly: Mul by 2, Div by 4, Sub per feature
    const auto m = io::read_onnx(dense_then("Mul", "", {3}, {2.0f, -1.0f, 0.5f})).network;
    CHECK(net::forward<double>(m, {1, 1}) == std::vector<double>{(1 + 4) * 2.0, (2 + 5) * -1.0, (3 + 6) * 0.5});
    // a conv followed by a Mul that varies within a channel
    graph_builder b;
    b.input("x", {1, 1, 2, 2});
    b.constant("W", {1, 1, 1, 1}, {1});
    b.node("Conv", {"x", "W"}, "c");
    b.constant("s", {1, 1, 2, 2}, {1, 2, 3, 4});
    b.node("Mul", {"c", "s"}, "y");
    b.output("y");
    CHECK_THROWS_WITH(io::read_onnx(b.save("fold-varying")), Contains("varies within output channel 0"));
    // the NHWC input used by something other than a rescaling before its Transpose
    graph_builder early;
    early.input("x", {1, 2, 2, 3});
    early.constant("s", {}, {2.0f});
    early.node("Mul", {"x", "s"}, "xs");
    early.node("Relu", {"xs"}, "r");
    auto* t = early.node("Transpose", {"r"}, "y");
    graph_builder::ints(t, "perm", {0, 3, 1, 2});
    early.output("y");
    CHECK_THROWS_WITH(io::read_onnx(early.save("nhwc-early")), Contains("perm [0, 3, 1, 2] of this tensor is not supported"));
}
