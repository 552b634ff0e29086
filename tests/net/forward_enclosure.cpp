// One generic forward pass over every scalar type: exact rationals are the
// reference; interval_double and MPFI enclose it, on points and on boxes.
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"

#include <cmath>

using namespace qbound::net;
using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_seed;

namespace {

// A small CNN with every layer kind: strided, padded, dilated and grouped
// convs, max and average pooling, a residual add, ReLU6, global pooling.
network make_test_cnn(std::uint64_t seed) {
    network net("test-cnn", {2, 9, 9});
    std::size_t x = net.conv2d(0, 4, {3, 3, 1, 1, 1, 2}, "grouped");
    x = net.activation(x, op::relu);
    std::size_t y = net.conv2d(x, 4, {3, 3, 1, 2, 2, 4}, "depthwise-dilated");
    y = net.activation(y, op::relu6);
    x = net.add(y, x, "residual");
    x = net.max_pool(x, {3, 2, 1, true});
    x = net.conv2d(x, 6, {2, 2, 2, 0, 1, 1}, "strided");
    x = net.activation(x, op::relu);
    std::size_t z = net.avg_pool(x, {2, 1, 1, true});
    z = net.global_avg_pool(z);
    net.dense(z, 3, "fc");
    init_he_normal(net, seed, 0.1);
    return net;
}

template <class T>
void require_contains_exact(const network& net, const std::vector<double>& x, const std::vector<rational>& exact) {
    const auto out = forward<T>(net, input_from_doubles<T>(x));
    REQUIRE(out.size() == exact.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO(scalar_traits<T>::name << " output " << i << " exact " << to_decimal(exact[i]));
        REQUIRE(contains(out[i], exact[i]));
    }
}

}  // namespace

TEST_CASE("forward: enclosures contain the exact output of MLPs and CNNs", "[net][forward]") {
    operand_generator gen(property_seed());
    for (int trial = 0; trial < 30; ++trial) {
        network mlp = make_mlp({3, 8, 8, 2});
        init_he_normal(mlp, property_seed() + static_cast<std::uint64_t>(trial), 0.5);
        const network cnn = make_test_cnn(property_seed() + static_cast<std::uint64_t>(trial));
        for (const network* net : {static_cast<const network*>(&mlp), &cnn}) {
            std::vector<double> x(net->input_shape().size());
            for (auto& v : x) v = gen.chance(0.1) ? gen.few_bits() : gen.moderate() * 0x1p-30;
            INFO(net->name() << ", seed " << property_seed() << ", trial " << trial);
            const auto exact = forward<rational>(*net, input_from_doubles<rational>(x));
            require_contains_exact<interval_double>(*net, x, exact);
            require_contains_exact<mpfi_interval>(*net, x, exact);
            // mpfr and double approximate the exact output closely here.
            const auto approx = forward<double>(*net, x);
            for (std::size_t i = 0; i < exact.size(); ++i)
                CHECK(std::fabs(approx[i] - nearest_double(exact[i])) <= 1e-9 * (1 + std::fabs(approx[i])));
        }
    }
}

TEST_CASE("forward on an input box encloses every sampled point's output", "[net][forward]") {
    operand_generator gen(property_seed());
    const network cnn = make_test_cnn(property_seed());
    const std::size_t n = cnn.input_shape().size();
    std::vector<double> lo(n), hi(n);
    for (std::size_t i = 0; i < n; ++i) {
        lo[i] = -std::ldexp(1.0, static_cast<int>(gen.uniform_int(-3, 1)));
        hi[i] = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-3, 1)));
    }
    std::vector<interval_double> box;
    std::vector<mpfi_interval> mbox;
    for (std::size_t i = 0; i < n; ++i) {
        box.push_back(make_interval(lo[i], hi[i]));
        mbox.emplace_back(lo[i], hi[i], 128L);
    }
    const auto enclosure = forward<interval_double>(cnn, box);
    const auto menclosure = forward<mpfi_interval>(cnn, mbox);
    for (int sample = 0; sample < 40; ++sample) {
        std::vector<double> x(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto pick = gen.uniform_int(0, 2);
            x[i] = pick == 0 ? lo[i] : pick == 1 ? hi[i] : lo[i] + (hi[i] - lo[i]) * 0.375;
        }
        const auto exact = forward<rational>(cnn, input_from_doubles<rational>(x));
        for (std::size_t k = 0; k < exact.size(); ++k) {
            INFO("sample " << sample << ", output " << k);
            REQUIRE(contains(enclosure[k], exact[k]));
            REQUIRE(contains(menclosure[k], exact[k]));
        }
    }
}

