#pragma once
// Internal to the ONNX importer (src/io): a constant tensor as the importer
// holds it, and the QDQ (QuantizeLinear / DequantizeLinear) rules that act
// on constants (src/io/onnx_qdq.cpp).
#include "qbound/io/onnx.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qbound::io::detail {

struct constant_tensor {
    std::vector<std::int64_t> dims;
    std::vector<double> data;  // every element exactly (integers, float32 and double values are doubles)
    int data_type = 0;         // onnx::TensorProto::DataType of the file's tensor (0: computed at load)
    // When the constant is the output of a DequantizeLinear: its index in
    // onnx_model::quantized_tensors, so that the layer reading it is recorded there.
    std::optional<std::size_t> dequantized;
    bool from_quantize_linear = false;  // the codes of a QuantizeLinear at load (fake quantization)
    std::size_t size() const { return data.size(); }
};

// Name of an ONNX integer type ("int8", ...) and its code range; false for a type QDQ does not take.
bool integer_type_range(int data_type, std::string& name, std::int64_t& lo, std::int64_t& hi);

// Exact double arithmetic: true, with the result, when a op b is a double
// (finite, and computed without underflow losing the proof).
bool exact_sum(double a, double b, double& out);
bool exact_product(double a, double b, double& out);
bool exact_quotient(double a, double b, double& out);

// DequantizeLinear(x, scale, zero_point; axis): y = scale * (x - zero_point),
// computed exactly (a product that is not a double is refused, naming the
// element). `report` gets everything but the layer and role. Throws
// net::model_error (without the file or node name: the caller adds them).
constant_tensor dequantize_linear(const constant_tensor& x, const constant_tensor& scale, const constant_tensor* zero_point, std::int64_t axis,
                                  quantized_tensor& report);

// QuantizeLinear(x, scale, zero_point; axis) on a float32 constant, as ONNX
// Runtime computes it: q = saturate(nearbyint(x / scale in float32) + zero_point),
// ties to even, in the zero point's integer type (uint8 without one).
constant_tensor quantize_linear(const constant_tensor& x, const constant_tensor& scale, const constant_tensor* zero_point, std::int64_t axis);

}  // namespace qbound::io::detail
