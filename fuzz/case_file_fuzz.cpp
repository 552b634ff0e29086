// libFuzzer target: verify::load_case on an arbitrary witness.json beside
// two valid networks (theta.onnx, theta_q.onnx, a 2-3-1 MLP written once at
// start-up), so the fuzzer spends its time in the case reader rather than in
// the ONNX importer (which has its own target). Refusals are
// core::invalid_argument (the case file) or net::model_error (a network it
// names); everything else is a finding.
#include "qbound/core/errors.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/network.hpp"
#include "qbound/verify/case_file.hpp"

#include "fuzz_support.hpp"

namespace {

void write_networks() {
    qbound::net::network net("fuzz-mlp", {2, 1, 1});
    const std::size_t hidden = net.dense(0, 3, "fc1");
    for (std::size_t k = 0; k < net.weights(hidden).size(); ++k) net.weights(hidden)[k] = 0.25 * static_cast<double>(k) - 0.5;
    const std::size_t relu = net.activation(hidden, qbound::net::op::relu, "relu1");
    const std::size_t out = net.dense(relu, 1, "fc2");
    net.set_weights(out, {1.0, -2.0, 0.5});
    const auto folder = qbound::fuzz::scratch_folder();
    qbound::io::write_onnx(net, (folder / "theta.onnx").string());
    net.set_weights(out, {1.0, -2.0, 0.75});
    qbound::io::write_onnx(net, (folder / "theta_q.onnx").string());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    write_networks();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = qbound::fuzz::write_input(data, size, "witness.json");
    try {
        const auto c = qbound::verify::load_case(path);
        if (c.x.size() != c.theta.input_shape().size()) __builtin_trap();
    } catch (const qbound::core::invalid_argument&) {
    } catch (const qbound::net::model_error&) {
    }
    return 0;
}
