#include "qbound/io/onnx.hpp"

#include "onnx_tensor.hpp"

#include "qbound/arith/rational.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/batch_norm.hpp"
#include "qbound/net/errors.hpp"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <fstream>
#include <map>
#include <optional>
#include <set>

namespace qbound::io {

namespace {

using net::model_error;

// Geometry attributes (kernel, stride, padding, dilation, groups) above this
// are refused as absurd before any shape arithmetic can overflow.
constexpr std::int64_t max_geometry = std::int64_t{1} << 24;

// An integer held in a double constant (shape chains, axes, indices), or an
// error when it is not one in the int64 range (a cast would be undefined).
std::int64_t integer_value(double v, const char* what) {
    if (!(v >= -0x1p62 && v <= 0x1p62) || v != std::floor(v))
        throw model_error(std::string(what) + " " + std::to_string(v) + " is not an integer in range");
    return static_cast<std::int64_t>(v);
}

using detail::constant_tensor;

// Steps a row-major multi-index through the box [0, dims): false after the last.
bool next_index(std::vector<std::int64_t>& index, const std::vector<std::int64_t>& dims) {
    for (std::size_t k = index.size(); k-- > 0;) {
        if (++index[k] < dims[k]) return true;
        index[k] = 0;
    }
    return false;
}

// A tensor computed by the network: the node holding it, its ONNX rank, and
// for a Keras-style NHWC view, the permutation that maps the view's
// flattened index to the node's CHW index.
struct runtime_value {
    std::size_t node = 0;
    std::size_t rank = 4;
    bool nhwc_view = false;
    std::vector<std::size_t> column_order;  // after Flatten of an NHWC view
    // An NHWC view that is the only reader of its node's output: a constant
    // added to it may fold into the node (older tf2onnx: Conv, Transpose, bias Add).
    bool sole_view = false;
    // Zero padding of a Pad node not yet applied: the next Conv takes it into
    // its own pads (nothing else may read the padded tensor).
    net::padding_2d pad = {};
};

struct value {
    std::optional<constant_tensor> constant;
    std::optional<runtime_value> runtime;
};

class onnx_importer {
public:
    onnx_importer(std::string path, const limits& lim) : path_(std::move(path)), limits_(lim) {}

    onnx_model run() {
        const auto size = check_file_size(path_, limits_.max_file_bytes, "max_file_bytes");
        if (!size.error.empty()) throw model_error(path_ + ": " + size.error);
        std::ifstream in(path_, std::ios::binary);
        if (!in) throw model_error(path_ + ": cannot open file");
        onnx::ModelProto model;
        if (!model.ParseFromIstream(&in))
            throw model_error(path_ + ": not a valid ONNX protobuf (truncated or malformed)");
        if (!model.has_graph()) throw model_error(path_ + ": the model has no graph");
        const auto& graph = model.graph();
        std::uint64_t node_count = 0;
        check_graph_size(graph, 1, node_count);
        if (graph.node_size() == 0) throw model_error(path_ + ": the graph is empty (no nodes)");
        for (const auto& t : graph.initializer()) values_[t.name()].constant = read_tensor(t, "initializer '" + t.name() + "'");
        const onnx::ValueInfoProto* input = nullptr;
        for (const auto& i : graph.input()) {
            if (values_.count(i.name()) && values_[i.name()].constant) continue;
            if (input) throw model_error(path_ + ": more than one graph input ('" + input->name() + "', '" + i.name() + "')");
            input = &i;
        }
        if (!input) throw model_error(path_ + ": the graph has no input");
        if (graph.output_size() != 1) throw model_error(path_ + ": expected one graph output, found " + std::to_string(graph.output_size()));
        if (graph.output(0).name().empty()) throw model_error(path_ + ": the graph output has no name");
        for (const auto& n : graph.node())
            for (const auto& i : n.input()) ++consumers_[i];
        for (const auto& o : graph.output()) ++consumers_[o.name()];
        const auto [shape, rank, nhwc] = input_shape(*input, graph);
        if (nhwc) nhwc_pending_ = 0;
        onnx_model result{net::network(path_, shape), nhwc, model.producer_name(), {}, {}, {}, {}};
        net_ = &result.network;
        values_[input->name()].runtime = runtime_value{0, rank, false, {}};
        input_name_ = input->name();
        for (const auto& n : graph.node()) {
            try {
                import_node(n);
                const auto& out = net_->at(net_->output_index()).output;
                check_elements(std::initializer_list<std::uint64_t>{out.channels, out.height, out.width}, "output tensor");
            } catch (const model_error& e) {
                const std::string what = e.what();
                if (what.rfind(path_, 0) == 0) throw;
                throw model_error(path_ + ": node '" + n.name() + "' (" + n.op_type() + "): " + what);
            }
        }
        const std::string& out = graph.output(0).name();
        if (!values_.count(out)) throw model_error(path_ + ": the graph output '" + out + "' is not produced by any node");
        const auto& v = lookup(out);
        if (!v.runtime) throw model_error(path_ + ": the graph output '" + out + "' is a constant");
        if (v.runtime->nhwc_view || !v.runtime->column_order.empty())
            throw model_error(path_ + ": the graph output '" + out + "' is an NHWC view, which is not supported");
        if (!(v.runtime->pad == net::padding_2d{}))
            throw model_error(path_ + ": the graph output '" + out + "' is the output of a Pad, which qbound folds into a following Conv only");
        if (v.runtime->node != net_->output_index())
            throw model_error(path_ + ": the graph output '" + out + "' is not the last computed tensor");
        result.quantized_tensors = std::move(quantized_);
        result.input_name = input->name();
        result.output_name = out;
        result.batch_norm_fold = net::fold_batch_norm(*net_);
        net::mark_shortcut_projections(*net_);  // a file does not say which conv is a shortcut projection
        net::check_finite_weights(*net_);
        return result;
    }

private:
    std::string path_;
    limits limits_;
    std::map<std::string, value> values_;
    std::set<std::size_t> bias_pending_;  // affine nodes whose bias may still come from an Add
    net::network* net_ = nullptr;
    std::string input_name_;
    std::vector<quantized_tensor> quantized_;  // DequantizeLinear outputs, in file order
    std::map<std::string, std::size_t> consumers_;  // how many node inputs (and graph outputs) read each value
    // The node holding the NHWC input (the input, or its rescaling) until its
    // Transpose(0, 3, 1, 2): stored CHW, but laid out NHWC in the file.
    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t nhwc_pending_ = none;

    // ---- tensors and attributes ------------------------------------------------

    // Node counts and subgraph nesting (attributes holding graphs), before
    // anything is imported. Depth is bounded by protobuf's own recursion
    // limit (100) before it reaches here.
    void check_graph_size(const onnx::GraphProto& graph, std::uint64_t depth, std::uint64_t& nodes) {
        if (depth > limits_.max_graph_depth)
            throw model_error(path_ + ": graph '" + graph.name() + "': " +
                              limit_message("subgraph nesting depth", depth, "max_graph_depth", limits_.max_graph_depth));
        nodes += static_cast<std::uint64_t>(graph.node_size());
        if (nodes > limits_.max_nodes)
            throw model_error(path_ + ": graph '" + graph.name() + "': " +
                              limit_message("node count", nodes, "max_nodes", limits_.max_nodes));
        for (const auto& n : graph.node())
            for (const auto& a : n.attribute()) {
                if (a.has_g()) check_graph_size(a.g(), depth + 1, nodes);
                for (const auto& g : a.graphs()) check_graph_size(g, depth + 1, nodes);
            }
    }

    // The product of `dims`, refused (before anything is allocated) when it
    // overflows 64 bits or exceeds max_tensor_elements.
    template <class Dims>
    std::uint64_t check_elements(const Dims& dims, const std::string& what) const {
        std::uint64_t count = 1;
        bool overflow = false;
        std::string text;
        for (auto d : dims) {
            text += (text.empty() ? "" : ", ") + std::to_string(d);
            if (d < 0) throw model_error(what + ": dimension " + std::to_string(d) + " is negative");
            overflow = overflow || __builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count);
        }
        if (overflow) throw model_error(what + ": dims [" + text + "] multiply to more than 2^64 elements");
        if (count > limits_.max_tensor_elements)
            throw model_error(limit_message(what + ": elements of dims [" + text + "]", count, "max_tensor_elements",
                                            limits_.max_tensor_elements));
        return count;
    }

