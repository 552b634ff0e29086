// The fast float-sound engine; the error bound and its proof are in
// include/qbound/fast/enclosure.hpp.
#include "qbound/fast/enclosure.hpp"

#include "kernels.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>

namespace qbound::fast {

namespace detail {

void pack_columns(const std::vector<double>& v, const net::shape3& in, const net::conv_geometry& g, std::size_t out_width,
                  std::size_t group, std::size_t p0, std::size_t width, std::vector<double>& buf) {
    const std::size_t ipg = in.channels / g.groups, KH = g.kernel_h, KW = g.kernel_w, K = ipg * KH * KW;
    const std::size_t tiles = (width + 7) / 8, H = in.height, W = in.width;
    buf.resize(tiles * K * 8);
    const double* channels = v.data() + group * ipg * H * W;
    for (std::size_t t = 0; t < tiles; ++t) {
        // The top-left input position of each lane's window; lanes past the
        // end get a position no kernel tap can reach (all zeros).
        std::ptrdiff_t row0[8], col0[8];
        const std::ptrdiff_t far = -static_cast<std::ptrdiff_t>((KH + KW) * g.dilation + H + W + 1);
        for (std::size_t lane = 0; lane < 8; ++lane) {
            const std::size_t col = t * 8 + lane;
            if (col >= width) {
                row0[lane] = col0[lane] = far;
                continue;
            }
            const std::size_t p = p0 + col;
            row0[lane] = static_cast<std::ptrdiff_t>((p / out_width) * g.stride) - static_cast<std::ptrdiff_t>(g.padding.top);
            col0[lane] = static_cast<std::ptrdiff_t>((p % out_width) * g.stride) - static_cast<std::ptrdiff_t>(g.padding.left);
        }
        // All 8 lanes on one output row: each tap reads 8 inputs `stride`
        // apart on one input row, without per-lane tests when they are inside.
        bool one_row = true;
        for (std::size_t lane = 1; lane < 8; ++lane)
            one_row = one_row && row0[lane] == row0[0] && col0[lane] == col0[0] + static_cast<std::ptrdiff_t>(lane * g.stride);
        double* dst = buf.data() + t * K * 8;
        for (std::size_t ic = 0; ic < ipg; ++ic) {
            const double* plane = channels + ic * H * W;
            for (std::size_t kh = 0; kh < KH; ++kh)
                for (std::size_t kw = 0; kw < KW; ++kw, dst += 8) {
                    if (one_row) {
                        const std::ptrdiff_t ih = row0[0] + static_cast<std::ptrdiff_t>(kh * g.dilation);
                        const std::ptrdiff_t first = col0[0] + static_cast<std::ptrdiff_t>(kw * g.dilation);
                        const std::ptrdiff_t last = first + static_cast<std::ptrdiff_t>(7 * g.stride);
                        if (ih >= 0 && ih < static_cast<std::ptrdiff_t>(H) && first >= 0 && last < static_cast<std::ptrdiff_t>(W)) {
                            const double* src = plane + static_cast<std::size_t>(ih) * W + static_cast<std::size_t>(first);
                            for (std::size_t lane = 0; lane < 8; ++lane) dst[lane] = src[lane * g.stride];
                            continue;
                        }
                    }
                    for (std::size_t lane = 0; lane < 8; ++lane) {
                        const std::ptrdiff_t ih = row0[lane] + static_cast<std::ptrdiff_t>(kh * g.dilation);
                        const std::ptrdiff_t iw = col0[lane] + static_cast<std::ptrdiff_t>(kw * g.dilation);
                        const bool inside = ih >= 0 && ih < static_cast<std::ptrdiff_t>(H) && iw >= 0 && iw < static_cast<std::ptrdiff_t>(W);
                        dst[lane] = inside ? plane[static_cast<std::size_t>(ih) * W + static_cast<std::size_t>(iw)] : 0.0;
                    }
                }
        }
    }
}

}  // namespace detail

namespace detail {

// One affine node's part of the pair pass that depends only on the weights:
// fl(W' - W) with bias -b, and (when some difference is inexact) the bounds
// 2^-52 |fl(W' - W)| of its rounding with bias 0.
struct pair_affine {
    net::node delta, rounding;
    bool inexact = false;
};

pair_affine make_pair_affine(const net::node& a, const net::node& aq) {
    pair_affine r{aq, {}, false};
    std::vector<double> rounding(a.weight.size(), 0.0);
    for (std::size_t i = 0; i < a.weight.size(); ++i) {
        const double w = a.weight[i], wq = aq.weight[i];
        r.delta.weight[i] = wq - w;
        // Exact in every rounding mode: a zero operand, or Sterbenz (same sign, within a factor 2).
        const bool exact = w == 0 || wq == 0 || ((w > 0) == (wq > 0) && std::fabs(wq) <= 2 * std::fabs(w) && std::fabs(w) <= 2 * std::fabs(wq));
        if (!exact) rounding[i] = next_up(std::fabs(r.delta.weight[i]) * unit_roundoff), r.inexact = true;
    }
    for (std::size_t o = 0; o < a.bias.size(); ++o) r.delta.bias[o] = -a.bias[o];
    if (r.inexact) {
        r.rounding = r.delta;
        r.rounding.weight = std::move(rounding);
        std::fill(r.rounding.bias.begin(), r.rounding.bias.end(), 0.0);
    }
    return r;
}

}  // namespace detail

namespace {

using namespace detail;

// ---- affine nodes --------------------------------------------------------------

struct affine_constants {
    double gamma_mid, c_rad, under;  // gamma_{K+1}, 1 + 2 gamma_K (up), 2 K eta (up)
};

affine_constants constants_for(std::size_t K) {
    affine_constants c;
    c.gamma_mid = gamma_bound(K + 1);
    c.c_rad = add_up(1.0, 2.0 * gamma_bound(K));
    c.under = next_up(2.0 * static_cast<double>(K) * eta);
    return c;
}

// rad_i from s = fl(sum |A| z) (see the header).
inline double affine_radius(double s, double bias, const affine_constants& c) {
    return add_up(mul_up(add_up(s, c.under), c.c_rad), add_up(mul_up(c.gamma_mid, std::fabs(bias)), c.under));
}

struct engine {
    bool with_radius;
    unsigned threads;

