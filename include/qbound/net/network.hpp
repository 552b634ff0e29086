#pragma once
// One layer-wise representation for MLPs and CNNs (THEOREMS.md sections 1, 5).
//
// A network is a list of nodes in topological order; node 0 is the input and
// every node names the earlier nodes it reads. Tensors are CHW (batch 1) and
// flattened row-major (c, h, w); a vector of n features is shape {n, 1, 1}.
//
// Affine nodes (dense, conv2d) hold double weights and biases:
//   dense   weight [out][in]                         y = W x + b
//   conv2d  weight [out][in / groups][kh][kw]        zero padding, any stride,
//           dilation and groups (groups == in == out: depthwise)
// Batch norm (inference form) is a node until fold_batch_norm() merges it
// into the affine node it follows. Input normalization, where a file has it,
// becomes an explicit `normalize` node,
//   y_k = (x_k - mean_k) * scale_k / divisor_k + offset_k   per element,
// evaluated exactly in each number type (1/divisor is not rounded
// into a weight), visible in the architecture and not counted in L.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qbound::net {

struct shape3 {
    std::size_t channels = 0, height = 1, width = 1;
    std::size_t size() const { return channels * height * width; }
    friend bool operator==(const shape3&, const shape3&) = default;
};

std::string to_string(const shape3& s);

// The operator kinds: this list is the one place they are named. The enum,
// to_string(op), net::all_ops and every visitor's completeness check
// (net/walk.hpp) are generated from it, so a new operator is one entry here
// plus its handlers; every engine that neither handles nor refuses it fails
// to compile.
#define QBOUND_NET_OPS(X) \
    X(input)              \
    X(dense)              \
    X(conv2d)             \
    X(batch_norm)         \
    X(relu)               \
    X(relu6)              \
    X(identity)           \
    X(max_pool)           \
    X(avg_pool)           \
    X(global_avg_pool)    \
    X(flatten)            \
    X(add)                \
    X(normalize)

#define QBOUND_NET_OP_ENUMERATOR(name) name,
enum class op { QBOUND_NET_OPS(QBOUND_NET_OP_ENUMERATOR) };
#undef QBOUND_NET_OP_ENUMERATOR

#define QBOUND_NET_OP_VALUE(name) op::name,
inline constexpr op all_ops[] = {QBOUND_NET_OPS(QBOUND_NET_OP_VALUE)};
#undef QBOUND_NET_OP_VALUE
inline constexpr std::size_t op_count = sizeof(all_ops) / sizeof(all_ops[0]);

std::string_view to_string(op kind);

// Zero padding around a convolution's input: rows above (top) and below
// (bottom), columns left and right; ONNX writes it as pads [top, left,
// bottom, right]. A single number converts to equal padding on every side.
struct padding_2d {
    std::size_t top = 0, left = 0, bottom = 0, right = 0;
    constexpr padding_2d() = default;
    constexpr padding_2d(std::size_t all) : top(all), left(all), bottom(all), right(all) {}  // NOLINT: implicit on purpose
    constexpr padding_2d(std::size_t t, std::size_t l, std::size_t b, std::size_t r) : top(t), left(l), bottom(b), right(r) {}
    constexpr bool uniform() const { return top == left && left == bottom && bottom == right; }
    friend constexpr bool operator==(const padding_2d&, const padding_2d&) = default;
};

// "p1" when uniform, else "p[t,l,b,r]" (node names, error messages).
std::string to_string(const padding_2d& p);

struct conv_geometry {
    std::size_t kernel_h = 1, kernel_w = 1, stride = 1;
    padding_2d padding;
    std::size_t dilation = 1, groups = 1;
};

struct pool_geometry {
    std::size_t kernel = 1, stride = 1, padding = 0;
    bool count_include_pad = true;  // average pooling divides by kernel^2 (PyTorch default)
};

struct batch_norm_params {
    std::vector<double> gamma, beta, mean, var;
    double eps = 1e-5;
};

struct node {
    op kind = op::identity;
    std::string name;
    std::vector<std::size_t> inputs;  // indices of earlier nodes
    shape3 output;                    // shape of this node's output
    // dense / conv2d
    conv_geometry conv;
    std::vector<double> weight;  // empty in a shape-only network
    std::vector<double> bias;    // empty in a shape-only network; zeros when the layer has none
    bool main_path = true;       // counted in L; false for shortcut projections
    // batch_norm
    batch_norm_params bn;
    // max_pool / avg_pool
    pool_geometry pool;
    // normalize: one value per element
    std::vector<double> norm_mean, norm_scale, norm_divisor, norm_offset;

