// Batch-norm folding (net/batch_norm.hpp): for rational BN parameters with a
// rational sigma, the folded network computes exactly the unfolded network's
// rational output whenever the fold report says the fold is exact; otherwise
// every folded parameter is the exact value correctly rounded (checked in
// exact rationals, without square roots), and the report counts them. The
// exact fold (fold_batch_norm_exact) keeps the folded parameters as
// rationals: the folded network then computes exactly the unfolded one's
// output for EVERY rational BN parameter set, including the folds that no
// double can hold.
#include "qbound/net/batch_norm.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qbound;
using namespace qbound::net;
using arith::rational;

namespace {

// d is the nearest double to the positive or negative real v with v^2 = square
// (sign given): |d - v| <= ulp(d) / 2, checked as (d -+ h)^2 against square.
bool nearest_to_signed_root(double d, const rational& square, int sign) {
    if (sign == 0) return d == 0 && square == 0;
    if ((d > 0) != (sign > 0)) return false;
    const double a = std::fabs(d);
    const rational h = (arith::to_rational(std::nextafter(a, HUGE_VAL)) - arith::to_rational(a)) / 2;
    const rational lo = arith::to_rational(a) - h, hi = arith::to_rational(a) + h;
    return (lo <= 0 || lo * lo <= square) && square <= hi * hi;
}

network conv_bn(testing::operand_generator& gen, const batch_norm_params& bn) {
    network n("bn", {2, 4, 4});
    const std::size_t c = n.conv2d(0, 3, {3, 3, 1, 1, 1, 1}, "conv");
    n.batch_norm(c, bn, "bn");
    n.dense(n.flatten(n.activation(c + 1, op::relu)), 2, "head");
    for (std::size_t i : n.affine_nodes()) {
        for (double& w : n.weights(i)) w = std::ldexp(static_cast<double>(gen.uniform_int(-64, 64)), -5);
        for (double& b : n.bias(i)) b = std::ldexp(static_cast<double>(gen.uniform_int(-64, 64)), -6);
    }
    return n;
}

}  // namespace

TEST_CASE("folding with a rational sigma: exact folds give exactly the unfolded rational output", "[net][batch-norm]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(300);
    std::size_t exact_folds = 0, exact_non_power_of_two = 0, rounded_folds = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        // sigma = p / 2^k (var = sigma^2 - eps exactly in double), gamma, mu, beta dyadic.
        batch_norm_params bn;
        bool power_of_two_scales = true;
        for (int ch = 0; ch < 3; ++ch) {
            const double sigma = std::ldexp(static_cast<double>(gen.uniform_int(1, 12)), -static_cast<int>(gen.uniform_int(0, 3)));
            const double gamma = gen.chance(0.5) ? sigma * static_cast<double>(gen.uniform_int(-3, 3))  // gamma / sigma an integer
                                                 : std::ldexp(static_cast<double>(gen.uniform_int(-40, 40)), -4);
            bn.gamma.push_back(gamma);
            bn.var.push_back(sigma * sigma);
            bn.mean.push_back(std::ldexp(static_cast<double>(gen.uniform_int(-16, 16)), -4));
            bn.beta.push_back(std::ldexp(static_cast<double>(gen.uniform_int(-16, 16)), -4));
            const double s = gamma / sigma;
            int e = 0;
            power_of_two_scales = power_of_two_scales && (s == 0 || std::fabs(std::frexp(s, &e)) == 0.5);
        }
        bn.eps = 0;
        const network unfolded = conv_bn(gen, bn);
        network folded = unfolded;
        const fold_report report = fold_batch_norm(folded);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        REQUIRE(report.folded == 1);
        REQUIRE(report.parameters == 3 * 18 + 3);
        REQUIRE(folded.at(2).kind == op::identity);
        // Every folded parameter is the exact value rounded to nearest.
        const node& before = unfolded.at(1);
        const node& after = folded.at(1);
        std::size_t rounded = 0;
        for (std::size_t o = 0; o < 3; ++o) {
            // var = sigma^2 exactly, so the correctly rounded sqrt is sigma itself.
            const rational scale = arith::to_rational(bn.gamma[o]) / arith::to_rational(std::sqrt(bn.var[o]));
            for (std::size_t k = 0; k < 18; ++k) {
                const rational exact = scale * arith::to_rational(before.weight[o * 18 + k]);
                REQUIRE(after.weight[o * 18 + k] == arith::nearest_double(exact));
                rounded += arith::to_rational(after.weight[o * 18 + k]) != exact;
            }
            const rational exact_bias = scale * (arith::to_rational(before.bias[o]) - arith::to_rational(bn.mean[o])) + arith::to_rational(bn.beta[o]);
            REQUIRE(after.bias[o] == arith::nearest_double(exact_bias));
            rounded += arith::to_rational(after.bias[o]) != exact_bias;
        }
        REQUIRE(report.rounded == rounded);
        REQUIRE(report.max_relative_rounding <= 0x1p-53);
        if (report.exact()) {
            ++exact_folds;
            exact_non_power_of_two += !power_of_two_scales;
            for (int t = 0; t < 3; ++t) {
                std::vector<rational> x(32);
                for (auto& v : x) v = rational(static_cast<long>(gen.uniform_int(-100, 100)), 37);  // not dyadic
                REQUIRE(forward<rational>(unfolded, x) == forward<rational>(folded, x));
            }
        } else {
            ++rounded_folds;
        }
    }
    INFO("seed " << seed << ": " << exact_folds << " exact folds (" << exact_non_power_of_two << " with scales that are not powers of two), "
                 << rounded_folds << " rounded");
    CHECK(exact_folds >= cases / 10);
    CHECK(exact_non_power_of_two > 0);
    CHECK(rounded_folds > 0);
}

