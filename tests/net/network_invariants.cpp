// network keeps its invariants: the checked mutators refuse what would break
// them, naming the network, node and sizes; every builder, reader and
// transformation leaves a network check_invariants accepts; check_invariants
// refuses hand-broken node lists.
#include "qbound/io/nnet.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/batch_norm.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/network.hpp"
#include "qbound/net/rescale.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace qbound;
using namespace qbound::net;
using Catch::Matchers::Contains;

namespace {

// dense 3 -> 2 (node 1), relu (node 2).
network small_network() {
    network n("small", {3, 1, 1});
    n.activation(n.dense(0, 2, "fc"), op::relu, "relu");
    return n;
}

network conv_network() {
    network n("convs", {4, 5, 5});
    n.conv2d(0, 6, {3, 2, 1, 1, 1, 2}, "grouped");  // weight 6 * (4/2) * 3 * 2 = 72
    return n;
}

// check_invariants on a copy of `net`'s nodes after `breaks`, expecting an error containing `message`.
void check_broken(const network& net, const std::function<void(std::vector<node>&)>& breaks, const std::string& message) {
    std::vector<node> nodes = net.nodes();
    REQUIRE_NOTHROW(check_invariants(net.name(), nodes, net.has_weights()));
    breaks(nodes);
    CHECK_THROWS_WITH(check_invariants(net.name(), nodes, net.has_weights()), Contains(message));
}

}  // namespace

