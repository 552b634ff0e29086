// The fast correlated pair pass reports contradictions instead of patching
// them (issue item 3): the propagated difference and z' - z both enclose the
// difference at every node, so an empty intersection proves a bug. A
// deliberately narrowed difference (fast::narrow_hook, a test-only
// argument) at each node must throw core::unsound_error naming the
// node, the element, the box and both enclosures; untouched, the pass never
// throws on the same networks.
#include "fast_support.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/net/zoo.hpp"

#include <catch2/catch.hpp>

using namespace qbound;

namespace {

net::network partner(const net::network& n) {
    net::network q = n;
    for (std::size_t i : q.affine_nodes())
        for (double& w : q.weights(i)) w = std::ldexp(std::nearbyint(std::ldexp(w, 6)), -6);
    return q;
}

}  // namespace

TEST_CASE("fast pair pass: a narrowed difference at any node is reported with the node, the box and both enclosures",
          "[fast][unsound]") {
    for (int kind = 0; kind < 2; ++kind) {
        net::network m = kind == 0 ? net::make_mlp({3, 6, 4, 2}) : [] {
            net::cnn_config c;
            c.input = {1, 4, 4};
            c.convs = {{2, {3, 3, 1, 1, 1, 1}, true}};
            c.dense = {2};
            return net::make_cnn(c);
        }();
        net::init_he_normal(m, 17 + static_cast<std::uint64_t>(kind), 0.1);
        const net::network q = partner(m);
        const std::size_t d = m.input_shape().size();
        const std::vector<double> lower(d, -0.25), upper(d, 0.5);
        REQUIRE_NOTHROW(fast::enclose_box_difference(m, q, lower, upper));
        std::size_t reported = 0;
        for (std::size_t target = 1; target < m.nodes().size(); ++target) {
            const auto& node = m.nodes()[target];
            if (node.kind == net::op::identity || node.kind == net::op::flatten) continue;
            INFO((kind == 0 ? "MLP" : "CNN") << ", node " << target << " ('" << node.name << "')");
            const fast::narrow_hook narrow = [&](std::size_t i, std::size_t k, double& lo, double& hi) {
                if (i == target && k == 0) lo = hi = 1e6;
            };
            try {
                fast::enclose_box_difference(m, q, lower, upper, fast::options{1, 100}, narrow);
                FAIL("no core::unsound_error");
            } catch (const core::unsound_error& e) {
                const std::string msg = e.what();
                CHECK(msg.rfind("UNSOUND: fast correlated pair pass", 0) == 0);
                CHECK(msg.find("node " + std::to_string(target) + " ('" + node.name + "'), element 0") != std::string::npos);
                CHECK(msg.find("[1000000, 1000000]") != std::string::npos);
                CHECK(msg.find("[-0.25, 0.5]^" + std::to_string(d)) != std::string::npos);
                ++reported;
            }
        }
        CHECK(reported >= 4);
    }
}
