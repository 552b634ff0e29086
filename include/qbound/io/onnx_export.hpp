#pragma once
// ONNX export of any qbound network (batch norm folded), so a network or its
// quantized copy can be handed to other tools.
//
// Nodes map to Gemm (transB = 1), Conv, Relu, Clip(0, 6), MaxPool,
// AveragePool, GlobalAveragePool, Flatten, Add, Identity; a `normalize` node
// becomes Sub, Mul, Div, Add by constants (steps equal to their neutral value
// are omitted). The input is NCHW [1, C, H, W], or [1, F] for a vector input.
//
// element_type float64: weights stored as doubles, so export then import
// gives bit-identical weights. float32: for tools that run float models (ONNX
// Runtime); every weight must be exactly representable in float, otherwise
// model_error names the first one that is not (round the network first with
// round_weights_to_float if that is what you want).
#include "qbound/net/network.hpp"

#include <string>

namespace qbound::io {

enum class onnx_element_type { float32, float64 };

// How the file presents the network to its users: the graph input's name and
// layout and the output's name. qbound's network always takes CHW; with
// input_nhwc the file's input is [1, H, W, C] followed by Transpose(0, 3, 1,
// 2), as Keras exports write it. `qbound quantize` keeps a source ONNX file's
// interface (io::onnx_model::input_name, input_nhwc, output_name).
struct onnx_interface {
    std::string input_name = "input";
    std::string output_name;  // empty: the last node's name
    bool input_nhwc = false;
};

// Returns what the file looks like to ONNX Runtime, e.g. "input 'x'
// [1, 28, 28, 1] (NHWC), output 'y' [1, 10], float32".
std::string write_onnx(const net::network& net, const std::string& path, onnx_element_type type = onnx_element_type::float64,
                       const onnx_interface& interface = {});

// Rounds every weight, bias and normalization constant to the nearest float;
// throws model_error (naming the node) when a normalization constant would
// round to an infinity or a divisor to zero.
void round_weights_to_float(net::network& net);

}  // namespace qbound::io
