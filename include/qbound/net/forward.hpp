#pragma once
// One forward evaluation, written once over the arithmetic layer's scalar
// types (double, rational, mpfr_real, mpfi_interval, interval_double).
//
//   forward<T>(net, x)   the output R_theta(x), in T
//
// Guarantees follow T: rational is exact; interval_double and mpfi_interval
// enclose R_theta(x) for every real x in the input enclosures (so an input
// box gives an enclosure of the image of the box); mpfr_real and double are
// approximations. Batch norm must be folded first (net/batch_norm.hpp), except
// in exact rationals, where an unfolded batch norm with rational sigma is
// evaluated exactly.
#include "qbound/arith/linalg.hpp"
#include "qbound/net/batch_norm.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/network.hpp"
#include "qbound/net/walk.hpp"

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace qbound::net {

namespace detail {

template <class T>
std::vector<T> to_scalars(const std::vector<double>& v) {
    std::vector<T> out;
    out.reserve(v.size());
    for (double x : v) out.push_back(arith::scalar_traits<T>::from_double(x));
    return out;
}

template <class T>
std::vector<T> eval_dense(const node& n, const std::vector<T>& W, const std::vector<T>& b, const std::vector<T>& x) {
    return arith::matvec<T>(W, n.out_features, n.in_features, x, b);
}
template <class T>
std::vector<T> eval_dense(const node& n, const std::vector<T>& x) {
    return eval_dense<T>(n, to_scalars<T>(n.weight), to_scalars<T>(n.bias), x);
}

// Visits the taps of a conv2d node in output order: begin(o) once per output
// element (o = (channel * H_out + row) * W_out + column, channel = o / (H_out
// W_out)), then tap(weight_index, input_index) for every kernel entry that
// falls inside the input (zero padding contributes nothing), then end(o).
template <class Begin, class Tap, class End>
void for_each_conv_tap(const node& n, const shape3& in, Begin begin, Tap tap, End end) {
    const auto& g = n.conv;
    const std::size_t out_c = n.out_features, in_per_group = in.channels / g.groups, out_per_group = out_c / g.groups;
    const std::size_t oh_n = n.output.height, ow_n = n.output.width;
    std::size_t index = 0;
    for (std::size_t o = 0; o < out_c; ++o) {
        const std::size_t group = o / out_per_group;
        for (std::size_t oh = 0; oh < oh_n; ++oh) {
            for (std::size_t ow = 0; ow < ow_n; ++ow, ++index) {
                begin(index);
                for (std::size_t ic = 0; ic < in_per_group; ++ic) {
                    const std::size_t c = group * in_per_group + ic;
                    for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
                        const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) -
                                                  static_cast<std::ptrdiff_t>(g.padding.top);
                        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(in.height)) continue;
                        for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
                            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) -
                                                      static_cast<std::ptrdiff_t>(g.padding.left);
                            if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(in.width)) continue;
                            tap(((o * in_per_group + ic) * g.kernel_h + kh) * g.kernel_w + kw,
                                (c * in.height + static_cast<std::size_t>(ih)) * in.width + static_cast<std::size_t>(iw));
                        }
                    }
                }
                end(index);
            }
        }
    }
}

template <class T>
std::vector<T> eval_conv2d(const node& n, const shape3& in, const std::vector<T>& W, const std::vector<T>& bias, const std::vector<T>& x) {
    const std::size_t pixels = n.output.height * n.output.width;
    std::vector<T> y;
    y.reserve(n.output.size());
    T acc = arith::scalar_traits<T>::from_double(0.0);
    for_each_conv_tap(
        n, in, [&](std::size_t o) { acc = bias[o / pixels]; }, [&](std::size_t w, std::size_t i) { acc += W[w] * x[i]; },
        [&](std::size_t) { y.push_back(acc); });
    return y;
}
// eval_conv2d in double with the network's own weights, the same bits: each
// output element still starts at its bias and adds w * x over its taps in
// the order of for_each_conv_tap (input channel, kernel row, kernel
// column; padding taps skipped), one rounding per product and per sum; but
// the loops run kernel tap by kernel tap over whole output rows (contiguous
// for stride 1) instead of element by element (src/net/forward_conv.cpp;
// tests/net/forward_conv_planes.cpp checks the bits against eval_conv2d).
std::vector<double> eval_conv2d_by_planes(const node& n, const shape3& in, const std::vector<double>& x);