    bool is_affine() const { return kind == op::dense || kind == op::conv2d; }
    // Affine nodes: input features (dense) or channels (conv); output likewise.
    std::size_t in_features = 0, out_features = 0;
};

class network {
public:
    // `with_weights == false` builds shapes only (for `qbound info` on
    // ResNet-scale models without allocating their weights).
    network(std::string name, shape3 input, bool with_weights = true);

    const std::string& name() const { return name_; }
    // Read access only: nodes change through the builders and the checked
    // mutators below, so every node keeps the sizes and shapes its builder
    // gave it (check_invariants).
    const std::vector<node>& nodes() const { return nodes_; }
    const node& at(std::size_t i) const { return nodes_.at(i); }
#ifdef QBOUND_NETWORK_UNCHECKED
    // Unchecked mutable access, compiled only into the test sources that
    // CMakeLists.txt lists under QBOUND_NETWORK_UNCHECKED: they corrupt
    // networks on purpose, to test refusals of what the builders cannot make.
    // Nothing in the library may use it.
    std::vector<node>& nodes() { return nodes_; }
    node& at(std::size_t i) { return nodes_.at(i); }
#endif
    // A network from an edited node list (graph surgery: shrinking a
    // counterexample), checked: throws model_error naming the first violated
    // invariant (check_invariants).
    static network from_nodes(std::string name, std::vector<node> nodes, bool with_weights = true);
    std::size_t input_index() const { return 0; }
    std::size_t output_index() const { return nodes_.size() - 1; }
    const shape3& input_shape() const { return nodes_.front().output; }
    const shape3& output_shape() const { return nodes_.back().output; }
    bool has_weights() const { return with_weights_; }

    // Builders: each appends a node reading `from` and returns its index.
    // Weights are zero-initialized (see init.hpp for initializers). `dense`
    // on a feature map (not is_flat) first appends a flatten node
    // ("NAME/flatten"), so its input is always flat, as in ONNX.
    std::size_t dense(std::size_t from, std::size_t out_features, std::string name = {}, bool main_path = true);
    std::size_t conv2d(std::size_t from, std::size_t out_channels, conv_geometry g, std::string name = {},
                       bool main_path = true);
    std::size_t batch_norm(std::size_t from, batch_norm_params bn, std::string name = {});
    std::size_t activation(std::size_t from, op kind, std::string name = {});  // relu, relu6, identity
    std::size_t max_pool(std::size_t from, pool_geometry g, std::string name = {});
    std::size_t avg_pool(std::size_t from, pool_geometry g, std::string name = {});
    std::size_t global_avg_pool(std::size_t from, std::string name = {});
    std::size_t flatten(std::size_t from, std::string name = {});
    // Node i's value is a vector in ONNX terms (rank 2): a flatten or dense
    // node, an input of shape n x 1 x 1, or a shape-preserving node of one.
    bool is_flat(std::size_t i) const;
    std::size_t add(std::size_t a, std::size_t b, std::string name = {});
    // (x_k - mean_k) * scale_k / divisor_k + offset_k per element; each may
    // be given as one value, one per channel, or one per element (empty:
    // 0 for mean and offset, 1 for scale and divisor). Divisors non-zero.
    std::size_t normalize(std::size_t from, std::vector<double> mean, std::vector<double> divisor, std::string name = {},
                          std::vector<double> scale = {}, std::vector<double> offset = {});

    // Number of weights and biases of all affine nodes.
    std::size_t parameter_count() const;
    // Indices of the affine (dense, conv2d) nodes, in order.
    std::vector<std::size_t> affine_nodes() const;
    // Weights an affine node holds: dense out*in, conv2d out*(in/groups)*kh*kw.
    static std::size_t weight_count(const node& n);