    // body(k0, k1) over [0, size) in blocks, on the engine's threads when
    // the tensor is large; elementwise work, so the bits do not depend on it.
    template <class Body>
    void for_blocks(std::size_t size, const Body& body) const {
        constexpr std::size_t block = 1u << 14;
        const std::size_t blocks = (size + block - 1) / block;
        parallel_for(blocks, size >= 4 * block ? threads : 1u, [&](std::size_t b, unsigned) { body(b * block, std::min(size, (b + 1) * block)); });
    }

    // z_k >= r_k + gamma |m_k|, rounded upward; exactly 0 for an exact zero
    // (a ReLU's inactive element): rounding 0 upward would give 2^-1073,
    // and products with subnormals cost about 100 cycles each on x86 (a
    // point pass of a 6 x 50 MLP took 15 times as long).
    std::vector<double> radius_input(const ball_tensor& x, double gamma) const {
        std::vector<double> z(x.mid.size());
        for_blocks(z.size(), [&](std::size_t k0, std::size_t k1) {
            for (std::size_t k = k0; k < k1; ++k)
                z[k] = x.rad[k] == 0 && x.mid[k] == 0 ? 0.0 : add_up(x.rad[k], mul_up(gamma, std::fabs(x.mid[k])));
        });
        return z;
    }

    ball_tensor dense(const net::node& n, const ball_tensor& x) const {
        const std::size_t M = n.out_features, K = n.in_features;
        ball_tensor y;
        y.mid.resize(M);
        const affine_constants c = constants_for(K);
        std::vector<double> z;
        if (with_radius) y.rad.resize(M), z = radius_input(x, c.gamma_mid);
        // One row per task group; each row is summed by the same code (four
        // strided partial sums, then combined) whatever the partition.
        const auto row_dot = [K](const double* w, const double* v, bool absolute_weights) {
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            std::size_t k = 0;
            if (absolute_weights) {
                for (; k + 4 <= K; k += 4)
                    s0 += std::fabs(w[k]) * v[k], s1 += std::fabs(w[k + 1]) * v[k + 1], s2 += std::fabs(w[k + 2]) * v[k + 2],
                        s3 += std::fabs(w[k + 3]) * v[k + 3];
                for (; k < K; ++k) s0 += std::fabs(w[k]) * v[k];
            } else {
                for (; k + 4 <= K; k += 4) s0 += w[k] * v[k], s1 += w[k + 1] * v[k + 1], s2 += w[k + 2] * v[k + 2], s3 += w[k + 3] * v[k + 3];
                for (; k < K; ++k) s0 += w[k] * v[k];
            }
            return (s0 + s1) + (s2 + s3);
        };
        constexpr std::size_t rows_per_task = 16;
        const std::size_t tasks = (M + rows_per_task - 1) / rows_per_task;
        parallel_for(tasks, M * K >= (1u << 16) ? threads : 1u, [&](std::size_t t, unsigned) {
            for (std::size_t i = t * rows_per_task; i < std::min(M, (t + 1) * rows_per_task); ++i) {
                const double* w = n.weight.data() + i * K;
                y.mid[i] = row_dot(w, x.mid.data(), false) + n.bias[i];
                if (with_radius) {
                    y.rad[i] = affine_radius(row_dot(w, z.data(), true), n.bias[i], c);
                    sanitize(y.mid[i], y.rad[i]);
                }
            }
        });
        return y;
    }

