#include "qbound/net/network.hpp"

#include "qbound/net/errors.hpp"
#include "qbound/net/walk.hpp"

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <utility>

namespace qbound::net {

std::string to_string(const shape3& s) {
    return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

std::string_view to_string(op kind) {
#define QBOUND_NET_OP_NAME(name) #name,
    static constexpr std::string_view names[] = {QBOUND_NET_OPS(QBOUND_NET_OP_NAME)};
#undef QBOUND_NET_OP_NAME
    const auto k = static_cast<std::size_t>(kind);
    return k < op_count ? names[k] : "?";
}

namespace {

// Refuse sizes whose weights could not be allocated (or would overflow).
constexpr std::size_t max_tensor_elements = std::size_t{1} << 34;

std::size_t checked_product(std::initializer_list<std::size_t> factors, const std::string& what) {
    std::size_t p = 1;
    for (std::size_t f : factors) {
        if (f != 0 && p > max_tensor_elements / f)
            throw model_error(what + ": tensor of more than 2^34 elements refused");
        p *= f;
    }
    return p;
}

}  // namespace

std::size_t window_output_size(std::size_t in, std::size_t kernel, std::size_t stride, std::size_t before,
                               std::size_t after, std::size_t dilation, const std::string& what) {
    if (kernel == 0 || stride == 0 || dilation == 0) throw model_error(what + ": kernel, stride and dilation must be positive");
    const std::size_t span = dilation * (kernel - 1) + 1;
    if (in + before + after < span)
        throw model_error(what + ": window of " + std::to_string(span) + " does not fit input " + std::to_string(in) +
                          " with padding " + std::to_string(before) + " + " + std::to_string(after));
    return (in + before + after - span) / stride + 1;
}

std::string to_string(const padding_2d& p) {
    if (p.uniform()) return "p" + std::to_string(p.top);
    return "p[" + std::to_string(p.top) + "," + std::to_string(p.left) + "," + std::to_string(p.bottom) + "," +
           std::to_string(p.right) + "]";
}

network network::from_nodes(std::string name, std::vector<node> nodes, bool with_weights) {
    check_invariants(name, nodes, with_weights);
    network net(std::move(name), nodes.front().output, with_weights);
    net.nodes_ = std::move(nodes);
    return net;
}

network::network(std::string name, shape3 input, bool with_weights) : name_(std::move(name)), with_weights_(with_weights) {
    checked_product({input.channels, input.height, input.width}, name_ + ": input");
    if (input.size() == 0) throw model_error(name_ + ": empty input shape");
    node n;
    n.kind = op::input;
    n.name = "input";
    n.output = input;
    nodes_.push_back(std::move(n));
}

void network::check_from(std::size_t from, const char* what) const {
    if (from >= nodes_.size())
        throw model_error(name_ + ": " + what + " reads node " + std::to_string(from) + ", which does not exist yet");
}

std::size_t network::append(node n) {
    if (n.name.empty()) n.name = std::string(to_string(n.kind)) + "_" + std::to_string(nodes_.size());
    nodes_.push_back(std::move(n));
    return nodes_.size() - 1;
}

namespace {

// Whether a node's value is a vector in ONNX terms (a visitor of dispatch).
enum class flatness { flat, feature_map, as_input };
struct flatness_of {
    flatness visit(op_tag<op::input>, const node& n) const {
        return n.output.height == 1 && n.output.width == 1 ? flatness::flat : flatness::feature_map;
    }
    template <op K>
        requires(K == op::dense || K == op::flatten)
    flatness visit(op_tag<K>, const node&) const { return flatness::flat; }
    template <op K>
        requires(K == op::conv2d || K == op::max_pool || K == op::avg_pool || K == op::global_avg_pool)
    flatness visit(op_tag<K>, const node&) const { return flatness::feature_map; }
    // Shape-preserving: as flat as its input.
    template <op K>
        requires(K == op::batch_norm || K == op::relu || K == op::relu6 || K == op::identity || K == op::add || K == op::normalize)
    flatness visit(op_tag<K>, const node&) const { return flatness::as_input; }
};

// network::is_flat on a node list (inputs read earlier nodes).
bool is_flat_in(const std::vector<node>& nodes, std::size_t i) {
    const flatness_of visitor;
    for (;;) {
        const node& n = nodes.at(i);
        const flatness f = dispatch_kind<flatness>(n.kind, "is_flat", visitor, n);
        if (f != flatness::as_input) return f == flatness::flat;
        i = n.inputs.at(0);
    }
}

}  // namespace

bool network::is_flat(std::size_t i) const { return is_flat_in(nodes_, i); }

std::size_t network::dense(std::size_t from, std::size_t out_features, std::string name, bool main_path) {
    check_from(from, "dense");
    // A dense layer reads a flat tensor: an explicit flatten node where the
    // input is a feature map (as ONNX's Gemm needs it), so the network reads
    // back from its ONNX export node for node.
    if (!is_flat(from)) from = flatten(from, name.empty() ? std::string() : name + "/flatten");
    node n;
    n.kind = op::dense;
    n.name = std::move(name);
    n.inputs = {from};
    n.in_features = nodes_[from].output.size();
    n.out_features = out_features;
    n.output = {out_features, 1, 1};
    n.main_path = main_path;
    const std::size_t count = checked_product({out_features, n.in_features}, name_ + ": dense '" + n.name + "'");
    if (out_features == 0) throw model_error(name_ + ": dense '" + n.name + "' has no outputs");
    if (with_weights_) {
        n.weight.assign(count, 0.0);
        n.bias.assign(out_features, 0.0);
    }
    return append(std::move(n));
}

std::size_t network::conv2d(std::size_t from, std::size_t out_channels, conv_geometry g, std::string name, bool main_path) {
    check_from(from, "conv2d");
    const shape3 in = nodes_[from].output;
    node n;
    n.kind = op::conv2d;
    n.name = std::move(name);
    const std::string what = name_ + ": conv2d '" + n.name + "'";
    if (g.groups == 0 || in.channels % g.groups != 0 || out_channels % g.groups != 0 || out_channels == 0)
        throw model_error(what + ": groups " + std::to_string(g.groups) + " must divide input channels " +
                          std::to_string(in.channels) + " and output channels " + std::to_string(out_channels));
    n.inputs = {from};
    n.conv = g;
    n.in_features = in.channels;
    n.out_features = out_channels;
    n.output = {out_channels, window_output_size(in.height, g.kernel_h, g.stride, g.padding.top, g.padding.bottom, g.dilation, what),
                window_output_size(in.width, g.kernel_w, g.stride, g.padding.left, g.padding.right, g.dilation, what)};
    checked_product({n.output.channels, n.output.height, n.output.width}, what);
    n.main_path = main_path;
    const std::size_t count = checked_product({out_channels, in.channels / g.groups, g.kernel_h, g.kernel_w}, what);
    if (with_weights_) {
        n.weight.assign(count, 0.0);
        n.bias.assign(out_channels, 0.0);
    }
    return append(std::move(n));
}

std::size_t network::batch_norm(std::size_t from, batch_norm_params bn, std::string name) {
    check_from(from, "batch_norm");
    node n;
    n.kind = op::batch_norm;
    n.name = std::move(name);
    n.inputs = {from};
    n.output = nodes_[from].output;
    const std::size_t c = n.output.channels;
    if (with_weights_ && (bn.gamma.size() != c || bn.beta.size() != c || bn.mean.size() != c || bn.var.size() != c))
        throw model_error(name_ + ": batch_norm '" + n.name + "' needs " + std::to_string(c) + " values per parameter");
    if (!(bn.eps >= 0)) throw model_error(name_ + ": batch_norm '" + n.name + "' has a negative or NaN epsilon");
    n.bn = std::move(bn);
    return append(std::move(n));
}

std::size_t network::activation(std::size_t from, op kind, std::string name) {
    check_from(from, "activation");
    if (kind != op::relu && kind != op::relu6 && kind != op::identity)
        throw model_error(name_ + ": " + std::string(to_string(kind)) + " is not an activation");
    node n;
    n.kind = kind;
    n.name = std::move(name);
    n.inputs = {from};
    n.output = nodes_[from].output;
    return append(std::move(n));
}

namespace {
node pool_node(const node& in, op kind, pool_geometry g, std::string name, const std::string& net_name) {
    node n;
    n.kind = kind;
    n.name = std::move(name);
    n.pool = g;
    const std::string what = net_name + ": " + std::string(to_string(kind)) + " '" + n.name + "'";
    if (g.padding * 2 > g.kernel) throw model_error(what + ": padding larger than half the kernel");
    n.output = {in.output.channels, window_output_size(in.output.height, g.kernel, g.stride, g.padding, g.padding, 1, what),
                window_output_size(in.output.width, g.kernel, g.stride, g.padding, g.padding, 1, what)};
    return n;
}
}  // namespace

std::size_t network::max_pool(std::size_t from, pool_geometry g, std::string name) {
    check_from(from, "max_pool");
    g.count_include_pad = pool_geometry{}.count_include_pad;  // meaningless for a maximum: one canonical value
    node n = pool_node(nodes_[from], op::max_pool, g, std::move(name), name_);
    n.inputs = {from};
    return append(std::move(n));
}

std::size_t network::avg_pool(std::size_t from, pool_geometry g, std::string name) {
    check_from(from, "avg_pool");
    node n = pool_node(nodes_[from], op::avg_pool, g, std::move(name), name_);
    n.inputs = {from};
    return append(std::move(n));
}

std::size_t network::global_avg_pool(std::size_t from, std::string name) {
    check_from(from, "global_avg_pool");
    node n;
    n.kind = op::global_avg_pool;
    n.name = std::move(name);
    n.inputs = {from};
    n.output = {nodes_[from].output.channels, 1, 1};
    return append(std::move(n));
}

std::size_t network::flatten(std::size_t from, std::string name) {
    check_from(from, "flatten");
    node n;
    n.kind = op::flatten;
    n.name = std::move(name);
    n.inputs = {from};
    n.output = {nodes_[from].output.size(), 1, 1};
    return append(std::move(n));
}

std::size_t network::add(std::size_t a, std::size_t b, std::string name) {
    check_from(a, "add");
    check_from(b, "add");
    if (!(nodes_[a].output == nodes_[b].output))
        throw model_error(name_ + ": add '" + name + "' of shapes " + to_string(nodes_[a].output) + " and " +
                          to_string(nodes_[b].output));
    node n;
    n.kind = op::add;
    n.name = std::move(name);
    n.inputs = {a, b};
    n.output = nodes_[a].output;
    return append(std::move(n));
}

std::size_t network::normalize(std::size_t from, std::vector<double> mean, std::vector<double> divisor, std::string name,
                               std::vector<double> scale, std::vector<double> offset) {
    check_from(from, "normalize");
    node n;
    n.kind = op::normalize;
    n.name = std::move(name);
    n.inputs = {from};
    n.output = nodes_[from].output;
    const shape3 s = n.output;
    // Broadcast a scalar or per-channel vector to one value per element.
    auto expand = [&](std::vector<double> v, const char* what, double fill) {
        if (v.empty()) v = {fill};
        if (v.size() == s.size()) return v;
        if (v.size() != 1 && v.size() != s.channels)
            throw model_error(name_ + ": normalize '" + n.name + "' " + what + " has " + std::to_string(v.size()) +
                              " values; expected 1, " + std::to_string(s.channels) + " (channels) or " +
                              std::to_string(s.size()) + " (elements)");
        std::vector<double> out(s.size());
        const std::size_t plane = s.height * s.width;
        for (std::size_t k = 0; k < out.size(); ++k) out[k] = v.size() == 1 ? v[0] : v[k / plane];
        return out;
    };
    n.norm_mean = expand(std::move(mean), "mean", 0.0);
    n.norm_scale = expand(std::move(scale), "scale", 1.0);
    n.norm_divisor = expand(std::move(divisor), "divisor", 1.0);
    n.norm_offset = expand(std::move(offset), "offset", 0.0);
    for (std::size_t k = 0; k < n.norm_mean.size(); ++k)
        if (!std::isfinite(n.norm_mean[k]) || !std::isfinite(n.norm_scale[k]) || !std::isfinite(n.norm_divisor[k]) ||
            !std::isfinite(n.norm_offset[k]) || n.norm_divisor[k] == 0)
            throw model_error(name_ + ": normalize '" + n.name + "' element " + std::to_string(k) +
                              ": parameters must be finite, divisor non-zero");
    return append(std::move(n));
}

std::size_t network::weight_count(const node& n) {
    if (n.kind == op::dense) return n.out_features * n.in_features;
    if (n.kind == op::conv2d) return n.out_features * (n.in_features / n.conv.groups) * n.conv.kernel_h * n.conv.kernel_w;
    return 0;
}

std::size_t network::parameter_count() const {
    std::size_t total = 0;
    for (const auto& n : nodes_)
        if (n.is_affine()) total += weight_count(n) + n.out_features;
    return total;
}

std::vector<std::size_t> network::affine_nodes() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].is_affine()) out.push_back(i);
    return out;
}