    static std::uint64_t element_width(int data_type) {
        switch (data_type) {
            case onnx::TensorProto::INT8:
            case onnx::TensorProto::UINT8: return 1;
            case onnx::TensorProto::INT16:
            case onnx::TensorProto::UINT16: return 2;
            case onnx::TensorProto::FLOAT:
            case onnx::TensorProto::INT32: return 4;
            case onnx::TensorProto::DOUBLE:
            case onnx::TensorProto::INT64: return 8;
            default: return 0;
        }
    }

    constant_tensor read_tensor(const onnx::TensorProto& t, const std::string& what) {
        constant_tensor c;
        const std::uint64_t count = [&] {
            try {
                return check_elements(t.dims(), what);
            } catch (const model_error& e) {
                throw model_error(path_ + ": " + e.what());
            }
        }();
        c.dims.assign(t.dims().begin(), t.dims().end());
        c.data_type = t.data_type();
        if (t.data_location() == onnx::TensorProto::EXTERNAL)
            throw model_error(path_ + ": " + what + ": external tensor data is not supported");
        const std::uint64_t width = element_width(t.data_type());
        if (width == 0)
            throw model_error(path_ + ": " + what + ": tensor data type " + std::to_string(t.data_type()) + " is not supported");
        if (count * width > limits_.max_tensor_bytes)
            throw model_error(path_ + ": " + limit_message(what + ": data bytes", count * width, "max_tensor_bytes", limits_.max_tensor_bytes));
        const auto n = static_cast<std::size_t>(count);
        const std::string& raw = t.raw_data();
        auto from_raw = [&](std::size_t width, auto convert) {
            if (raw.size() != n * width)
                throw model_error(path_ + ": " + what + ": raw_data has " + std::to_string(raw.size()) + " bytes, expected " +
                                  std::to_string(n * width));
            c.data.resize(n);
            for (std::size_t k = 0; k < n; ++k) c.data[k] = convert(raw.data() + k * width);
        };
        auto check_count = [&](std::size_t have) {
            if (have != n)
                throw model_error(path_ + ": " + what + ": has " + std::to_string(have) + " values, dims say " + std::to_string(n));
        };
        switch (t.data_type()) {
            case onnx::TensorProto::FLOAT:
                if (!raw.empty()) {
                    from_raw(4, [](const char* p) { float f; std::memcpy(&f, p, 4); return static_cast<double>(f); });
                } else {
                    check_count(static_cast<std::size_t>(t.float_data_size()));
                    c.data.assign(t.float_data().begin(), t.float_data().end());
                }
                break;
            case onnx::TensorProto::DOUBLE:
                if (!raw.empty()) {
                    from_raw(8, [](const char* p) { double d; std::memcpy(&d, p, 8); return d; });
                } else {
                    check_count(static_cast<std::size_t>(t.double_data_size()));
                    c.data.assign(t.double_data().begin(), t.double_data().end());
                }
                break;
            case onnx::TensorProto::INT64:
                if (!raw.empty()) {
                    from_raw(8, [](const char* p) { std::int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); });
                } else {
                    check_count(static_cast<std::size_t>(t.int64_data_size()));
                    for (auto v : t.int64_data()) c.data.push_back(static_cast<double>(v));
                }
                break;
            case onnx::TensorProto::INT32:
            case onnx::TensorProto::INT16:
            case onnx::TensorProto::UINT16:
            case onnx::TensorProto::INT8:
            case onnx::TensorProto::UINT8:
                // raw_data little-endian at the type's width; typed values in int32_data
                if (!raw.empty()) {
                    switch (t.data_type()) {
                        case onnx::TensorProto::INT32: from_raw(4, [](const char* p) { std::int32_t v; std::memcpy(&v, p, 4); return static_cast<double>(v); }); break;
                        case onnx::TensorProto::INT16: from_raw(2, [](const char* p) { std::int16_t v; std::memcpy(&v, p, 2); return static_cast<double>(v); }); break;
                        case onnx::TensorProto::UINT16: from_raw(2, [](const char* p) { std::uint16_t v; std::memcpy(&v, p, 2); return static_cast<double>(v); }); break;
                        case onnx::TensorProto::INT8: from_raw(1, [](const char* p) { return static_cast<double>(static_cast<std::int8_t>(*p)); }); break;
                        default: from_raw(1, [](const char* p) { return static_cast<double>(static_cast<std::uint8_t>(*p)); }); break;
                    }
                } else {
                    check_count(static_cast<std::size_t>(t.int32_data_size()));
                    std::string type;
                    std::int64_t lo = 0, hi = 0;
                    detail::integer_type_range(t.data_type(), type, lo, hi);
                    for (auto v : t.int32_data()) {
                        if (v < lo || v > hi) throw model_error(path_ + ": " + what + ": value " + std::to_string(v) + " is not a " + type + " value");
                        c.data.push_back(static_cast<double>(v));
                    }
                }
                break;
            default:
                throw model_error(path_ + ": " + what + ": tensor data type " + std::to_string(t.data_type()) + " is not supported");
        }
        for (std::size_t k = 0; k < c.data.size(); ++k)
            if (!std::isfinite(c.data[k]))
                throw model_error(path_ + ": " + what + ": value " + std::to_string(k) + " is " + (std::isnan(c.data[k]) ? "NaN" : "infinite"));
        return c;
    }

