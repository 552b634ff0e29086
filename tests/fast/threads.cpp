// The fast path's results are bit-identical for any thread count: outputs
// are partitioned, reductions never split.
#include "fast_support.hpp"

#include "qbound/net/forward.hpp"

#include "property_support.hpp"

#include <cstring>

using namespace qbound;

namespace {

// Large enough that every conv and the dense layer take the threaded path.
net::network threaded_cnn(std::uint64_t seed) {
    net::network n("threaded-cnn", {8, 32, 32});
    std::size_t x = n.activation(n.conv2d(0, 32, {3, 3, 1, 1, 1, 1}, "conv"), net::op::relu);
    std::size_t y = n.activation(n.conv2d(x, 32, {3, 3, 1, 1, 1, 32}, "depthwise"), net::op::relu6);
    x = n.add(y, x);
    x = n.activation(n.conv2d(x, 80, {3, 3, 1, 1, 1, 1}, "wide"), net::op::relu);  // > 64 rows: several row blocks
    x = n.activation(n.conv2d(x, 48, {3, 3, 2, 1, 1, 4}, "grouped-strided"), net::op::relu);
    x = n.flatten(x);
    x = n.activation(n.dense(x, 24, "fc1"), net::op::relu);
    n.dense(x, 5, "fc2");
    net::init_he_normal(n, seed, 0.1);
    return n;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("fast results (plain, a priori, box, refined) are bit-identical for 1, 2, 3 and 7 threads", "[fast][threads]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const net::network n = threaded_cnn(seed);
    const auto x = test::random_input(gen, n.input_shape().size());
    std::vector<double> lo = x, hi = x;
    for (std::size_t k = 0; k < x.size(); ++k) lo[k] -= 0x1p-10, hi[k] += 0x1p-10;
    fast::options one;
    one.threads = 1;
    const auto plain = fast::forward_plain(n, x, one);
    const auto point = fast::enclose_point(n, x, one);
    const auto box = fast::enclose_box(n, lo, hi, one);
    const auto refined = fast::enclose_point_refined(n, x, one);
    for (unsigned threads : {2u, 3u, 7u}) {
        INFO("seed " << seed << ", threads " << threads);
        fast::options opt;
        opt.threads = threads;
        REQUIRE(same_bits(fast::forward_plain(n, x, opt), plain));
        const auto p = fast::enclose_point(n, x, opt);
        REQUIRE(same_bits(p.lower, point.lower));
        REQUIRE(same_bits(p.upper, point.upper));
        const auto b = fast::enclose_box(n, lo, hi, opt);
        REQUIRE(same_bits(b.lower, box.lower));
        REQUIRE(same_bits(b.upper, box.upper));
        const auto r = fast::enclose_point_refined(n, x, opt);
        REQUIRE(same_bits(r.lower, refined.lower));
        REQUIRE(same_bits(r.upper, refined.upper));
    }
}

TEST_CASE("fast kernels agree with the generic double forward on a wide CNN", "[fast][threads]") {
    // Guards the im2col / row-block / column-chunk indexing of all modes.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 1);
    const net::network n = threaded_cnn(seed + 1);
    std::vector<double> x(n.input_shape().size());
    for (auto& v : x) v = std::ldexp(static_cast<double>(gen.uniform_int(-(1 << 20), 1 << 20)), -20);
    const auto reference = net::forward<double>(n, x);
    const auto plain = fast::forward_plain(n, x);
    const auto point = fast::enclose_point(n, x), refined = fast::enclose_point_refined(n, x);
    double scale = 1;
    for (double v : reference) scale = std::max(scale, std::fabs(v));
    for (std::size_t i = 0; i < reference.size(); ++i) {
        INFO("seed " << seed << ", output " << i);
        CHECK(std::fabs(plain[i] - reference[i]) <= 1e-10 * scale);
        CHECK(std::fabs((refined.lower[i] + refined.upper[i]) / 2 - reference[i]) <= 1e-10 * scale);
        CHECK(std::fabs((point.lower[i] + point.upper[i]) / 2 - reference[i]) <= 1e-6 * scale);
    }
}