std::string network::describe(std::size_t i) const {
    if (i >= nodes_.size())
        throw model_error(name_ + ": there is no node " + std::to_string(i) + " (the network has " + std::to_string(nodes_.size()) +
                          " nodes)");
    const node& n = nodes_[i];
    return name_ + ": node " + std::to_string(i) + " '" + n.name + "' (" + std::string(to_string(n.kind)) + ")";
}

node& network::affine_node(std::size_t i, const char* what) {
    const std::string who = describe(i);
    if (!nodes_[i].is_affine()) throw model_error(who + " is not affine (dense or conv2d): it has no " + what);
    return nodes_[i];
}

void network::set_weights(std::size_t i, std::vector<double> w) {
    node& n = affine_node(i, "weights");
    if (!with_weights_) throw model_error(describe(i) + ": a shape-only network holds no weights");
    const std::size_t expected = weight_count(n);
    if (w.size() != expected)
        throw model_error(describe(i) + ": " + std::to_string(w.size()) + " weights given, its shape needs " + std::to_string(expected));
    n.weight = std::move(w);
}

void network::set_bias(std::size_t i, std::vector<double> b) {
    node& n = affine_node(i, "bias");
    if (!with_weights_) throw model_error(describe(i) + ": a shape-only network holds no biases");
    if (b.size() != n.out_features)
        throw model_error(describe(i) + ": " + std::to_string(b.size()) + " biases given, its shape needs " +
                          std::to_string(n.out_features));
    n.bias = std::move(b);
}