// The output columns ow in [0, out_width) whose input column
// ow * stride + offset lies in [0, in_width): [first, last) (first <= last;
// both out_width when none). Shared by eval_conv2d_by_planes and the search's
// gradient (verify/gradient.cpp), whose loops then need no bounds test.
std::pair<std::size_t, std::size_t> valid_columns(std::ptrdiff_t offset, std::size_t stride, std::size_t in_width, std::size_t out_width);

template <class T>
std::vector<T> eval_conv2d(const node& n, const shape3& in, const std::vector<T>& x) {
    return eval_conv2d<T>(n, in, to_scalars<T>(n.weight), to_scalars<T>(n.bias), x);  // biases once per channel, not per pixel
}

template <class T>
std::vector<T> eval_pool(const node& n, const shape3& in, const std::vector<T>& x) {
    const bool is_max = n.kind == op::max_pool;
    std::vector<T> y(n.output.size(), arith::scalar_traits<T>::from_double(0.0));
    for_each_pool_window(n, in, [&](std::size_t out, const std::vector<std::size_t>& taps) {
        // max: padding never wins; avg: padding adds zero. (Builders keep
        // padding <= kernel / 2, so no window is empty.)
        T acc = is_max && !taps.empty() ? x[taps.front()] : arith::scalar_traits<T>::from_double(0.0);
        for (std::size_t k = 0; k < taps.size(); ++k) {
            if (is_max)
                acc = k == 0 ? acc : arith::max(acc, x[taps[k]]);
            else
                acc += x[taps[k]];
        }
        if (!is_max) acc = acc / arith::scalar_traits<T>::from_double(pool_divisor(n, taps.size()));
        y[out] = std::move(acc);
    });
    return y;
}

template <class T>
std::vector<T> eval_global_avg_pool(const shape3& in, const std::vector<T>& x) {
    const std::size_t hw = in.height * in.width;
    const T divisor = arith::scalar_traits<T>::from_double(static_cast<double>(hw));
    std::vector<T> y;
    y.reserve(in.channels);
    for (std::size_t c = 0; c < in.channels; ++c) {
        T acc = arith::scalar_traits<T>::from_double(0.0);
        for (std::size_t k = 0; k < hw; ++k) acc += x[c * hw + k];
        y.push_back(acc / divisor);
    }
    return y;
}

}  // namespace detail

namespace detail {

// forward<T> as a visitor on the walk (net/walk.hpp). Batch norm is refused
// except in exact rationals.
template <class T>
struct forward_engine {
    using values = std::vector<T>;
    using visit_t = node_visit<values>;
    static constexpr op_set refused = std::is_same_v<T, arith::rational> ? op_set{} : op_set{op::batch_norm};

    const exact_parameters* exact = nullptr;

    // The affine parameters in T: the exact ones where given, else the doubles.
    std::pair<values, values> parameters(const visit_t& c) const {
        if constexpr (std::is_same_v<T, arith::rational>) {
            if (exact) return {exact->weight[c.index], exact->bias[c.index]};
        }
        return {to_scalars<T>(c.n.weight), to_scalars<T>(c.n.bias)};
    }

