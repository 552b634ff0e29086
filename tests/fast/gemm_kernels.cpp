// The packed matrix-product kernels (include/qbound/fast/gemm.hpp): each one
// this CPU supports gives, bit for bit, the specified sum
//   c = +0; c = fma(A_ik, B_kj, c), k = 0, 1, ..., K-1
// on random and hostile operands and on every size remainder; kernels the
// CPU lacks are skipped with a message. Failures are shrunk to a small case
// and printed with the seed. And the convolution around them (im2col
// packing, row and column splits, threads): a plain conv2d equals the same
// specified sum over its kernel taps, padding taps included as zeros.
#include "qbound/fast/enclosure.hpp"
#include "qbound/fast/gemm.hpp"
#include "qbound/net/network.hpp"
#include "qbound/testing/operand_generators.hpp"

#include "property_support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

using namespace qbound;

namespace {

struct gemm_case {
    std::size_t M = 0, K = 0, tiles = 0, ldc = 0;
    bool absolute_a = false;  // the product with |A|
    std::vector<double> A, B;  // A: M x K, B: K x 8*tiles (row-major, unpacked)
};

std::vector<double> pack(const gemm_case& c) {
    std::vector<double> p(c.tiles * c.K * 8);
    for (std::size_t t = 0; t < c.tiles; ++t)
        for (std::size_t k = 0; k < c.K; ++k)
            for (std::size_t j = 0; j < 8; ++j) p[(t * c.K + k) * 8 + j] = c.B[k * c.tiles * 8 + t * 8 + j];
    return p;
}

enum class order { forward, backward };

// The specification, one scalar at a time (backward: the negative control).
std::vector<double> reference(const gemm_case& c, order o) {
    std::vector<double> C(c.M * c.ldc, 7.25);
    for (std::size_t i = 0; i < c.M; ++i)
        for (std::size_t j = 0; j < c.tiles * 8; ++j) {
            double s = 0;
            for (std::size_t step = 0; step < c.K; ++step) {
                const std::size_t k = o == order::forward ? step : c.K - 1 - step;
                const double a = c.absolute_a ? std::fabs(c.A[i * c.K + k]) : c.A[i * c.K + k];
                s = std::fma(a, c.B[k * c.tiles * 8 + j], s);
            }
            C[i * c.ldc + j] = s;
        }
    return C;
}

std::vector<double> run(fast::gemm_kernel kernel, const gemm_case& c) {
    std::vector<double> C(c.M * c.ldc, 7.25);  // padding columns must stay untouched
    const auto Bp = pack(c);
    fast::gemm_packed_with(kernel, c.A.data(), c.M, c.K, Bp.data(), c.tiles, C.data(), c.ldc,
                           c.absolute_a ? fast::gemm_a::absolute : fast::gemm_a::as_is);
    return C;
}

gemm_case random_case(testing::operand_generator& gen, bool hostile) {
    gemm_case c;
    c.M = static_cast<std::size_t>(gen.uniform_int(1, 19));
    c.K = static_cast<std::size_t>(gen.chance(0.1) ? gen.uniform_int(0, 2) : gen.uniform_int(1, gen.chance(0.2) ? 700 : 40));
    c.tiles = static_cast<std::size_t>(gen.uniform_int(1, 5));
    c.ldc = c.tiles * 8 + static_cast<std::size_t>(gen.uniform_int(0, 3));
    c.absolute_a = gen.chance(0.5);
    const auto value = [&] {
        if (!hostile) return gen.moderate();
        const double r = static_cast<double>(gen.uniform_int(0, 99));
        if (r < 10) return gen.chance(0.5) ? 0.0 : -0.0;
        if (r < 25) return gen.subnormal();
        if (r < 35) return gen.few_bits();
        if (r < 37) return gen.special();
        return gen.full_range();
    };
    c.A.resize(c.M * c.K);
    c.B.resize(c.K * c.tiles * 8);
    for (double& a : c.A) a = value();
    for (double& b : c.B) b = value();
    return c;
}

// Smaller cases that keep failing: fewer rows, tiles, terms.
template <class Fails>
gemm_case shrink(gemm_case c, const Fails& fails) {
    bool progress = true;
    while (progress) {
        progress = false;
        const auto try_case = [&](const gemm_case& d) {
            if (!fails(d)) return false;
            c = d, progress = true;
            return true;
        };
        if (c.M > 1) {
            gemm_case d = c;
            d.M = c.M - 1;
            d.A.resize(d.M * d.K);
            if (try_case(d)) continue;
        }
        if (c.tiles > 1) {
            gemm_case d = c;
            d.tiles = c.tiles - 1, d.ldc = d.tiles * 8;
            d.B.clear();
            for (std::size_t k = 0; k < c.K; ++k)
                for (std::size_t j = 0; j < d.tiles * 8; ++j) d.B.push_back(c.B[k * c.tiles * 8 + j]);
            if (try_case(d)) continue;
        }
        if (c.K > 0) {
            gemm_case d = c;
            d.K = c.K - 1;
            d.A.clear();
            for (std::size_t i = 0; i < c.M; ++i)
                for (std::size_t k = 0; k < d.K; ++k) d.A.push_back(c.A[i * c.K + k]);
            d.B.resize(d.K * d.tiles * 8);
            if (try_case(d)) continue;
        }
    }
    return c;
}

std::string describe(const gemm_case& c) {
    std::ostringstream os;
    os << std::hexfloat << (c.absolute_a ? "|A| " : "") << "M=" << c.M << " K=" << c.K << " tiles=" << c.tiles << " ldc=" << c.ldc << "\nA =";
    for (double a : c.A) os << ' ' << a;
    os << "\nB =";
    for (double b : c.B) os << ' ' << b;
    return os.str();
}

const fast::gemm_kernel all_kernels[] = {fast::gemm_kernel::baseline, fast::gemm_kernel::avx2, fast::gemm_kernel::avx512};

}  // namespace