TEST_CASE("set_weights and set_bias take exactly the sizes the shape needs", "[net][invariants]") {
    network n = small_network();
    n.set_weights(1, {1, 2, 3, 4, 5, 6});
    n.set_bias(1, {-1, 1});
    CHECK(n.at(1).weight == std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK(n.at(1).bias == std::vector<double>{-1, 1});
    CHECK_THROWS_WITH(n.set_weights(1, {1, 2, 3, 4, 5}), Contains("small: node 1 'fc' (dense): 5 weights given, its shape needs 6"));
    CHECK_THROWS_WITH(n.set_weights(1, std::vector<double>(7)), Contains("7 weights given, its shape needs 6"));
    CHECK_THROWS_WITH(n.set_bias(1, {0}), Contains("small: node 1 'fc' (dense): 1 biases given, its shape needs 2"));
    CHECK_THROWS_WITH(n.set_bias(1, {}), Contains("0 biases given, its shape needs 2"));
    // A refused call leaves the node as it was.
    CHECK(n.at(1).weight == std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK(n.at(1).bias == std::vector<double>{-1, 1});

    network c = conv_network();
    CHECK(network::weight_count(c.at(1)) == 72);
    c.set_weights(1, std::vector<double>(72, 0.5));
    CHECK_THROWS_WITH(c.set_weights(1, std::vector<double>(144)),
                      Contains("convs: node 1 'grouped' (conv2d): 144 weights given, its shape needs 72"));
    CHECK_THROWS_WITH(c.set_bias(1, std::vector<double>(4)), Contains("4 biases given, its shape needs 6"));
    check_invariants(n);
    check_invariants(c);
}

TEST_CASE("the mutators refuse non-affine nodes, missing nodes and shape-only networks", "[net][invariants]") {
    network n = small_network();
    CHECK_THROWS_WITH(n.set_weights(2, {}), Contains("small: node 2 'relu' (relu) is not affine (dense or conv2d): it has no weights"));
    CHECK_THROWS_WITH(n.set_bias(0, {}), Contains("small: node 0 'input' (input) is not affine"));
    CHECK_THROWS_WITH(n.weights(2), Contains("node 2 'relu' (relu) is not affine"));
    CHECK_THROWS_WITH(n.bias(2), Contains("node 2 'relu' (relu) is not affine"));
    CHECK_THROWS_WITH(n.set_main_path(2, false), Contains("node 2 'relu' (relu) is not affine"));
    CHECK_THROWS_WITH(n.set_weights(9, {}), Contains("small: there is no node 9 (the network has 3 nodes)"));
    CHECK_THROWS_WITH(n.weights(3), Contains("there is no node 3"));
    CHECK_THROWS_WITH(n.batch_norm_to_identity(1), Contains("small: node 1 'fc' (dense) is not a batch_norm node"));
    CHECK_THROWS_WITH(n.set_normalize(1, {}, {}, {}, {}), Contains("node 1 'fc' (dense) is not a normalize node"));

    network shapes = make_mlp({3, 2}, false);
    CHECK(shapes.weights(1).empty());
    CHECK(shapes.bias(1).empty());
    CHECK_THROWS_WITH(shapes.set_weights(1, std::vector<double>(6)), Contains("a shape-only network holds no weights"));
    CHECK_THROWS_WITH(shapes.set_bias(1, std::vector<double>(2)), Contains("a shape-only network holds no biases"));
    check_invariants(shapes);
}

TEST_CASE("in-place edits keep the size; values are not invariants (NaN passes)", "[net][invariants]") {
    network n = small_network();
    const auto w = n.weights(1);
    REQUIRE(w.size() == 6);
    REQUIRE(n.bias(1).size() == 2);
    w[0] = std::numeric_limits<double>::quiet_NaN();
    n.bias(1)[1] = std::numeric_limits<double>::infinity();
    CHECK(std::isnan(n.at(1).weight[0]));
    check_invariants(n);  // only sizes and shapes are invariants
    CHECK_THROWS_WITH(check_finite_weights(n), Contains("weight 0 is NaN"));
    n.set_weights(1, std::vector<double>(6, std::numeric_limits<double>::infinity()));
    CHECK_THROWS_WITH(check_finite_weights(n), Contains("infinite"));
    n.set_main_path(1, false);
    CHECK_FALSE(n.at(1).main_path);
    CHECK(n.affine_nodes() == std::vector<std::size_t>{1});
}

TEST_CASE("set_normalize takes one finite value per element, divisors non-zero", "[net][invariants]") {
    network n("norm", {2, 1, 2});
    const std::size_t x = n.normalize(0, {1, 2}, {4}, "input_normalization");
    n.set_normalize(x, {1, 2, 3, 4}, {1, 1, 2, 2}, {4, 4, 8, 8}, {0, 0, 0, 1});
    CHECK(n.at(x).norm_offset == std::vector<double>{0, 0, 0, 1});
    CHECK_THROWS_WITH(n.set_normalize(x, {1, 2}, {1, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 0, 0}),
                      Contains("norm: node 1 'input_normalization' (normalize): 2 mean values given, its shape needs 4"));
    CHECK_THROWS_WITH(n.set_normalize(x, {1, 2, 3, 4}, {1, 1, 1, 1}, {1, 0, 1, 1}, {0, 0, 0, 0}),
                      Contains("element 1: parameters must be finite, divisor non-zero"));
    CHECK_THROWS_WITH(n.set_normalize(x, {1, 2, 3, 4}, {1, 1, 1, std::nan("")}, {1, 1, 1, 1}, {0, 0, 0, 0}),
                      Contains("element 3: parameters must be finite"));
    CHECK(n.at(x).norm_offset == std::vector<double>{0, 0, 0, 1});
    check_invariants(n);
}

TEST_CASE("every builder, zoo model and transformation keeps the invariants", "[net][invariants]") {
    for (const char* model : {"resnet18", "resnet50", "mobilenetv2", "cnn", "mlp:2,25,25,2"}) {
        INFO(model);
        check_invariants(make_zoo_model(model, 224, false));
        network m = make_zoo_model(model, 32, true);
        check_invariants(m);
        init_he_normal(m, 3, 0.1);
        check_invariants(m);
        fold_batch_norm(m);
        check_invariants(m);
        network cleared = m;
        for (std::size_t i : cleared.affine_nodes()) cleared.set_main_path(i, true);
        mark_shortcut_projections(cleared);
        check_invariants(cleared);
    }
    cnn_config cfg;
    network cnn = make_cnn(cfg);
    init_uniform(cnn, 0.5, 1);
    check_invariants(cnn);
    scale_to_operator_norms(cnn, {0.5});
    check_invariants(cnn);
    cross_layer_equalization(cnn);
    check_invariants(cnn);
    quant::options o;
    o.bits = 4;
    check_invariants(quant::quantize(cnn, o).network);
    network bn("bn", {2, 4, 4});
    bn.dense(bn.batch_norm(bn.conv2d(0, 3, {3, 3, 1, 1, 1, 1}), {{1, 2, 4}, {0, 0, 1}, {0, 1, 0}, {3, 0, 15}, 1}), 2);
    init_he_normal(bn, 5, 0.1);
    check_invariants(bn);
    fold_batch_norm_exact(bn);
    CHECK(bn.at(2).kind == op::identity);
    check_invariants(bn);
}

TEST_CASE("networks read from the test files keep the invariants", "[net][invariants][io]") {
    const std::string folder = QBOUND_TEST_NETWORKS;
    for (const char* file : {"ACASXU_experimental_v2a_2_1.onnx", "cnn_max_mninst2.onnx", "fc1.onnx"}) {
        INFO(file);
        const auto m = io::read_onnx(folder + "/" + file);
        check_invariants(m.network);
    }
    const auto nnet = io::read_nnet(folder + "/ACASXU_experimental_v2a_2_1.nnet");
    check_invariants(nnet.network);
}

TEST_CASE("check_invariants refuses hand-broken node lists, naming the node", "[net][invariants][negative]") {
    network m = make_mlp({3, 4, 2});
    init_he_normal(m, 1, 0.1);
    check_broken(m, [](auto& n) { n[1].weight.pop_back(); }, "mlp:3-4-2: node 1 'fc1' (dense): 11 weight values, its shape needs 12");
    check_broken(m, [](auto& n) { n[1].bias.push_back(0); }, "node 1 'fc1' (dense): 5 bias values, its shape needs 4");
    check_broken(m, [](auto& n) { n[2].weight = {1}; }, "(relu): 1 weight values, its shape needs 0");
    check_broken(m, [](auto& n) { n[1].out_features = 5; }, "output shape 4x1x1, its inputs and geometry give 5x1x1");
    check_broken(m, [](auto& n) { n[1].in_features = 2; }, "2 input features for an input of 3x1x1");
    check_broken(m, [](auto& n) { n[3].inputs = {3}; }, "reads node 3, which is not an earlier node");
    check_broken(m, [](auto& n) { n[3].inputs = {1, 2}; }, "reads 2 nodes; a dense node reads 1");
    check_broken(m, [](auto& n) { n[2].output = {5, 1, 1}; }, "(relu): output shape 5x1x1");
    check_broken(m, [](auto& n) { n[2].kind = op::input; }, "only node 0 may be an input");
    check_broken(m, [](auto& n) { n[0].kind = op::relu; }, "node 0 must be the input");
    check_broken(m, [](auto& n) { n[1].name.clear(); }, "has no name");
    check_broken(m, [](auto& n) { n.clear(); }, "a network has at least its input node");

    network c = conv_network();
    check_broken(c, [](auto& n) { n[1].conv.groups = 3; }, "groups 3 must divide input channels 4 and output channels 6");
    check_broken(c, [](auto& n) { n[1].conv.stride = 2; }, "(conv2d): output shape 6x5x6, its inputs and geometry give 6x3x3");
    check_broken(c, [](auto& n) { n[1].weight.resize(144); }, "144 weight values, its shape needs 72");

    network f("flat", {2, 4, 4});
    f.dense(f.max_pool(f.conv2d(0, 2, {3, 3, 1, 1, 1, 1}), {2, 2, 0, true}), 3, "fc");  // dense inserts fc/flatten
    check_invariants(f);
    check_broken(f, [](auto& n) { n[4].inputs = {2}; }, "reads a feature map (a dense node reads a flat tensor)");
    check_broken(f, [](auto& n) { n[2].pool.padding = 2; }, "padding larger than half the kernel");
    check_broken(f, [](auto& n) { n[3].output = {32, 1, 1}; }, "(flatten): output shape 32x1x1, its inputs and geometry give 8x1x1");

    network r("res", {2, 1, 1});
    const std::size_t left = r.dense(0, 2, "a");
    r.add(left, r.dense(0, 2, "b"), "sum");
    check_broken(r, [](auto& n) { n[3].inputs = {1}; }, "reads 1 nodes; a add node reads 2");
    check_broken(r, [](auto& n) {
                     n[2].out_features = 3;
                     n[2].output = {3, 1, 1};
                     n[2].weight.resize(6);
                     n[2].bias.resize(3);
                 },
                 "adds shapes 2x1x1 and 3x1x1");

    network b("bn", {2, 3, 3});
    b.batch_norm(b.conv2d(0, 2, {1, 1, 1, 0, 1, 1}), {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 0});
    check_broken(b, [](auto& n) { n[2].bn.var.pop_back(); }, "1 batch_norm var values, its shape needs 2");
    check_broken(b, [](auto& n) { n[2].bn.eps = -1; }, "negative or NaN epsilon");

    network z("norm", {2, 1, 1});
    z.normalize(0, {1}, {2});
    check_broken(z, [](auto& n) { n[1].norm_divisor[1] = 0; }, "element 1: normalize parameters must be finite, divisor non-zero");
    check_broken(z, [](auto& n) { n[1].norm_mean.pop_back(); }, "1 normalize mean values, its shape needs 2");
    check_broken(z, [](auto& n) { n[0].norm_scale = {1}; }, "(input): 1 normalize scale values, its shape needs 0");

    const network shapes = make_mlp({3, 2}, false);
    check_broken(shapes, [](auto& n) { n[1].weight.assign(6, 0); }, "6 weight values, its shape needs 0");
}
