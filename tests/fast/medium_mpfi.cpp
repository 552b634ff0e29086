// The fast path against 256-bit MPFI on medium CNNs (about a million MACs,
// too many for exact rationals in a test): the fast point enclosure must
// contain the whole MPFI enclosure (which contains the exact output), and
// the fast box enclosure must contain the MPFI enclosure of every sampled
// point of the box.
#include "fast_support.hpp"

#include "qbound/arith/precision.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/net/forward.hpp"

#include "property_support.hpp"

using namespace qbound;

namespace {

// ResNet-like: normalize, stem, max pool, residual block, strided conv,
// dilated depthwise conv, ReLU6, grouped 1x1 conv, residual add, average
// pooling, global pooling, dense.
net::network medium_cnn(std::uint64_t seed, bool hostile) {
    net::network n("medium-cnn", {3, 24, 24});
    std::size_t x = n.normalize(0, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}, "norm");
    x = n.activation(n.conv2d(x, 16, {3, 3, 1, 1, 1, 1}, "stem"), net::op::relu);
    x = n.max_pool(x, {3, 2, 1, true});
    std::size_t y = n.activation(n.conv2d(x, 16, {3, 3, 1, 1, 1, 1}, "block1a"), net::op::relu);
    y = n.conv2d(y, 16, {3, 3, 1, 1, 1, 1}, "block1b");
    x = n.activation(n.add(y, x), net::op::relu);
    x = n.activation(n.conv2d(x, 32, {3, 3, 2, 1, 1, 1}, "down"), net::op::relu);
    y = n.activation(n.conv2d(x, 32, {3, 3, 1, 2, 2, 32}, "depthwise-dilated"), net::op::relu6);
    y = n.conv2d(y, 32, {1, 1, 1, 0, 1, 4}, "grouped-1x1");
    x = n.add(y, x);
    x = n.avg_pool(x, {2, 1, 0, true});
    x = n.global_avg_pool(x);
    n.dense(x, 10, "fc");
    net::init_he_normal(n, seed, 0.05);
    if (hostile) {
        testing::operand_generator gen(seed);
        test::make_hostile(n, gen);
    }
    return n;
}

std::vector<arith::mpfi_interval> mpfi_forward(const net::network& n, const std::vector<double>& x) {
    return net::forward<arith::mpfi_interval>(n, net::input_from_doubles<arith::mpfi_interval>(x));
}

void require_contains_mpfi(const fast::enclosure& e, const std::vector<arith::mpfi_interval>& ref, const std::string& what) {
    REQUIRE(e.lower.size() == ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const arith::rational lo = ref[i].lower().to_rational(), hi = ref[i].upper().to_rational();
        INFO(what << ", output " << i << ": MPFI [" << arith::to_decimal(lo, 25) << ", " << arith::to_decimal(hi, 25) << "], fast ["
                  << e.lower[i] << ", " << e.upper[i] << "]");
        REQUIRE(test::encloses(e.lower[i], e.upper[i], lo));
        REQUIRE(test::encloses(e.lower[i], e.upper[i], hi));
    }
}

}  // namespace

TEST_CASE("fast point and box enclosures contain the 256-bit MPFI enclosures on medium CNNs", "[fast][medium]") {
    const std::uint64_t seed = test::property_seed();
    const arith::precision_scope scope(256);
    testing::operand_generator gen(seed);
    for (int trial = 0; trial < 4; ++trial) {
        const net::network n = trial < 2 ? medium_cnn(seed + static_cast<std::uint64_t>(trial), trial == 1)
                                         : test::random_cnn(gen, 6, 16, trial == 3, 4);
        const std::string what = n.name() + ", seed " + std::to_string(seed) + " (replay: QBOUND_SEED=" + std::to_string(seed) +
                                 "), trial " + std::to_string(trial);
        const auto x = test::random_input(gen, n.input_shape().size());
        const auto reference = mpfi_forward(n, x);
        require_contains_mpfi(fast::enclose_point(n, x), reference, what + ", point");
        try {
            require_contains_mpfi(fast::enclose_point_refined(n, x), reference, what + ", refined point");
        } catch (const fast::refinement_not_applicable&) {
        }

        std::vector<double> lo = x, hi = x;
        for (std::size_t k = 0; k < x.size(); ++k) lo[k] -= 0x1p-7, hi[k] += 0x1p-7;
        const auto box = fast::enclose_box(n, lo, hi);
        std::vector<double> corner(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) corner[k] = gen.chance(0.5) ? lo[k] : hi[k];
        for (const auto* sample : {&lo, &hi, &corner})
            require_contains_mpfi(box, mpfi_forward(n, *sample), what + ", box sample");
    }
}