    // Checked mutators. Each keeps the invariants (check_invariants) and
    // throws model_error naming the network, the node's index and name, and
    // the expected and given sizes when the call would break them. Weight
    // and bias VALUES are not checked (NaN and infinities pass;
    // check_finite_weights refuses them where it matters).
    //
    // Affine node i's weights (weight_count values) / bias (out_features
    // values), replaced; refused in a shape-only network.
    void set_weights(std::size_t i, std::vector<double> w);
    void set_bias(std::size_t i, std::vector<double> b);
    // Affine node i's weights / bias for in-place element edits (the size is
    // fixed); empty in a shape-only network.
    std::span<double> weights(std::size_t i);
    std::span<double> bias(std::size_t i);
    // Affine node i counted in L (true) or a shortcut projection (false).
    void set_main_path(std::size_t i, bool main_path);
    // Normalize node i's parameters, one value per element each, finite,
    // divisors non-zero (as normalize() gives them).
    void set_normalize(std::size_t i, std::vector<double> mean, std::vector<double> scale, std::vector<double> divisor,
                       std::vector<double> offset);
    // Batch norm node i becomes an identity (its parameters dropped), once
    // fold_batch_norm has merged them into the affine node before it.
    void batch_norm_to_identity(std::size_t i);

private:
    std::string name_;
    bool with_weights_;
    std::vector<node> nodes_;
    std::size_t append(node n);
    void check_from(std::size_t from, const char* what) const;
    // "NAME: node I 'N' (KIND)", for errors; throws when node i does not exist.
    std::string describe(std::size_t i) const;
    node& affine_node(std::size_t i, const char* what);
};

// Throws model_error (naming the network, the node's index and name) unless
// the node list is one the builders can produce: node 0 the only input; every
// node reads earlier nodes (add two, the others one); each node's output
// shape follows from its inputs and geometry; dense / conv2d hold exactly
// weight_count weights and out_features biases (none in a shape-only
// network: with_weights false) and no other node holds weights; batch norm
// one parameter per channel (with weights) and eps >= 0; normalize one
// finite value per element, divisors non-zero.
void check_invariants(const std::string& name, const std::vector<node>& nodes, bool with_weights);
void check_invariants(const network& net);

// Output size of a convolution or pooling along one axis with `before` and
// `after` zero entries of padding; throws invalid_argument (naming `what`)
// when the window does not fit.
std::size_t window_output_size(std::size_t in, std::size_t kernel, std::size_t stride, std::size_t before,
                               std::size_t after, std::size_t dilation, const std::string& what);

// Throws qbound::net::model_error naming the node if any weight or bias is
// NaN or infinite.
void check_finite_weights(const network& net);
// The same for one node of the network named `network_name`.
void check_finite_weights(const std::string& network_name, const node& n);

// Visits the windows of a max_pool / avg_pool node in output order (channel,
// row, column): window(out, taps) with `taps` the input indices of the
// window's entries inside the input (zero padding skipped; in kernel order).
// An average pool divides by kernel^2 (count_include_pad) or by taps.size().
// Channels [first_channel, end_channel) only, when given (parallel callers).
template <class Window>
void for_each_pool_window(const node& n, const shape3& in, Window window, std::size_t first_channel = 0,
                          std::size_t end_channel = static_cast<std::size_t>(-1)) {
    const pool_geometry& g = n.pool;
    std::vector<std::size_t> taps;
    taps.reserve(g.kernel * g.kernel);
    end_channel = std::min(end_channel, in.channels);
    std::size_t out = first_channel * n.output.height * n.output.width;
    for (std::size_t c = first_channel; c < end_channel; ++c)
        for (std::size_t oh = 0; oh < n.output.height; ++oh)
            for (std::size_t ow = 0; ow < n.output.width; ++ow, ++out) {
                taps.clear();
                for (std::size_t kh = 0; kh < g.kernel; ++kh) {
                    const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh) - static_cast<std::ptrdiff_t>(g.padding);
                    if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(in.height)) continue;
                    for (std::size_t kw = 0; kw < g.kernel; ++kw) {
                        const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw) - static_cast<std::ptrdiff_t>(g.padding);
                        if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(in.width)) continue;
                        taps.push_back((c * in.height + static_cast<std::size_t>(ih)) * in.width + static_cast<std::size_t>(iw));
                    }
                }
                window(out, static_cast<const std::vector<std::size_t>&>(taps));
            }
}

// The divisor of an average pool window with `taps` entries inside the input.
inline double pool_divisor(const node& n, std::size_t taps) {
    return static_cast<double>(n.pool.count_include_pad ? n.pool.kernel * n.pool.kernel : taps);
}

}  // namespace qbound::net