std::span<double> network::weights(std::size_t i) { return affine_node(i, "weights").weight; }

std::span<double> network::bias(std::size_t i) { return affine_node(i, "bias").bias; }

void network::set_main_path(std::size_t i, bool main_path) { affine_node(i, "main-path flag").main_path = main_path; }

void network::set_normalize(std::size_t i, std::vector<double> mean, std::vector<double> scale, std::vector<double> divisor,
                            std::vector<double> offset) {
    const std::string who = describe(i);
    node& n = nodes_[i];
    if (n.kind != op::normalize) throw model_error(who + " is not a normalize node: it has no normalization parameters");
    const std::size_t expected = n.output.size();
    const std::pair<const char*, const std::vector<double>*> parts[] = {
        {"mean", &mean}, {"scale", &scale}, {"divisor", &divisor}, {"offset", &offset}};
    for (const auto& [what, v] : parts)
        if (v->size() != expected)
            throw model_error(who + ": " + std::to_string(v->size()) + " " + what + " values given, its shape needs " +
                              std::to_string(expected));
    for (std::size_t k = 0; k < expected; ++k)
        if (!std::isfinite(mean[k]) || !std::isfinite(scale[k]) || !std::isfinite(divisor[k]) || !std::isfinite(offset[k]) ||
            divisor[k] == 0)
            throw model_error(who + " element " + std::to_string(k) + ": parameters must be finite, divisor non-zero");
    n.norm_mean = std::move(mean);
    n.norm_scale = std::move(scale);
    n.norm_divisor = std::move(divisor);
    n.norm_offset = std::move(offset);
}