    ball_tensor conv2d(const net::node& n, const net::shape3& in, const ball_tensor& x) const {
        const auto& g = n.conv;
        const std::size_t groups = g.groups, ipg = in.channels / groups, opg = n.out_features / groups;
        const std::size_t KH = g.kernel_h, KW = g.kernel_w, K = ipg * KH * KW;
        const std::size_t OH = n.output.height, OW = n.output.width, P = OH * OW;
        const affine_constants c = constants_for(K);
        ball_tensor y;
        y.mid.resize(n.output.size());
        std::vector<double> z;
        if (with_radius) y.rad.resize(n.output.size()), z = radius_input(x, c.gamma_mid);

        constexpr std::size_t chunk = 128;  // columns per task (16 tiles)
        const std::size_t chunks = (P + chunk - 1) / chunk;
        const double macs = static_cast<double>(n.weight.size()) * static_cast<double>(P);
        const unsigned used = macs >= 1e6 ? threads : 1u;
        const std::size_t row_block = conv_row_block(opg, groups * chunks, used);
        const std::size_t row_blocks = (opg + row_block - 1) / row_block;
        const std::size_t tasks = groups * chunks * row_blocks;
        std::vector<std::vector<double>> packed(used), product(used), product_rad(used);
        const column_panels mid_panels(x.mid, in, g, OW, P, chunk, row_blocks > 1, used);
        const column_panels rad_panels(with_radius ? z : x.mid, in, g, OW, P, chunk, with_radius && row_blocks > 1, used);

        parallel_for(tasks, used, [&](std::size_t task, unsigned worker) {
            const std::size_t rb = task % row_blocks, column_task = task / row_blocks;
            const std::size_t group = column_task / chunks, p0 = (column_task % chunks) * chunk, width = std::min(chunk, P - p0);
            const std::size_t r0 = rb * row_block, rows = std::min(row_block, opg - r0);
            const std::size_t tiles = (width + 7) / 8, ldc = tiles * 8;
            auto& C = product[worker];
            C.resize(rows * ldc);
            gemm_packed(n.weight.data() + (group * opg + r0) * K, rows, K, mid_panels.panel(group, p0, packed[worker]), tiles, C.data(), ldc);
            if (with_radius) {
                auto& R = product_rad[worker];
                R.resize(rows * ldc);
                gemm_packed(n.weight.data() + (group * opg + r0) * K, rows, K, rad_panels.panel(group, p0, packed[worker]), tiles, R.data(), ldc,
                            gemm_a::absolute);
                for (std::size_t o = 0; o < rows; ++o) {
                    const std::size_t oc = group * opg + r0 + o;
                    for (std::size_t col = 0; col < width; ++col) {
                        double m = C[o * ldc + col] + n.bias[oc];
                        double r = affine_radius(R[o * ldc + col], n.bias[oc], c);
                        sanitize(m, r);
                        y.mid[oc * P + p0 + col] = m;
                        y.rad[oc * P + p0 + col] = r;
                    }
                }
            } else {
                for (std::size_t o = 0; o < rows; ++o) {
                    const std::size_t oc = group * opg + r0 + o;
                    for (std::size_t col = 0; col < width; ++col) y.mid[oc * P + p0 + col] = C[o * ldc + col] + n.bias[oc];
                }
            }
        });
        return y;
    }

    // Elementwise map through intervals (enclosure mode) or doubles (plain).
    template <class IntervalMap, class PlainMap>
    ball_tensor elementwise(const ball_tensor& x, const IntervalMap& on_interval, const PlainMap& on_double) const {
        ball_tensor y;
        y.mid.resize(x.mid.size());
        if (!with_radius) {
            for (std::size_t k = 0; k < x.mid.size(); ++k) y.mid[k] = on_double(x.mid[k], k);
            return y;
        }
        y.rad.resize(x.mid.size());
        for (std::size_t k = 0; k < x.mid.size(); ++k) from_interval(on_interval(to_interval(x.mid[k], x.rad[k]), k), y.mid[k], y.rad[k]);
        return y;
    }

    ball_tensor clamp_activation(ball_tensor y, double top) const {
        if (with_radius) {
            // Exact pass-through when the whole ball is in the linear piece.
            for_blocks(y.mid.size(), [&](std::size_t k0, std::size_t k1) {
                for (std::size_t k = k0; k < k1; ++k) {
                    const interval v = to_interval(y.mid[k], y.rad[k]);
                    if (v.lo >= 0 && v.hi <= top) continue;
                    from_interval({std::clamp(v.lo, 0.0, top), std::clamp(v.hi, 0.0, top)}, y.mid[k], y.rad[k]);
                }
            });
            return y;
        }
        for_blocks(y.mid.size(), [&](std::size_t k0, std::size_t k1) {
            for (std::size_t k = k0; k < k1; ++k) y.mid[k] = std::clamp(y.mid[k], 0.0, top);
        });
        return y;
    }

