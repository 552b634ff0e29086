#pragma once
// Limits for hostile files. Every reader (ONNX, NNet, calibration CSV/.npy,
// replay cases, input regions) refuses a file that exceeds one of these before allocating
// for it, with an error naming the file, the node or field, the limit and
// how to raise it. Sizes declared in a file are checked for 64-bit overflow
// and against the file's size before anything is allocated from them.
//
// Defaults fit every network qbound handles (ResNet50 at 224: 25.6M
// parameters, largest tensor 2.4M weights, 1.2M activations, ~300 nodes).
// Raise one with the environment variable
//   QBOUND_LIMITS="max_tensor_elements=1000000000,max_nodes=500000"
// (comma-separated name=value, values positive integers) or, in code, by
// passing a `limits` to the reader.
#include <cstdint>
#include <filesystem>
#include <string>

namespace qbound::io {

struct limits {
    std::uint64_t max_file_bytes = std::uint64_t{1} << 31;        // any file read (protobuf's own cap is 2 GiB)
    std::uint64_t max_tensor_elements = std::uint64_t{1} << 28;   // one tensor: weights, constants, activations
    std::uint64_t max_tensor_bytes = std::uint64_t{1} << 31;      // one tensor's data: elements x element width
    std::uint64_t max_nodes = 100000;                             // ONNX nodes, all (sub)graphs together
    std::uint64_t max_graph_depth = 8;                            // ONNX subgraph nesting (main graph: 1)
    std::uint64_t max_nnet_layers = 1000;                         // NNet numLayers
    std::uint64_t max_nnet_layer_size = 65536;                    // NNet input, output and layer sizes
    std::uint64_t max_parameters = std::uint64_t{1} << 28;        // NNet weights + biases, all layers
    std::uint64_t max_calibration_samples = std::uint64_t{1} << 20;  // calibration inputs (CSV rows, .npy n)
    std::uint64_t max_case_file_bytes = std::uint64_t{1} << 26;   // a replay case's witness.json
    std::uint64_t max_region_file_bytes = std::uint64_t{1} << 26;  // an input region or point file (box, vnnlib, point)
    std::uint64_t max_region_coordinates = std::uint64_t{1} << 20;  // boxes x inputs of one input region
};

// The defaults, with QBOUND_LIMITS applied. Throws core::invalid_argument
// naming QBOUND_LIMITS and the entry for an unknown name or a value that is
// not a positive integer.
limits limits_from_environment();

// "<what>: <value> exceeds the limit <name> = <limit> (raise it with
// QBOUND_LIMITS=<name>=N)": the text every refusal uses.
std::string limit_message(const std::string& what, std::uint64_t value, const char* name, std::uint64_t limit);

// The size of a regular file, or an error text (empty on success) when it is
// missing, not a regular file (a device, a FIFO, a folder) or larger than
// `max_bytes` (then named as limit `limit_name`).
struct file_size_check {
    std::uint64_t bytes = 0;
    std::string error;
};
file_size_check check_file_size(const std::filesystem::path& path, std::uint64_t max_bytes, const char* limit_name);

}  // namespace qbound::io
