#include "qbound/io/onnx_export.hpp"

#include "qbound/net/errors.hpp"
#include "qbound/net/walk.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <string>

namespace qbound::io {

namespace {

using net::model_error;
using net::node;
using net::op;

class onnx_writer {
public:
    onnx_writer(const net::network& net, onnx_element_type type, const onnx_interface& interface)
        : net_(net), type_(type), interface_(interface) {
        model_.set_ir_version(7);
        model_.set_producer_name("qbound");
        model_.add_opset_import()->set_version(13);
        graph_ = model_.mutable_graph();
        graph_->set_name(net.name());
    }

    onnx::ModelProto build() {
        const auto& nodes = net_.nodes();
        names_.resize(nodes.size());
        for (const auto& n : nodes)
            if (n.kind == op::batch_norm) throw model_error(net_.name() + ": fold batch norm before exporting ('" + n.name + "')");
        declare_input();
        for (std::size_t i = 1; i < nodes.size(); ++i) emit(i, nodes[i]);
        if (!interface_.output_name.empty()) rename_output(interface_.output_name);
        check_unique_names();
        auto* out = graph_->add_output();
        out->set_name(names_.back());
        auto* tt = out->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(elem_type());
        shape_of(tt, nodes.back().output, rank_.count(nodes.size() - 1) ? rank_.at(nodes.size() - 1) : 4);
        return model_;
    }

private:
    const net::network& net_;
    onnx_element_type type_;
    onnx_interface interface_;
    onnx::ModelProto model_;
    onnx::GraphProto* graph_ = nullptr;
    std::vector<std::string> names_;
    std::map<std::size_t, std::size_t> rank_;  // ONNX rank of each node's output
    std::size_t counter_ = 0;

    int elem_type() const { return type_ == onnx_element_type::float32 ? onnx::TensorProto::FLOAT : onnx::TensorProto::DOUBLE; }

    static void shape_of(onnx::TypeProto_Tensor* tt, const net::shape3& s, std::size_t rank) {
        auto* shape = tt->mutable_shape();
        shape->add_dim()->set_dim_value(1);
        if (rank == 2) {
            shape->add_dim()->set_dim_value(static_cast<std::int64_t>(s.size()));
        } else {
            shape->add_dim()->set_dim_value(static_cast<std::int64_t>(s.channels));
            shape->add_dim()->set_dim_value(static_cast<std::int64_t>(s.height));
            shape->add_dim()->set_dim_value(static_cast<std::int64_t>(s.width));
        }
    }

    void declare_input() {
        const auto& s = net_.input_shape();
        const std::size_t rank = (s.height == 1 && s.width == 1) ? 2 : 4;
        const std::string& name = interface_.input_name;
        if (name.empty()) throw model_error(net_.name() + ": the ONNX input needs a name");
        if (interface_.input_nhwc && rank != 4)
            throw model_error(net_.name() + ": an NHWC input needs an image input, not " + net::to_string(s));
        rank_[0] = rank;
        names_[0] = name;
        auto* in = graph_->add_input();
        in->set_name(name);
        auto* tt = in->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(elem_type());
        if (!interface_.input_nhwc) return shape_of(tt, s, rank);
        auto* shape = tt->mutable_shape();
        for (std::size_t d : {std::size_t{1}, s.height, s.width, s.channels}) shape->add_dim()->set_dim_value(static_cast<std::int64_t>(d));
        names_[0] = name + "_nchw";
        ints(add_node("Transpose", {name}, names_[0], name + "/to_nchw"), "perm", {0, 3, 1, 2});
    }

    // The last node's output takes the requested name.
    void rename_output(const std::string& name) {
        const std::string old = names_.back();
        if (old == names_[0] || net_.nodes().size() < 2) throw model_error(net_.name() + ": the network has no computed output to name");
        for (auto& n : *graph_->mutable_node())
            for (auto& o : *n.mutable_output())
                if (o == old) o = name;
        names_.back() = name;
    }

    // The input and output names the caller chose must not collide with a
    // generated tensor name.
    void check_unique_names() const {
        std::set<std::string> seen;
        const auto add = [&](const std::string& name) {
            if (!seen.insert(name).second)
                throw model_error(net_.name() + ": the ONNX tensor name '" + name + "' would be used twice (choose another input or output name)");
        };
        for (const auto& i : graph_->input()) add(i.name());
        for (const auto& t : graph_->initializer()) add(t.name());
        for (const auto& n : graph_->node())
            for (const auto& o : n.output()) add(o);
    }