    ball_tensor pool(const net::node& n, const net::shape3& in, const ball_tensor& x) const {
        const bool is_max = n.kind == net::op::max_pool;
        ball_tensor y;
        y.mid.resize(n.output.size());
        if (with_radius) y.rad.resize(n.output.size());
        const auto window = [&](std::size_t out, const std::vector<std::size_t>& taps) {
            const double divisor = net::pool_divisor(n, taps.size());
            if (!with_radius) {
                double plain = 0;
                for (std::size_t k = 0; k < taps.size(); ++k)
                    plain = k == 0 ? x.mid[taps[k]] : (is_max ? std::max(plain, x.mid[taps[k]]) : plain + x.mid[taps[k]]);
                y.mid[out] = is_max ? plain : plain / divisor;
                return;
            }
            interval acc{0, 0};
            for (std::size_t k = 0; k < taps.size(); ++k) {
                const interval v = to_interval(x.mid[taps[k]], x.rad[taps[k]]);
                if (k == 0)
                    acc = v;
                else if (is_max)
                    acc = {std::max(acc.lo, v.lo), std::max(acc.hi, v.hi)};
                else
                    acc = {add_down(acc.lo, v.lo), add_up(acc.hi, v.hi)};
            }
            if (!is_max) acc = {next_down(acc.lo / divisor), next_up(acc.hi / divisor)};
            from_interval(acc, y.mid[out], y.rad[out]);
        };
        // Channels in parallel: each writes its own outputs.
        const unsigned used = n.output.size() >= (1u << 15) ? threads : 1u;
        parallel_for(in.channels, used, [&](std::size_t ch, unsigned) { net::for_each_pool_window(n, in, window, ch, ch + 1); });
        return y;
    }

    ball_tensor global_avg_pool(const net::shape3& in, const ball_tensor& x) const {
        const std::size_t hw = in.height * in.width;
        const double divisor = static_cast<double>(hw);
        ball_tensor y;
        y.mid.resize(in.channels);
        if (with_radius) y.rad.resize(in.channels);
        for (std::size_t ch = 0; ch < in.channels; ++ch) {
            if (!with_radius) {
                double s = 0;
                for (std::size_t k = 0; k < hw; ++k) s += x.mid[ch * hw + k];
                y.mid[ch] = s / divisor;
                continue;
            }
            interval acc{0, 0};
            for (std::size_t k = 0; k < hw; ++k) {
                const interval v = to_interval(x.mid[ch * hw + k], x.rad[ch * hw + k]);
                acc = {add_down(acc.lo, v.lo), add_up(acc.hi, v.hi)};
            }
            from_interval({next_down(acc.lo / divisor), next_up(acc.hi / divisor)}, y.mid[ch], y.rad[ch]);
        }
        return y;
    }

    ball_tensor add(const ball_tensor& a, const ball_tensor& b) const {
        ball_tensor y;
        y.mid.resize(a.mid.size());
        if (with_radius) y.rad.resize(a.mid.size());
        for_blocks(a.mid.size(), [&](std::size_t k0, std::size_t k1) {
            if (!with_radius) {
                for (std::size_t k = k0; k < k1; ++k) y.mid[k] = a.mid[k] + b.mid[k];
                return;
            }
            for (std::size_t k = k0; k < k1; ++k) {
                const interval u = to_interval(a.mid[k], a.rad[k]), v = to_interval(b.mid[k], b.rad[k]);
                from_interval({add_down(u.lo, v.lo), add_up(u.hi, v.hi)}, y.mid[k], y.rad[k]);
            }
        });
        return y;
    }

    // (x - mean) * scale / divisor + offset, each step outward.
    ball_tensor normalize(const net::node& n, const ball_tensor& x) const {
        const auto scale_interval = [](interval v, double s, bool divide) {
            if (divide) {
                const double a = v.lo / s, b = v.hi / s;
                return s > 0 ? interval{next_down(a), next_up(b)} : interval{next_down(b), next_up(a)};
            }
            const double a = v.lo * s, b = v.hi * s;
            return s >= 0 ? interval{next_down(a), next_up(b)} : interval{next_down(b), next_up(a)};
        };
        return elementwise(
            x,
            [&](interval v, std::size_t k) {
                v = {add_down(v.lo, -n.norm_mean[k]), add_up(v.hi, -n.norm_mean[k])};
                v = scale_interval(v, n.norm_scale[k], false);
                v = scale_interval(v, n.norm_divisor[k], true);
                return interval{add_down(v.lo, n.norm_offset[k]), add_up(v.hi, n.norm_offset[k])};
            },
            [&](double v, std::size_t k) { return (v - n.norm_mean[k]) * n.norm_scale[k] / n.norm_divisor[k] + n.norm_offset[k]; });
    }