TEST_CASE("folding with an irrational sigma rounds every parameter correctly, once", "[net][batch-norm]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    batch_norm_params bn{{1.0, -0.75, 3.0}, {0.5, 0.0, -1.25}, {0.25, -0.5, 0.0}, {2.0, 0.3, 5.0}, 1e-5};
    const network unfolded = conv_bn(gen, bn);
    network folded = unfolded;
    const fold_report report = fold_batch_norm(folded);
    CHECK_FALSE(report.exact());
    CHECK(report.max_relative_rounding <= 0x1p-53);
    for (std::size_t o = 0; o < 3; ++o) {
        const rational variance = arith::to_rational(bn.var[o]) + arith::to_rational(bn.eps);
        const rational gamma = arith::to_rational(bn.gamma[o]);
        for (std::size_t k = 0; k < 18; ++k) {
            // folded = gamma w / sigma: its square is gamma^2 w^2 / (var + eps).
            const rational w = arith::to_rational(unfolded.at(1).weight[o * 18 + k]);
            const rational square = gamma * gamma * w * w / variance;
            const int sign = (gamma * w > 0) - (gamma * w < 0);
            INFO("channel " << o << ", weight " << k);
            CHECK(nearest_to_signed_root(folded.at(1).weight[o * 18 + k], square, sign));
        }
    }
    // Unfolded evaluation in rationals needs a rational sigma, and says which channel has not.
    std::vector<rational> x(32, rational(1, 3));
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(forward<rational>(unfolded, x), Contains("irrational at channel 0"));
}

namespace {

// A residual CNN with two batch norms (conv and dense) whose sigmas are
// rational but rarely powers of two (3, 5/4, 7/8, ...): most folded values
// are not doubles.
network residual_bn(testing::operand_generator& gen) {
    const auto params = [&](std::size_t channels) {
        batch_norm_params bn;
        bn.eps = 0x1p-10;
        for (std::size_t ch = 0; ch < channels; ++ch) {
            const double sigma = std::ldexp(static_cast<double>(2 * gen.uniform_int(0, 7) + 1), -static_cast<int>(gen.uniform_int(0, 3)));
            bn.var.push_back(sigma * sigma - bn.eps);  // exact: sigma has at most 4 significant bits
            bn.gamma.push_back(std::ldexp(static_cast<double>(gen.uniform_int(-40, 40)), -4));
            bn.mean.push_back(std::ldexp(static_cast<double>(gen.uniform_int(-16, 16)), -4));
            bn.beta.push_back(std::ldexp(static_cast<double>(gen.uniform_int(-16, 16)), -4));
        }
        return bn;
    };
    network n("residual-bn", {2, 5, 5});
    std::size_t x = n.conv2d(0, 2, {3, 3, 1, 1, 1, 1}, "conv1");
    x = n.batch_norm(x, params(2), "bn1");
    const std::size_t skip = n.activation(x, op::relu);
    x = n.conv2d(skip, 2, {3, 3, 1, 1, 1, 1}, "conv2");
    x = n.add(n.activation(x, op::relu6), skip, "add");
    x = n.dense(n.flatten(n.global_avg_pool(x)), 3, "fc");
    x = n.batch_norm(x, params(3), "bn2");
    n.dense(n.activation(x, op::relu), 2, "head");
    for (std::size_t i : n.affine_nodes()) {
        for (double& w : n.weights(i)) w = gen.chance(0.8) ? std::ldexp(static_cast<double>(gen.uniform_int(-64, 64)), -5) : gen.few_bits();
        for (double& b : n.bias(i)) b = std::ldexp(static_cast<double>(gen.uniform_int(-64, 64)), -6);
    }
    return n;
}

}  // namespace