TEST_CASE("every supported gemm kernel gives the specified sum bit for bit, random and hostile operands", "[fast][gemm]") {
    const std::uint64_t seed = test::property_seed();
    const std::size_t cases = test::property_cases(600);
    for (const auto kernel : all_kernels) {
        const char* name = fast::gemm_kernel_name(kernel);
        if (!fast::gemm_kernel_supported(kernel)) {
            WARN("gemm kernel " << name << " skipped: this CPU does not support it");
            continue;
        }
        testing::operand_generator gen(seed);
        std::size_t checked = 0;
        for (std::size_t i = 0; i < cases; ++i) {
            const gemm_case c = random_case(gen, i % 2 == 1);
            const auto fails = [&](const gemm_case& d) { return !test::same_bits(run(kernel, d), reference(d, order::forward)); };
            if (fails(c)) {
                const gemm_case small = shrink(c, fails);
                FAIL("kernel " << name << " differs from the specified sum; seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << i
                               << ", shrunk to\n"
                               << describe(small));
            }
            ++checked;
        }
        CHECK(checked == cases);
    }
}

TEST_CASE("the gemm kernel in use is the widest supported one and passed its self-check", "[fast][gemm]") {
    const std::string description = fast::gemm_kernel_description();
    INFO("kernel in use: " << description);
    CHECK(description.find("FAILED") == std::string::npos);
    CHECK(fast::gemm_kernel_supported(fast::gemm_kernel_in_use()));
    if (std::getenv("QBOUND_GEMM_KERNEL") == nullptr) {
        fast::gemm_kernel widest = fast::gemm_kernel::baseline;
        for (const auto k : all_kernels)
            if (fast::gemm_kernel_supported(k)) widest = k;
        CHECK(fast::gemm_kernel_in_use() == widest);
    }
}

TEST_CASE("negative control: the bit-for-bit check sees a change of summation order", "[fast][gemm]") {
    // The same random cases summed backward: some must differ from every
    // kernel's result, so the property above can fail.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    std::size_t differing = 0;
    for (int i = 0; i < 200; ++i) {
        const gemm_case c = random_case(gen, false);
        if (c.K < 3) continue;
        if (!test::same_bits(run(fast::gemm_kernel_in_use(), c), reference(c, order::backward))) ++differing;
    }
    CHECK(differing > 0);
}

