// The hostile corpus: files made to break a reader (truncated protobufs,
// wrong dims, dims whose product overflows 64 bits, NaN/Inf weights, graph
// cycles, unknown operators, empty graphs, absurd NNet headers, malformed
// CSV/.npy, malformed witness.json, files beyond the limits of io/limits.hpp).
// Each is written here at run time, then read by qbound_load_file in a child
// process under a memory limit (ulimit -v; under AddressSanitizer, whose
// shadow memory a ulimit would break, ASan's own max_allocation_size_mb), and
// must be refused with exactly the error written below: no crash, no other
// exception, no allocation beyond the limit.
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/network.hpp"

#include "onnx_graph_builder.hpp"

#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define QBOUND_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QBOUND_TEST_ASAN 1
#endif
#endif

namespace fs = std::filesystem;
using qbound::test::graph_builder;

namespace {

// Child processes may not reserve more than this (KiB of virtual memory).
constexpr long memory_limit_kib = 512 * 1024;

struct hostile_case {
    std::string name;      // also the file name
    std::string kind;      // qbound_load_file's KIND
    std::string bytes;     // the file
    std::string expected;  // the exact error; '@' stands for the file's path
    std::string env = {};  // e.g. QBOUND_LIMITS=max_nodes=10
};

const fs::path& corpus_folder() {
    static const fs::path folder = [] {
        auto f = fs::temp_directory_path() / ("qbound-hostile-" + std::to_string(::getpid()));
        fs::create_directories(f);
        return f;
    }();
    return folder;
}

std::string serialized(const onnx::ModelProto& m) {
    std::string s;
    REQUIRE(m.SerializeToString(&s));
    return s;
}

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
    std::string s(v.size() * sizeof(T), '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

// x [1, 2] -> MatMul W -> y, with W given by `fill`.
template <class Fill>
std::string matmul_model(Fill fill) {
    graph_builder b;
    b.input("x", {1, 2});
    auto* w = b.g->add_initializer();
    w->set_name("W");
    fill(*w);
    b.node("MatMul", {"x", "W"}, "y");
    b.output("y");
    return serialized(b.model);
}

std::string small_mlp_model() {
    return matmul_model([](onnx::TensorProto& w) {
        w.set_data_type(onnx::TensorProto::FLOAT);
        w.add_dims(2);
        w.add_dims(2);
        for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) w.add_float_data(v);
    });
}

std::string npy(const std::string& descr, const std::string& shape, const std::string& data) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY\x01";
    bytes += '\0';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return bytes + header + data;
}