void network::batch_norm_to_identity(std::size_t i) {
    const std::string who = describe(i);
    node& n = nodes_[i];
    if (n.kind != op::batch_norm) throw model_error(who + " is not a batch_norm node");
    n.kind = op::identity;
    n.bn = {};
}

void check_invariants(const network& net) { check_invariants(net.name(), net.nodes(), net.has_weights()); }

namespace {

// The invariants of node `n` given the earlier nodes (a visitor of
// dispatch_kind: one handler per operator), each violation a model_error
// naming the node.
struct invariant_check {
    const std::vector<node>& nodes;
    const node& n;
    bool with_weights;
    std::string who;

    [[noreturn]] void fail(const std::string& what) const { throw model_error(who + ": " + what); }
    void expect_output(const shape3& s) const {
        if (!(n.output == s)) fail("output shape " + to_string(n.output) + ", its inputs and geometry give " + to_string(s));
    }
    void expect_size(const std::vector<double>& v, std::size_t size, const char* what) const {
        if (v.size() != size) fail(std::to_string(v.size()) + " " + what + " values, its shape needs " + std::to_string(size));
    }
    const shape3& in(std::size_t k = 0) const { return nodes[n.inputs[k]].output; }

    void visit(op_tag<op::input>) const {
        if (n.output.size() == 0) fail("empty input shape");
    }
    void visit(op_tag<op::dense>) const {
        if (!is_flat_in(nodes, n.inputs[0])) fail("reads a feature map (a dense node reads a flat tensor)");
        if (n.in_features != in().size()) fail(std::to_string(n.in_features) + " input features for an input of " + to_string(in()));
        if (n.out_features == 0) fail("has no outputs");
        expect_output({n.out_features, 1, 1});
    }
    void visit(op_tag<op::conv2d>) const {
        const conv_geometry& g = n.conv;
        const shape3& x = in();
        if (n.in_features != x.channels) fail(std::to_string(n.in_features) + " input channels for an input of " + to_string(x));
        if (g.groups == 0 || n.out_features == 0 || x.channels % g.groups != 0 || n.out_features % g.groups != 0)
            fail("groups " + std::to_string(g.groups) + " must divide input channels " + std::to_string(x.channels) +
                 " and output channels " + std::to_string(n.out_features));
        expect_output({n.out_features, window_output_size(x.height, g.kernel_h, g.stride, g.padding.top, g.padding.bottom, g.dilation, who),
                       window_output_size(x.width, g.kernel_w, g.stride, g.padding.left, g.padding.right, g.dilation, who)});
    }
    void visit(op_tag<op::batch_norm>) const {
        const shape3& x = in();
        expect_output(x);
        if (with_weights) {  // a shape-only network need not carry them
            expect_size(n.bn.gamma, x.channels, "batch_norm gamma");
            expect_size(n.bn.beta, x.channels, "batch_norm beta");
            expect_size(n.bn.mean, x.channels, "batch_norm mean");
            expect_size(n.bn.var, x.channels, "batch_norm var");
        }
        if (!(n.bn.eps >= 0)) fail("negative or NaN epsilon");
    }
    void visit(op_tag<op::relu>) const { expect_output(in()); }
    void visit(op_tag<op::relu6>) const { expect_output(in()); }
    void visit(op_tag<op::identity>) const { expect_output(in()); }
    void visit(op_tag<op::flatten>) const { expect_output({in().size(), 1, 1}); }
    void visit(op_tag<op::max_pool>) const { pool(true); }
    void visit(op_tag<op::avg_pool>) const { pool(false); }
    void pool(bool is_max) const {
        const pool_geometry& g = n.pool;
        const shape3& x = in();
        if (g.padding * 2 > g.kernel) fail("padding larger than half the kernel");
        if (is_max && g.count_include_pad != pool_geometry{}.count_include_pad) fail("count_include_pad is not the canonical value for a maximum");
        expect_output({x.channels, window_output_size(x.height, g.kernel, g.stride, g.padding, g.padding, 1, who),
                       window_output_size(x.width, g.kernel, g.stride, g.padding, g.padding, 1, who)});
    }
    void visit(op_tag<op::global_avg_pool>) const { expect_output({in().channels, 1, 1}); }
    void visit(op_tag<op::add>) const {
        if (!(in(1) == in())) fail("adds shapes " + to_string(in()) + " and " + to_string(in(1)));
        expect_output(in());
    }
    void visit(op_tag<op::normalize>) const {
        const std::size_t size = in().size();
        expect_output(in());
        expect_size(n.norm_mean, size, "normalize mean");
        expect_size(n.norm_scale, size, "normalize scale");
        expect_size(n.norm_divisor, size, "normalize divisor");
        expect_size(n.norm_offset, size, "normalize offset");
        for (std::size_t k = 0; k < size; ++k)
            if (!std::isfinite(n.norm_mean[k]) || !std::isfinite(n.norm_scale[k]) || !std::isfinite(n.norm_divisor[k]) ||
                !std::isfinite(n.norm_offset[k]) || n.norm_divisor[k] == 0)
                fail("element " + std::to_string(k) + ": normalize parameters must be finite, divisor non-zero");
    }
};

}  // namespace

