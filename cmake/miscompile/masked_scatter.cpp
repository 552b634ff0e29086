// Reproducer: clang 14 (Debian 12's clang++-14) at -O2 or -O3 with
// -march=x86-64-v4 (also with -mno-avx512f, and -march=skylake-avx512)
// vectorizes a loop whose body adds into an array element at a computed
// index, guarded by early returns (a bounds test, a zero test), with masked
// loads and stores (vmaskmovpd) whose active lanes reach outside the array:
// a convolution's gradient summed tap by tap, as
// tests/verify/gradient_conv_rows.cpp's specification does, corrupted the
// heap there. At -O1, at x86-64-v3 and with g++ 12 it is compiled
// correctly. qbound's own loops of this shape could be miscompiled the same
// way.
//
// Run by cmake/toolchain_guard.cmake at configure time with the build's own
// compiler and flags. Exit 0 and print QBOUND-REPRO-OK when every sum is
// right and nothing was written outside the result; exit 1 and print the
// first wrong cases otherwise. The result lives inside a larger buffer whose
// margins hold a marker value, so that stray writes near it are seen
// instead of crashing; a crash (a fault of a stray access, as on the
// machine where it was found) refuses the toolchain too.
//
// guard-advice: with clang 14, build for -march=x86-64-v3 or lower (e.g. -DQBOUND_EXTRA_FLAGS="-O3 -march=x86-64-v3"), as -mno-avx512f does not help here (qbound's AVX-512 matrix kernels carry their own target attribute and stay in use)
// guard-advice: or use g++ 12 (with -mno-avx512f at x86-64-v4: see aggregate_by_value.cpp), which compiles this reproducer correctly
// guard-advice: the shipped build (-O2, no -march) is not affected
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

struct geometry {
    std::size_t kernel_h, kernel_w, stride, dilation, groups, top, left;
};

constexpr std::size_t margin = 4096;
constexpr double marker = -1234.5;

// The gradient of a convolution with respect to its input, output by output
// and tap by tap (the shape clang 14 miscompiles), into out[0 .. C H W).
__attribute__((noinline)) void tap_order(const geometry& g, std::size_t channels, std::size_t out_channels, std::size_t H, std::size_t W,
                                         std::size_t OH, std::size_t OW, const std::vector<double>& w, const std::vector<double>& grad,
                                         double* out) {
    const std::size_t ipg = channels / g.groups, opg = out_channels / g.groups;
    const auto tap = [&](std::size_t oc, std::size_t oh, std::size_t ow, std::size_t ic, std::size_t kh, std::size_t kw) {
        const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.top);
        const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) - static_cast<std::ptrdiff_t>(g.left);
        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(H) || iw < 0 || iw >= static_cast<std::ptrdiff_t>(W)) return;
        const double go = grad[(oc * OH + oh) * OW + ow];
        if (go == 0) return;
        const std::size_t channel = (oc / opg) * ipg + ic;
        out[(channel * H + static_cast<std::size_t>(ih)) * W + static_cast<std::size_t>(iw)] +=
            w[((oc * ipg + ic) * g.kernel_h + kh) * g.kernel_w + kw] * go;
    };
    for (std::size_t oc = 0; oc < out_channels; ++oc)
        for (std::size_t oh = 0; oh < OH; ++oh)
            for (std::size_t ow = 0; ow < OW; ++ow)
                for (std::size_t ic = 0; ic < ipg; ++ic)
                    for (std::size_t kh = 0; kh < g.kernel_h; ++kh)
                        for (std::size_t kw = 0; kw < g.kernel_w; ++kw) tap(oc, oh, ow, ic, kh, kw);
}

}  // namespace

int main() {
    std::uint64_t state = 88172645463325252ull;
    const auto next = [&state] {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return state;
    };
    int failures = 0, cases = 0;
    for (int t = 0; t < 3000 && failures < 5; ++t) {
        const geometry g{1 + next() % 5, 1 + next() % 5, 1 + next() % 3, 1 + next() % 3, 1 + next() % 3, next() % 4, next() % 4};
        const std::size_t bottom = next() % 4, right = next() % 4;
        const std::size_t channels = g.groups * (1 + next() % 3), out_channels = g.groups * (1 + next() % 4), H = 1 + next() % 14,
                          W = 1 + next() % 20;
        const auto extent_h = static_cast<std::ptrdiff_t>(H + g.top + bottom) - static_cast<std::ptrdiff_t>((g.kernel_h - 1) * g.dilation + 1);
        const auto extent_w = static_cast<std::ptrdiff_t>(W + g.left + right) - static_cast<std::ptrdiff_t>((g.kernel_w - 1) * g.dilation + 1);
        if (extent_h < 0 || extent_w < 0) continue;
        const std::size_t OH = static_cast<std::size_t>(extent_h) / g.stride + 1, OW = static_cast<std::size_t>(extent_w) / g.stride + 1;
        std::vector<double> w(out_channels * (channels / g.groups) * g.kernel_h * g.kernel_w), grad(out_channels * OH * OW);
        for (double& v : w) v = static_cast<double>(next() % 1000) / 8.0 - 60;
        for (std::size_t k = 0; k < grad.size(); ++k) grad[k] = k % 3 == 0 ? 0.0 : static_cast<double>(next() % 100) / 4.0;
        const std::size_t size = channels * H * W;
        std::vector<double> buffer(size + 2 * margin, marker);
        double* out = buffer.data() + margin;
        std::fill(out, out + size, 0.0);
        tap_order(g, channels, out_channels, H, W, OH, OW, w, grad, out);
        // The same sums one term at a time through a volatile (never vectorized).
        std::vector<double> want(size, 0.0);
        const std::size_t ipg = channels / g.groups, opg = out_channels / g.groups;
        for (std::size_t oc = 0; oc < out_channels; ++oc)
            for (std::size_t oh = 0; oh < OH; ++oh)
                for (std::size_t ow = 0; ow < OW; ++ow)
                    for (std::size_t ic = 0; ic < ipg; ++ic)
                        for (std::size_t kh = 0; kh < g.kernel_h; ++kh)
                            for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
                                const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.top);
                                const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) - static_cast<std::ptrdiff_t>(g.left);
                                if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(H) || iw < 0 || iw >= static_cast<std::ptrdiff_t>(W)) continue;
                                const double go = grad[(oc * OH + oh) * OW + ow];
                                if (go == 0) continue;
                                volatile double term = w[((oc * ipg + ic) * g.kernel_h + kh) * g.kernel_w + kw] * go;
                                want[((oc / opg) * ipg + ic) * H * W + static_cast<std::size_t>(ih) * W + static_cast<std::size_t>(iw)] += term;
                            }
        ++cases;
        bool stray = false;
        for (std::size_t k = 0; k < margin; ++k) stray = stray || buffer[k] != marker || buffer[margin + size + k] != marker;
        if (stray || std::memcmp(out, want.data(), size * sizeof(double)) != 0) {
            ++failures;
            std::printf("case %d (input %zux%zux%zu, %zu outputs, kernel %zux%zu, stride %zu, dilation %zu, groups %zu, padding %zu,%zu): %s\n", t,
                        channels, H, W, out_channels, g.kernel_h, g.kernel_w, g.stride, g.dilation, g.groups, g.top, g.left,
                        stray ? "wrote outside the result" : "wrong sums");
        }
    }
    if (failures == 0) {
        std::printf("QBOUND-REPRO-OK (%d cases)\n", cases);
        return 0;
    }
    std::printf("the tap-by-tap gradient loop was miscompiled in %d case(s)\n", failures);
    return 1;
}