    std::string tensor(const std::string& hint, std::vector<std::int64_t> dims, const std::vector<double>& data,
                       const std::string& owner) {
        const std::string name = hint + "_" + std::to_string(counter_++);
        auto* t = graph_->add_initializer();
        t->set_name(name);
        for (auto d : dims) t->add_dims(d);
        t->set_data_type(elem_type());
        for (std::size_t k = 0; k < data.size(); ++k) {
            if (type_ == onnx_element_type::float32) {
                const float f = static_cast<float>(data[k]);
                if (static_cast<double>(f) != data[k])
                    throw model_error(net_.name() + ": node '" + owner + "' " + hint + " value " + std::to_string(k) +
                                      " is not exactly representable in float32");
                t->add_float_data(f);
            } else {
                t->add_double_data(data[k]);
            }
        }
        return name;
    }

    onnx::NodeProto* add_node(const std::string& op_type, std::vector<std::string> inputs, const std::string& output,
                              const std::string& name) {
        auto* n = graph_->add_node();
        n->set_op_type(op_type);
        n->set_name(name);
        for (auto& i : inputs) n->add_input(i);
        n->add_output(output);
        return n;
    }

    static void ints(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (auto x : v) a->add_ints(x);
    }
    static void int1(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }

    // Node i as ONNX nodes writing tensor `out` (the handlers of
    // net::dispatch; batch norm is folded and node 0 is the graph input).
    struct emit_args {
        std::size_t i;
        const node& n;
        std::string in;
        std::size_t in_rank;
        std::string out;
    };
    void emit(std::size_t i, const node& n) {
        emit_args a{i, n, names_[n.inputs.at(0)], rank_.at(n.inputs.at(0)), "t" + std::to_string(i)};
        names_[i] = a.out;
        rank_[i] = a.in_rank;
        net::dispatch<void>(net_, i, "the ONNX export", *this, a);
    }

public:
    static constexpr net::op_set refused{op::batch_norm, op::input};
    static std::int64_t s(std::size_t v) { return static_cast<std::int64_t>(v); }

