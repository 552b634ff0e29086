#pragma once
// Shared by the convolution property tests (tests/net/forward_conv_planes.cpp,
// tests/verify/gradient_conv_rows.cpp): a random or hostile convolution case
// (every geometry: kernel 1..5, stride 1..3, dilation 1..3, asymmetric
// padding up to 3, groups, 1-pixel inputs; hostile values include signed
// zeros, subnormals and infinities), its network, a shrinker, a printable
// description, and the two drivers every such test runs: the property over
// seeded cases (shrunk failure printed with the seed) and its negative
// control.
#include "qbound/net/network.hpp"
#include "qbound/testing/operand_generators.hpp"

#include "property_support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace qbound::test {

struct conv_case {
    net::conv_geometry g;
    std::size_t channels = 1, out_channels = 1, H = 1, W = 1;
    std::vector<double> w, b, x;
};

// The network of a case, or nothing when the geometry gives no output.
inline std::optional<net::network> build(const conv_case& c) {
    try {
        net::network n("conv", {c.channels, c.H, c.W});
        n.conv2d(0, c.out_channels, c.g, "conv");
        n.set_weights(1, c.w);
        n.set_bias(1, c.b);
        return n;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

inline conv_case random_case(testing::operand_generator& gen, bool hostile) {
    conv_case c;
    c.g.kernel_h = static_cast<std::size_t>(gen.uniform_int(1, 5));
    c.g.kernel_w = static_cast<std::size_t>(gen.uniform_int(1, 5));
    c.g.stride = static_cast<std::size_t>(gen.uniform_int(1, 3));
    c.g.dilation = static_cast<std::size_t>(gen.uniform_int(1, 3));
    c.g.padding = {static_cast<std::size_t>(gen.uniform_int(0, 3)), static_cast<std::size_t>(gen.uniform_int(0, 3)),
                   static_cast<std::size_t>(gen.uniform_int(0, 3)), static_cast<std::size_t>(gen.uniform_int(0, 3))};
    c.g.groups = static_cast<std::size_t>(gen.uniform_int(1, 3));
    c.channels = c.g.groups * static_cast<std::size_t>(gen.uniform_int(1, 3));
    c.out_channels = c.g.groups * static_cast<std::size_t>(gen.uniform_int(1, 4));
    c.H = static_cast<std::size_t>(gen.uniform_int(1, 14));
    c.W = static_cast<std::size_t>(gen.uniform_int(1, 20));
    const auto value = [&] {
        if (!hostile) return gen.moderate();
        const int r = static_cast<int>(gen.uniform_int(0, 99));
        if (r < 10) return gen.chance(0.5) ? 0.0 : -0.0;
        if (r < 25) return gen.subnormal();
        if (r < 35) return gen.few_bits();
        if (r < 37) return gen.special();
        if (r < 40) return gen.chance(0.5) ? -HUGE_VAL : HUGE_VAL;  // infinities (and NaN from inf * 0 or inf - inf)
        return gen.full_range();
    };
    c.w.resize(c.out_channels * (c.channels / c.g.groups) * c.g.kernel_h * c.g.kernel_w);
    c.b.resize(c.out_channels);
    c.x.resize(c.channels * c.H * c.W);
    for (auto* v : {&c.w, &c.b, &c.x})
        for (double& e : *v) e = value();
    return c;
}

// Smaller failing cases: fewer output channels, rows, columns.
template <class Fails>
conv_case shrink(conv_case c, const Fails& fails) {
    bool progress = true;
    while (progress) {
        progress = false;
        if (c.out_channels > c.g.groups) {
            conv_case d = c;
            d.out_channels -= c.g.groups;
            d.w.resize(d.out_channels * (d.channels / d.g.groups) * d.g.kernel_h * d.g.kernel_w);
            d.b.resize(d.out_channels);
            if (build(d) && fails(d)) c = d, progress = true;
        }
        for (const bool rows : {true, false}) {
            conv_case d = c;
            std::size_t& extent = rows ? d.H : d.W;
            if (extent <= 1) continue;
            --extent;
            d.x.clear();
            for (std::size_t ch = 0; ch < c.channels; ++ch)
                for (std::size_t h = 0; h < d.H; ++h)
                    for (std::size_t w = 0; w < d.W; ++w) d.x.push_back(c.x[(ch * c.H + h) * c.W + w]);
            if (build(d) && fails(d)) c = d, progress = true;
        }
    }
    return c;
}

inline std::string describe(const conv_case& c) {
    std::ostringstream os;
    os << std::hexfloat << "input " << c.channels << "x" << c.H << "x" << c.W << ", " << c.out_channels << " outputs, kernel " << c.g.kernel_h
       << "x" << c.g.kernel_w << ", stride " << c.g.stride << ", dilation " << c.g.dilation << ", groups " << c.g.groups << ", padding "
       << c.g.padding.top << "," << c.g.padding.left << "," << c.g.padding.bottom << "," << c.g.padding.right << "\nw =";
    for (double v : c.w) os << ' ' << v;
    os << "\nb =";
    for (double v : c.b) os << ' ' << v;
    os << "\nx =";
    for (double v : c.x) os << ' ' << v;
    return os.str();
}

// The property: `matches(c)` for `cases` seeded cases (odd ones hostile)
// that have an output; the first failure is shrunk and printed with the seed.
template <class Matches>
void require_on_conv_cases(std::size_t cases, const Matches& matches) {
    const std::uint64_t seed = property_seed();
    testing::operand_generator gen(seed);
    std::size_t checked = 0;
    for (std::size_t i = 0; i < cases; ++i) {
        const conv_case c = random_case(gen, i % 2 == 1);
        if (!build(c)) continue;  // no output pixel for this geometry
        const auto fails = [&matches](const conv_case& d) { return !matches(d); };
        if (fails(c)) FAIL("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << i << ", shrunk to\n" << describe(shrink(c, fails)));
        ++checked;
    }
    INFO("cases with an output: " << checked << " of " << cases);
    CHECK(checked * 2 > cases);
}

// The negative control: some of 300 seeded moderate cases with at least two
// kernel columns must fail `weakened` (a comparison against another order),
// so the property above can fail.
template <class Matches>
void require_refuted_on_conv_cases(const Matches& weakened) {
    testing::operand_generator gen(property_seed());
    std::size_t differing = 0;
    for (int i = 0; i < 300; ++i) {
        const conv_case c = random_case(gen, false);
        if (!build(c) || c.g.kernel_w < 2) continue;
        if (!weakened(c)) ++differing;
    }
    CHECK(differing > 0);
}

}  // namespace qbound::test