    static const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
        for (const auto& a : n.attribute())
            if (a.name() == name) return &a;
        return nullptr;
    }
    static std::int64_t int_attr(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) {
        const auto* a = attribute(n, name);
        return a ? a->i() : fallback;
    }
    static float float_attr(const onnx::NodeProto& n, const std::string& name, float fallback) {
        const auto* a = attribute(n, name);
        return a ? a->f() : fallback;
    }
    static std::vector<std::int64_t> ints_attr(const onnx::NodeProto& n, const std::string& name) {
        const auto* a = attribute(n, name);
        return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : std::vector<std::int64_t>{};
    }
    static std::string string_attr(const onnx::NodeProto& n, const std::string& name) {
        const auto* a = attribute(n, name);
        return a ? a->s() : std::string{};
    }

    // ---- values ----------------------------------------------------------------

    value& lookup(const std::string& name) {
        auto it = values_.find(name);
        if (it == values_.end()) throw model_error("input '" + name + "' is not produced by any earlier node (a cycle, or nodes out of topological order)");
        return it->second;
    }
    const constant_tensor& constant(const onnx::NodeProto& n, int i) {
        if (i >= n.input_size() || n.input(i).empty()) throw model_error("missing input " + std::to_string(i));
        auto& v = lookup(n.input(i));
        if (!v.constant) throw model_error("input '" + n.input(i) + "' must be a constant (weights are not computed at run time)");
        return *v.constant;
    }
    // A layer's weights or bias: a dequantized constant records which layer reads it.
    const constant_tensor& parameter(const onnx::NodeProto& n, int i, std::size_t layer, const char* role) {
        const constant_tensor& c = constant(n, i);
        note_parameter(c, layer, role);
        return c;
    }
    void note_parameter(const constant_tensor& c, std::size_t layer, const char* role) {
        if (!c.dequantized) return;
        auto& q = quantized_.at(*c.dequantized);
        q.layer = net_->at(layer).name;
        q.role = role;
    }
    // A runtime input consumed as a whole: its node keeps whatever bias it has.
    runtime_value runtime(const onnx::NodeProto& n, int i, bool allow_view = false, bool allow_nhwc_input = false, bool allow_pad = false) {
        if (i >= n.input_size() || n.input(i).empty()) throw model_error("missing input " + std::to_string(i));
        auto& v = lookup(n.input(i));
        if (!v.runtime) throw model_error("input '" + n.input(i) + "' is a constant where a computed tensor is expected");
        if (!allow_pad) refuse_pending_pad(n, i, *v.runtime);
        if (!allow_nhwc_input && v.runtime->node == nhwc_pending_)
            throw model_error("input '" + n.input(i) + "' is the NHWC input before its Transpose(0, 3, 1, 2); only rescaling "
                              "(Mul, Add, Sub, Div by constants) is supported there");
        if (!allow_view && (v.runtime->nhwc_view || !v.runtime->column_order.empty()))
            throw model_error("input '" + n.input(i) + "' is an NHWC view; only Flatten followed by MatMul/Gemm is supported on it");
        bias_pending_.erase(v.runtime->node);
        return *v.runtime;
    }
    // A computed input, read without consuming it (Shape, Transpose, Reshape).
    runtime_value peek_runtime(const onnx::NodeProto& n, int i) {
        if (i >= n.input_size() || n.input(i).empty()) throw model_error("missing input " + std::to_string(i));
        auto& v = lookup(n.input(i));
        if (!v.runtime) throw model_error("input '" + n.input(i) + "' is a constant where a computed tensor is expected");
        refuse_pending_pad(n, i, *v.runtime);
        return *v.runtime;
    }
    void refuse_pending_pad(const onnx::NodeProto& n, int i, const runtime_value& r) const {
        if (!(r.pad == net::padding_2d{}))
            throw model_error("input '" + n.input(i) + "' is the output of a Pad; only a Conv may read it (the zero padding folds into its pads)");
    }
    void set_runtime(const onnx::NodeProto& n, runtime_value r) {
        if (n.output_size() < 1) throw model_error("node has no output");
        values_[n.output(0)] = value{std::nullopt, std::move(r)};
    }
    void set_constant(const onnx::NodeProto& n, constant_tensor c) {
        if (n.output_size() < 1) throw model_error("node has no output");
        values_[n.output(0)] = value{std::move(c), std::nullopt};
    }
    bool is_constant(const onnx::NodeProto& n, int i) {
        return i < n.input_size() && !n.input(i).empty() && lookup(n.input(i)).constant.has_value();
    }

    struct input_info {
        net::shape3 shape;
        std::size_t rank;
        bool nhwc;
    };

    input_info input_shape(const onnx::ValueInfoProto& input, const onnx::GraphProto& graph) {
        if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
            throw model_error(path_ + ": input '" + input.name() + "' has no tensor shape");
        std::vector<std::int64_t> dims;
        const auto& s = input.type().tensor_type().shape();
        for (int k = 0; k < s.dim_size(); ++k) {
            const auto& d = s.dim(k);
            if (d.has_dim_value() && d.dim_value() > 0) dims.push_back(d.dim_value());
            else if (k == 0) dims.push_back(1);  // a dynamic batch dimension
            else throw model_error(path_ + ": input '" + input.name() + "' dimension " + std::to_string(k) + " is dynamic ('" + d.dim_param() + "') and cannot be resolved");
        }
        if (dims.size() < 2 || dims.size() > 4 || dims[0] != 1)
            throw model_error(path_ + ": input '" + input.name() + "' must have a batch dimension of 1 and rank 2 to 4");
        for (auto d : dims)
            if (d > (1 << 24)) throw model_error(path_ + ": input '" + input.name() + "' has an absurd dimension");
        try {
            check_elements(dims, "input '" + input.name() + "'");
        } catch (const model_error& e) {
            throw model_error(path_ + ": " + e.what());
        }
        // NHWC input: its first consumer transposes it with perm (0, 3, 1, 2).
        // It may first be rescaled (Keras Rescaling: Mul, Add by constants),
        // each step the only reader of the previous one.
        bool nhwc = false;
        std::string value = input.name();
        for (std::size_t steps = 0; steps <= static_cast<std::size_t>(graph.node_size()); ++steps) {
            const onnx::NodeProto* reader = nullptr;
            for (const auto& n : graph.node()) {
                bool reads = false;
                for (const auto& i : n.input()) reads = reads || i == value;
                if (reads) {
                    reader = &n;
                    break;
                }
            }
            if (!reader) break;
            const std::string& op = reader->op_type();
            if (op == "Transpose") {
                nhwc = dims.size() == 4 && ints_attr(*reader, "perm") == std::vector<std::int64_t>{0, 3, 1, 2};
                break;
            }
            const bool rescale = (op == "Mul" || op == "Add" || op == "Sub" || op == "Div") && reader->output_size() == 1 && consumers_[value] == 1;
            if (!rescale) break;
            value = reader->output(0);
        }
        const auto u = [](std::int64_t v) { return static_cast<std::size_t>(v); };
        if (dims.size() == 2) return {{u(dims[1]), 1, 1}, 2, false};
        if (dims.size() == 3) return {{u(dims[1]), u(dims[2]), 1}, 3, false};
        if (nhwc) return {{u(dims[3]), u(dims[1]), u(dims[2])}, 4, true};
        return {{u(dims[1]), u(dims[2]), u(dims[3])}, 4, false};
    }

    // ---- operators -----------------------------------------------------------------

    void import_node(const onnx::NodeProto& n) {
        const std::string& t = n.op_type();
        if (!n.domain().empty() && n.domain() != "ai.onnx") throw model_error("operator domain '" + n.domain() + "' is not supported");
        if (t == "Constant") return set_constant(n, constant_attr(n));
        if (t == "Identity" || t == "Dropout") return pass_through(n);
        if (t == "Shape") return shape_of(n);
        if (t == "Gather") return gather(n);
        if (t == "Unsqueeze") return unsqueeze(n);
        if (t == "Concat") return concat(n);
        if (t == "Cast") return cast(n);
        if (t == "Transpose") return transpose(n);
        if (t == "ConstantOfShape") return constant_of_shape(n);
        if (t == "Slice") return slice(n);
        if (t == "Pad") return pad(n);
        if (t == "Flatten") return flatten(n, int_attr(n, "axis", 1));
        if (t == "Reshape") return reshape(n);
        if (t == "Gemm") return gemm(n);
        if (t == "MatMul") return matmul(n);
        if (t == "Conv") return conv(n);
        if (t == "Relu") {
            const runtime_value x = runtime(n, 0, /*allow_view=*/true);
            return set_runtime(n, activated(x, net::op::relu, n));
        }
        if (t == "Clip") return clip(n);
        if (t == "MaxPool" || t == "AveragePool") return pool(n, t == "MaxPool");
        if (t == "GlobalAveragePool") return set_runtime(n, {net_->global_avg_pool(runtime(n, 0).node, n.name()), 4, false, {}});
        if (t == "BatchNormalization") return batch_norm(n);
        if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div") return elementwise(n, t);
        if (t == "QuantizeLinear" || t == "DequantizeLinear") return qdq(n, t == "QuantizeLinear");
        throw model_error("operator '" + t + "' is not supported");
    }

    constant_tensor constant_attr(const onnx::NodeProto& n) {
        const auto* a = attribute(n, "value");
        if (!a || !a->has_t()) throw model_error("Constant without a tensor 'value'");
        return read_tensor(a->t(), "Constant '" + n.name() + "'");
    }

    // Identity and Dropout (inference): an identity node on a plain computed
    // tensor, so that what qbound writes (a folded batch norm is an identity
    // node, exported as Identity) reads back as the same architecture; an
    // alias on a constant or on a transposed / flattened NHWC view.
    void pass_through(const onnx::NodeProto& n) {
        if (n.input_size() < 1 || n.input(0).empty()) throw model_error("missing input 0");
        if (n.output_size() < 1) throw model_error("node has no output");
        const value v = lookup(n.input(0));
        if (v.runtime && !v.runtime->nhwc_view && v.runtime->column_order.empty()) {
            runtime_value out = *v.runtime;
            out.node = net_->activation(v.runtime->node, net::op::identity, n.name());
            return set_runtime(n, out);
        }
        values_[n.output(0)] = v;
    }

    void shape_of(const onnx::NodeProto& n) {
        if (is_constant(n, 0)) {  // PyTorch's pads chain without constant folding
            constant_tensor c;
            for (auto d : constant(n, 0).dims) c.data.push_back(static_cast<double>(d));
            c.dims = {static_cast<std::int64_t>(c.data.size())};
            c.data_type = onnx::TensorProto::INT64;
            return set_constant(n, c);
        }
        const runtime_value r = peek_runtime(n, 0);
        const auto s = net_->at(r.node).output;
        constant_tensor c;
        if (r.rank == 2) c.data = {1, static_cast<double>(s.size())};
        else if (r.rank == 3) c.data = {1, static_cast<double>(s.channels), static_cast<double>(s.height)};
        else if (r.nhwc_view) c.data = {1, static_cast<double>(s.height), static_cast<double>(s.width), static_cast<double>(s.channels)};
        else c.data = {1, static_cast<double>(s.channels), static_cast<double>(s.height), static_cast<double>(s.width)};
        c.dims = {static_cast<std::int64_t>(c.data.size())};
        set_constant(n, c);
    }

    void gather(const onnx::NodeProto& n) {
        const auto& data = constant(n, 0);
        const auto& idx = constant(n, 1);
        if (int_attr(n, "axis", 0) != 0 || data.dims.size() != 1) throw model_error("only Gather on axis 0 of a 1-D constant is supported");
        constant_tensor c;
        c.dims = idx.dims;
        for (double i : idx.data) {
            auto k = integer_value(i, "Gather index");
            if (k < 0) k += static_cast<std::int64_t>(data.size());
            if (k < 0 || k >= static_cast<std::int64_t>(data.size())) throw model_error("Gather index out of range");
            c.data.push_back(data.data[static_cast<std::size_t>(k)]);
        }
        set_constant(n, c);
    }

    void unsqueeze(const onnx::NodeProto& n) {
        constant_tensor c = constant(n, 0);
        std::vector<std::int64_t> axes = ints_attr(n, "axes");
        if (axes.empty() && n.input_size() > 1)
            for (double a : constant(n, 1).data) axes.push_back(integer_value(a, "Unsqueeze axis"));
        if (axes.size() > 8) throw model_error("Unsqueeze of more than 8 axes is not supported");
        std::sort(axes.begin(), axes.end());
        for (auto a : axes) {
            if (a < 0) a += static_cast<std::int64_t>(c.dims.size() + 1);
            if (a < 0 || a > static_cast<std::int64_t>(c.dims.size())) throw model_error("Unsqueeze axis out of range");
            c.dims.insert(c.dims.begin() + a, 1);
        }
        set_constant(n, c);
    }

    void concat(const onnx::NodeProto& n) {
        constant_tensor c;
        for (int i = 0; i < n.input_size(); ++i) {
            const auto& part = constant(n, i);
            if (part.dims.size() > 1) throw model_error("only Concat of 1-D constants is supported");
            if (c.data.size() + part.data.size() > limits_.max_tensor_elements)
                throw model_error(limit_message("Concat result elements", c.data.size() + part.data.size(), "max_tensor_elements",
                                                limits_.max_tensor_elements));
            c.data.insert(c.data.end(), part.data.begin(), part.data.end());
        }
        c.dims = {static_cast<std::int64_t>(c.data.size())};
        set_constant(n, c);
    }

    void cast(const onnx::NodeProto& n) {
        if (!is_constant(n, 0)) throw model_error("Cast of a computed tensor is not supported");
        constant_tensor c = constant(n, 0);
        c.data_type = static_cast<int>(int_attr(n, "to", c.data_type));
        set_constant(n, std::move(c));
    }

    void transpose(const onnx::NodeProto& n) {
        const auto perm = ints_attr(n, "perm");
        if (is_constant(n, 0)) return set_constant(n, transposed_constant(constant(n, 0), perm));
        runtime_value r = peek_runtime(n, 0);
        if (r.node == nhwc_pending_ && perm == std::vector<std::int64_t>{0, 3, 1, 2} && r.rank == 4) {
            nhwc_pending_ = none;
            return set_runtime(n, r);  // the NHWC input (or its rescaling), already stored as CHW
        }
        if (perm == std::vector<std::int64_t>{0, 2, 3, 1} && r.rank == 4 && !r.nhwc_view) {
            r.nhwc_view = true;
            r.sole_view = consumers_[n.input(0)] == 1;
            bias_pending_.erase(r.node);
            return set_runtime(n, r);
        }
        if (perm == std::vector<std::int64_t>{0, 3, 1, 2} && r.rank == 4 && r.nhwc_view) {
            r.nhwc_view = r.sole_view = false;  // back to the node's own NCHW layout
            return set_runtime(n, r);
        }
        throw model_error("Transpose with perm [" + join_ints(perm) + "] of this tensor is not supported (only (0, 3, 1, 2) of the NHWC input, "
                          "possibly rescaled first, or of an NHWC view, and (0, 2, 3, 1) of an NCHW tensor)");
    }

    // Transpose of a constant (PyTorch transposes Linear weights before a
    // MatMul): folded at load; no perm reverses the axes, as ONNX says.
    constant_tensor transposed_constant(const constant_tensor& c, std::vector<std::int64_t> perm) {
        const std::size_t rank = c.dims.size();
        if (perm.empty())
            for (std::size_t k = rank; k-- > 0;) perm.push_back(static_cast<std::int64_t>(k));
        std::vector<bool> seen(rank, false);
        if (perm.size() != rank) throw model_error("Transpose perm of " + std::to_string(perm.size()) + " axes for a rank-" + std::to_string(rank) + " constant");
        for (auto p : perm) {
            if (p < 0 || p >= static_cast<std::int64_t>(rank) || seen[static_cast<std::size_t>(p)]) throw model_error("Transpose perm is not a permutation");
            seen[static_cast<std::size_t>(p)] = true;
        }
        constant_tensor out = c;
        out.dequantized.reset();  // the layer records the tensor it reads, not a transposed copy
        std::vector<std::size_t> stride(rank, 1);
        for (std::size_t k = rank; k-- > 1;) stride[k - 1] = stride[k] * static_cast<std::size_t>(c.dims[k]);
        for (std::size_t k = 0; k < rank; ++k) out.dims[k] = c.dims[static_cast<std::size_t>(perm[k])];
        std::vector<std::int64_t> index(rank, 0);
        for (std::size_t flat = 0; flat < out.size(); ++flat, next_index(index, out.dims)) {
            std::size_t src = 0;
            for (std::size_t k = 0; k < rank; ++k) src += static_cast<std::size_t>(index[k]) * stride[static_cast<std::size_t>(perm[k])];
            out.data[flat] = c.data[src];
        }
        out.dequantized = c.dequantized;
        return out;
    }

    void flatten(const onnx::NodeProto& n, std::int64_t axis) {
        // At batch 1, Flatten with axis 0 gives [1, features], as axis 1 does.
        if (axis != 1 && axis != 0) throw model_error("Flatten with axis " + std::to_string(axis) + " is not supported (only 0 and 1, batch 1)");
        const runtime_value r = runtime(n, 0, /*allow_view=*/true);
        if (!r.column_order.empty()) throw model_error("Flatten of a flattened NHWC view");
        runtime_value out{net_->flatten(r.node, n.name()), 2, false, {}};
        if (r.nhwc_view) {
            // Element j of the HWC-flattened view is element column_order[j] in CHW order.
            const auto s = net_->at(r.node).output;
            for (std::size_t h = 0; h < s.height; ++h)
                for (std::size_t w = 0; w < s.width; ++w)
                    for (std::size_t c = 0; c < s.channels; ++c) out.column_order.push_back((c * s.height + h) * s.width + w);
        }
        set_runtime(n, out);
    }

    void reshape(const onnx::NodeProto& n) {
        if (is_constant(n, 0)) return set_constant(n, reshaped_constant(constant(n, 0), constant(n, 1)));
        const auto& target = constant(n, 1);
        const runtime_value r = peek_runtime(n, 0);
        const std::size_t size = net_->at(r.node).output.size();
        std::vector<std::int64_t> dims;
        for (double d : target.data) dims.push_back(integer_value(d, "Reshape dimension"));
        const bool to_matrix = dims.size() == 2 && (dims[0] == 1 || dims[0] == -1 || dims[0] == 0) &&
                               (dims[1] == -1 || dims[1] == static_cast<std::int64_t>(size));
        // [-1] / [features] at batch 1: PyTorch's x.view(-1); the rank-1 result is read as the feature vector.
        const bool to_vector = dims.size() == 1 && (dims[0] == -1 || dims[0] == static_cast<std::int64_t>(size));
        if (to_matrix || to_vector) return flatten(n, 1);
        throw model_error("Reshape to this shape is not supported (only [N, -1] / [N, features], or [-1] / [features] at batch 1)");
    }

    // Reshape of a constant (PyTorch's pads chain): the same data, new dims;
    // 0 copies the input's dimension, one -1 takes the rest.
    constant_tensor reshaped_constant(constant_tensor c, const constant_tensor& target) {
        std::vector<std::int64_t> dims;
        std::int64_t known = 1;
        int infer = -1;
        for (std::size_t k = 0; k < target.size(); ++k) {
            std::int64_t d = integer_value(target.data[k], "Reshape dimension");
            if (d == 0 && k < c.dims.size()) d = c.dims[k];
            if (d == -1 && infer < 0) infer = static_cast<int>(k);
            else if (d < 0) throw model_error("Reshape dimension " + std::to_string(d) + " is not supported");
            else known *= d;
            dims.push_back(d);
            if (known > static_cast<std::int64_t>(c.size()) && c.size() > 0) break;
        }
        if (infer >= 0) {
            if (known == 0 || static_cast<std::int64_t>(c.size()) % known != 0)
                throw model_error("Reshape of a constant of " + std::to_string(c.size()) + " values to [" + join_ints(dims) + "]");
            dims[static_cast<std::size_t>(infer)] = static_cast<std::int64_t>(c.size()) / known;
            known *= dims[static_cast<std::size_t>(infer)];
        }
        if (known != static_cast<std::int64_t>(c.size()))
            throw model_error("Reshape of a constant of " + std::to_string(c.size()) + " values to [" + join_ints(dims) + "]");
        c.dims = std::move(dims);
        c.dequantized.reset();
        return c;
    }

    // ConstantOfShape: a constant of the given dims filled with the 'value'
    // attribute (one element; float 0 by default).
    void constant_of_shape(const onnx::NodeProto& n) {
        const auto& shape = constant(n, 0);
        constant_tensor c;
        for (double d : shape.data) c.dims.push_back(integer_value(d, "ConstantOfShape dimension"));
        const std::uint64_t count = check_elements(c.dims, "ConstantOfShape");
        double fill = 0;
        c.data_type = onnx::TensorProto::FLOAT;
        if (const auto* a = attribute(n, "value")) {
            if (!a->has_t()) throw model_error("ConstantOfShape 'value' is not a tensor");
            const constant_tensor v = read_tensor(a->t(), "ConstantOfShape '" + n.name() + "' value");
            if (v.size() != 1) throw model_error("ConstantOfShape 'value' must hold one element, holds " + std::to_string(v.size()));
            fill = v.data[0];
            c.data_type = v.data_type;
        }
        c.data.assign(static_cast<std::size_t>(count), fill);
        set_constant(n, std::move(c));
    }

    // Slice of a constant, as ONNX defines it (negative indices count from
    // the end; starts and ends clamped; negative steps walk backwards).
    void slice(const onnx::NodeProto& n) {
        if (!is_constant(n, 0)) throw model_error("Slice of a computed tensor is not supported");
        const constant_tensor& c = constant(n, 0);
        const std::size_t rank = c.dims.size();
        const auto list = [&](int i, std::vector<std::int64_t> fallback, const char* what) {
            if (i < n.input_size() && !n.input(i).empty()) {
                std::vector<std::int64_t> v;
                // Exporters write INT64_MIN / INT64_MAX for "to the end": clamped like any out-of-range index.
                for (double d : constant(n, i).data) v.push_back(integer_value(std::clamp(d, -0x1p62, 0x1p62), what));
                return v;
            }
            return fallback;
        };
        // opset >= 10: inputs; before: attributes.
        const std::vector<std::int64_t> starts = list(1, ints_attr(n, "starts"), "Slice start"), ends = list(2, ints_attr(n, "ends"), "Slice end");
        std::vector<std::int64_t> axes = list(3, ints_attr(n, "axes"), "Slice axis");
        for (std::size_t k = 0; axes.empty() && k < std::min(rank, starts.size()); ++k) axes.push_back(static_cast<std::int64_t>(k));
        const std::vector<std::int64_t> steps = list(4, std::vector<std::int64_t>(axes.size(), 1), "Slice step");
        if (starts.size() != axes.size() || ends.size() != axes.size() || steps.size() != axes.size())
            throw model_error("Slice starts, ends, axes and steps differ in length");
        std::vector<std::int64_t> first(rank, 0), step(rank, 1), count(c.dims);
        std::vector<bool> seen(rank, false);
        for (std::size_t k = 0; k < axes.size(); ++k) {
            std::int64_t a = axes[k] < 0 ? axes[k] + static_cast<std::int64_t>(rank) : axes[k];
            if (a < 0 || a >= static_cast<std::int64_t>(rank) || seen[static_cast<std::size_t>(a)]) throw model_error("Slice axis out of range or repeated");
            seen[static_cast<std::size_t>(a)] = true;
            const auto ax = static_cast<std::size_t>(a);
            const std::int64_t dim = c.dims[ax], st = steps[k];
            if (st == 0) throw model_error("Slice step 0");
            std::int64_t b = starts[k] < 0 ? starts[k] + dim : starts[k], e = ends[k] < 0 ? ends[k] + dim : ends[k];
            if (st > 0) {
                b = std::clamp<std::int64_t>(b, 0, dim);
                e = std::clamp<std::int64_t>(e, 0, dim);
                count[ax] = e > b ? (e - b + st - 1) / st : 0;
            } else {
                b = std::clamp<std::int64_t>(b, 0, dim - 1);
                e = std::clamp<std::int64_t>(e, -1, dim - 1);
                count[ax] = b > e ? (b - e - st - 1) / -st : 0;
            }
            first[ax] = b;
            step[ax] = st;
        }
        constant_tensor out;
        out.dims = count;
        out.data_type = c.data_type;
        std::vector<std::int64_t> stride(rank, 1);
        for (std::size_t k = rank; k-- > 1;) stride[k - 1] = stride[k] * c.dims[k];
        std::size_t total = 1;
        for (auto d : count) total *= static_cast<std::size_t>(d);
        std::vector<std::int64_t> index(rank, 0);
        for (std::size_t o = 0; o < total; ++o, next_index(index, count)) {
            std::int64_t at = 0;
            for (std::size_t k = 0; k < rank; ++k) at += (first[k] + index[k] * step[k]) * stride[k];
            out.data.push_back(c.data[static_cast<std::size_t>(at)]);
        }
        set_constant(n, std::move(out));
    }

    // Pad with zeros on the spatial axes of an NCHW tensor, read only by
    // Conv nodes: it becomes part of their pads (PyTorch's F.pad / ZeroPad2d
    // before a Conv, TensorFlow's explicit padding).
    void pad(const onnx::NodeProto& n) {
        const std::string mode = string_attr(n, "mode");
        if (!mode.empty() && mode != "constant")
            throw model_error("Pad mode '" + mode + "' is not supported (only 'constant' zero padding before a Conv)");
        if (n.input_size() > 3 && !n.input(3).empty()) throw model_error("Pad with 'axes' is not supported");
        std::vector<std::int64_t> pads = ints_attr(n, "pads");  // opset < 11
        if (n.input_size() > 1 && !n.input(1).empty()) {
            pads.clear();
            for (double d : constant(n, 1).data) pads.push_back(integer_value(d, "Pad amount"));
        }
        double value = float_attr(n, "value", 0.0f);
        if (n.input_size() > 2 && !n.input(2).empty()) {
            const auto& v = constant(n, 2);
            if (v.size() != 1) throw model_error("Pad constant_value must be one value");
            value = v.data[0];
        }
        if (value != 0) throw model_error("Pad with the value " + std::to_string(value) + " is not supported (only zero padding before a Conv)");
        runtime_value r = runtime(n, 0);
        if (r.rank != 4 || pads.size() != 8)
            throw model_error("Pad of a rank-" + std::to_string(r.rank) + " tensor with " + std::to_string(pads.size()) +
                              " pads is not supported (only an NCHW tensor, pads [0, 0, top, left, 0, 0, bottom, right])");
        if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
            throw model_error("Pad of the batch or channel axis [" + join_ints(pads) + "] is not supported");
        for (auto p : pads)
            if (p < 0 || p > max_geometry) throw model_error("Pad amounts [" + join_ints(pads) + "] are negative (cropping) or absurd");
        const auto u = [](std::int64_t v) { return static_cast<std::size_t>(v); };
        r.pad = {u(pads[2]), u(pads[3]), u(pads[6]), u(pads[7])};
        set_runtime(n, r);
    }

    // W (out x in, row-major) from a constant, transposed when `transposed`.
    std::vector<double> dense_weights(const constant_tensor& b, bool transposed, std::size_t in, std::size_t out) {
        if (b.dims.size() != 2) throw model_error("weight matrix must be 2-D");
        const auto rows = static_cast<std::size_t>(b.dims[0]), cols = static_cast<std::size_t>(b.dims[1]);
        if ((transposed ? cols : rows) != in || (transposed ? rows : cols) != out)
            throw model_error("weight matrix of " + std::to_string(rows) + " x " + std::to_string(cols) + " does not fit " +
                              std::to_string(in) + " inputs");
        std::vector<double> w(out * in);
        for (std::size_t o = 0; o < out; ++o)
            for (std::size_t i = 0; i < in; ++i) w[o * in + i] = transposed ? b.data[o * in + i] : b.data[i * out + o];
        return w;
    }

    std::size_t make_dense(const onnx::NodeProto& n, const runtime_value& x, const constant_tensor& b, bool transposed) {
        if (x.rank != 2) throw model_error("matrix product of a rank-" + std::to_string(x.rank) + " tensor (Flatten first)");
        if (b.dims.size() != 2) throw model_error("weight matrix must be 2-D");
        const std::size_t in = net_->at(x.node).output.size();
        const std::size_t out = static_cast<std::size_t>(transposed ? b.dims.at(0) : b.dims.at(1));
        auto w = dense_weights(b, transposed, in, out);
        if (!x.column_order.empty()) {  // read the CHW vector directly
            std::vector<double> permuted(w.size());
            for (std::size_t o = 0; o < out; ++o)
                for (std::size_t j = 0; j < in; ++j) permuted[o * in + x.column_order[j]] = w[o * in + j];
            w = std::move(permuted);
        }
        const std::size_t d = net_->dense(x.node, out, n.name());
        net_->set_weights(d, std::move(w));
        return d;
    }

    void gemm(const onnx::NodeProto& n) {
        if (int_attr(n, "transA", 0) != 0) throw model_error("Gemm with transA = 1 is not supported");
        if (float_attr(n, "alpha", 1.0f) != 1.0f || float_attr(n, "beta", 1.0f) != 1.0f)
            throw model_error("Gemm with alpha or beta other than 1 is not supported");
        const runtime_value x = runtime(n, 0, true);
        const std::size_t d = make_dense(n, x, constant(n, 1), int_attr(n, "transB", 0) != 0);
        note_parameter(constant(n, 1), d, "weights");
        if (n.input_size() > 2 && !n.input(2).empty()) set_bias(d, parameter(n, 2, d, "bias"));
        set_runtime(n, {d, 2, false, {}});
    }

    void matmul(const onnx::NodeProto& n) {
        const runtime_value x = runtime(n, 0, true);
        const std::size_t d = make_dense(n, x, constant(n, 1), false);
        note_parameter(constant(n, 1), d, "weights");
        bias_pending_.insert(d);
        set_runtime(n, {d, 2, false, {}});
    }

    void set_bias(std::size_t node_index, const constant_tensor& c) {
        const std::size_t out = net_->at(node_index).out_features;
        if (c.size() != out && c.size() != 1)
            throw model_error("bias has " + std::to_string(c.size()) + " values for " + std::to_string(out) + " outputs");
        std::vector<double> bias(out);
        for (std::size_t o = 0; o < out; ++o) bias[o] = c.size() == 1 ? c.data[0] : c.data[o];
        net_->set_bias(node_index, std::move(bias));
    }

    static std::string join_ints(const std::vector<std::int64_t>& v) {
        std::string text;
        for (auto x : v) text += (text.empty() ? "" : ", ") + std::to_string(x);
        return text;
    }

    static std::size_t uniform(const std::vector<std::int64_t>& v, std::size_t fallback, const char* what) {
        if (v.empty()) return fallback;
        for (auto x : v)
            if (x != v[0] || x < 0) throw model_error(std::string("non-uniform or negative ") + what + " are not supported");
        if (v[0] > max_geometry) throw model_error(std::string(what) + " of " + std::to_string(v[0]) + " are absurd");
        return static_cast<std::size_t>(v[0]);
    }

    // The zero padding of a Conv or pool over an input of `in`: explicit pads
    // [top, left, bottom, right], or auto_pad as ONNX defines it: SAME_UPPER
    // and SAME_LOWER pad so that the output has ceil(input / stride) entries,
    // the odd entry at the end (UPPER) or at the beginning (LOWER).
    net::padding_2d padding(const onnx::NodeProto& n, std::size_t kernel_h, std::size_t kernel_w, std::size_t stride,
                            std::size_t dilation, const net::shape3& in) {
        const std::string auto_pad = string_attr(n, "auto_pad");
        if (auto_pad == "VALID") return {};
        if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            if (dilation != 1)
                throw model_error("auto_pad " + auto_pad + " with dilation " + std::to_string(dilation) +
                                  " is not supported (ONNX Runtime refuses it too; give explicit pads)");
            if (stride == 0) throw model_error("strides must be positive");
            const auto split = [&](std::size_t input, std::size_t kernel) {
                const std::size_t out = (input + stride - 1) / stride;
                const std::size_t span = (out == 0 ? 0 : (out - 1) * stride) + kernel;
                const std::size_t total = span > input ? span - input : 0;
                const std::size_t head = auto_pad == "SAME_LOWER" ? (total + 1) / 2 : total / 2;
                return std::pair{head, total - head};
            };
            const auto [top, bottom] = split(in.height, kernel_h);
            const auto [left, right] = split(in.width, kernel_w);
            return {top, left, bottom, right};
        }
        if (!auto_pad.empty() && auto_pad != "NOTSET")
            throw model_error("auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
        const auto v = ints_attr(n, "pads");
        if (v.empty()) return {};
        if (v.size() != 4)
            throw model_error("pads [" + join_ints(v) + "] has " + std::to_string(v.size()) +
                              " entries; a 2-D Conv or pool takes 4: [top, left, bottom, right]");
        for (auto x : v) {
            if (x < 0) throw model_error("negative pads [" + join_ints(v) + "] (cropping) are not supported");
            if (x > max_geometry) throw model_error("pads [" + join_ints(v) + "] are absurd");
        }
        const auto at = [&](int i) { return static_cast<std::size_t>(v[static_cast<std::size_t>(i)]); };
        return {at(0), at(1), at(2), at(3)};
    }

    void conv(const onnx::NodeProto& n) {
        const runtime_value x = runtime(n, 0, false, false, /*allow_pad=*/true);
        if (x.rank != 4) throw model_error("Conv on a rank-" + std::to_string(x.rank) + " tensor");
        const auto& w = constant(n, 1);
        if (w.dims.size() != 4) throw model_error("Conv weights must be 4-D");
        net::conv_geometry g;
        g.kernel_h = static_cast<std::size_t>(w.dims[2]);
        g.kernel_w = static_cast<std::size_t>(w.dims[3]);
        g.stride = uniform(ints_attr(n, "strides"), 1, "strides");
        g.dilation = uniform(ints_attr(n, "dilations"), 1, "dilations");
        // A preceding Pad's zeros first, then the Conv's own pads (auto_pad on the padded size).
        const net::padding_2d pre = x.pad;
        net::shape3 padded = net_->at(x.node).output;
        padded.height += pre.top + pre.bottom;
        padded.width += pre.left + pre.right;
        const net::padding_2d own = padding(n, g.kernel_h, g.kernel_w, g.stride, g.dilation, padded);
        g.padding = {pre.top + own.top, pre.left + own.left, pre.bottom + own.bottom, pre.right + own.right};
        for (std::size_t p : {g.padding.top, g.padding.left, g.padding.bottom, g.padding.right})
            if (p > static_cast<std::size_t>(max_geometry)) throw model_error("Conv padding " + net::to_string(g.padding) + " is absurd");
        const std::int64_t groups = int_attr(n, "group", 1);
        if (groups < 1 || groups > max_geometry) throw model_error("Conv group " + std::to_string(groups) + " is not in 1.." + std::to_string(max_geometry));
        g.groups = static_cast<std::size_t>(groups);
        const auto in = net_->at(x.node).output;
        if (static_cast<std::size_t>(w.dims[1]) * g.groups != in.channels)
            throw model_error("Conv weights of " + std::to_string(w.dims[1]) + " input channels per group do not fit " +
                              std::to_string(in.channels) + " channels in " + std::to_string(g.groups) + " groups");
        const std::size_t c = net_->conv2d(x.node, static_cast<std::size_t>(w.dims[0]), g, n.name());
        net_->set_weights(c, w.data);
        note_parameter(w, c, "weights");
        if (n.input_size() > 2 && !n.input(2).empty()) set_bias(c, parameter(n, 2, c, "bias"));
        else bias_pending_.insert(c);
        set_runtime(n, {c, 4, false, {}});
    }

    // QuantizeLinear / DequantizeLinear. On constants (weight-only QDQ, and
    // the fake-quant pairs of QAT exports) they are folded exactly at load;
    // on a computed tensor they quantize activations, which qbound does not analyse.
    void qdq(const onnx::NodeProto& n, bool quantize) {
        if (n.input_size() < 2 || n.input_size() > 3) throw model_error("expects 2 or 3 inputs, has " + std::to_string(n.input_size()));
        if (!is_constant(n, 0))
            throw model_error("it quantizes the computed tensor '" + n.input(0) +
                              "': activation quantization, which qbound does not analyse (it reads weight-only QDQ: "
                              "QuantizeLinear / DequantizeLinear on weight initializers)");
        if (int_attr(n, "block_size", 0) != 0) throw model_error("blocked quantization (block_size) is not supported");
        const constant_tensor& x = constant(n, 0);
        const constant_tensor& scale = constant(n, 1);
        const constant_tensor* zero_point = n.input_size() > 2 && !n.input(2).empty() ? &constant(n, 2) : nullptr;
        const std::int64_t axis = int_attr(n, "axis", 1);
        if (quantize) return set_constant(n, detail::quantize_linear(x, scale, zero_point, axis));
        quantized_tensor report;
        report.tensor = n.output_size() > 0 ? n.output(0) : std::string{};
        report.source = x.from_quantize_linear ? "fake-quant" : "initializer";
        constant_tensor y = detail::dequantize_linear(x, scale, zero_point, axis, report);
        y.dequantized = quantized_.size();
        quantized_.push_back(std::move(report));
        set_constant(n, std::move(y));
    }

    void clip(const onnx::NodeProto& n) {
        std::optional<double> lo, hi;
        if (attribute(n, "min")) lo = float_attr(n, "min", 0);
        if (attribute(n, "max")) hi = float_attr(n, "max", 0);
        const auto scalar = [&](int i) {
            const auto& c = constant(n, i);
            if (c.size() != 1) throw model_error("Clip bound must be a single value, has " + std::to_string(c.size()));
            return c.data[0];
        };
        if (is_constant(n, 1)) lo = scalar(1);
        if (is_constant(n, 2)) hi = scalar(2);
        const runtime_value x = runtime(n, 0, /*allow_view=*/true);
        if (lo == 0.0 && hi == 6.0) return set_runtime(n, activated(x, net::op::relu6, n));
        if (lo == 0.0 && !hi) return set_runtime(n, activated(x, net::op::relu, n));
        throw model_error("Clip is supported as ReLU6 (min 0, max 6) or ReLU (min 0) only");
    }

    // An activation acts entry by entry, so it keeps an NHWC view's layout
    // (and a flattened view's column order).
    runtime_value activated(const runtime_value& x, net::op kind, const onnx::NodeProto& n) {
        return {net_->activation(x.node, kind, n.name()), x.rank, x.nhwc_view, x.column_order};
    }

    void pool(const onnx::NodeProto& n, bool is_max) {
        const runtime_value x = runtime(n, 0);
        if (int_attr(n, "ceil_mode", 0) != 0) throw model_error("ceil_mode = 1 is not supported");
        if (uniform(ints_attr(n, "dilations"), 1, "dilations") != 1) throw model_error("dilated pooling is not supported");
        net::pool_geometry g;
        g.kernel = uniform(ints_attr(n, "kernel_shape"), 0, "kernel_shape");
        g.stride = uniform(ints_attr(n, "strides"), 1, "strides");
        const net::padding_2d pads = padding(n, g.kernel, g.kernel, g.stride, 1, net_->at(x.node).output);
        if (!pads.uniform())
            throw model_error(n.op_type() + " with padding " + net::to_string(pads) +
                              " (top, left, bottom, right) is not supported: pools take equal padding on every side");
        g.padding = pads.top;
        g.count_include_pad = int_attr(n, "count_include_pad", 0) != 0;
        const std::size_t p = is_max ? net_->max_pool(x.node, g, n.name()) : net_->avg_pool(x.node, g, n.name());
        set_runtime(n, {p, 4, false, {}});
    }

    void batch_norm(const onnx::NodeProto& n) {
        const runtime_value x = runtime(n, 0);
        net::batch_norm_params bn{constant(n, 1).data, constant(n, 2).data, constant(n, 3).data, constant(n, 4).data,
                                  static_cast<double>(float_attr(n, "epsilon", 1e-5f))};
        set_runtime(n, {net_->batch_norm(x.node, std::move(bn), n.name()), x.rank, false, {}});
    }

    // Add/Sub/Mul/Div. Two computed tensors: a residual Add. A computed
    // tensor and a constant: a bias (Add after MatMul/Conv without bias) or an
    // exact input normalization step.
    void elementwise(const onnx::NodeProto& n, const std::string& t) {
        if (n.input_size() != 2) throw model_error(t + " needs 2 inputs, has " + std::to_string(n.input_size()));
        const bool c0 = is_constant(n, 0), c1 = is_constant(n, 1);
        if (!c0 && !c1) {
            if (t != "Add") throw model_error(t + " of two computed tensors is not supported");
            const runtime_value a = runtime(n, 0, /*allow_view=*/true), b = runtime(n, 1, /*allow_view=*/true);
            if (a.nhwc_view != b.nhwc_view || !a.column_order.empty() || !b.column_order.empty())
                throw model_error("Add of an NHWC view and a tensor in another layout is not supported");
            return set_runtime(n, {net_->add(a.node, b.node, n.name()), a.rank, a.nhwc_view, {}});
        }
        if (c0 && c1) return set_constant(n, integer_arithmetic(t, constant(n, 0), constant(n, 1)));
        if (c0 && t != "Add" && t != "Mul") throw model_error(t + " with a constant first operand is not supported");
        const int ri = c0 ? 1 : 0;
        const auto& c = constant(n, c0 ? 0 : 1);
        auto& v = lookup(n.input(ri));
        if (!v.runtime) throw model_error("operand is not computed");
        const std::size_t src = v.runtime->node;
        if (t == "Add" && bias_pending_.count(src) && !v.runtime->nhwc_view) {
            bias_pending_.erase(src);
            note_parameter(c, src, "bias");
            set_bias(src, c);
            return set_runtime(n, *v.runtime);
        }
        const runtime_value r = runtime(n, ri, /*allow_view=*/v.runtime->column_order.empty(), /*allow_nhwc_input=*/true);
        const bool on_input = src == 0 || (net_->at(src).kind == net::op::normalize && src == net_->output_index());
        if (on_input && r.nhwc_view) throw model_error(t + " by a constant on a transposed (NHWC) view of the input is not supported");
        if (on_input) return normalize_step(n, r, t, c);
        fold_into_layer(n, r, t, c, n.input(ri));
    }

    // Add / Sub / Mul / Div of two integer constants (shape arithmetic that an
    // export without constant folding leaves in the graph), exactly, with
    // ONNX's integer Div (truncation toward zero). A scalar broadcasts.
    // Float constants are refused: their ONNX result is rounded to the
    // tensor's type, which the exporter should have folded.
    constant_tensor integer_arithmetic(const std::string& t, const constant_tensor& a, const constant_tensor& b) {
        const auto integral = [](const constant_tensor& c) {
            switch (c.data_type) {
                case onnx::TensorProto::INT8: case onnx::TensorProto::UINT8: case onnx::TensorProto::INT16:
                case onnx::TensorProto::UINT16: case onnx::TensorProto::INT32: case onnx::TensorProto::UINT32:
                case onnx::TensorProto::INT64: case onnx::TensorProto::UINT64:
                    return true;
                case 0:  // computed at load (Shape, Gather, Concat of shapes): integers only
                    return std::all_of(c.data.begin(), c.data.end(), [](double v) { return std::nearbyint(v) == v; });
                default:
                    return false;
            }
        };
        if (!integral(a) || !integral(b))
            throw model_error(t + " of two non-integer constants should have been folded by the exporter");
        if (a.size() != b.size() && a.size() != 1 && b.size() != 1)
            throw model_error(t + " of integer constants of " + std::to_string(a.size()) + " and " + std::to_string(b.size()) + " values");
        constant_tensor out = a.size() >= b.size() ? a : b;
        out.dequantized.reset();
        out.data_type = a.data_type ? a.data_type : b.data_type;
        constexpr std::int64_t limit = std::int64_t{1} << 53;  // doubles hold every integer below it
        for (std::size_t k = 0; k < out.size(); ++k) {
            const double x = a.data[a.size() == 1 ? 0 : k], y = b.data[b.size() == 1 ? 0 : k];
            if (!(std::fabs(x) < 0x1p53 && std::fabs(y) < 0x1p53)) throw model_error(t + " of integer constants beyond 2^53");
            const auto xi = static_cast<std::int64_t>(x), yi = static_cast<std::int64_t>(y);
            std::int64_t r = 0;
            if (t == "Add") r = xi + yi;
            else if (t == "Sub") r = xi - yi;
            else if (t == "Mul" && __builtin_mul_overflow(xi, yi, &r)) r = limit;
            else if (t == "Div" && yi == 0) throw model_error("integer Div by 0");
            else if (t == "Div") r = xi / yi;  // C++ truncates toward zero, as ONNX's integer Div
            if (r >= limit || r <= -limit) throw model_error(t + " of integer constants beyond 2^53");
            out.data[k] = static_cast<double>(r);
        }
        return out;
    }

    // The constant's value at each element of a computed tensor, in qbound's
    // CHW order, by ONNX (numpy) broadcasting against the tensor's ONNX dims.
    std::vector<double> broadcast(const constant_tensor& c, const runtime_value& r) {
        const net::shape3 s = net_->at(r.node).output;
        const bool nhwc = r.node == nhwc_pending_ || r.nhwc_view;
        const auto i64 = [](std::size_t v) { return static_cast<std::int64_t>(v); };
        std::vector<std::int64_t> dims;
        if (r.rank == 2) dims = {1, i64(s.size())};
        else if (r.rank == 3) dims = {1, i64(s.channels), i64(s.height)};
        else if (nhwc) dims = {1, i64(s.height), i64(s.width), i64(s.channels)};
        else dims = {1, i64(s.channels), i64(s.height), i64(s.width)};
        std::vector<std::int64_t> cd = c.dims;
        if (cd.empty() && c.size() == 1) cd = {1};
        while (cd.size() > dims.size() && cd.front() == 1) cd.erase(cd.begin());
        const std::string text = join_ints(cd), want = join_ints(dims);
        if (cd.size() > dims.size()) throw model_error("constant of dims [" + text + "] does not broadcast to [" + want + "]");
        const std::size_t shift = dims.size() - cd.size();
        std::vector<std::size_t> stride(cd.size(), 1);  // the constant's strides; 0 on broadcast axes
        std::size_t acc = 1;
        for (std::size_t k = cd.size(); k-- > 0;) {
            if (cd[k] != 1 && cd[k] != dims[k + shift]) throw model_error("constant of dims [" + text + "] does not broadcast to [" + want + "]");
            stride[k] = cd[k] == 1 ? 0 : acc;
            acc *= static_cast<std::size_t>(cd[k]);
        }
        if (acc != c.size()) throw model_error("constant of dims [" + text + "] holds " + std::to_string(c.size()) + " values");
        std::vector<double> out(s.size());
        for (std::size_t ch = 0; ch < s.channels; ++ch)
            for (std::size_t h = 0; h < s.height; ++h)
                for (std::size_t w = 0; w < s.width; ++w) {
                    const std::size_t k = (ch * s.height + h) * s.width + w;
                    std::vector<std::size_t> coord;
                    if (r.rank == 2) coord = {0, k};
                    else if (r.rank == 3) coord = {0, ch, h};
                    else if (nhwc) coord = {0, h, w, ch};
                    else coord = {0, ch, h, w};
                    std::size_t at = 0;
                    for (std::size_t a = 0; a < cd.size(); ++a) at += coord[a + shift] * stride[a];
                    out[k] = c.data[at];
                }
        return out;
    }

    // Add / Sub / Mul / Div by a constant right after a Conv, Gemm or MatMul
    // (PyTorch's scalar 0.0, a per-channel scale): folded into that layer's
    // weights and bias when every result is exact in double, else refused
    // naming the element. The constant must be uniform over each output
    // channel, and the layer's output read by nothing else.
    void fold_into_layer(const onnx::NodeProto& n, const runtime_value& r, const std::string& t, const constant_tensor& c, const std::string& operand) {
        const net::node& layer = net_->at(r.node);
        if (r.nhwc_view && !r.sole_view && layer.is_affine())
            throw model_error(t + " by a constant on an NHWC view of layer '" + layer.name + "', whose output other nodes also read: it cannot be folded into the layer");
        if (!layer.is_affine() || !r.column_order.empty())
            throw model_error(t + " by a constant after a '" + std::string(net::to_string(layer.kind)) +
                              "' node is not supported (inside the network it folds into a preceding Conv, Gemm or MatMul only)");
        if (consumers_[operand] != 1)
            throw model_error(t + " by a constant of '" + operand + "', which other nodes also read: it cannot be folded into layer '" + layer.name + "'");
        const std::vector<double> v = broadcast(c, r);
        const std::size_t channels = layer.output.channels, plane = layer.output.height * layer.output.width;
        for (std::size_t k = 0; k < v.size(); ++k)
            if (v[k] != v[k / plane * plane])
                throw model_error(t + " by a constant that varies within output channel " + std::to_string(k / plane) + " of layer '" + layer.name +
                                  "' cannot be folded into it");
        std::vector<double> w = layer.weight, b = layer.bias;
        const std::size_t row = w.size() / channels;
        const auto fail = [&](const char* what, std::size_t index) {
            throw model_error(t + " by a constant cannot be folded exactly into layer '" + layer.name + "': " + what + " " + std::to_string(index) +
                              " would not be a double");
        };
        for (std::size_t o = 0; o < channels; ++o) {
            const double x = v[o * plane];
            if (t == "Add" || t == "Sub") {
                if (!detail::exact_sum(b[o], t == "Add" ? x : -x, b[o])) fail("bias", o);
                continue;
            }
            if (t == "Div" && x == 0) throw model_error("Div by a constant 0 after layer '" + layer.name + "'");
            const auto apply = [&](double& slot) { return t == "Mul" ? detail::exact_product(slot, x, slot) : detail::exact_quotient(slot, x, slot); };
            if (!apply(b[o])) fail("bias", o);
            for (std::size_t j = o * row; j < (o + 1) * row; ++j)
                if (!apply(w[j])) fail("weight", j);
        }
        net_->set_weights(r.node, std::move(w));
        net_->set_bias(r.node, std::move(b));
        set_runtime(n, r);
    }

    // Compose an input normalization y = (x - mean) * scale / divisor + offset
    // with one more step, refusing anything that double cannot hold exactly.
    void normalize_step(const onnx::NodeProto& n, const runtime_value& r, const std::string& t, const constant_tensor& c) {
        const std::vector<double> values = broadcast(c, r);  // in the layout r has in the file
        std::size_t target = r.node;
        const bool first_step = net_->at(target).kind != net::op::normalize;
        if (first_step) target = net_->normalize(r.node, {}, {}, n.name());
        if (r.node == nhwc_pending_) nhwc_pending_ = target;  // still NHWC in the file until its Transpose
        const net::node& node = net_->at(target);
        std::vector<double> mean = node.norm_mean, scale = node.norm_scale, divisor = node.norm_divisor, offset = node.norm_offset;
        const std::size_t size = node.output.size();
        auto value_at = [&](std::size_t k) { return values[k]; };
        // slot <- slot + v or slot * v, only if double holds the result exactly.
        auto exact_update = [&](double& slot, double v, bool multiply) {
            const double updated = multiply ? slot * v : slot + v;
            const arith::rational want = multiply ? arith::to_rational(slot) * arith::to_rational(v)
                                                  : arith::to_rational(slot) + arith::to_rational(v);
            if (!std::isfinite(updated) || arith::to_rational(updated) != want)
                throw model_error("this input normalization step (" + t + ") cannot be represented exactly");
            slot = updated;
        };
        for (std::size_t k = 0; k < size; ++k) {
            const double v = value_at(k);
            const bool only_mean = scale[k] == 1 && divisor[k] == 1 && offset[k] == 0;
            if (t == "Sub" && only_mean) exact_update(mean[k], v, false);
            else if (t == "Add" && first_step) exact_update(mean[k], -v, false);  // x + c = x - (-c)
            else if (t == "Add") exact_update(offset[k], v, false);
            else if (t == "Mul" && divisor[k] == 1 && offset[k] == 0) exact_update(scale[k], v, true);
            else if (t == "Div" && offset[k] == 0 && v != 0) exact_update(divisor[k], v, true);
            else throw model_error("this input normalization chain (" + t + " after the previous steps) is not supported");
        }
        net_->set_normalize(target, std::move(mean), std::move(scale), std::move(divisor), std::move(offset));
        set_runtime(n, {target, r.rank, false, {}});
    }
};

}  // namespace

onnx_model read_onnx(const std::string& path, const limits& lim) { return onnx_importer(path, lim).run(); }

}  // namespace qbound::io
