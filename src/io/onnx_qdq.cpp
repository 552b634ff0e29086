// QuantizeLinear / DequantizeLinear on constants (weight-only QDQ), and the
// exact double arithmetic that folds constants at load.
#include "onnx_tensor.hpp"

#include "qbound/arith/error_free.hpp"
#include "qbound/net/errors.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qbound::io::detail {

namespace {

using net::model_error;

// The scale's (and zero point's) index of each element of x: the index along
// `axis` (per-axis), or 0 (per-tensor). Checks the shapes.
struct axis_map {
    bool per_axis = false;
    std::int64_t axis = 0;
    std::size_t inner = 1, length = 1;
    std::size_t operator()(std::size_t k) const { return per_axis ? (k / inner) % length : 0; }
};

bool scalar_like(const constant_tensor& t) { return t.size() == 1 && (t.dims.empty() || (t.dims.size() == 1 && t.dims[0] == 1)); }

axis_map map_axis(const constant_tensor& x, const constant_tensor& scale, const constant_tensor* zero_point, std::int64_t axis) {
    axis_map m;
    if (scale.size() == 0) throw model_error("the scale is empty");
    if (zero_point && zero_point->size() != scale.size())
        throw model_error("the zero point has " + std::to_string(zero_point->size()) + " values, the scale " + std::to_string(scale.size()));
    if (scalar_like(scale)) return m;
    if (scale.dims.size() != 1) throw model_error("the scale must be a scalar or 1-D (blocked quantization is not supported)");
    const auto rank = static_cast<std::int64_t>(x.dims.size());
    if (axis < -rank || axis >= rank)
        throw model_error("axis " + std::to_string(axis) + " is out of range for a rank-" + std::to_string(rank) + " tensor");
    if (axis < 0) axis += rank;
    const auto a = static_cast<std::size_t>(axis);
    if (static_cast<std::size_t>(x.dims[a]) != scale.size())
        throw model_error("per-axis scale of " + std::to_string(scale.size()) + " values for axis " + std::to_string(axis) + " of length " +
                          std::to_string(x.dims[a]));
    m.per_axis = true;
    m.axis = axis;
    m.length = scale.size();
    for (std::size_t d = a + 1; d < x.dims.size(); ++d) m.inner *= static_cast<std::size_t>(x.dims[d]);
    return m;
}

// Nearest integer, ties to even, whatever the FPU rounding mode (r - floor(r) is exact).
double round_half_even(double r) {
    if (!std::isfinite(r)) return r;
    const double f = std::floor(r), frac = r - f;
    if (frac > 0.5 || (frac == 0.5 && std::fmod(f, 2.0) != 0)) return f + 1;
    return f;
}

void check_scales(const constant_tensor& scale) {
    if (scale.data_type != 0 && scale.data_type != onnx::TensorProto::FLOAT && scale.data_type != onnx::TensorProto::DOUBLE)
        throw model_error("the scale's data type " + std::to_string(scale.data_type) + " is not supported (float or double)");
    for (std::size_t k = 0; k < scale.size(); ++k)
        if (!(scale.data[k] > 0) || !std::isfinite(scale.data[k]))
            throw model_error("scale " + std::to_string(k) + " is " + std::to_string(scale.data[k]) + ", not a positive finite number");
}

void check_zero_points(const constant_tensor* zero_point, const std::string& type, std::int64_t lo, std::int64_t hi) {
    if (!zero_point) return;
    for (std::size_t i = 0; i < zero_point->size(); ++i)
        if (zero_point->data[i] < static_cast<double>(lo) || zero_point->data[i] > static_cast<double>(hi))
            throw model_error("zero point " + std::to_string(i) + " is not a " + type + " value");
}

}  // namespace

// The error-free transformations of arith/error_free.hpp decide exactness.
bool exact_sum(double a, double b, double& out) {
    const auto [sum, error] = arith::two_sum(a, b);
    if (!std::isfinite(sum) || error != 0) return false;  // underflow never makes a sum inexact
    out = sum;
    return true;
}

bool exact_product(double a, double b, double& out) {
    const auto [product, error] = arith::two_prod(a, b);
    // the residual is exact while the product is 0 or |product| >= 2^-968
    if (!std::isfinite(product) || (product == 0 ? (a != 0 && b != 0) : (std::fabs(product) < 0x1p-968 || error != 0))) return false;
    out = product;
    return true;
}

bool exact_quotient(double a, double b, double& out) {
    if (b == 0) return false;
    const double q = a / b;
    if (!std::isfinite(q)) return false;
    // a / b = q exactly iff q * b = a exactly
    double back = 0;
    if (q == 0 ? a != 0 : (!exact_product(q, b, back) || back != a)) return false;
    out = q;
    return true;
}