    // The node handlers of the walk (net/walk.hpp).
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<ball_tensor>;
    ball_tensor visit(net::op_tag<net::op::dense>, const visit_t& c) const { return dense(c.n, c.input()); }
    ball_tensor visit(net::op_tag<net::op::conv2d>, const visit_t& c) const { return conv2d(c.n, c.input_shape(), c.input()); }
    ball_tensor visit(net::op_tag<net::op::relu>, const visit_t& c) const { return clamp_activation(c.take_input(), inf); }
    ball_tensor visit(net::op_tag<net::op::relu6>, const visit_t& c) const { return clamp_activation(c.take_input(), 6.0); }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    ball_tensor visit(net::op_tag<K>, const visit_t& c) const { return c.take_input(); }
    template <net::op K>
        requires(K == net::op::max_pool || K == net::op::avg_pool)
    ball_tensor visit(net::op_tag<K>, const visit_t& c) const { return pool(c.n, c.input_shape(), c.input()); }
    ball_tensor visit(net::op_tag<net::op::global_avg_pool>, const visit_t& c) const { return global_avg_pool(c.input_shape(), c.input()); }
    ball_tensor visit(net::op_tag<net::op::add>, const visit_t& c) const {
        if (c.input(1).mid.size() != c.input(0).mid.size()) throw net::model_error("node '" + c.n.name + "': add of different sizes");
        return add(c.input(0), c.input(1));
    }
    ball_tensor visit(net::op_tag<net::op::normalize>, const visit_t& c) const { return normalize(c.n, c.input()); }

    ball_tensor run(const net::network& net, ball_tensor input) const {
        net::check_evaluation_input(net, input.mid.size());
        auto values = net::walk(net, std::move(input), *this, {"the fast engine", true});
        return std::move(values.back());
    }
};

// ---- correlated pair pass ----------------------------------------------------
//
// Both networks and their difference d = z' - z, propagated together over
// one input box: z and z' by the engine above, and d by
//   affine:  d_out = W' d + (W' - W) z + (b' - b)
//            (W' - W rounded, the rounding bounded by 2^-52 |.| where
//            Sterbenz's lemma does not make it exact; b' - b outward),
//   ReLU/ReLU6 (monotone, 1-Lipschitz): d unchanged where both inputs are in
//            the linear piece, 0 where both are in the same flat piece, else
//            within [min(0, d), max(0, d)] (plus the one-sided forms
//            max(d, -z) and min(d, z') for ReLU when one side is active),
//   max pool: within [min d, max d] over the window,
//   linear nodes (pools, add, normalize without offset): applied to d,
// and intersected at every node with the interval z' - z. Every step is an
// outward enclosure, so the result contains R_theta'(x) - R_theta(x) for
// every x in the box, and is never wider than the independent difference.
struct pair_values {
    ball_tensor z, zq, d;
};



inline interval at(const ball_tensor& t, std::size_t k) { return to_interval(t.mid[k], t.rad[k]); }
inline interval hull_difference(interval q, interval p) { return {add_down(q.lo, -p.hi), add_up(q.hi, -p.lo)}; }  // q - p
struct differential_engine {
    engine e{true, 1};
    const std::vector<double>* box_lower = nullptr;  // the input box, for the reports of contradictions
    const std::vector<double>* box_upper = nullptr;
    const std::function<void(std::size_t, std::size_t, double&, double&)>* narrow_for_test = nullptr;
    const std::vector<pair_affine>* plan = nullptr;  // per node (affine nodes filled), from a pair_pass; null: built per call

    // a and b both enclose the same values over the box (element k of node
    // `node`): an empty intersection proves a bug, reported, never patched.
    interval intersect(interval a, interval b, std::size_t node, const net::node& n, std::size_t k, const char* what) const {
        const interval c{std::max(a.lo, b.lo), std::min(a.hi, b.hi)};
        if (!(c.lo <= c.hi))
            throw core::unsound_error("fast correlated pair pass, node " + std::to_string(node) + " ('" + n.name + "'), element " +
                                       std::to_string(k) + ": " + what + " " + core::interval_text(a.lo, a.hi) + " and " +
                                       core::interval_text(b.lo, b.hi) + " do not overlap over the box " +
                                       core::box_text(*box_lower, *box_upper));
        return c;
    }

    ball_tensor from_intervals(const std::vector<interval>& v) const {
        ball_tensor t;
        t.mid.resize(v.size()), t.rad.resize(v.size());
        for (std::size_t k = 0; k < v.size(); ++k) from_interval(v[k], t.mid[k], t.rad[k]);
        return t;
    }

    static std::vector<interval> intervals(const ball_tensor& t) {
        std::vector<interval> v(t.mid.size());
        for (std::size_t k = 0; k < v.size(); ++k) v[k] = at(t, k);
        return v;
    }

    // d at every index intersected with z' - z.
    std::vector<interval> tightened(const std::vector<interval>& d, const ball_tensor& z, const ball_tensor& zq, std::size_t node,
                                    const net::node& n) const {
        std::vector<interval> out(d.size());
        for (std::size_t k = 0; k < d.size(); ++k) {
            const bool finite = std::isfinite(d[k].lo) && std::isfinite(d[k].hi);
            const interval bound = hull_difference(at(zq, k), at(z, k));
            const bool bound_finite = std::isfinite(bound.lo) && std::isfinite(bound.hi);
            out[k] = !finite ? (bound_finite ? bound : interval{-inf, inf})
                             : (bound_finite ? intersect(d[k], bound, node, n, k, "the propagated difference and z' - z") : d[k]);
        }
        return out;
    }