TEST_CASE("forward negative control: a perturbed weight is detected", "[net][forward][negative]") {
    // The containment check must fail when the enclosure is computed for a
    // different network (one weight moved by one ulp).
    network net = make_mlp({3, 4, 2});
    init_he_normal(net, 7, 0.5);
    const std::vector<double> x{0.25, -0.5, 0.75};
    const auto exact = forward<rational>(net, input_from_doubles<rational>(x));
    network other = net;
    double& w = other.weights(1)[0];
    w = std::nextafter(w, 10.0);
    const auto enc = forward<mpfi_interval>(other, input_from_doubles<mpfi_interval>(x));
    bool all_contained = true;
    for (std::size_t i = 0; i < exact.size(); ++i) all_contained = all_contained && contains(enc[i], exact[i]);
    CHECK_FALSE(all_contained);
}

TEST_CASE("batch norm folding matches the unfolded network (double)", "[net][batch-norm]") {
    network net("bn", {2, 5, 5});
    const std::size_t c = net.conv2d(0, 3, {3, 3, 1, 1, 1, 1});
    batch_norm_params bn{{1.5, 0.5, 2.0}, {0.1, -0.2, 0.3}, {0.05, 0.0, -0.1}, {4.0, 0.25, 1.0}, 0.0};
    net.batch_norm(c, bn);
    init_he_normal(net, 3, 0.2);
    const node conv_before = net.at(1);
    std::vector<double> x(50);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<double>(i));
    // Unfolded reference in rationals: conv, then gamma (z - mu) / sigma + beta (sigma exact: 2, 0.5, 1).
    network conv_only("conv", {2, 5, 5});
    conv_only.conv2d(0, 3, {3, 3, 1, 1, 1, 1});
    conv_only.set_weights(1, conv_before.weight);
    conv_only.set_bias(1, conv_before.bias);
    const auto z = forward<rational>(conv_only, input_from_doubles<rational>(x));
    const double sigma[3] = {2.0, 0.5, 1.0};
    fold_batch_norm(net);
    CHECK(net.at(2).kind == op::identity);
    const auto folded = forward<rational>(net, input_from_doubles<rational>(x));
    for (std::size_t o = 0; o < 3; ++o)
        for (std::size_t p = 0; p < 25; ++p) {
            const rational expected = to_rational(bn.gamma[o]) * (z[o * 25 + p] - to_rational(bn.mean[o])) / to_rational(sigma[o]) +
                                      to_rational(bn.beta[o]);
            // gamma / sigma are powers of two here, so folding in double is exact
            // up to the bias rounding; compare to double precision.
            CHECK(std::fabs(nearest_double(folded[o * 25 + p] - expected)) <= 1e-15);
        }
}

TEST_CASE("forward rejects wrong input sizes, shape-only nets and unfolded batch norm", "[net][bad-input]") {
    using Catch::Matchers::Contains;
    network net = make_mlp({3, 2});
    CHECK_THROWS_WITH(forward<double>(net, std::vector<double>{1, 2}), Contains("input has 2 values, expected 3"));
    const network shapes = make_mlp({3, 2}, false);
    CHECK_THROWS_WITH(forward<double>(shapes, std::vector<double>{1, 2, 3}), Contains("shape-only"));
    network bn("bn", {1, 3, 3});
    bn.batch_norm(bn.conv2d(0, 1, {1, 1, 1, 0, 1, 1}), {{1}, {0}, {0}, {1}, 0});
    CHECK_THROWS_WITH(forward<double>(bn, std::vector<double>(9, 1.0)), Contains("must be folded"));
    net.weights(1)[0] = std::nan("");
    CHECK_THROWS_WITH(check_finite_weights(net), Contains("weight 0 is NaN"));
}