std::vector<hostile_case> onnx_cases() {
    std::vector<hostile_case> cases;
    const std::string valid = small_mlp_model();
    cases.push_back({"truncated.onnx", "onnx", valid.substr(0, valid.size() - 7),
                     "@: not a valid ONNX protobuf (truncated or malformed)"});
    cases.push_back({"garbage.onnx", "onnx", std::string("\xff\xff\xff\xff\x0f not protobuf", 17),
                     "@: not a valid ONNX protobuf (truncated or malformed)"});
    cases.push_back({"no_graph.onnx", "onnx", "", "@: the model has no graph"});
    cases.push_back({"raw_data_short.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::FLOAT);
                         w.add_dims(2);
                         w.add_dims(2);
                         w.set_raw_data(std::string(12, '\0'));
                     }),
                     "@: initializer 'W': raw_data has 12 bytes, expected 16"});
    cases.push_back({"typed_count.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::DOUBLE);
                         w.add_dims(2);
                         w.add_dims(2);
                         w.add_double_data(1);
                     }),
                     "@: initializer 'W': has 1 values, dims say 4"});
    cases.push_back({"dims_overflow.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::FLOAT);
                         for (std::int64_t d : {std::int64_t{1} << 32, std::int64_t{1} << 32, std::int64_t{16}}) w.add_dims(d);
                     }),
                     "@: initializer 'W': dims [4294967296, 4294967296, 16] multiply to more than 2^64 elements"});
    cases.push_back({"dims_huge.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::FLOAT);
                         w.add_dims(std::int64_t{1} << 20);
                         w.add_dims(std::int64_t{1} << 20);
                     }),
                     "@: initializer 'W': elements of dims [1048576, 1048576]: 1099511627776 exceeds the limit max_tensor_elements "
                     "= 268435456 (raise it with QBOUND_LIMITS=max_tensor_elements=N)"});
    cases.push_back({"dims_bytes.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::DOUBLE);
                         w.add_dims(std::int64_t{1} << 14);
                         w.add_dims(std::int64_t{1} << 14);
                     }),
                     "@: initializer 'W': data bytes: 2147483648 exceeds the limit max_tensor_bytes = 1048576 (raise it with "
                     "QBOUND_LIMITS=max_tensor_bytes=N)",
                     "QBOUND_LIMITS=max_tensor_bytes=1048576"});
    cases.push_back({"dims_negative.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::FLOAT);
                         w.add_dims(-1);
                         w.add_dims(2);
                     }),
                     "@: initializer 'W': dimension -1 is negative"});
    cases.push_back({"nan_weight.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::FLOAT);
                         w.add_dims(2);
                         w.add_dims(2);
                         w.set_raw_data(raw_bytes(std::vector<float>{1.0f, std::nanf(""), 0.0f, 1.0f}));
                     }),
                     "@: initializer 'W': value 1 is NaN"});
    cases.push_back({"inf_weight.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::DOUBLE);
                         w.add_dims(2);
                         w.add_dims(2);
                         for (double v : {0.0, 1.0, -HUGE_VAL, 2.0}) w.add_double_data(v);
                     }),
                     "@: initializer 'W': value 2 is infinite"});
    cases.push_back({"external_data.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::FLOAT);
                         w.add_dims(2);
                         w.add_dims(2);
                         w.set_data_location(onnx::TensorProto::EXTERNAL);
                     }),
                     "@: initializer 'W': external tensor data is not supported"});
    cases.push_back({"bad_dtype.onnx", "onnx", matmul_model([](onnx::TensorProto& w) {
                         w.set_data_type(onnx::TensorProto::STRING);
                         w.add_dims(1);
                     }),
                     "@: initializer 'W': tensor data type 8 is not supported"});
    {
        graph_builder b;  // y1 = Relu(y2), y2 = Relu(y1)
        b.input("x", {1, 2});
        b.node("Relu", {"y2"}, "y1");
        b.node("Relu", {"y1"}, "y2");
        b.output("y2");
        cases.push_back({"cycle.onnx", "onnx", serialized(b.model),
                         "@: node 'Relu_y1' (Relu): input 'y2' is not produced by any earlier node (a cycle, or nodes out of "
                         "topological order)"});
    }
    {
        graph_builder b;
        b.input("x", {1, 3});
        b.node("Softmax", {"x"}, "y");
        b.output("y");
        cases.push_back({"unknown_op.onnx", "onnx", serialized(b.model), "@: node 'Softmax_y' (Softmax): operator 'Softmax' is not supported"});
    }
    {
        graph_builder b;
        b.input("x", {1, 3});
        b.output("x");
        cases.push_back({"empty_graph.onnx", "onnx", serialized(b.model), "@: the graph is empty (no nodes)"});
    }
    {
        graph_builder b;
        b.input("x", {1, 3});
        b.node("Relu", {"x"}, "y");
        b.output("z");
        cases.push_back({"output_missing.onnx", "onnx", serialized(b.model), "@: the graph output 'z' is not produced by any node"});
    }
    {
        graph_builder b;  // an If whose branches nest 9 graphs deep
        b.input("x", {1, 3});
        auto* n = b.node("If", {"x"}, "y");
        for (int depth = 2; depth <= 9; ++depth) {
            auto* a = n->add_attribute();
            a->set_name("then_branch");
            a->set_type(onnx::AttributeProto::GRAPH);
            auto* g = a->mutable_g();
            g->set_name("g" + std::to_string(depth));
            n = g->add_node();
            n->set_op_type("If");
        }
        b.output("y");
        cases.push_back({"nesting.onnx", "onnx", serialized(b.model),
                         "@: graph 'g9': subgraph nesting depth: 9 exceeds the limit max_graph_depth = 8 (raise it with "
                         "QBOUND_LIMITS=max_graph_depth=N)"});
    }
    {
        graph_builder b;
        b.input("x", {1, 3});
        std::string prev = "x";
        for (int k = 0; k < 11; ++k) {
            b.node("Relu", {prev}, "r" + std::to_string(k));
            prev = "r" + std::to_string(k);
        }
        b.output(prev);
        cases.push_back({"many_nodes.onnx", "onnx", serialized(b.model),
                         "@: graph 'test': node count: 11 exceeds the limit max_nodes = 10 (raise it with QBOUND_LIMITS=max_nodes=N)",
                         "QBOUND_LIMITS=max_nodes=10"});
    }
    {
        graph_builder b;
        b.input("x", {1, 1 << 24, 1 << 24, 16});
        b.node("Relu", {"x"}, "y");
        b.output("y");
        cases.push_back({"input_huge.onnx", "onnx", serialized(b.model),
                         "@: input 'x': elements of dims [1, 16777216, 16777216, 16]: 4503599627370496 exceeds the limit "
                         "max_tensor_elements = 268435456 (raise it with QBOUND_LIMITS=max_tensor_elements=N)"});
    }
    {
        graph_builder b;  // a 1x1 convolution to 64 channels: 4 KiB of file, 2^30 activations
        b.input("x", {1, 1, 4096, 4096});
        b.constant("W", {64, 1, 1, 1}, std::vector<float>(64, 1.0f));
        b.node("Conv", {"x", "W"}, "y");
        b.output("y");
        cases.push_back({"activation_huge.onnx", "onnx", serialized(b.model),
                         "@: node 'Conv_y' (Conv): output tensor: elements of dims [64, 4096, 4096]: 1073741824 exceeds the limit "
                         "max_tensor_elements = 268435456 (raise it with QBOUND_LIMITS=max_tensor_elements=N)"});
    }
    {
        graph_builder b;  // Reshape by a shape whose values no int64 holds
        b.input("x", {1, 2, 2, 2});
        b.constant("s", {2}, {1.0f, 1e30f});
        b.node("Reshape", {"x", "s"}, "y");
        b.output("y");
        cases.push_back({"reshape_absurd.onnx", "onnx", serialized(b.model),
                         "@: node 'Reshape_y' (Reshape): Reshape dimension 1000000015047466219876688855040.000000 is not an integer in range"});
    }
    cases.push_back({"too_big.onnx", "onnx", valid,
                     "@: file size in bytes: " + std::to_string(valid.size()) +
                         " exceeds the limit max_file_bytes = 16 (raise it with QBOUND_LIMITS=max_file_bytes=N)",
                     "QBOUND_LIMITS=max_file_bytes=16"});
    cases.push_back({"bad_limits.onnx", "onnx", valid, "QBOUND_LIMITS: max_nodes = 'lots' is not a positive integer",
                     "QBOUND_LIMITS=max_nodes=lots"});
    return cases;
}

