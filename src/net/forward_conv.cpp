// forward<double>'s convolution by output planes (net/forward.hpp).
#include "qbound/net/forward.hpp"

#include <algorithm>
#include <cstddef>

namespace qbound::net::detail {

std::pair<std::size_t, std::size_t> valid_columns(std::ptrdiff_t offset, std::size_t stride, std::size_t in_width, std::size_t out_width) {
    const auto s = static_cast<std::ptrdiff_t>(stride), w = static_cast<std::ptrdiff_t>(in_width);
    // first: the smallest ow >= 0 with ow * s + offset >= 0.
    std::ptrdiff_t first = offset >= 0 ? 0 : (-offset + s - 1) / s;
    // last: one past the largest ow with ow * s + offset <= w - 1.
    std::ptrdiff_t last = w - 1 - offset < 0 ? 0 : (w - 1 - offset) / s + 1;
    first = std::min<std::ptrdiff_t>(first, static_cast<std::ptrdiff_t>(out_width));
    last = std::clamp<std::ptrdiff_t>(last, first, static_cast<std::ptrdiff_t>(out_width));
    return {static_cast<std::size_t>(first), static_cast<std::size_t>(last)};
}

std::vector<double> eval_conv2d_by_planes(const node& n, const shape3& in, const std::vector<double>& x) {
    const auto& g = n.conv;
    const std::size_t out_c = n.out_features, ipg = in.channels / g.groups, opg = out_c / g.groups;
    const std::size_t OH = n.output.height, OW = n.output.width, H = in.height, W = in.width;
    std::vector<double> y(n.output.size());
    for (std::size_t o = 0; o < out_c; ++o) {
        double* plane = y.data() + o * OH * OW;
        std::fill(plane, plane + OH * OW, n.bias[o]);
        const std::size_t group = o / opg;
        for (std::size_t ic = 0; ic < ipg; ++ic) {
            const double* channel = x.data() + (group * ipg + ic) * H * W;
            for (std::size_t kh = 0; kh < g.kernel_h; ++kh)
                for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
                    const double w = n.weight[((o * ipg + ic) * g.kernel_h + kh) * g.kernel_w + kw];
                    const std::ptrdiff_t col_offset = static_cast<std::ptrdiff_t>(kw * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.left);
                    const auto [first, last] = valid_columns(col_offset, g.stride, W, OW);
                    for (std::size_t oh = 0; oh < OH; ++oh) {
                        const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.top);
                        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(H)) continue;
                        const double* row = channel + static_cast<std::size_t>(ih) * W;
                        double* out = plane + oh * OW;
                        if (first == last) continue;
                        if (g.stride == 1) {
                            const double* src = row + (static_cast<std::ptrdiff_t>(first) + col_offset);  // input column of ow = first
                            double* dst = out + first;
                            for (std::size_t k = 0; k < last - first; ++k) dst[k] += w * src[k];
                        } else {
                            for (std::size_t ow = first; ow < last; ++ow)
                                out[ow] += w * row[static_cast<std::size_t>(static_cast<std::ptrdiff_t>(ow * g.stride) + col_offset)];
                        }
                    }
                }
        }
    }
    return y;
}

}  // namespace qbound::net::detail