void check_invariants(const std::string& name, const std::vector<node>& nodes, bool with_weights) {
    if (nodes.empty()) throw model_error(name + ": a network has at least its input node");
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const node& n = nodes[i];
        const invariant_check check{nodes, n, with_weights,
                                    name + ": node " + std::to_string(i) + " '" + n.name + "' (" + std::string(to_string(n.kind)) + ")"};
        if (n.name.empty()) check.fail("has no name");
        if ((i == 0) != (n.kind == op::input)) check.fail(i == 0 ? "node 0 must be the input" : "only node 0 may be an input");
        const std::size_t arity = n.kind == op::input ? 0 : n.kind == op::add ? 2 : 1;
        if (n.inputs.size() != arity)
            check.fail("reads " + std::to_string(n.inputs.size()) + " nodes; a " + std::string(to_string(n.kind)) + " node reads " +
                       std::to_string(arity));
        for (std::size_t from : n.inputs)
            if (from >= i) check.fail("reads node " + std::to_string(from) + ", which is not an earlier node");
        if (!n.is_affine()) {
            check.expect_size(n.weight, 0, "weight");
            check.expect_size(n.bias, 0, "bias");
        }
        if (n.kind != op::normalize) {
            check.expect_size(n.norm_mean, 0, "normalize mean");
            check.expect_size(n.norm_scale, 0, "normalize scale");
            check.expect_size(n.norm_divisor, 0, "normalize divisor");
            check.expect_size(n.norm_offset, 0, "normalize offset");
        }
        dispatch_kind<void>(n.kind, "check_invariants", check);
        if (n.is_affine()) {
            check.expect_size(n.weight, with_weights ? network::weight_count(n) : 0, "weight");
            check.expect_size(n.bias, with_weights ? n.out_features : 0, "bias");
        }
    }
}

void check_finite_weights(const std::string& network_name, const node& n) {
    for (std::size_t k = 0; k < n.weight.size(); ++k)
        if (!std::isfinite(n.weight[k]))
            throw model_error(network_name + ": node '" + n.name + "' weight " + std::to_string(k) + " is " +
                              (std::isnan(n.weight[k]) ? "NaN" : "infinite"));
    for (std::size_t k = 0; k < n.bias.size(); ++k)
        if (!std::isfinite(n.bias[k]))
            throw model_error(network_name + ": node '" + n.name + "' bias " + std::to_string(k) + " is " +
                              (std::isnan(n.bias[k]) ? "NaN" : "infinite"));
}

void check_finite_weights(const network& net) {
    for (const auto& n : net.nodes()) check_finite_weights(net.name(), n);
}

}  // namespace qbound::net
