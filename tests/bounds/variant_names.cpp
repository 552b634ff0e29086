// Bound variants as typed keys (bounds/variant.hpp): compute_bounds gives
// every expected variant, in the documented order, on an MLP, a CNN and a
// residual network; names round-trip through parse_variant; the name table
// has no duplicates; a bad name or a missing variant is an error naming it.
#include "qbound/core/errors.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <set>

using namespace qbound;
using F = bounds::bound_family;
using R = bounds::r_source;

namespace {

// The variants every report lists, in their order (README "Names are family[r=source]").
const std::vector<std::string> expected_names{
    "G[r=theta]",           "G[r=max]",           "G-entrywise[r=theta]",  "G-entrywise[r=max]",  "A-per-layer[r=theta]",
    "A-per-layer[r=max]",   "A-collapsed[r=theta]", "A-collapsed[r=max]",  "A'-per-layer[r=theta]", "A'-per-layer[r=max]",
    "A'-collapsed[r=theta]", "A'-collapsed[r=max]", "B[r=theta]",            "B[r=max]",            "B-group[r=theta]",
    "B-group[r=max]",       "B-bias[r=theta]",    "B-bias[r=max]",         "B-group-bias[r=theta]", "B-group-bias[r=max]",
    "residual-aware[r=theta]", "residual-aware[r=max]",
};

net::network quantized_copy(const net::network& m) {
    net::network q = m;
    for (std::size_t i : q.affine_nodes())
        for (double& w : q.weights(i)) w = std::nearbyint(w * 16) / 16;
    return q;
}

net::network residual_mlp() {
    net::network m("residual", {2, 1, 1});
    const std::size_t stem = m.activation(m.dense(m.flatten(0), 3, "stem"), net::op::relu);
    const auto branch = m.dense(m.activation(m.dense(stem, 3, "block1.fc1"), net::op::relu), 3, "block1.fc2");
    m.dense(m.activation(m.add(branch, stem, "block1.add"), net::op::relu), 1, "head");
    return m;
}

}  // namespace

TEST_CASE("variants: every expected variant, in order, for an MLP, a CNN and a residual network", "[bounds][variants]") {
    std::vector<net::network> models;
    models.push_back(net::make_mlp({3, 4, 4, 2}));
    net::cnn_config cfg;
    cfg.input = {1, 6, 6};
    cfg.convs = {{2, {3, 3, 1, 1, 1, 1}, true}, {2, {3, 3, 2, 1, 1, 1}, false}};
    cfg.dense = {2};
    models.push_back(net::make_cnn(cfg));
    models.push_back(residual_mlp());
    std::uint64_t seed = 1;
    for (auto& theta : models) {
        net::init_he_normal(theta, seed++, 0.1);
        const auto all = bounds::compute_bounds(theta, quantized_copy(theta));
        INFO(theta.name());
        REQUIRE(all.size() == expected_names.size());
        for (std::size_t i = 0; i < all.size(); ++i) {
            INFO("variant " << i);
            CHECK(all[i].name == expected_names[i]);
            CHECK(all[i].key == bounds::parse_variant(expected_names[i]));
            CHECK(all[i].key == bounds::all_variants().at(i));
            CHECK(all[i].family == bounds::to_string(all[i].key.family));
            CHECK(all[i].source == all[i].key.r);
        }
        for (const auto& name : expected_names) CHECK(bounds::find(all, bounds::parse_variant(name)).name == name);
    }
}

TEST_CASE("variants: names round-trip through parse_variant, without duplicates", "[bounds][variants]") {
    const auto& keys = bounds::all_variants();
    REQUIRE(keys.size() == expected_names.size());
    std::set<std::string> names;
    std::set<bounds::variant_key> distinct;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const std::string name = bounds::to_string(keys[i]);
        INFO(name);
        CHECK(name == expected_names[i]);
        CHECK(bounds::parse_variant(name) == keys[i]);
        CHECK(names.insert(name).second);
        CHECK(distinct.insert(keys[i]).second);
        CHECK(name == bounds::to_string(keys[i].family) + "[r=" + bounds::to_string(keys[i].r) + "]");
    }
    // Every (family, source) pair is in the table: 11 families, two sources.
    CHECK(distinct.size() == 11 * 2);
    CHECK(bounds::to_string(F::A_prime_collapsed) == "A'-collapsed");
    CHECK(bounds::to_string(F::residual_aware) == "residual-aware");
    CHECK(bounds::to_string(bounds::variant_key{F::B_group_bias, R::theta}) == "B-group-bias[r=theta]");
}

TEST_CASE("variants: a bad name is an error naming it and listing the valid names", "[bounds][variants]") {
    for (const std::string bad : {"A-collapsed[r=mean]", "a-collapsed[r=max]", "A-collapsed", "", "G[r=max] "}) {
        INFO("'" << bad << "'");
        try {
            bounds::parse_variant(bad);
            FAIL("accepted");
        } catch (const core::invalid_argument& e) {
            const std::string what = e.what();
            CHECK_THAT(what, Catch::Contains("unknown bound variant '" + bad + "'"));
            for (const auto& name : expected_names) CHECK_THAT(what, Catch::Contains(name));
        }
    }
}

TEST_CASE("variants: find throws naming a variant missing from the results", "[bounds][variants]") {
    auto theta = net::make_mlp({2, 3, 1});
    net::init_he_normal(theta, 4, 0.1);
    auto all = bounds::compute_bounds(theta, quantized_copy(theta));
    CHECK(bounds::find(all, {F::B_bias, R::max}).name == "B-bias[r=max]");
    all.erase(all.begin() + 17);  // B-bias[r=max]
    CHECK_THROWS_WITH(bounds::find(all, {F::B_bias, R::max}), Catch::Contains("'B-bias[r=max]'"));
    CHECK_THROWS_AS(bounds::find({}, {F::G, R::theta}), core::invalid_argument);
}