std::vector<hostile_case> nnet_cases() {
    return {
        {"layers_absurd.nnet", "nnet", "1e12,3,1,5,\n",
         "@:1: numLayers: 1000000000000 exceeds the limit max_nnet_layers = 1000 (raise it with QBOUND_LIMITS=max_nnet_layers=N)"},
        {"layers_negative.nnet", "nnet", "-3,3,1,5,\n", "@:1: numLayers: -3 is not a positive integer"},
        {"size_absurd.nnet", "nnet", "1,2,1,2,\n2,100000,\n",
         "@:2: layer size: 100000 exceeds the limit max_nnet_layer_size = 65536 (raise it with QBOUND_LIMITS=max_nnet_layer_size=N)"},
        {"parameters_absurd.nnet", "nnet", "3,65536,65536,65536,\n65536,65536,65536,65536,\n",
         "@:2: weights and biases: 12885098496 exceeds the limit max_parameters = 268435456 (raise it with "
         "QBOUND_LIMITS=max_parameters=N)"},
        {"parameters_vs_file.nnet", "nnet", "1,8192,1,8192,\n8192,1,\n",
         "@:2: layer sizes declare 8193 weights and biases, more than a file of 23 bytes can hold (truncated?)"},
        {"header_short.nnet", "nnet", "1,2,\n", "@:1: header (numLayers, inputSize, outputSize, maxLayerSize): expected 4 values, found 2"},
        {"not_a_number.nnet", "nnet", "1,2,1,2,\n2,x1,\n", "@:2: layer sizes: 'x1' is not a number"},
        {"nan_weight.nnet", "nnet", "1,2,1,2,\n2,1,\n0,\n0,0,\n1,1,\n0,0,0,\n1,1,1,\n1,nan,\n0,\n",
         "@:8: weight row: value 'nan' is not finite"},
        {"truncated.nnet", "nnet", "1,2,1,2,\n2,1,\n0,\n0,0,\n1,1,\n0,0,0,\n1,1,1,\n1,2,\n",
         "@:8: file ends before bias (truncated)"},
        {"trailing.nnet", "nnet", "1,1,1,1,\n1,1,\n0,\n0,\n1,\n0,0,\n1,1,\n2,\n3,\n4,\n", "@:10: unexpected data after the last layer"},
    };
}

