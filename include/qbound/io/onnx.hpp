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

#include <string>

namespace qbound::io {

struct onnx_model {
    net::network network;
    bool input_nhwc = false;  // the file's input is NHWC (qbound's network takes CHW)
    std::string producer;
    net::fold_report batch_norm_fold;  // whether folding its batch norms was exact (net/batch_norm.hpp)
};

onnx_model read_onnx(const std::string& path, const limits& lim = limits_from_environment());

}  // namespace qbound::io
