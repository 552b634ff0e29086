#pragma once
// ONNX import (Debian's libonnx protobuf definitions).
//
// Supported operator patterns (what real exporters emit):
//   PyTorch   Gemm, Conv, Relu, Clip(0, 6) as ReLU6, MaxPool, AveragePool,
//             GlobalAveragePool, Flatten, Reshape to [N, -1] (its shape from
//             constants or Shape/Gather/Unsqueeze/Concat chains, folded at
//             load), Add of two tensors (residual), BatchNormalization
//             (folded into the preceding conv/dense), Identity, Dropout
//   Keras     NHWC input with Transpose(0,3,1,2); Transpose(0,2,3,1) before
//             Flatten (folded into the next dense layer's columns); MatMul +
//             Add; Conv with a separate Add bias
//   NNet/MATLAB  Sub / Div / Mul / Add by constants on the input (an exact
//             `normalize` node), Flatten, MatMul + Add
// Float, double, int32 and int64 tensors (typed fields or raw_data).
// Anything else (an unsupported operator, a dynamic shape that cannot be
// resolved, NaN/Inf weights, a truncated or malformed file, absurd sizes)
// throws net::model_error naming the file, the node and the reason. Files
// beyond `lim` (file size, tensor elements and bytes, node count, subgraph
// nesting; see limits.hpp) are refused the same way, before allocating.
#include "qbound/io/limits.hpp"
#include "qbound/net/batch_norm.hpp"
#include "qbound/net/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace qbound::io {

// A weight tensor read through DequantizeLinear (weight-only QDQ), i.e. the
// quantizer a PTQ or QAT tool applied, in qbound's terms: codes in
// [code_min, code_max] of `integer_type`, step eta = scale (one per tensor, or
// one per index of `axis`), zero points.
struct quantized_tensor {
    std::string tensor;        // the DequantizeLinear output's name
    std::string layer;         // the qbound node that reads it ("" if no layer does)
    std::string role;          // "weights" or "bias" ("" if no layer reads it)
    std::string source;        // "initializer" (integer codes stored) or "fake-quant" (QuantizeLinear of float weights)
    std::string integer_type;  // int8, uint8, int16, uint16 or int32
    std::int64_t code_min = 0, code_max = 0;  // the type's range
    std::int64_t used_min = 0, used_max = 0;  // the smallest and largest code stored
    bool per_axis = false;
    std::int64_t axis = 0;         // with per_axis: the quantized axis of the tensor
    std::size_t scales = 1;        // 1, or the axis' length
    double scale_min = 0, scale_max = 0;
    std::int64_t zero_point_min = 0, zero_point_max = 0;
    std::size_t elements = 0;
    // Every dequantized value is a float32: ONNX Runtime (which rounds
    // scale * (q - zero point) to float32) uses the same weights as qbound.
    bool float32_exact = true;
};

struct onnx_model {
    net::network network;
    bool input_nhwc = false;  // the file's input is NHWC (qbound's network takes CHW)
    std::string producer;
    net::fold_report batch_norm_fold;  // whether folding its batch norms was exact (net/batch_norm.hpp)
    std::vector<quantized_tensor> quantized_tensors;  // weight-only QDQ, in file order
    std::string input_name, output_name;  // the graph's (io::onnx_interface keeps them on export)
};

onnx_model read_onnx(const std::string& path, const limits& lim = limits_from_environment());

}  // namespace qbound::io
