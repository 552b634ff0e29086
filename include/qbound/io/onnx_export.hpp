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

void write_onnx(const net::network& net, const std::string& path, onnx_element_type type = onnx_element_type::float64);

// Rounds every weight, bias and normalization constant to the nearest float;
// throws model_error (naming the node) when a normalization constant would
// round to an infinity or a divisor to zero.
void round_weights_to_float(net::network& net);

}  // namespace qbound::io