TEST_CASE("the exact fold computes the unfolded rational output for every rational BN parameter set", "[net][batch-norm]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed + 3);
    const std::size_t cases = test::property_cases(100);
    std::size_t not_doubles = 0, double_fold_differs = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const network unfolded = residual_bn(gen);
        network folded = unfolded;
        const exact_fold fold = fold_batch_norm_exact(folded);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c);
        REQUIRE(fold.report.folded == 2);
        // The doubles left behind are the exact values rounded to nearest, and the report counts the roundings.
        std::size_t rounded = 0;
        for (std::size_t i = 0; i < folded.nodes().size(); ++i) {
            const node& n = folded.at(i);
            if (!n.is_affine()) continue;
            for (std::size_t k = 0; k < n.weight.size(); ++k) {
                REQUIRE(n.weight[k] == arith::nearest_double(fold.parameters.weight[i][k]));
                rounded += arith::to_rational(n.weight[k]) != fold.parameters.weight[i][k];
            }
            for (std::size_t k = 0; k < n.bias.size(); ++k) {
                REQUIRE(n.bias[k] == arith::nearest_double(fold.parameters.bias[i][k]));
                rounded += arith::to_rational(n.bias[k]) != fold.parameters.bias[i][k];
            }
        }
        REQUIRE(fold.report.rounded == rounded);
        not_doubles += rounded;
        network plain = unfolded;
        const fold_report plain_report = fold_batch_norm(plain);
        REQUIRE(plain_report.rounded == rounded);
        for (std::size_t i = 0; i < plain.nodes().size(); ++i) REQUIRE(plain.at(i).weight == folded.at(i).weight);
        for (int t = 0; t < 3; ++t) {
            std::vector<rational> x(50);
            for (auto& v : x) v = rational(static_cast<long>(gen.uniform_int(-100, 100)), 37);  // not dyadic
            const auto expected = forward<rational>(unfolded, x);
            REQUIRE(forward_exact(folded, fold.parameters, x) == expected);
            double_fold_differs += forward<rational>(folded, x) != expected;
        }
    }
    INFO("seed " << seed << ": " << not_doubles << " folded values are not doubles; the double fold's output differs in " << double_fold_differs
                 << " evaluations");
    // The construction reaches the case the double network cannot hold.
    CHECK(not_doubles > cases);
    CHECK(double_fold_differs > 0);
}

TEST_CASE("the exact fold refuses an irrational sigma, naming the node and channel, and leaves the network unchanged", "[net][batch-norm]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    batch_norm_params bn{{1.0, -0.75, 3.0}, {0.5, 0.0, -1.25}, {0.25, -0.5, 0.0}, {4.0, 0.3, 5.0}, 0};
    network n = conv_bn(gen, bn);
    const network before = n;
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(fold_batch_norm_exact(n), Contains("batch_norm 'bn'") && Contains("irrational at channel 1"));
    REQUIRE(n.at(2).kind == op::batch_norm);
    REQUIRE(n.at(1).weight == before.at(1).weight);
    // Exact parameters that do not fit the network are refused.
    network m = conv_bn(gen, {{1.0, 1.0, 1.0}, {0, 0, 0}, {0, 0, 0}, {1.0, 4.0, 9.0}, 0});
    exact_fold fold = fold_batch_norm_exact(m);
    fold.parameters.weight[1].pop_back();
    CHECK_THROWS_WITH(forward_exact(m, fold.parameters, std::vector<rational>(32, rational(1))), Contains("do not fit node 'conv'"));
}