std::vector<hostile_case> calibration_cases() {
    const std::string p = "calibration file @: ";
    std::vector<hostile_case> cases = {
        {"not_a_number.csv", "calib:2", "1,abc\n", p + "line 1, column 2: 'abc' is not a number"},
        {"empty_value.csv", "calib:2", "1,,\n", p + "line 1, column 2: empty value"},
        {"infinite.csv", "calib:1", "inf\n", p + "line 1, column 1: value is infinite"},
        {"out_of_range.csv", "calib:1", "1e999\n", p + "line 1, column 1: '1e999' is out of the double range"},
        {"wrong_count.csv", "calib:3", "1,2\n", p + "line 1: 2 values, the network takes 3 inputs"},
        {"empty.csv", "calib:3", "# only a comment\n\n", p + "no calibration inputs (empty file)"},
        {"too_many.csv", "calib:1", "1\n2\n3\n",
         p + "line 3: calibration inputs: 3 exceeds the limit max_calibration_samples = 2 (raise it with "
             "QBOUND_LIMITS=max_calibration_samples=N)",
         "QBOUND_LIMITS=max_calibration_samples=2"},
        {"bad_magic.npy", "calib:2", "NUMPY not really", p + "not a .npy file (bad magic)"},
        {"big_endian.npy", "calib:2", npy(">f8", "(1, 2)", std::string(16, '\0')),
         p + "unsupported dtype '>f8' (supported: '<f4' float32, '<f8' float64, little-endian)"},
        {"truncated_data.npy", "calib:2", npy("<f8", "(3, 2)", std::string(40, '\0')),
         p + "truncated data: shape (3, 2) needs 48 bytes, the file has 40"},
        {"samples_absurd.npy", "calib:2", npy("<f8", "(4611686018427387904, 2)", std::string(16, '\0')),
         p + "shape (4611686018427387904, 2): calibration inputs: 4611686018427387904 exceeds the limit max_calibration_samples = "
             "1048576 (raise it with QBOUND_LIMITS=max_calibration_samples=N)"},
        {"shape_overflow.npy", "calib:2", npy("<f8", "(1, 4294967296, 4294967296, 2)", std::string(16, '\0')),
         p + "absurd shape (1, 4294967296, 4294967296, 2)"},
        {"shape_malformed.npy", "calib:2", npy("<f8", "(1, -2)", std::string(16, '\0')), p + "malformed shape (1, -2)"},
        {"nan.npy", "calib:2", npy("<f8", "(1, 2)", raw_bytes(std::vector<double>{1.0, std::nan("")})), p + "input 1, value 2: NaN"},
    };
    std::string header_past_end = "\x93NUMPY\x01";
    header_past_end += '\0';
    header_past_end += "\xff\xff{'descr': '<f8'";
    cases.push_back({"header_past_end.npy", "calib:2", header_past_end, p + "truncated header"});
    return cases;
}