    // In double the parameters are used as they are (no copy per evaluation).
    values visit(op_tag<op::dense>, const visit_t& c) const {
        if constexpr (std::is_same_v<T, double>) {
            return eval_dense<T>(c.n, c.n.weight, c.n.bias, c.input());
        } else {
            const auto [W, b] = parameters(c);
            return eval_dense<T>(c.n, W, b, c.input());
        }
    }
    values visit(op_tag<op::conv2d>, const visit_t& c) const {
        if constexpr (std::is_same_v<T, double>) {
            return eval_conv2d_by_planes(c.n, c.input_shape(), c.input());
        } else {
            const auto [W, b] = parameters(c);
            return eval_conv2d<T>(c.n, c.input_shape(), W, b, c.input());
        }
    }
    values visit(op_tag<op::relu>, const visit_t& c) const {
        values y;
        y.reserve(c.input().size());
        for (const auto& v : c.input()) y.push_back(arith::relu(v));
        return y;
    }
    values visit(op_tag<op::relu6>, const visit_t& c) const {
        values y;
        y.reserve(c.input().size());
        for (const auto& v : c.input()) y.push_back(arith::relu6(v));
        return y;
    }
    template <op K>
        requires(K == op::identity || K == op::flatten)
    values visit(op_tag<K>, const visit_t& c) const { return c.take_input(); }
    template <op K>
        requires(K == op::max_pool || K == op::avg_pool)
    values visit(op_tag<K>, const visit_t& c) const { return eval_pool<T>(c.n, c.input_shape(), c.input()); }
    values visit(op_tag<op::global_avg_pool>, const visit_t& c) const { return eval_global_avg_pool<T>(c.input_shape(), c.input()); }
    values visit(op_tag<op::add>, const visit_t& c) const {
        const auto &x = c.input(0), &z = c.input(1);
        values y;
        y.reserve(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y.push_back(x[k] + z[k]);
        return y;
    }
    values visit(op_tag<op::normalize>, const visit_t& c) const {
        using traits = arith::scalar_traits<T>;
        const node& n = c.n;
        const auto& x = c.input();
        values y;
        y.reserve(x.size());
        for (std::size_t k = 0; k < x.size(); ++k)
            y.push_back((x[k] - traits::from_double(n.norm_mean[k])) * traits::from_double(n.norm_scale[k]) /
                            traits::from_double(n.norm_divisor[k]) +
                        traits::from_double(n.norm_offset[k]));
        return y;
    }
    values visit(op_tag<op::batch_norm>, const visit_t& c) const
        requires std::is_same_v<T, arith::rational>
    {
        return batch_norm_exact(c.n, c.input_shape(), c.input());
    }
};

// The walk of forward_all / forward (`free`: only the output is kept).
template <class T>
std::vector<std::vector<T>> forward_walk(const network& net, std::vector<T> input, const exact_parameters* exact, bool free) {
    check_evaluation_input(net, input.size());
    if (exact) {
        if constexpr (!std::is_same_v<T, arith::rational>) throw model_error(net.name() + ": exact parameters need exact rationals");
        exact->check(net);
    }
    const forward_engine<T> engine{exact};
    return walk(net, std::move(input), engine, walk_options{"forward evaluation", free});
}

}  // namespace detail

// All node values (index = node index); keeps the intermediate activations.
// With `exact` (rationals only), the affine nodes use those parameters
// instead of their doubles (see fold_batch_norm_exact).
template <class T>
std::vector<std::vector<T>> forward_all(const network& net, std::vector<T> input, const exact_parameters* exact = nullptr) {
    return detail::forward_walk<T>(net, std::move(input), exact, false);
}

template <class T>
std::vector<T> forward(const network& net, std::vector<T> input) {
    auto values = detail::forward_walk<T>(net, std::move(input), nullptr, true);
    return std::move(values.back());
}

// R_theta(x) in exact rationals with the exact parameters of a network
// folded by fold_batch_norm_exact.
inline std::vector<arith::rational> forward_exact(const network& net, const exact_parameters& exact, std::vector<arith::rational> input) {
    auto values = detail::forward_walk<arith::rational>(net, std::move(input), &exact, true);
    return std::move(values.back());
}

// The input in type T from doubles (exact for rational and the enclosures
// at >= 53 bits).
template <class T>
std::vector<T> input_from_doubles(const std::vector<double>& x) { return detail::to_scalars<T>(x); }

}  // namespace qbound::net