    // W' d + b' and (W' - W) z - b by the engine (enclosures, biases
    // included), widened by the rounding of W' - W applied to |z| where
    // Sterbenz's lemma does not make it exact.
    // `cached`: this node's pair_affine from a pair_pass, or null (built here).
    std::vector<interval> affine(const net::node& a, const net::node& aq, const net::shape3& in, const pair_values& x,
                                 const pair_affine* cached) const {
        pair_affine local;
        if (!cached) local = make_pair_affine(a, aq);
        const pair_affine& pa = cached ? *cached : local;
        const bool inexact = pa.inexact;
        const bool dense = a.kind == net::op::dense;
        const auto apply = [&](const net::node& n, const ball_tensor& v) { return dense ? e.dense(n, v) : e.conv2d(n, in, v); };
        const ball_tensor p = apply(aq, x.d), q = apply(pa.delta, x.z);
        ball_tensor r;
        if (inexact) {
            ball_tensor magnitude;
            magnitude.mid.resize(x.z.mid.size()), magnitude.rad.assign(x.z.mid.size(), 0.0);
            for (std::size_t k = 0; k < magnitude.mid.size(); ++k) {
                const interval v = at(x.z, k);
                magnitude.mid[k] = std::max(std::fabs(v.lo), std::fabs(v.hi));
            }
            r = apply(pa.rounding, magnitude);
        }
        std::vector<interval> d(p.mid.size());
        for (std::size_t k = 0; k < d.size(); ++k) {
            const interval u = at(p, k), v = at(q, k);
            const double slack = inexact ? add_up(r.mid[k], r.rad[k]) : 0.0;
            d[k] = {add_down(add_down(u.lo, v.lo), -slack), add_up(add_up(u.hi, v.hi), slack)};
            if (std::isnan(d[k].lo) || std::isnan(d[k].hi)) d[k] = {-inf, inf};
        }
        return d;
    }

    // relu / relu6 on the pair: z, z' are the inputs; the new z, z' are computed by the engine.
    std::vector<interval> clamp(const pair_values& x, double top, std::size_t node, const net::node& n) const {
        std::vector<interval> d(x.d.mid.size());
        for (std::size_t k = 0; k < d.size(); ++k) {
            const interval z = at(x.z, k), zq = at(x.zq, k), dk = at(x.d, k);
            const bool z_linear = z.lo >= 0 && z.hi <= top, zq_linear = zq.lo >= 0 && zq.hi <= top;
            if (z_linear && zq_linear) {
                d[k] = dk;
            } else if ((z.hi <= 0 && zq.hi <= 0) || (z.lo >= top && zq.lo >= top)) {
                d[k] = {0, 0};
            } else {
                interval v{std::min(0.0, dk.lo), std::max(0.0, dk.hi)};
                if (top == inf && z.lo >= 0)  // max(d, -z)
                    v = intersect(v, {std::max(dk.lo, -z.hi), std::max(dk.hi, -z.lo)}, node, n, k, "[min(0, d), max(0, d)] and max(d, -z)");
                if (top == inf && zq.lo >= 0)  // min(d, z')
                    v = intersect(v, {std::min(dk.lo, zq.lo), std::min(dk.hi, zq.hi)}, node, n, k, "the ReLU difference and min(d, z')");
                d[k] = v;
            }
        }
        return d;
    }

    std::vector<interval> max_pool(const net::node& n, const net::shape3& in, const ball_tensor& dx) const {
        std::vector<interval> d(n.output.size(), interval{0, 0});
        net::for_each_pool_window(n, in, [&](std::size_t out, const std::vector<std::size_t>& taps) {
            for (std::size_t k = 0; k < taps.size(); ++k) {
                const interval v = at(dx, taps[k]);
                d[out] = k == 0 ? v : interval{std::min(d[out].lo, v.lo), std::max(d[out].hi, v.hi)};
            }
        });
        return d;
    }

    // (d * scale) / divisor: the normalization of z' minus that of z.
    ball_tensor normalize(const net::node& n, const ball_tensor& dx) const {
        net::node linear = n;
        std::fill(linear.norm_mean.begin(), linear.norm_mean.end(), 0.0);
        std::fill(linear.norm_offset.begin(), linear.norm_offset.end(), 0.0);
        return e.normalize(linear, dx);
    }

    // The node handlers of the pair walk (net/walk.hpp): z and z' by the
    // engine, the node's own rule for d, then finish().
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<pair_values>;
    std::vector<interval> output;  // the output node's difference

