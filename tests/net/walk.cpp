// The one walk over a network (net/walk.hpp): visit order and dispatch,
// release after the last reader, the unsupported-node error and the
// lockstep check of pair walks.
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/walk.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace qbound::net;
using Catch::Contains;

namespace {

// input -> dense -> relu -> dense -> add(relu, dense) -> dense: node 2 (the
// relu) is read by nodes 3 and 4.
network residual_net() {
    network net("residual", {3, 1, 1});
    const std::size_t a = net.dense(0, 3, "a");
    const std::size_t r = net.activation(a, op::relu, "r");
    const std::size_t b = net.dense(r, 3, "b");
    const std::size_t s = net.add(r, b, "sum");
    net.dense(s, 2, "out");
    init_he_normal(net, 7);
    return net;
}

// A value that writes "free I" to a log when it is released (move-only, so
// the walk cannot copy it).
struct tracked {
    std::vector<std::string>* log = nullptr;
    std::size_t id = 0;
    tracked() = default;
    tracked(std::vector<std::string>* l, std::size_t i) : log(l), id(i) {}
    tracked(tracked&& other) noexcept : log(std::exchange(other.log, nullptr)), id(other.id) {}
    tracked& operator=(tracked&& other) noexcept {
        release();
        log = std::exchange(other.log, nullptr);
        id = other.id;
        return *this;
    }
    tracked(const tracked&) = delete;
    tracked& operator=(const tracked&) = delete;
    ~tracked() { release(); }
    void release() {
        if (log) log->push_back("free " + std::to_string(id));
        log = nullptr;
    }
};

// Logs "visit I KIND" (the kind of the handler's tag, which must be the node's).
struct recording_engine {
    static constexpr op_set refused{op::batch_norm};
    std::vector<std::string>* log;
    template <op K>
        requires(K != op::batch_norm && K != op::input)
    tracked visit(op_tag<K>, const node_visit<tracked>& c) const {
        REQUIRE(c.n.kind == K);
        REQUIRE(c.input().log != nullptr);  // every input still held when read
        log->push_back("visit " + std::to_string(c.index) + " " + std::string(to_string(K)));
        return tracked(log, c.index);
    }
};

}  // namespace

TEST_CASE("the walk visits nodes in order, each by its operator's handler", "[net][walk]") {
    const network net = residual_net();
    std::vector<std::string> log;
    const recording_engine engine{&log};
    const auto values = walk(net, tracked(&log, 0), engine, {"recording engine", false});
    CHECK(log == std::vector<std::string>{"visit 1 dense", "visit 2 relu", "visit 3 dense", "visit 4 add", "visit 5 dense"});
    for (const auto& v : values) CHECK(v.log != nullptr);  // nothing released
}

TEST_CASE("the walk releases each value right after its last reader", "[net][walk]") {
    const network net = residual_net();
    CHECK(last_readers(net) == std::vector<std::size_t>{1, 2, 4, 4, 5, 6});
    std::vector<std::string> log;
    const recording_engine engine{&log};
    const auto values = walk(net, tracked(&log, 0), engine, {"recording engine", true});
    // The relu (node 2) outlives the dense that reads it first and goes with the add.
    CHECK(log == std::vector<std::string>{"visit 1 dense", "free 0", "visit 2 relu", "free 1", "visit 3 dense", "visit 4 add", "free 2",
                                          "free 3", "visit 5 dense", "free 4"});
    CHECK(values.back().log != nullptr);  // the output is kept
    CHECK(values.back().id == 5);
}

TEST_CASE("unsupported nodes are named with the engine", "[net][walk][bad-input]") {
    network net("bn-net", {2, 3, 3});
    const std::size_t c = net.conv2d(0, 2, {1, 1, 1, 0, 1, 1}, "conv");
    net.batch_norm(c, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 1e-5}, "bn");
    init_he_normal(net, 3);
    CHECK_THROWS_WITH(forward<double>(net, std::vector<double>(18, 1.0)),
                      "bn-net: node 2 'bn' (batch_norm) is not supported by forward evaluation: batch norm must be folded before "
                      "evaluation (fold_batch_norm)");
    std::vector<std::string> log;
    const recording_engine engine{&log};
    CHECK_THROWS_WITH(walk(net, tracked(&log, 0), engine, {"recording engine", true}),
                      "bn-net: node 2 'bn' (batch_norm) is not supported by recording engine: batch norm must be folded before "
                      "evaluation (fold_batch_norm)");

    network twice = residual_net();
    twice.nodes()[2].kind = op::input;
    CHECK_THROWS_WITH(forward<double>(twice, std::vector<double>(3, 1.0)),
                      "residual: node 2 'r' (input) is not supported by forward evaluation: a second input node");
}

TEST_CASE("a pair walk checks that the networks agree node for node", "[net][walk][bad-input]") {
    const network a = residual_net();
    std::vector<std::string> log;
    const recording_engine engine{&log};
    network b = residual_net();
    CHECK_NOTHROW(walk_pair(a, b, tracked(&log, 0), engine, {"pair test", true}));

    b.nodes()[2].kind = op::relu6;
    CHECK_THROWS_WITH(walk_pair(a, b, tracked(&log, 0), engine, {"pair test", true}),
                      "pair test: node 2 ('r') differs between the networks 'residual' and 'residual' (operator relu and relu6)");
    b = residual_net();
    b.nodes()[4].inputs = {3, 2};
    CHECK_THROWS_WITH(check_lockstep(a, b, "pair test"), "pair test: node 4 ('sum') differs between the networks 'residual' and 'residual' (inputs)");
    b = residual_net();
    b.nodes()[3].weight.pop_back();
    CHECK_THROWS_WITH(check_lockstep(a, b, "pair test"), Contains("node 3 ('b') differs") && Contains("(weight count 12 and 11)"));
    network shorter("short", {3, 1, 1});
    shorter.dense(0, 2);
    CHECK_THROWS_WITH(check_lockstep(a, shorter, "pair test"), "pair test: the networks 'residual' and 'short' differ in structure (6 and 2 nodes)");
}

namespace {

// Each node's value: the sum of every earlier node's value plus its index
// (read through node_visit::earlier, past the node's own inputs), or a
// request for a node that is not earlier.
struct look_back {
    bool ask_self = false;
    template <op K>
    std::size_t visit(op_tag<K>, const node_visit<std::size_t>& c) const {
        std::size_t sum = c.index;
        for (std::size_t j = 0; j < c.index; ++j) sum += c.earlier(j);
        if (ask_self) sum += c.earlier(c.index);
        return sum;
    }
};

}  // namespace

TEST_CASE("a visitor reads any earlier node's value, and never a later one", "[net][walk]") {
    const network net = residual_net();
    const look_back engine;
    const auto v = walk(net, std::size_t{0}, engine, {"look back", false});
    // v_i = i + sum_{j<i} v_j: 0, 1, 3, 7, 15, 31 (v_0 is the input value 0).
    std::size_t expected = 0;
    for (std::size_t i = 1; i < v.size(); ++i) {
        expected = i + (i == 1 ? 0 : 2 * expected - (i - 1));
        REQUIRE(v[i] == expected);
    }
    const look_back wrong{true};
    REQUIRE_THROWS_WITH(walk(net, std::size_t{0}, wrong, {"look back", false}), Contains("not an earlier node"));
}
