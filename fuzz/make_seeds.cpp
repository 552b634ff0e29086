// Writes the fuzz targets' seed corpus: `fuzz_make_seeds OUT_DIR [SHARED_NETWORKS_DIR]`
// creates OUT_DIR/{onnx_import,nnet_import,calibration,case_file}/ with small
// valid files of every format (zoo networks exported to ONNX in float64 and
// float32, a residual and a normalizing network, the shared real exports,
// NNet text, CSV and .npy calibration data, witness.json files) and a few
// near-valid ones. Small on purpose: libFuzzer mutates from these.
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/network.hpp"
#include "qbound/net/zoo.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace qbound;

namespace {

void write(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

// A one-byte prefix selects the calibration target's format and input size:
// bit 0 = .npy, (byte >> 1) % 16 + 1 = inputs.
std::string calibration_seed(bool npy, std::size_t dim, const std::string& body) {
    return std::string(1, static_cast<char>(((dim - 1) << 1) | (npy ? 1 : 0))) + body;
}

std::string npy_file(const std::string& descr, const std::string& shape, const std::string& data) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return bytes + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
    std::string s(v.size() * sizeof(T), '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

net::network residual_net() {
    net::network n("residual", {2, 4, 4});
    const std::size_t norm = n.normalize(0, {0.5}, {2.0}, "norm");
    const std::size_t c1 = n.conv2d(norm, 2, {3, 3, 1, 1, 1, 1}, "conv1");
    const std::size_t r1 = n.activation(c1, net::op::relu, "relu1");
    const std::size_t sum = n.add(r1, norm, "add");
    const std::size_t pool = n.avg_pool(sum, {2, 2, 0, true}, "pool");
    const std::size_t flat = n.flatten(pool, "flatten");
    n.dense(flat, 3, "fc");
    net::init_he_normal(n, 7, 0.1);
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: fuzz_make_seeds OUT_DIR [SHARED_NETWORKS_DIR]\n";
        return 2;
    }
    const fs::path out = argv[1];
    for (const char* t : {"onnx_import", "nnet_import", "calibration", "case_file"}) fs::create_directories(out / t);

    // ONNX: zoo networks (float64 and float32), a residual net, the shared exports.
    auto mlp = net::make_mlp({3, 5, 4, 2});
    net::init_he_normal(mlp, 1, 0.1);
    io::write_onnx(mlp, (out / "onnx_import" / "mlp64.onnx").string());
    io::round_weights_to_float(mlp);
    io::write_onnx(mlp, (out / "onnx_import" / "mlp32.onnx").string(), io::onnx_element_type::float32);
    net::cnn_config cfg;
    cfg.input = {1, 6, 6};
    cfg.convs = {{2, {3, 3, 1, 1, 1, 1}, true}, {3, {3, 3, 1, 1, 1, 1}, false}};
    cfg.dense = {4};
    auto cnn = net::make_cnn(cfg);
    net::init_he_normal(cnn, 2, 0.1);
    io::write_onnx(cnn, (out / "onnx_import" / "cnn64.onnx").string());
    cfg.global_pool = true;
    auto cnn_gap = net::make_cnn(cfg);
    net::init_he_normal(cnn_gap, 3);
    io::write_onnx(cnn_gap, (out / "onnx_import" / "cnn_gap64.onnx").string());
    io::write_onnx(residual_net(), (out / "onnx_import" / "residual64.onnx").string());
    if (argc > 2) {
        for (const char* f : {"fc1.onnx", "cnn_max_mninst2.onnx", "ACASXU_experimental_v2a_2_1.onnx"})
            if (fs::exists(fs::path(argv[2]) / f))
                fs::copy_file(fs::path(argv[2]) / f, out / "onnx_import" / f, fs::copy_options::overwrite_existing);
    }

    // NNet: a 2-layer network, with comments and a trailing comma.
    write(out / "nnet_import" / "small.nnet",
          "// a small NNet file\n2,2,1,3,\n2,3,1,\n0,\n-1,-1,\n1,1,\n0,0,0,\n1,1,1,\n"
          "0.5,-0.25,\n1,2,\n-1,0.125,\n0.1,\n0,\n-0.2,\n1,-1,0.5,\n0.3,\n");
    write(out / "nnet_import" / "one_layer.nnet", "1,1,1,1,\n1,1,\n0,\n-1,\n1,\n0,0,\n1,1,\n2.5,\n-1,\n");

    // Calibration: CSV and .npy (float32 and float64, [n, d] and [n, C, H, W]).
    write(out / "calibration" / "three.csv", calibration_seed(false, 3, "# x0,x1,x2\n0.1,-0.2,3e-1\n1,2,3\n\n+4, 5 ,6\n"));
    write(out / "calibration" / "one.csv", calibration_seed(false, 1, "0.5\r\n-1e-300\r\n"));
    write(out / "calibration" / "f8.npy", calibration_seed(true, 2, npy_file("<f8", "(2, 2)", raw(std::vector<double>{1, -2, 0.5, 3}))));
    write(out / "calibration" / "f4.npy", calibration_seed(true, 4, npy_file("<f4", "(1, 1, 2, 2)", raw(std::vector<float>{1, 2, 3, 4}))));

    // Case files: a valid witness for the case target's 2-input MLP, and variants.
    const std::string witness = R"({"format": "qbound case 1", "note": "seed", "theta": "theta.onnx", "theta_quantized": "theta_q.onnx",
 "D": "1/2", "certified_lower": "0.1", "certified_lower_exact": "1/10", "arithmetic": "exact rational", "output": 0,
 "x_hex": ["0x1p-2", "-0x1.8p-2"]})";
    write(out / "case_file" / "witness.json", witness);
    write(out / "case_file" / "witness_decimal.json",
          R"({"theta": "theta.onnx", "theta_quantized": "theta_q.onnx", "D": "0.5", "x_hex": ["0.25", "-0.5"]})");
    write(out / "case_file" / "witness_same.json",
          R"({"theta": "theta.onnx", "theta_quantized": "theta.onnx", "D": "1", "x_hex": ["0x0p+0", "0x1p+0"], "note": 3})");
    std::cout << "seed corpus written to " << out.string() << "\n";
    return 0;
}