    // d narrowed (tests), intersected with z' - z; the output node's kept as intervals.
    pair_values finish(const visit_t& c, ball_tensor z, ball_tensor zq, std::vector<interval> d) {
        if (narrow_for_test && *narrow_for_test)
            for (std::size_t k = 0; k < d.size(); ++k) (*narrow_for_test)(c.index, k, d[k].lo, d[k].hi);
        d = tightened(d, z, zq, c.index, c.n);
        pair_values y{std::move(z), std::move(zq), from_intervals(d)};
        if (c.index + 1 == c.source.nodes().size()) output = std::move(d);
        return y;
    }

    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    pair_values visit(net::op_tag<K>, const visit_t& c) {
        const pair_values& x = c.input();
        const net::shape3& in = c.input_shape();
        const auto apply = [&](const net::node& n, const ball_tensor& v) { return K == net::op::dense ? e.dense(n, v) : e.conv2d(n, in, v); };
        ball_tensor z = apply(c.n, x.z), zq = apply(c.paired(), x.zq);
        return finish(c, std::move(z), std::move(zq), affine(c.n, c.paired(), in, x, plan ? &(*plan)[c.index] : nullptr));
    }
    template <net::op K>
        requires(K == net::op::relu || K == net::op::relu6)
    pair_values visit(net::op_tag<K>, const visit_t& c) {
        const double top = K == net::op::relu ? inf : 6.0;
        const pair_values& x = c.input();
        return finish(c, e.clamp_activation(x.z, top), e.clamp_activation(x.zq, top), clamp(x, top, c.index, c.n));
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    pair_values visit(net::op_tag<K>, const visit_t& c) {
        pair_values y = c.take_input();
        if (c.index + 1 == c.source.nodes().size()) output = intervals(y.d);
        return y;
    }
    pair_values visit(net::op_tag<net::op::max_pool>, const visit_t& c) {
        const pair_values& x = c.input();
        const net::shape3& in = c.input_shape();
        return finish(c, e.pool(c.n, in, x.z), e.pool(c.paired(), in, x.zq), max_pool(c.n, in, x.d));
    }
    pair_values visit(net::op_tag<net::op::avg_pool>, const visit_t& c) {
        const pair_values& x = c.input();
        const net::shape3& in = c.input_shape();
        return finish(c, e.pool(c.n, in, x.z), e.pool(c.paired(), in, x.zq), intervals(e.pool(c.n, in, x.d)));
    }
    pair_values visit(net::op_tag<net::op::global_avg_pool>, const visit_t& c) {
        const pair_values& x = c.input();
        const net::shape3& in = c.input_shape();
        return finish(c, e.global_avg_pool(in, x.z), e.global_avg_pool(in, x.zq), intervals(e.global_avg_pool(in, x.d)));
    }
    pair_values visit(net::op_tag<net::op::add>, const visit_t& c) {
        const pair_values &x = c.input(0), &b = c.input(1);
        if (b.z.mid.size() != x.z.mid.size()) throw net::model_error("node '" + c.n.name + "': add of different sizes");
        return finish(c, e.add(x.z, b.z), e.add(x.zq, b.zq), intervals(e.add(x.d, b.d)));
    }
    pair_values visit(net::op_tag<net::op::normalize>, const visit_t& c) {
        const net::node &n = c.n, &nq = c.paired();
        if (n.norm_mean != nq.norm_mean || n.norm_scale != nq.norm_scale || n.norm_divisor != nq.norm_divisor || n.norm_offset != nq.norm_offset)
            throw net::model_error("fast pair mode: normalization '" + n.name + "' differs between the networks");
        const pair_values& x = c.input();
        return finish(c, e.normalize(n, x.z), e.normalize(nq, x.zq), intervals(normalize(n, x.d)));
    }

    // The enclosure of the output difference: the last node's intervals
    // themselves (a ball would widen them by an ulp).
    enclosure run(const net::network& theta, const net::network& quant, const ball_tensor& input) {
        pair_values start{input, input, ball_tensor{std::vector<double>(input.mid.size(), 0.0), std::vector<double>(input.mid.size(), 0.0)}};
        output.clear();
        net::walk_pair(theta, quant, std::move(start), *this, {"fast pair mode", true});
        enclosure out;
        for (const interval& v : output) out.lower.push_back(v.lo), out.upper.push_back(v.hi);
        return out;
    }
};

enclosure to_enclosure(const ball_tensor& y) {
    enclosure e;
    e.lower.resize(y.mid.size());
    e.upper.resize(y.mid.size());
    for (std::size_t k = 0; k < y.mid.size(); ++k) {
        if (!(y.rad[k] < inf)) {
            e.lower[k] = -inf, e.upper[k] = inf;
            continue;
        }
        const interval v = to_interval(y.mid[k], y.rad[k]);
        e.lower[k] = v.lo, e.upper[k] = v.hi;
    }
    return e;
}

}  // namespace

double gamma_bound(std::size_t n) {
    const double nu = static_cast<double>(n) * unit_roundoff;  // exact for n < 2^53
    if (!(nu < 0.25)) throw core::invalid_argument("fast enclosure: dot product of length " + std::to_string(n) + " is too long");
    return next_up(next_up(nu) / next_down(1.0 - nu));
}

std::vector<double> forward_plain(const net::network& net, const std::vector<double>& x, const options& opt) {
    const engine e{false, thread_count(opt)};
    return e.run(net, ball_tensor{x, {}}).mid;
}

namespace {

// The input box as balls; refuses NaN ends, lower > upper and ends of different sizes.
ball_tensor box_balls(const std::vector<double>& lower, const std::vector<double>& upper) {
    if (lower.size() != upper.size()) throw core::invalid_argument("fast enclosure: box ends differ in size");
    ball_tensor in;
    in.mid.resize(lower.size());
    in.rad.resize(lower.size());
    for (std::size_t k = 0; k < lower.size(); ++k) {
        if (!(lower[k] <= upper[k]) || std::isnan(lower[k]) || std::isnan(upper[k]))
            throw core::invalid_argument("fast enclosure: box coordinate " + std::to_string(k) + " has lower > upper or NaN");
        from_interval({lower[k], upper[k]}, in.mid[k], in.rad[k]);
    }
    return in;
}

}  // namespace

enclosure enclose_box(const net::network& net, const std::vector<double>& lower, const std::vector<double>& upper, const options& opt) {
    const engine e{true, thread_count(opt)};
    return to_enclosure(e.run(net, box_balls(lower, upper)));
}

enclosure enclose_point(const net::network& net, const std::vector<double>& x, const options& opt) {
    for (std::size_t k = 0; k < x.size(); ++k)
        if (std::isnan(x[k])) throw core::invalid_argument("fast enclosure: input " + std::to_string(k) + " is NaN");
    return enclose_box(net, x, x, opt);
}

enclosure enclose_difference(const net::network& theta, const net::network& quant, const std::vector<double>& x, const options& opt) {
    for (std::size_t k = 0; k < x.size(); ++k)
        if (std::isnan(x[k])) throw core::invalid_argument("fast enclosure: input " + std::to_string(k) + " is NaN");
    return enclose_box_difference(theta, quant, x, x, opt);
}

namespace {

void check_pair(const net::network& theta, const net::network& quant) {
    net::check_lockstep(theta, quant, "fast pair mode");
    if (!theta.has_weights() || !quant.has_weights()) throw net::model_error("fast pair mode: a shape-only network cannot be evaluated");
}

enclosure run_pair(const net::network& theta, const net::network& quant, const std::vector<double>& lower, const std::vector<double>& upper,
                   const options& opt, const narrow_hook& narrow_for_test, const std::vector<pair_affine>* plan) {
    ball_tensor in = box_balls(lower, upper);
    if (in.mid.size() != theta.input_shape().size())
        throw net::model_error(theta.name() + ": input has " + std::to_string(in.mid.size()) + " values, expected " +
                               std::to_string(theta.input_shape().size()));
    differential_engine pass;
    pass.e.threads = thread_count(opt);
    pass.box_lower = &lower;
    pass.box_upper = &upper;
    pass.narrow_for_test = &narrow_for_test;
    pass.plan = plan;
    return pass.run(theta, quant, in);
}

}  // namespace

enclosure enclose_box_difference(const net::network& theta, const net::network& quant, const std::vector<double>& lower,
                                 const std::vector<double>& upper, const options& opt, const narrow_hook& narrow_for_test) {
    check_pair(theta, quant);
    return run_pair(theta, quant, lower, upper, opt, narrow_for_test, nullptr);
}

struct pair_pass::plan {
    std::vector<pair_affine> nodes;
};

pair_pass::pair_pass(const net::network& theta, const net::network& theta_quantized) : theta_(theta), quant_(theta_quantized) {
    check_pair(theta, theta_quantized);
    auto p = std::make_shared<plan>();
    p->nodes.resize(theta.nodes().size());
    for (std::size_t i = 0; i < theta.nodes().size(); ++i) {
        const net::node &a = theta.at(i), &aq = theta_quantized.at(i);
        if (a.kind == net::op::dense || a.kind == net::op::conv2d) p->nodes[i] = make_pair_affine(a, aq);
    }
    plan_ = std::move(p);
}

enclosure pair_pass::box(const std::vector<double>& lower, const std::vector<double>& upper, const options& opt) const {
    return run_pair(theta_, quant_, lower, upper, opt, {}, &plan_->nodes);
}

enclosure pair_pass::point(const std::vector<double>& x, const options& opt) const {
    for (std::size_t k = 0; k < x.size(); ++k)
        if (std::isnan(x[k])) throw core::invalid_argument("fast enclosure: input " + std::to_string(k) + " is NaN");
    return box(x, x, opt);
}

}  // namespace qbound::fast
