// forward<double>'s convolution (net::detail::eval_conv2d_by_planes, loops
// by kernel tap over output rows) gives, bit for bit, the element-by-element
// specification net::detail::eval_conv2d<double> (for_each_conv_tap order,
// bias first, one rounding per product and per sum): random and hostile
// values (signed zeros, subnormals, infinities, NaN, the full exponent
// range), every geometry (kernel 1..5, stride 1..3, dilation 1..3,
// asymmetric padding up to 3, groups, 1-pixel inputs). Failures print the
// seed and a shrunk case.
#include "qbound/net/forward.hpp"

#include "conv_case_support.hpp"
#include "property_support.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace qbound;
using test::build;
using test::conv_case;

namespace {

enum class order { specified, reversed_kernel_columns };

// The specification (or, reversed, the negative control: each kernel row's
// columns summed last to first).
std::vector<double> reference(const net::network& n, const conv_case& c, order o) {
    const net::node& node = n.at(1);
    if (o == order::specified) return net::detail::eval_conv2d<double>(node, n.at(0).output, node.weight, node.bias, c.x);
    const auto& g = c.g;
    const std::size_t ipg = c.channels / g.groups, opg = c.out_channels / g.groups, OH = node.output.height, OW = node.output.width;
    std::vector<double> y(node.output.size());
    for (std::size_t oc = 0; oc < c.out_channels; ++oc)
        for (std::size_t oh = 0; oh < OH; ++oh)
            for (std::size_t ow = 0; ow < OW; ++ow) {
                double s = c.b[oc];
                for (std::size_t ic = 0; ic < ipg; ++ic)
                    for (std::size_t kh = 0; kh < g.kernel_h; ++kh)
                        for (std::size_t step = 0; step < g.kernel_w; ++step) {
                            const std::size_t kw = g.kernel_w - 1 - step;
                            const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.top);
                            const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.left);
                            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(c.H) || iw < 0 || iw >= static_cast<std::ptrdiff_t>(c.W)) continue;
                            const std::size_t channel = (oc / opg) * ipg + ic;
                            s = s + c.w[((oc * ipg + ic) * g.kernel_h + kh) * g.kernel_w + kw] *
                                        c.x[(channel * c.H + static_cast<std::size_t>(ih)) * c.W + static_cast<std::size_t>(iw)];
                        }
                y[(oc * OH + oh) * OW + ow] = s;
            }
    return y;
}

// forward<double> gives the reference's bits on case c.
bool matches(const conv_case& c, order o) {
    const auto n = build(c);
    return test::same_bits(net::forward<double>(*n, c.x), reference(*n, c, o));
}

}  // namespace

TEST_CASE("forward<double>'s convolution by planes equals the element-by-element specification bit for bit", "[net][forward]") {
    test::require_on_conv_cases(test::property_cases(3000), [](const conv_case& c) { return matches(c, order::specified); });
}

TEST_CASE("negative control: the bit-for-bit comparison sees another summation order", "[net][forward]") {
    // Reversing each kernel row's columns must change some results.
    test::require_refuted_on_conv_cases([](const conv_case& c) { return matches(c, order::reversed_kernel_columns); });
}