bool integer_type_range(int data_type, std::string& name, std::int64_t& lo, std::int64_t& hi) {
    switch (data_type) {
        case onnx::TensorProto::INT8: name = "int8", lo = -128, hi = 127; return true;
        case onnx::TensorProto::UINT8: name = "uint8", lo = 0, hi = 255; return true;
        case onnx::TensorProto::INT16: name = "int16", lo = -32768, hi = 32767; return true;
        case onnx::TensorProto::UINT16: name = "uint16", lo = 0, hi = 65535; return true;
        case onnx::TensorProto::INT32: name = "int32", lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max(); return true;
        default: return false;
    }
}

constant_tensor dequantize_linear(const constant_tensor& x, const constant_tensor& scale, const constant_tensor* zero_point, std::int64_t axis,
                                  quantized_tensor& report) {
    std::string type;
    std::int64_t lo = 0, hi = 0;
    if (!integer_type_range(x.data_type, type, lo, hi))
        throw model_error("DequantizeLinear of a tensor of data type " + std::to_string(x.data_type) +
                          " is not supported (int8, uint8, int16, uint16, int32)");
    if (zero_point && zero_point->data_type != 0 && zero_point->data_type != x.data_type)
        throw model_error("the zero point's data type " + std::to_string(zero_point->data_type) + " differs from the codes' " + type);
    check_scales(scale);
    const axis_map m = map_axis(x, scale, zero_point, axis);
    check_zero_points(zero_point, type, lo, hi);
    report.integer_type = type;
    report.code_min = lo, report.code_max = hi;
    report.per_axis = m.per_axis, report.axis = m.axis, report.scales = scale.size();
    report.scale_min = *std::min_element(scale.data.begin(), scale.data.end());
    report.scale_max = *std::max_element(scale.data.begin(), scale.data.end());
    report.zero_point_min = report.zero_point_max = 0;
    if (zero_point) {
        report.zero_point_min = static_cast<std::int64_t>(*std::min_element(zero_point->data.begin(), zero_point->data.end()));
        report.zero_point_max = static_cast<std::int64_t>(*std::max_element(zero_point->data.begin(), zero_point->data.end()));
    }
    report.elements = x.size();
    report.used_min = hi, report.used_max = lo;
    report.float32_exact = true;
    constant_tensor y;
    y.dims = x.dims;
    y.data.resize(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
        const double q = x.data[k];
        if (q < static_cast<double>(lo) || q > static_cast<double>(hi) || q != std::floor(q))
            throw model_error("code " + std::to_string(k) + " (" + std::to_string(q) + ") is not a " + type + " value");
        report.used_min = std::min(report.used_min, static_cast<std::int64_t>(q));
        report.used_max = std::max(report.used_max, static_cast<std::int64_t>(q));
        const std::size_t i = m(k);
        const double v = q - (zero_point ? zero_point->data[i] : 0.0);  // exact: integers below 2^33
        const double s = scale.data[i];
        double p = 0;
        if (!exact_product(v, s, p))
            throw model_error("dequantized value " + std::to_string(k) + " = " + std::to_string(s) + " * " + std::to_string(v) +
                              " is not a double: qbound reads dequantized weights exactly");
        y.data[k] = p;
        report.float32_exact = report.float32_exact && static_cast<double>(static_cast<float>(p)) == p;
    }
    return y;
}

constant_tensor quantize_linear(const constant_tensor& x, const constant_tensor& scale, const constant_tensor* zero_point, std::int64_t axis) {
    if (x.data_type != onnx::TensorProto::FLOAT)
        throw model_error("QuantizeLinear of a tensor of data type " + std::to_string(x.data_type) + " is not supported (float)");
    if (scale.data_type != 0 && scale.data_type != onnx::TensorProto::FLOAT)
        throw model_error("QuantizeLinear with a scale of data type " + std::to_string(scale.data_type) + " is not supported (float)");
    check_scales(scale);
    constant_tensor q;
    q.from_quantize_linear = true;
    q.data_type = zero_point && zero_point->data_type != 0 ? zero_point->data_type : onnx::TensorProto::UINT8;
    std::string type;
    std::int64_t lo = 0, hi = 0;
    if (!integer_type_range(q.data_type, type, lo, hi) || q.data_type == onnx::TensorProto::INT32)
        throw model_error("QuantizeLinear to data type " + std::to_string(q.data_type) + " is not supported (int8, uint8, int16, uint16)");
    const axis_map m = map_axis(x, scale, zero_point, axis);
    check_zero_points(zero_point, type, lo, hi);
    q.dims = x.dims;
    q.data.resize(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
        const std::size_t i = m(k);
        // float32 values (the file's), a float32 division as ONNX Runtime does it, then ties to even.
        const float ratio = static_cast<float>(x.data[k]) / static_cast<float>(scale.data[i]);
        const double r = round_half_even(static_cast<double>(ratio));
        const double zp = zero_point ? zero_point->data[i] : 0.0;
        q.data[k] = std::clamp(r + zp, static_cast<double>(lo), static_cast<double>(hi));
    }
    return q;
}

}  // namespace qbound::io::detail
