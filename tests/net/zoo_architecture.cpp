// The zoo reproduces the paper's architecture numbers (THEOREMS.md section 5)
// and the architecture view counts row non-zeros exactly.
#include "qbound/net/architecture.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qbound::net;

TEST_CASE("ImageNet zoo models at 224 match the paper's L, widths and counts", "[net][zoo]") {
    struct expected {
        const char* name;
        std::size_t L, largest_map, dense_count, group_count;
    };
    for (const auto& e : {expected{"resnet18", 18, 802816, 4609, 4609}, expected{"resnet50", 50, 802816, 4609, 4609},
                          expected{"mobilenetv2", 53, 1204224, 8641, 1281}}) {
        DYNAMIC_SECTION(e.name) {
            const architecture a = describe_architecture(make_zoo_model(e.name, 224, false));
            CHECK(a.depth == e.L);
            CHECK(a.largest_feature_map == e.largest_map);
            CHECK(a.max_dense_count == e.dense_count);
            CHECK(a.max_group_count == e.group_count);
            CHECK(a.has_residual);
            CHECK_FALSE(a.is_plain_chain());
            CHECK(a.output.size() == 1000);
        }
    }
}

TEST_CASE("torchvision parameter counts, batch norm folded into biases", "[net][zoo]") {
    // torchvision counts (with BN gamma/beta, conv without bias): resnet18
    // 11,689,512; folding turns each BN's 2c parameters into c conv biases.
    const auto r18 = make_resnet18(224, 1000, false);
    std::size_t bn_channels = 0;
    for (const auto& n : r18.nodes())
        if (n.kind == op::conv2d) bn_channels += n.out_features;
    CHECK(r18.parameter_count() + bn_channels == 11689512);
    const auto r50 = make_resnet50(224, 1000, false);
    bn_channels = 0;
    for (const auto& n : r50.nodes())
        if (n.kind == op::conv2d) bn_channels += n.out_features;
    CHECK(r50.parameter_count() + bn_channels == 25557032);
}

TEST_CASE("other resolutions keep L and scale the feature maps", "[net][zoo]") {
    const architecture a = describe_architecture(make_resnet18(160, 1000, false));
    CHECK(a.depth == 18);
    CHECK(a.largest_feature_map == 64 * 80 * 80);
}

TEST_CASE("row non-zeros: padding, stride and dilation limit the receptive field", "[net][architecture]") {
    network net("t", {4, 5, 5}, false);
    // 5x5 kernel, dilation 2, no padding on a 5x5 input: only the centre tap
    // grid of 3x3 positions fits -> output 1x1... (5 - 9) < 0 would not fit,
    // so use padding 2: every output sees at most 3 x 3 taps.
    net.conv2d(0, 6, {5, 5, 1, 2, 2, 2});
    const architecture a = describe_architecture(net);
    REQUIRE(a.layers.size() == 1);
    CHECK(a.layers[0].max_row_nonzeros == 3 * 3 * (4 / 2));
    CHECK(a.layers[0].dense_count == 25 * 4 + 1);
    CHECK(a.layers[0].group_count == 25 * 2 + 1);
}

TEST_CASE("bad shapes and names give clear errors", "[net][bad-input]") {
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(make_zoo_model("resnet34"), Contains("unknown model 'resnet34'"));
    CHECK_THROWS_WITH(make_zoo_model("mlp:2,,3"), Contains("bad width"));
    CHECK_THROWS_WITH(make_zoo_model("resnet18", 8), Contains("resolution"));
    network net("t", {3, 4, 4});
    CHECK_THROWS_WITH(net.conv2d(0, 4, {3, 3, 1, 0, 1, 2}), Contains("groups 2 must divide"));
    CHECK_THROWS_WITH(net.conv2d(0, 4, {7, 7, 1, 0, 1, 1}), Contains("does not fit"));
    CHECK_THROWS_WITH(net.dense(0, std::size_t{1} << 40), Contains("refused"));
    CHECK_THROWS_WITH(net.add(0, net.dense(0, 3)), Contains("add"));
    CHECK_THROWS_AS(network("empty", {0, 1, 1}), model_error);
}

TEST_CASE("initializers: seeded, and scaling reaches the requested operator norms", "[net][init]") {
    network a = make_cnn({}), b = make_cnn({});
    init_he_normal(a, 5, 0.1);
    init_he_normal(b, 5, 0.1);
    CHECK(a.at(1).weight == b.at(1).weight);  // same seed, same weights
    init_he_normal(b, 6, 0.1);
    CHECK(a.at(1).weight != b.at(1).weight);
    init_uniform(a, 0.5, 9);
    for (const auto& n : a.nodes())
        for (double w : n.weight) REQUIRE(std::fabs(w) <= 0.5);
    const std::vector<double> r{0.5, 3.0, 0.25};  // r_l < 1 allowed
    scale_to_operator_norms(a, r);
    std::size_t l = 0;
    for (const auto& n : a.nodes()) {
        if (!n.is_affine()) continue;
        CHECK(std::fabs(approximate_operator_norm(n) - r[l]) <= 1e-12 * r[l]);
        ++l;
    }
    CHECK_THROWS_AS(scale_to_operator_norms(a, {1.0, 2.0}), model_error);
    CHECK_THROWS_AS(scale_to_operator_norms(a, {-1.0}), model_error);
    network shapes = make_cnn({}, false);
    CHECK_THROWS_AS(init_he_normal(shapes, 1), model_error);
}

TEST_CASE("shortcut projections are found from the graph alone, as the zoo marks them", "[net][architecture]") {
    // A network read from a file has no main-path flags: mark_shortcut_projections
    // must recover exactly the zoo's (the downsample convs of the ResNets, none
    // in MobileNetV2's identity shortcuts), so L is the paper's for files too.
    for (const char* model : {"resnet18", "resnet50", "mobilenetv2"}) {
        INFO(model);
        const network zoo = make_zoo_model(model, 32, false);
        network cleared = zoo;
        for (std::size_t i : cleared.affine_nodes()) cleared.set_main_path(i, true);
        std::size_t expected = 0;
        for (const auto& n : zoo.nodes()) expected += n.main_path ? 0 : 1;
        CHECK(mark_shortcut_projections(cleared) == expected);
        for (std::size_t i = 0; i < zoo.nodes().size(); ++i) {
            INFO("node " << i << " '" << zoo.at(i).name << "'");
            REQUIRE(cleared.at(i).main_path == zoo.at(i).main_path);
        }
        CHECK(mark_shortcut_projections(cleared) == 0);  // idempotent
    }
    // Equal branch lengths mark nothing; an affine shortcut beside a longer branch is marked.
    network n("two-branches", {2, 1, 1});
    const std::size_t stem = n.dense(0, 3, "stem");
    const std::size_t left = n.dense(stem, 3, "left"), right = n.dense(stem, 3, "right");
    const std::size_t joined = n.add(left, right, "join");
    const std::size_t deep = n.dense(n.activation(n.dense(joined, 3, "a1"), op::relu), 3, "a2");
    const std::size_t projection = n.dense(joined, 3, "projection");
    n.add(deep, projection, "join2");
    CHECK(mark_shortcut_projections(n) == 1);
    CHECK(n.at(left).main_path);
    CHECK(n.at(right).main_path);
    CHECK_FALSE(n.at(projection).main_path);
    CHECK(n.at(deep).main_path);
}