    void visit(net::op_tag<op::dense>, const emit_args& a) {
        const node& n = a.n;
        std::string x = a.in;
        if (a.in_rank != 2) {
            x = a.out + "_flat";
            int1(add_node("Flatten", {a.in}, x, n.name + "/flatten"), "axis", 1);
        }
        auto* g = add_node("Gemm", {x, tensor("weight", {s(n.out_features), s(n.in_features)}, n.weight, n.name),
                                    tensor("bias", {s(n.out_features)}, n.bias, n.name)},
                           a.out, n.name);
        int1(g, "transB", 1);
        rank_[a.i] = 2;
    }
    void visit(net::op_tag<op::conv2d>, const emit_args& a) {
        const node& n = a.n;
        const auto& g = n.conv;
        auto* c = add_node("Conv", {a.in, tensor("weight", {s(n.out_features), s(n.in_features / g.groups), s(g.kernel_h), s(g.kernel_w)}, n.weight, n.name),
                                    tensor("bias", {s(n.out_features)}, n.bias, n.name)},
                           a.out, n.name);
        ints(c, "kernel_shape", {s(g.kernel_h), s(g.kernel_w)});
        ints(c, "strides", {s(g.stride), s(g.stride)});
        ints(c, "pads", {s(g.padding.top), s(g.padding.left), s(g.padding.bottom), s(g.padding.right)});
        ints(c, "dilations", {s(g.dilation), s(g.dilation)});
        int1(c, "group", s(g.groups));
        rank_[a.i] = 4;
    }
    void visit(net::op_tag<op::relu>, const emit_args& a) { add_node("Relu", {a.in}, a.out, a.n.name); }
    void visit(net::op_tag<op::relu6>, const emit_args& a) {
        add_node("Clip", {a.in, tensor("min", {}, {0.0}, a.n.name), tensor("max", {}, {6.0}, a.n.name)}, a.out, a.n.name);
    }
    void visit(net::op_tag<op::identity>, const emit_args& a) { add_node("Identity", {a.in}, a.out, a.n.name); }
    template <op K>
        requires(K == op::max_pool || K == op::avg_pool)
    void visit(net::op_tag<K>, const emit_args& a) {
        const node& n = a.n;
        auto* p = add_node(K == op::max_pool ? "MaxPool" : "AveragePool", {a.in}, a.out, n.name);
        ints(p, "kernel_shape", {s(n.pool.kernel), s(n.pool.kernel)});
        ints(p, "strides", {s(n.pool.stride), s(n.pool.stride)});
        ints(p, "pads", {s(n.pool.padding), s(n.pool.padding), s(n.pool.padding), s(n.pool.padding)});
        if constexpr (K == op::avg_pool) int1(p, "count_include_pad", n.pool.count_include_pad ? 1 : 0);
    }
    void visit(net::op_tag<op::global_avg_pool>, const emit_args& a) { add_node("GlobalAveragePool", {a.in}, a.out, a.n.name); }
    void visit(net::op_tag<op::flatten>, const emit_args& a) {
        int1(add_node("Flatten", {a.in}, a.out, a.n.name), "axis", 1);
        rank_[a.i] = 2;
    }
    void visit(net::op_tag<op::add>, const emit_args& a) { add_node("Add", {a.in, names_[a.n.inputs.at(1)]}, a.out, a.n.name); }
    void visit(net::op_tag<op::normalize>, const emit_args& a) { emit_normalize(a.n, a.in, a.in_rank, a.out); }

private:
    void emit_normalize(const node& n, const std::string& in, std::size_t rank, const std::string& out) {
        std::vector<std::int64_t> dims{1};
        if (rank == 2) dims.push_back(static_cast<std::int64_t>(n.output.size()));
        else
            for (auto d : {n.output.channels, n.output.height, n.output.width}) dims.push_back(static_cast<std::int64_t>(d));
        // Neutral steps are left out, but a normalize node writes at least one
        // step (a Sub of zeros when all are neutral, or before a lone Add), and the last step writes
        // the node's output itself: the reader turns arithmetic on the input
        // into one normalize node and any Identity into an identity node, so
        // this reads back as exactly one normalize node.
        const auto neutral_all = [](const std::vector<double>& v, double neutral) {
            return std::all_of(v.begin(), v.end(), [neutral](double e) { return e == neutral; });
        };
        struct step {
            const char* op_type;
            const std::vector<double>* values;
        };
        std::vector<step> steps;
        if (!neutral_all(n.norm_mean, 0.0)) steps.push_back({"Sub", &n.norm_mean});
        if (!neutral_all(n.norm_scale, 1.0)) steps.push_back({"Mul", &n.norm_scale});
        if (!neutral_all(n.norm_divisor, 1.0)) steps.push_back({"Div", &n.norm_divisor});
        if (!neutral_all(n.norm_offset, 0.0)) {
            // A leading Add would read back as a mean (x + c = x - (-c)): precede it by the Sub.
            if (steps.empty()) steps.push_back({"Sub", &n.norm_mean});
            steps.push_back({"Add", &n.norm_offset});
        }
        if (steps.empty()) steps.push_back({"Sub", &n.norm_mean});  // zeros
        std::string x = in;
        for (std::size_t k = 0; k < steps.size(); ++k) {
            const std::string y = k + 1 == steps.size() ? out : out + "_" + steps[k].op_type;
            const std::string name = k + 1 == steps.size() ? n.name : n.name + "/" + steps[k].op_type;
            add_node(steps[k].op_type, {x, tensor(steps[k].op_type, dims, *steps[k].values, n.name)}, y, name);
            x = y;
        }
    }
};

}  // namespace

std::string write_onnx(const net::network& net, const std::string& path, onnx_element_type type, const onnx_interface& interface) {
    if (!net.has_weights()) throw model_error(net.name() + ": a shape-only network cannot be exported");
    const onnx::ModelProto model = onnx_writer(net, type, interface).build();
    std::ofstream out(path, std::ios::binary);
    if (!out || !model.SerializeToOstream(&out)) throw model_error(path + ": cannot write file");
    const auto describe = [](const onnx::ValueInfoProto& v) {
        std::string dims;
        for (const auto& d : v.type().tensor_type().shape().dim()) dims += (dims.empty() ? "" : ", ") + std::to_string(d.dim_value());
        return "'" + v.name() + "' [" + dims + "]";
    };
    return "input " + describe(model.graph().input(0)) + (interface.input_nhwc ? " (NHWC)" : "") + ", output " +
           describe(model.graph().output(0)) + (type == onnx_element_type::float32 ? ", float32" : ", float64");
}

void round_weights_to_float(net::network& net) {
    auto round_all = [](std::span<double> v) {
        for (auto& x : v) x = static_cast<double>(static_cast<float>(x));
    };
    auto rounded = [&](std::vector<double> v) {
        round_all(v);
        return v;
    };
    for (std::size_t i = 0; i < net.nodes().size(); ++i) {
        const net::node& n = net.at(i);
        if (n.is_affine()) {
            round_all(net.weights(i));
            round_all(net.bias(i));
        }
        if (n.kind == net::op::normalize)
            net.set_normalize(i, rounded(n.norm_mean), rounded(n.norm_scale), rounded(n.norm_divisor), rounded(n.norm_offset));
    }
}

}  // namespace qbound::io
