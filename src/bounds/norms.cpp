#include "qbound/bounds/norms.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/exact_sum.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/net/errors.hpp"

#include <algorithm>
#include <cmath>

namespace qbound::bounds {

using arith::rational;
using arith::to_rational;
using arith::abs;
using arith::max;

rational operator_norm_inf(std::span<const double> A, std::size_t rows, std::size_t cols, std::span<const double> bias) {
    if (A.size() != rows * cols) throw core::invalid_argument("operator_norm_inf: matrix size does not match rows x cols");
    if (!bias.empty() && bias.size() != rows) throw core::invalid_argument("operator_norm_inf: bias size does not match rows");
    rational best = 0;
    for (std::size_t i = 0; i < rows; ++i) {
        const rational sum = (bias.empty() ? rational(0) : abs(to_rational(bias[i], "bias"))) +
                             arith::exact_abs_sum(A.subspan(i * cols, cols), "matrix entry");
        best = max(best, sum);
    }
    return best;
}

rational operator_norm_inf(const sparse_matrix& A, std::span<const double> bias) {
    if (!bias.empty() && bias.size() != A.rows) throw core::invalid_argument("operator_norm_inf: bias size does not match rows");
    rational best = 0;
    for (std::size_t i = 0; i < A.rows; ++i) {
        rational sum = bias.empty() ? rational(0) : abs(to_rational(bias[i], "bias"));
        for (const auto& [col, v] : A.entries[i]) sum += abs(to_rational(v, "matrix entry"));
        best = max(best, sum);
    }
    return best;
}

std::size_t max_row_nonzeros(std::span<const double> A, std::size_t rows, std::size_t cols) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < rows; ++i)
        best = std::max<std::size_t>(best, static_cast<std::size_t>(std::count_if(
                                               A.begin() + static_cast<std::ptrdiff_t>(i * cols),
                                               A.begin() + static_cast<std::ptrdiff_t>((i + 1) * cols), [](double v) { return v != 0; })));
    return best;
}

std::size_t max_row_nonzeros(const sparse_matrix& A) {
    std::size_t best = 0;
    for (const auto& row : A.entries)
        best = std::max<std::size_t>(best, static_cast<std::size_t>(std::count_if(row.begin(), row.end(),
                                                                                   [](const auto& e) { return e.second != 0; })));
    return best;
}

rational max_abs_entry(std::span<const double> A) {
    // |v| and comparisons of doubles are exact: find the largest, convert once.
    double best = 0;
    for (double v : A) {
        if (!std::isfinite(v)) return abs(to_rational(v, "matrix entry"));  // throws, naming the entry kind
        best = std::max(best, std::fabs(v));
    }
    return to_rational(best);
}

sparse_matrix conv_as_matrix(const net::node& n, const net::shape3& in) {
    if (n.kind != net::op::conv2d || n.weight.empty()) throw net::model_error("conv_as_matrix: '" + n.name + "' is not a conv2d with weights");
    const auto& g = n.conv;
    const std::size_t in_per_group = in.channels / g.groups, out_per_group = n.out_features / g.groups;
    sparse_matrix m;
    m.rows = n.output.size();
    m.cols = in.size();
    m.entries.resize(m.rows);
    for (std::size_t o = 0; o < n.out_features; ++o) {
        const std::size_t group = o / out_per_group;
        for (std::size_t oh = 0; oh < n.output.height; ++oh)
            for (std::size_t ow = 0; ow < n.output.width; ++ow) {
                auto& row = m.entries[(o * n.output.height + oh) * n.output.width + ow];
                for (std::size_t ic = 0; ic < in_per_group; ++ic)
                    for (std::size_t kh = 0; kh < g.kernel_h; ++kh)
                        for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
                            const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.top);
                            const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.left);
                            if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(in.height) || iw >= static_cast<std::ptrdiff_t>(in.width)) continue;
                            const std::size_t c = group * in_per_group + ic;
                            row.emplace_back((c * in.height + static_cast<std::size_t>(ih)) * in.width + static_cast<std::size_t>(iw),
                                             n.weight[((o * in_per_group + ic) * g.kernel_h + kh) * g.kernel_w + kw]);
                        }
            }
    }
    return m;
}

rational conv_kernel_norm(const net::node& n, bool with_bias) {
    const std::size_t per_out = n.weight.size() / n.out_features;
    rational best = 0;
    for (std::size_t o = 0; o < n.out_features; ++o) {
        const rational sum = (with_bias ? abs(to_rational(n.bias[o], "bias")) : rational(0)) +
                             arith::exact_abs_sum(std::span<const double>(n.weight).subspan(o * per_out, per_out), "kernel entry");
        best = max(best, sum);
    }
    return best;
}

}  // namespace qbound::bounds