std::vector<hostile_case> case_file_cases() {
    const std::string nets = R"("theta": "theta.onnx", "theta_quantized": "theta_q.onnx")";
    return {
        {"not_json.json", "case", "{\"theta\": ", "@: not a qbound case (JSON): [json.exception.parse_error.101] parse error at line 1, "
                                                  "column 11: syntax error while parsing value - unexpected end of input; expected '[', "
                                                  "'{', or a literal"},
        {"array.json", "case", "[1, 2]", "@: not a qbound case (the JSON is not an object)"},
        {"no_x.json", "case", "{" + nets + R"(, "D": "1"})", "@: field 'x_hex' is missing"},
        {"no_theta.json", "case", R"({"x_hex": [], "D": "1"})", "@: field 'theta' is missing or not a string"},
        {"x_not_string.json", "case", "{" + nets + R"(, "D": "1", "x_hex": [1, 2]})", "@: 'x_hex' entries must be hex float strings"},
        {"x_bad.json", "case", "{" + nets + R"(, "D": "1", "x_hex": ["0x1p0", "0xzz"]})", "@: bad 'x_hex' entry '0xzz'"},
        {"x_nan.json", "case", "{" + nets + R"(, "D": "1", "x_hex": ["nan", "0"]})", "@: bad 'x_hex' entry 'nan'"},
        {"x_outside.json", "case", "{" + nets + R"(, "D": "1/2", "x_hex": ["0x1p0", "0"]})",
         "@: the witness entry 0x1p0 lies outside [-D, D]"},
        {"x_count.json", "case", "{" + nets + R"(, "D": "1", "x_hex": ["0", "0", "0"]})", "@: the witness has 3 inputs, the network 2"},
        {"d_bad.json", "case", "{" + nets + R"(, "D": "1/0", "x_hex": ["0", "0"]})", "@: D: '1/0' divides by zero"},
        {"note_number.json", "case", "{" + nets + R"(, "D": "1", "x_hex": ["0", "0"], "note": 7})", "@: field 'note' is not a string"},
        {"theta_missing.json", "case", R"({"theta": "none.onnx", "theta_quantized": "theta_q.onnx", "D": "1", "x_hex": ["0", "0"]})",
         "#/none.onnx: cannot open file"},
        {"theta_device.json", "case", R"({"theta": "/dev/zero", "theta_quantized": "theta_q.onnx", "D": "1", "x_hex": ["0", "0"]})",
         "/dev/zero: not a regular file"},
        {"case_too_big.json", "case", "{" + nets + R"(, "D": "1", "x_hex": ["0", "0"]})",
         "@: file size in bytes: 89 exceeds the limit max_case_file_bytes = 64 (raise it with QBOUND_LIMITS=max_case_file_bytes=N)",
         "QBOUND_LIMITS=max_case_file_bytes=64"},
    };
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) s.replace(pos, from.size(), to);
    return s;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs qbound_load_file on one case under the memory limit and checks its
// exit status and exact output.
void check_case(const hostile_case& c) {
    const fs::path file = corpus_folder() / c.name;
    std::ofstream(file, std::ios::binary) << c.bytes;
    const fs::path out = corpus_folder() / (c.name + ".out");
#ifdef QBOUND_TEST_ASAN
    const std::string memory = "ASAN_OPTIONS=max_allocation_size_mb=" + std::to_string(memory_limit_kib / 1024) +
                               ":allocator_may_return_null=0:detect_leaks=1 ";
#else
    const std::string memory = "ulimit -v " + std::to_string(memory_limit_kib) + "; ";
#endif
    const std::string command = "sh -c '" + memory + c.env + (c.env.empty() ? "" : " ") + "exec \"" QBOUND_LOAD_FILE "\" " + c.kind +
                                " \"" + file.string() + "\"' > \"" + out.string() + "\" 2>&1";
    const int status = std::system(command.c_str());
    const std::string output = read_text(out);
    const std::string expected =
        "refused: " + replace_all(replace_all(c.expected, "@", file.string()), "#", corpus_folder().string()) + "\n";
    INFO("case " << c.name << " (" << c.kind << (c.env.empty() ? "" : ", " + c.env) << ")\ncommand: " << command);
    CHECK(output == expected);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("hostile ONNX files are refused with their exact error, within the memory limit", "[io][hostile][onnx]") {
    for (const auto& c : onnx_cases()) check_case(c);
    // Not a regular file: a folder named like a model.
    fs::create_directories(corpus_folder() / "folder.onnx");
    const std::string command = "\"" QBOUND_LOAD_FILE "\" onnx \"" + (corpus_folder() / "folder.onnx").string() + "\" > \"" +
                                (corpus_folder() / "folder.out").string() + "\" 2>&1";
    CHECK(std::system(command.c_str()) == 0);
    CHECK(read_text(corpus_folder() / "folder.out") == "refused: " + (corpus_folder() / "folder.onnx").string() + ": not a regular file\n");
}

TEST_CASE("hostile NNet files are refused with their exact error, within the memory limit", "[io][hostile][nnet]") {
    for (const auto& c : nnet_cases()) check_case(c);
}

TEST_CASE("hostile calibration files are refused with their exact error, within the memory limit", "[io][hostile][calibration]") {
    for (const auto& c : calibration_cases()) check_case(c);
}

TEST_CASE("hostile case files are refused with their exact error, within the memory limit", "[io][hostile][case]") {
    // Two valid 2-input networks beside the witness files.
    qbound::net::network net("hostile-mlp", {2, 1, 1});
    const std::size_t d = net.dense(0, 1, "fc");
    net.set_weights(d, {1.0, -1.0});
    qbound::io::write_onnx(net, (corpus_folder() / "theta.onnx").string());
    qbound::io::write_onnx(net, (corpus_folder() / "theta_q.onnx").string());
    for (const auto& c : case_file_cases()) check_case(c);
}
