#pragma once
// One interpretation of a network, shared by every engine.
//
//   dispatch<R>(net, i, engine, v, args...)   v.visit(op_tag<kind of node i>{}, args...)
//   walk(net, input, engine, options)         every node in topological order
//   walk_pair(theta, quant, input, engine, o) both networks in lockstep
//
// A visitor has one handler per operator kind, `visit(op_tag<op::K>, ...)`
// (one overload, or one template constrained to a few kinds), and may list
// kinds it does not support in `static constexpr op_set refused{...}`. Every
// kind in QBOUND_NET_OPS (net/network.hpp) must be handled or refused: a
// visitor that does neither does not compile (a static_assert naming the
// missing operator). A refused kind reaches no handler: it throws
// model_error (unsupported_node_text) naming the network, the node index,
// the node, its operator and the engine.
//
// The walk visits nodes 1, 2, ... (node 0 holds the input value; a later
// input node is refused for every engine) with a node_visit: the node, its
// inputs' values by reference and shapes; the handler's result becomes the
// node's value. With `free_after_last_reader`, each value is released
// (assigned Value{}) right after the visit of its last reader; the output
// node's value is always kept.
#include "qbound/net/errors.hpp"
#include "qbound/net/network.hpp"

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace qbound::net {

static_assert(op_count <= 64, "op_set holds one bit per operator kind");

// A set of operator kinds (structural: usable as a template argument).
struct op_set {
    std::uint64_t bits = 0;
    constexpr op_set() = default;
    constexpr op_set(std::initializer_list<op> kinds) {
        for (op k : kinds) bits |= bit(k);
    }
    constexpr bool contains(op k) const { return (bits & bit(k)) != 0; }
    constexpr op_set operator|(op_set other) const {
        op_set s;
        s.bits = bits | other.bits;
        return s;
    }
    static constexpr std::uint64_t bit(op k) { return std::uint64_t{1} << static_cast<unsigned>(k); }
};

// The distinct type of one operator kind, for overloading handlers.
template <op K>
struct op_tag {
    static constexpr op kind = K;
};

// The kinds a visitor refuses: V::refused when it declares one, else none.
template <class V>
constexpr op_set refused_ops() {
    using W = std::remove_cvref_t<V>;
    if constexpr (requires { { W::refused } -> std::convertible_to<op_set>; })
        return W::refused;
    else
        return op_set{};
}

// V has a handler for kind K taking Args.
template <class V, op K, class... Args>
concept handles_op = requires(V& v, Args&&... args) { v.visit(op_tag<K>{}, std::forward<Args>(args)...); };

// True when V handles or refuses every kind (`implied`: refused by the caller
// for every visitor); otherwise a static_assert names the first missing kind.
template <class V, op_set implied, class... Args>
constexpr bool check_visitor() {
    constexpr op_set refused = refused_ops<V>() | implied;
#define QBOUND_NET_CHECK_OP(name)                                                                                 \
    static_assert(refused.contains(op::name) || handles_op<V, op::name, Args...>,                                 \
                  "net visitor incomplete: it neither implements visit(op_tag<op::" #name ">, ...) nor lists op::" \
                  #name " in its `static constexpr op_set refused`");
    QBOUND_NET_OPS(QBOUND_NET_CHECK_OP)
#undef QBOUND_NET_CHECK_OP
    return true;
}

// "NET: node I 'NAME' (OP) is not supported by ENGINE", with the reason for
// an unfolded batch norm ("must be folded ... (fold_batch_norm)") and a
// second input node.
std::string unsupported_node_text(const network& net, std::size_t index, std::string_view engine);
[[noreturn]] void throw_unsupported_node(const network& net, std::size_t index, std::string_view engine);
// node_visit::earlier(j) with j not before the visited node.
[[noreturn]] void throw_not_earlier(std::size_t j, std::size_t index);
// A node whose kind is not an enumerator of op (a corrupted value).
[[noreturn]] void throw_invalid_kind(const network& net, std::size_t index);
[[noreturn]] void throw_invalid_kind(op kind);
[[noreturn]] void throw_unsupported_kind(op kind, std::string_view engine);

namespace detail {
template <class R, op K, op_set refused, class V, class... Args>
R dispatch_one(const network& net, std::size_t index, std::string_view engine, V& v, Args&&... args) {
    if constexpr (refused.contains(K))
        throw_unsupported_node(net, index, engine);
    else
        return v.visit(op_tag<K>{}, std::forward<Args>(args)...);
}
}  // namespace detail

// Calls v.visit(op_tag<K>{}, args...) for the kind K of node `index`, which
// must return R; refused kinds (V::refused and `implied`) throw.
template <class R, op_set implied = op_set{}, class V, class... Args>
R dispatch(const network& net, std::size_t index, std::string_view engine, V& v, Args&&... args) {
    static_assert(check_visitor<V, implied, Args...>());
    constexpr op_set refused = refused_ops<V>() | implied;
    switch (net.nodes()[index].kind) {
#define QBOUND_NET_DISPATCH_OP(name) \
    case op::name: return detail::dispatch_one<R, op::name, refused>(net, index, engine, v, std::forward<Args>(args)...);
        QBOUND_NET_OPS(QBOUND_NET_DISPATCH_OP)
#undef QBOUND_NET_DISPATCH_OP
    }
    throw_invalid_kind(net, index);
}

// v.visit(op_tag<kind>{}, args...) for a bare operator kind, for visitors of
// node lists that are not (yet) a network (check_invariants, graph surgery);
// a refused kind throws model_error "ENGINE: operator KIND is not supported".
template <class R, class V, class... Args>
R dispatch_kind(op kind, std::string_view engine, V& v, Args&&... args) {
    static_assert(check_visitor<V, op_set{}, Args...>());
    constexpr op_set refused = refused_ops<V>();
    switch (kind) {
#define QBOUND_NET_DISPATCH_KIND(name)                                                     \
    case op::name:                                                                         \
        if constexpr (refused.contains(op::name))                                          \
            throw_unsupported_kind(kind, engine);                                          \
        else                                                                               \
            return v.visit(op_tag<op::name>{}, std::forward<Args>(args)...);
        QBOUND_NET_OPS(QBOUND_NET_DISPATCH_KIND)
#undef QBOUND_NET_DISPATCH_KIND
    }
    throw_invalid_kind(kind);
}

// The checks before evaluating `net` on an input of `size` values: throws
// model_error "NET: input has N values, expected M (CxHxW)" or "NET: a
// shape-only network cannot be evaluated".
void check_evaluation_input(const network& net, std::size_t size);

// For each node, the index of its last reader; the output node's is
// nodes().size() (never released).
std::vector<std::size_t> last_readers(const network& net);

// The nodes of the two networks agree (count, kind, inputs, output shape,
// weight and bias sizes); else throws model_error "ENGINE: node I ('NAME')
// differs between the networks 'A' and 'B' (WHAT)" or "ENGINE: the networks
// 'A' and 'B' differ in structure (N and M nodes)".
void check_lockstep(const network& a, const network& b, std::string_view engine);

struct walk_options {
    std::string_view engine;              // named in the errors
    bool free_after_last_reader = false;  // release values once read for the last time
};

// The context of one visit: node `index` of `source` (and, in a pair walk,
// node `index` of the second network), its inputs' values and shapes.
template <class Value>
class node_visit {
public:
    const network& source;
    const std::size_t index;
    const node& n;

    node_visit(const network& net, std::size_t i, const node* paired, std::vector<Value>& values,
               const std::vector<std::size_t>* last)
        : source(net), index(i), n(net.nodes()[i]), paired_(paired), values_(&values), last_(last) {}

    // The value and shape of input k (n.inputs.at(k)).
    const Value& input(std::size_t k = 0) const { return (*values_)[n.inputs.at(k)]; }
    const shape3& input_shape(std::size_t k = 0) const { return source.nodes()[n.inputs.at(k)].output; }
    // Input k's value, moved out when this node is its last reader and the
    // walk frees values (it would be released next), else copied.
    Value take_input(std::size_t k = 0) const {
        const std::size_t j = n.inputs.at(k);
        if (last_ && (*last_)[j] == index) return std::move((*values_)[j]);
        return (*values_)[j];
    }
    // Pair walks: node `index` of the second network.
    const node& paired() const { return *paired_; }
    // The value of an earlier node j < index (for engines that look back
    // past their inputs, e.g. back-substitution); empty if the walk freed it.
    const Value& earlier(std::size_t j) const {
        if (j >= index) throw_not_earlier(j, index);
        return (*values_)[j];
    }

private:
    const node* paired_;
    std::vector<Value>* values_;
    const std::vector<std::size_t>* last_;
};

namespace detail {
template <class Value, class Engine>
std::vector<Value> walk_nodes(const network& net, const network* paired, Value input, Engine& engine, const walk_options& opt) {
    const auto& nodes = net.nodes();
    std::vector<std::size_t> last;
    if (opt.free_after_last_reader) last = last_readers(net);
    std::vector<Value> values(nodes.size());
    values[0] = std::move(input);
    for (std::size_t i = 1; i < nodes.size(); ++i) {
        const node_visit<Value> visit(net, i, paired ? &paired->nodes()[i] : nullptr, values,
                                      opt.free_after_last_reader ? &last : nullptr);
        values[i] = dispatch<Value, op_set{op::input}>(net, i, opt.engine, engine, visit);
        if (opt.free_after_last_reader)
            for (std::size_t j : nodes[i].inputs)
                if (last[j] == i) values[j] = Value{};
    }
    return values;
}
}  // namespace detail

// Every node's value (released ones empty). Engine: Value visit(op_tag<K>,
// const node_visit<Value>&) for each kind it does not refuse.
template <class Value, class Engine>
std::vector<Value> walk(const network& net, Value input, Engine& engine, const walk_options& opt) {
    return detail::walk_nodes<Value>(net, nullptr, std::move(input), engine, opt);
}

// walk over `a` after check_lockstep(a, b); node_visit::paired() is b's node.
template <class Value, class Engine>
std::vector<Value> walk_pair(const network& a, const network& b, Value input, Engine& engine, const walk_options& opt) {
    check_lockstep(a, b, opt.engine);
    return detail::walk_nodes<Value>(a, &b, std::move(input), engine, opt);
}

}  // namespace qbound::net