TEST_CASE("gemm_packed_with refuses a kernel the CPU lacks", "[fast][gemm]") {
    for (const auto kernel : all_kernels) {
        if (fast::gemm_kernel_supported(kernel)) continue;
        const double a = 1, b[8] = {};
        double c[8];
        CHECK_THROWS_AS(fast::gemm_packed_with(kernel, &a, 1, 1, b, 1, c, 8), std::invalid_argument);
    }
    SUCCEED();
}

TEST_CASE("a plain conv2d (im2col and the kernel in use) equals the specified sum over its taps, bit for bit", "[fast][gemm]") {
    // Wide inputs, so that 8 output columns share a row (the packing's
    // one-row path) as well as straddle rows; stride, dilation, asymmetric
    // padding, groups; 1 and 2 threads.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(40);
    for (std::size_t i = 0; i < cases; ++i) {
        net::conv_geometry g;
        g.kernel_h = static_cast<std::size_t>(gen.uniform_int(1, 3));
        g.kernel_w = static_cast<std::size_t>(gen.uniform_int(1, 3));
        g.stride = static_cast<std::size_t>(gen.uniform_int(1, 2));
        g.dilation = static_cast<std::size_t>(gen.uniform_int(1, 2));
        g.padding = {static_cast<std::size_t>(gen.uniform_int(0, 2)), static_cast<std::size_t>(gen.uniform_int(0, 2)),
                     static_cast<std::size_t>(gen.uniform_int(0, 2)), static_cast<std::size_t>(gen.uniform_int(0, 2))};
        const std::size_t groups = static_cast<std::size_t>(gen.uniform_int(1, 2));
        const std::size_t channels = groups * static_cast<std::size_t>(gen.uniform_int(1, 3));
        const std::size_t out_channels = groups * static_cast<std::size_t>(gen.uniform_int(1, 40));
        g.groups = groups;
        const std::size_t H = static_cast<std::size_t>(gen.uniform_int(5, 20)), W = static_cast<std::size_t>(gen.uniform_int(5, 40));
        net::network n("conv", {channels, H, W});
        n.conv2d(0, out_channels, g, "conv");
        const auto& node = n.at(1);
        std::vector<double> w(node.weight.size()), b(node.bias.size()), x(channels * H * W);
        for (double& v : w) v = i % 2 ? gen.any() : gen.moderate();
        for (double& v : b) v = gen.moderate();
        for (double& v : x) v = i % 2 ? gen.any() : gen.moderate();
        n.set_weights(1, w);
        n.set_bias(1, b);
        const std::size_t OH = node.output.height, OW = node.output.width, ipg = channels / groups, opg = out_channels / groups;
        std::vector<double> want(node.output.size());
        for (std::size_t oc = 0; oc < out_channels; ++oc)
            for (std::size_t oh = 0; oh < OH; ++oh)
                for (std::size_t ow = 0; ow < OW; ++ow) {
                    double s = 0;
                    const std::size_t group = oc / opg;
                    for (std::size_t ic = 0; ic < ipg; ++ic)
                        for (std::size_t kh = 0; kh < g.kernel_h; ++kh)
                            for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
                                const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.top);
                                const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.left);
                                const bool inside = ih >= 0 && ih < static_cast<std::ptrdiff_t>(H) && iw >= 0 && iw < static_cast<std::ptrdiff_t>(W);
                                const double v = inside ? x[((group * ipg + ic) * H + static_cast<std::size_t>(ih)) * W + static_cast<std::size_t>(iw)] : 0.0;
                                s = std::fma(w[((oc * ipg + ic) * g.kernel_h + kh) * g.kernel_w + kw], v, s);
                            }
                    want[(oc * OH + oh) * OW + ow] = s + b[oc];
                }
        for (unsigned threads : {1u, 2u}) {
            fast::options opt;
            opt.threads = threads;
            const auto got = fast::forward_plain(n, x, opt);
            INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << i << ", " << threads << " threads, input " << channels << "x" << H
                         << "x" << W << ", kernel " << g.kernel_h << "x" << g.kernel_w << ", stride " << g.stride << ", dilation " << g.dilation
                         << ", groups " << groups << ", outputs " << out_channels);
            REQUIRE(test::same_bits(got, want));
        }
    }
}
