// The worst-case search's gradient through a convolution (verify/gradient.hpp,
// the conv2d step, row by row) gives, bit for bit, the specified tap order:
// every output element in order, each adding w * g to the input element of
// each of its taps (input channel, kernel row, kernel column; padding taps
// and zero output gradients skipped). Random and hostile values (signed
// zeros in the output gradient, subnormals, infinities in the weights, the
// full exponent range) and every geometry; failures print the seed and a
// shrunk case.
#include "qbound/verify/gradient.hpp"

#include "conv_case_support.hpp"
#include "property_support.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace qbound;
using test::conv_case;

namespace {

// The output gradient of a case: its bias values, with some exact zeros of
// either sign (the bias itself does not enter the input gradient).
std::vector<double> output_gradient(const conv_case& c, std::size_t size) {
    std::vector<double> v(size);
    for (std::size_t k = 0; k < size; ++k) {
        const double b = c.b[k % c.b.size()];
        v[k] = k % 3 == 0 ? (k % 2 ? -0.0 : 0.0) : b * static_cast<double>(k % 7 + 1);
    }
    return v;
}

enum class order { specified, ascending_kernel_columns };

// The specification, or (ascending) the negative control: the row-by-row
// loop with the kernel columns in increasing order.
std::vector<double> reference(const net::network& n, const conv_case& c, const std::vector<double>& g, order o) {
    const net::node& node = n.at(1);
    const auto& cv = c.g;
    const std::size_t ipg = c.channels / cv.groups, opg = c.out_channels / cv.groups, OH = node.output.height, OW = node.output.width;
    std::vector<double> gi(c.x.size(), 0.0);
    const auto tap = [&](std::size_t oc, std::size_t oh, std::size_t ow, std::size_t ic, std::size_t kh, std::size_t kw) {
        const auto ih = static_cast<std::ptrdiff_t>(oh * cv.stride + kh * cv.dilation) - static_cast<std::ptrdiff_t>(cv.padding.top);
        const auto iw = static_cast<std::ptrdiff_t>(ow * cv.stride + kw * cv.dilation) - static_cast<std::ptrdiff_t>(cv.padding.left);
        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(c.H) || iw < 0 || iw >= static_cast<std::ptrdiff_t>(c.W)) return;
        const double go = g[(oc * OH + oh) * OW + ow];
        if (go == 0) return;
        const std::size_t channel = (oc / opg) * ipg + ic;
        gi[(channel * c.H + static_cast<std::size_t>(ih)) * c.W + static_cast<std::size_t>(iw)] +=
            c.w[((oc * ipg + ic) * cv.kernel_h + kh) * cv.kernel_w + kw] * go;
    };
    for (std::size_t oc = 0; oc < c.out_channels; ++oc)
        for (std::size_t oh = 0; oh < OH; ++oh) {
            if (o == order::specified) {
                for (std::size_t ow = 0; ow < OW; ++ow)
                    for (std::size_t ic = 0; ic < ipg; ++ic)
                        for (std::size_t kh = 0; kh < cv.kernel_h; ++kh)
                            for (std::size_t kw = 0; kw < cv.kernel_w; ++kw) tap(oc, oh, ow, ic, kh, kw);
            } else {
                for (std::size_t ic = 0; ic < ipg; ++ic)
                    for (std::size_t kh = 0; kh < cv.kernel_h; ++kh)
                        for (std::size_t kw = 0; kw < cv.kernel_w; ++kw)
                            for (std::size_t ow = 0; ow < OW; ++ow) tap(oc, oh, ow, ic, kh, kw);
            }
        }
    return gi;
}

bool matches(const conv_case& c, order o) {
    const auto n = test::build(c);
    const auto g = output_gradient(c, n->at(1).output.size());
    return test::same_bits(verify::input_gradient(*n, c.x, g), reference(*n, c, g, o));
}

}  // namespace

TEST_CASE("the search's gradient through a convolution, row by row, equals the tap order bit for bit", "[verify][gradient]") {
    test::require_on_conv_cases(test::property_cases(3000), [](const conv_case& c) { return matches(c, order::specified); });
}

TEST_CASE("negative control: the gradient comparison sees the kernel columns in the other order", "[verify][gradient]") {
    test::require_refuted_on_conv_cases([](const conv_case& c) { return matches(c, order::ascending_kernel_columns); });
}
