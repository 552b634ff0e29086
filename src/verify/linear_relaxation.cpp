#include "qbound/verify/linear_relaxation.hpp"

#include "qbound/arith/error_free.hpp"
#include "qbound/arith/outward.hpp"
#include "qbound/arith/interval_double.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace qbound::verify {

namespace {
namespace linrelax {  // distinct names: the library compiles as unity batches

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double eta = arith::smallest_subnormal;

// One step up / down (arith/outward.hpp): a rounded result is within one step of the exact value.
inline double up(double x) { return arith::next_up(x); }
inline double down(double x) { return arith::next_down(x); }

// An upper bound on the exact sum of K non-negative products whose floating
// point sum (any order) is a: (a + 2K eta)(1 + 2 gamma_K), rounded upward.
inline double nonneg_bound(double a, std::size_t K) {
    if (K == 0) return a;
    const double g = fast::gamma_bound(K);
    return up(up(a + up(static_cast<double>(2 * K) * eta)) * up(1.0 + up(2.0 * g)));
}

// An upper bound on |fl(sum of K products) - exact| given a = fl(sum of the
// magnitudes of the COMPUTED products): gamma_{2K} covers the products'
// own rounding in a (|exact| <= (1 + u)|fl| + eta) as well.
inline double dot_error(double a, std::size_t K) {
    if (K == 0) return 0.0;
    const double g = fast::gamma_bound(2 * K);
    return up(up(g * nonneg_bound(a, 2 * K)) + up(static_cast<double>(4 * K) * eta));
}

enum bound_kind : std::size_t { zL = 0, zU = 1, dL = 2, dU = 3 };

// A relaxation line: value <= (or >=) az z_in + ad d_in + c, exactly in the reals.
struct line {
    double az = 0, ad = 0, c = 0;
};

// One term of an affine-like node (dense, conv, pooling, add, identity,
// normalize): z_out += w z_in, d_out += wq d_in + (s + es) z_in, where the
// real weights may differ from w (= wq) by at most r (pooling, normalize).
struct tap {
    std::size_t idx;
    double w, wq, s, es, r;
    unsigned slot;
};

enum class record_kind { none, affine, relu, constant };

struct node_state {
    std::size_t elements = 0, n1 = 0;
    std::vector<double> coef;  // (elements * 4) bounds of n1 coefficients (the last is the constant)
    std::vector<double> err, mag;
    std::vector<double> zlo, zhi, dlo, dhi, zabs, dabs;
    // For the backward pass.
    record_kind kind = record_kind::none;
    std::vector<std::size_t> start;            // affine: taps of output o in [start[o], start[o+1])
    std::vector<tap> taps;
    std::vector<double> bz, rbz, bd, rbd;       // affine constants and their radii
    std::vector<line> lines;                    // relu: 4 per element (zL, zU, dL, dU order)

    void allocate(std::size_t e, std::size_t n_plus_1) {
        elements = e;
        n1 = n_plus_1;
        coef.assign(e * 4 * n1, 0.0);
        err.assign(e * 4, 0.0);
        mag.assign(e * 4, 0.0);
        for (auto* v : {&zlo, &zhi, &dlo, &dhi, &zabs, &dabs}) v->assign(e, 0.0);
    }
    double* c(std::size_t e, std::size_t b) { return coef.data() + (e * 4 + b) * n1; }
    const double* c(std::size_t e, std::size_t b) const { return coef.data() + (e * 4 + b) * n1; }
    std::size_t at(std::size_t e, std::size_t b) const { return e * 4 + b; }
};

struct context {
    const input_box& box;
    std::size_t n;
    std::vector<double> m;  // max(|lo_j|, |hi_j|)
    double mass = 1;        // >= 1 + sum_j m_j
    bool drop = false;
    const std::vector<differential_values>& intervals;
    const net::network& theta;
};

// out = sum_t a_t B_t + constants, with the error bound of the header.
class combiner {
public:
    combiner(const context& ctx, node_state& out, std::size_t e, std::size_t b) : ctx_(ctx), out_(out), e_(e), b_(b), c_(out.c(e, b)) {
        std::fill(c_, c_ + out.n1, 0.0);
    }
    void add(double a, const node_state& s, std::size_t e, std::size_t b) {
        if (a == 0) return;
        const double* src = s.c(e, b);
        for (std::size_t j = 0; j < out_.n1; ++j) c_[j] += a * src[j];
        abs_mag_ += std::fabs(a) * s.mag[s.at(e, b)];
        err_sum_ += std::fabs(a) * s.err[s.at(e, b)];
        ++terms_;
        ++err_terms_;
    }
    void constant(double v) {
        if (v == 0) return;
        c_[out_.n1 - 1] += v;
        abs_mag_ += std::fabs(v);
        ++terms_;
    }
    // A non-negative error product x y (computed here, counted as one product).
    void extra(double x, double y) {
        if (x == 0 || y == 0 || ctx_.drop) return;
        err_sum_ += x * y;
        ++err_terms_;
    }
    void finish() {
        double a = 0;
        bool finite = true;
        for (std::size_t j = 0; j + 1 < out_.n1; ++j) {
            finite = finite && std::isfinite(c_[j]);
            a += std::fabs(c_[j]) * ctx_.m[j];
        }
        a += std::fabs(c_[out_.n1 - 1]);
        finite = finite && std::isfinite(c_[out_.n1 - 1]) && std::isfinite(a);
        double err = ctx_.drop ? err_sum_
                               : up(nonneg_bound(err_sum_, err_terms_) +
                                    up(up(fast::gamma_bound(2 * std::max<std::size_t>(terms_, 1)) * nonneg_bound(abs_mag_, 2 * terms_)) +
                                       up(static_cast<double>(4 * terms_) * eta * ctx_.mass)));
        if (!finite || !(err <= std::numeric_limits<double>::max())) {  // overflow: sound, uninformative
            std::fill(c_, c_ + out_.n1, 0.0);
            out_.err[out_.at(e_, b_)] = inf;
            out_.mag[out_.at(e_, b_)] = 0;
            return;
        }
        out_.err[out_.at(e_, b_)] = err;
        out_.mag[out_.at(e_, b_)] = nonneg_bound(a, out_.n1);
    }

private:
    const context& ctx_;
    node_state& out_;
    std::size_t e_, b_;
    double* c_;
    double abs_mag_ = 0, err_sum_ = 0;
    std::size_t terms_ = 0, err_terms_ = 0;
};

// min (lower) or max (upper) over the box of c.x + c_0, minus / plus err, rounded outward.
double concretize(const context& ctx, const double* c, double err, bool lower) {
    if (err == inf) return lower ? -inf : inf;
    double acc = c[ctx.n];
    for (std::size_t j = 0; j < ctx.n; ++j) {
        const double x = (c[j] >= 0) == lower ? ctx.box.lower[j] : ctx.box.upper[j];
        const double t = c[j] * x;
        acc = lower ? down(acc + down(t)) : up(acc + up(t));
    }
    const double r = lower ? down(acc - err) : up(acc + err);
    return std::isnan(r) ? (lower ? -inf : inf) : r;
}

void intersect(double& lo, double& hi, const arith::interval_double& known, const context& ctx, std::size_t node, std::size_t k,
               const char* what) {
    const double l = std::max(lo, known.lower()), h = std::min(hi, known.upper());
    if (l > h)
        throw core::unsound_error("linear relaxation pass, node " + std::to_string(node) + " ('" + ctx.theta.at(node).name + "'), element " +
                                  std::to_string(k) + " of " + what + ": the linear bounds give " + core::interval_text(lo, hi) +
                                  ", the interval pass " + core::interval_text(known.lower(), known.upper()) +
                                  "; they do not overlap over the box " + core::box_text(ctx.box.lower, ctx.box.upper));
    lo = l;
    hi = h;
}

// Concrete bounds of every element of s (node `node`), intersected with the interval pass.
void finish_concrete(const context& ctx, node_state& s, std::size_t node) {
    const auto& iv = ctx.intervals[node];
    std::vector<double> q(s.n1);
    for (std::size_t e = 0; e < s.elements; ++e) {
        s.zlo[e] = concretize(ctx, s.c(e, zL), s.err[s.at(e, zL)], true);
        s.zhi[e] = concretize(ctx, s.c(e, zU), s.err[s.at(e, zU)], false);
        s.dlo[e] = concretize(ctx, s.c(e, dL), s.err[s.at(e, dL)], true);
        s.dhi[e] = concretize(ctx, s.c(e, dU), s.err[s.at(e, dU)], false);
        intersect(s.zlo[e], s.zhi[e], iv.a[e], ctx, node, e, "theta");
        intersect(s.dlo[e], s.dhi[e], iv.delta[e], ctx, node, e, "the difference");
        s.zabs[e] = std::max(std::fabs(s.zlo[e]), std::fabs(s.zhi[e]));
        s.dabs[e] = std::max(std::fabs(s.dlo[e]), std::fabs(s.dhi[e]));
    }
}

// theta''s value z + d of element e: linear bounds zL + dL, zU + dU
// (joint), intersected with z's and d's concrete sums and the interval pass.
// `tmp` is scratch space of one element (allocated once per node by the caller).
std::pair<double, double> quantized_range(const context& ctx, const node_state& s, std::size_t node, std::size_t e, node_state& tmp) {
    for (std::size_t b : {zL, zU}) {
        combiner k(ctx, tmp, 0, b);
        k.add(1.0, s, e, b);
        k.add(1.0, s, e, b + 2);
        k.finish();
    }
    double lo = concretize(ctx, tmp.c(0, zL), tmp.err[0], true), hi = concretize(ctx, tmp.c(0, zU), tmp.err[1], false);
    lo = std::max(lo, down(s.zlo[e] + s.dlo[e]));
    hi = std::min(hi, up(s.zhi[e] + s.dhi[e]));
    intersect(lo, hi, ctx.intervals[node].aq[e], ctx, node, e, "theta'");
    return {lo, hi};
}

// The upper chord of max(0, v) on [l, u] (l < 0 < u): any double slope, the
// constant stepped so the line is >= 0 at l and >= u at u.
line upper_chord(double l, double u) {
    if (!std::isfinite(l) || !std::isfinite(u)) return {0, 0, inf};
    const double lambda = std::clamp(u / (u - l), 0.0, 1.0);
    return {lambda, 0, std::max(up(-(lambda * l)), up(u - down(lambda * u)))};
}

// The lower chord of min(0, d) on [l, u] (l < 0 < u), as a line in d: <= l at l, <= 0 at u.
line lower_chord_in_d(double l, double u) {
    if (!std::isfinite(l) || !std::isfinite(u)) return {0, 0, -inf};
    const double nu = std::clamp(-l / (u - l), 0.0, 1.0);
    return {0, nu, std::min(down(l - up(nu * l)), -up(nu * u))};
}

// The four relaxation lines of a ReLU element (z's lower, upper; d's lower, upper).
std::array<line, 4> relu_lines(double zl, double zu, double ql, double qu, double dl, double du) {
    std::array<line, 4> r{};
    // theta: relu(z)
    if (zl >= 0) {
        r[0] = r[1] = {1, 0, 0};
    } else if (zu <= 0) {
        r[0] = r[1] = {0, 0, 0};
    } else {
        r[0] = zu >= -zl ? line{1, 0, 0} : line{0, 0, 0};
        r[1] = upper_chord(zl, zu);
    }
    // the difference relu(z + d) - relu(z)
    const bool z_active = zl >= 0, z_inactive = zu <= 0, q_active = ql >= 0, q_inactive = qu <= 0;
    const line zero{0, 0, 0}, same_d{0, 1, 0};
    if (z_active && q_active) {
        r[2] = r[3] = same_d;
    } else if (z_inactive && q_inactive) {
        r[2] = r[3] = zero;
    } else if (z_active && q_inactive) {
        r[2] = r[3] = {-1, 0, 0};
    } else if (z_inactive && q_active) {
        r[2] = r[3] = {1, 1, 0};
    } else {
        if (dl >= 0) {
            r[3] = same_d, r[2] = zero;
        } else if (du <= 0) {
            r[3] = zero, r[2] = same_d;
        } else {
            const line chord = upper_chord(dl, du);
            r[3] = {0, chord.az, chord.c};
            r[2] = lower_chord_in_d(dl, du);
        }
        if (z_active) r[2] = same_d;
        if (q_active) r[3] = same_d;
        if (z_inactive) r[2] = zero;
        if (q_inactive) r[3] = zero;
    }
    return r;
}

// Forward bounds of an affine-like node from its taps (s.start, s.taps, constants already set).
void forward_affine(const context& ctx, node_state& s, const std::vector<const node_state*>& in) {
    for (std::size_t o = 0; o < s.elements; ++o) {
        for (std::size_t b : {zL, zU}) {
            const bool lower = b == zL;
            combiner k(ctx, s, o, b);
            for (std::size_t t = s.start[o]; t < s.start[o + 1]; ++t) {
                const tap& p = s.taps[t];
                const node_state& x = *in[p.slot];
                k.add(p.w, x, p.idx, (p.w >= 0) == lower ? zL : zU);
                k.extra(p.r, x.zabs[p.idx]);
            }
            k.constant(s.bz[o]);
            k.extra(s.rbz[o], 1.0);
            k.finish();
        }
        for (std::size_t b : {dL, dU}) {
            const bool lower = b == dL;
            combiner k(ctx, s, o, b);
            for (std::size_t t = s.start[o]; t < s.start[o + 1]; ++t) {
                const tap& p = s.taps[t];
                const node_state& x = *in[p.slot];
                k.add(p.wq, x, p.idx, (p.wq >= 0) == lower ? dL : dU);
                k.add(p.s, x, p.idx, (p.s >= 0) == lower ? zL : zU);
                k.extra(std::fabs(p.es), x.zabs[p.idx]);
                k.extra(p.r, x.dabs[p.idx]);
            }
            k.constant(s.bd[o]);
            k.extra(s.rbd[o], 1.0);
            k.finish();
        }
    }
}

// A double weight w~ for the real w = num / den, and r >= |w - w~|.
std::pair<double, double> rounded_quotient(double num, double den) {
    const double w = num / den;
    if (std::fma(w, den, -num) == 0) return {w, 0.0};
    return {w, up(up(0x1p-51 * std::fabs(w)) + eta)};
}

struct linear_walk {
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<node_state>;
    const context& ctx;

    node_state make(std::size_t outputs) const {
        node_state s;
        s.allocate(outputs, ctx.n + 1);
        s.kind = record_kind::affine;
        s.start.assign(1, 0);
        s.bz.assign(outputs, 0.0);
        s.rbz.assign(outputs, 0.0);
        s.bd.assign(outputs, 0.0);
        s.rbd.assign(outputs, 0.0);
        return s;
    }
    node_state run_affine(const visit_t& c, node_state s) const {
        std::vector<const node_state*> in;
        for (std::size_t k = 0; k < c.n.inputs.size(); ++k) in.push_back(&c.input(k));
        forward_affine(ctx, s, in);
        finish_concrete(ctx, s, c.index);
        return s;
    }

    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    node_state visit(net::op_tag<K>, const visit_t& c) const {
        const net::node &n = c.n, &nq = c.paired();
        const std::size_t outputs = n.output.size();
        node_state s = make(outputs);
        const std::size_t pixels = K == net::op::conv2d ? n.output.height * n.output.width : 1;
        const auto begin = [&](std::size_t o) {
            const std::size_t ch = o / pixels;
            s.bz[o] = n.bias[ch];
            const auto [sum, error] = arith::two_sum(nq.bias[ch], -n.bias[ch]);
            if (!std::isfinite(sum)) throw net::model_error("linear relaxation: bias difference overflows the double range");
            s.bd[o] = sum;
            s.rbd[o] = std::fabs(error);
        };
        const auto add_tap = [&](std::size_t w, std::size_t in) {
            const auto [sum, error] = arith::two_sum(nq.weight[w], -n.weight[w]);
            if (!std::isfinite(sum)) throw net::model_error("linear relaxation: weight difference overflows the double range");
            s.taps.push_back({in, n.weight[w], nq.weight[w], sum, error, 0.0, 0});
        };
        const auto end = [&](std::size_t) { s.start.push_back(s.taps.size()); };
        if constexpr (K == net::op::conv2d) {
            net::detail::for_each_conv_tap(n, c.input_shape(), begin, add_tap, end);
        } else {
            s.taps.reserve(n.weight.size());
            for (std::size_t o = 0; o < n.out_features; ++o) {
                begin(o);
                for (std::size_t k = 0; k < n.in_features; ++k) add_tap(o * n.in_features + k, k);
                end(o);
            }
        }
        return run_affine(c, std::move(s));
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    node_state visit(net::op_tag<K>, const visit_t& c) const {
        const std::size_t outputs = c.n.output.size();
        node_state s = make(outputs);
        for (std::size_t o = 0; o < outputs; ++o) {
            s.taps.push_back({o, 1.0, 1.0, 0.0, 0.0, 0.0, 0});
            s.start.push_back(s.taps.size());
        }
        return run_affine(c, std::move(s));
    }
    node_state visit(net::op_tag<net::op::add>, const visit_t& c) const {
        const std::size_t outputs = c.n.output.size();
        node_state s = make(outputs);
        for (std::size_t o = 0; o < outputs; ++o) {
            s.taps.push_back({o, 1.0, 1.0, 0.0, 0.0, 0.0, 0});
            s.taps.push_back({o, 1.0, 1.0, 0.0, 0.0, 0.0, 1});
            s.start.push_back(s.taps.size());
        }
        return run_affine(c, std::move(s));
    }
    template <net::op K>
        requires(K == net::op::avg_pool || K == net::op::global_avg_pool)
    node_state visit(net::op_tag<K>, const visit_t& c) const {
        const net::node& n = c.n;
        const net::shape3& in = c.input_shape();
        node_state s = make(n.output.size());
        const auto window = [&](const std::vector<std::size_t>& taps, double divisor) {
            const auto [w, r] = rounded_quotient(1.0, divisor);
            for (std::size_t t : taps) s.taps.push_back({t, w, w, 0.0, 0.0, r, 0});
            s.start.push_back(s.taps.size());
        };
        if constexpr (K == net::op::global_avg_pool) {
            const std::size_t hw = in.height * in.width;
            std::vector<std::size_t> taps(hw);
            for (std::size_t ch = 0; ch < in.channels; ++ch) {
                for (std::size_t k = 0; k < hw; ++k) taps[k] = ch * hw + k;
                window(taps, static_cast<double>(hw));
            }
        } else {
            net::for_each_pool_window(n, in, [&](std::size_t, const std::vector<std::size_t>& taps) { window(taps, net::pool_divisor(n, taps.size())); });
        }
        return run_affine(c, std::move(s));
    }
    node_state visit(net::op_tag<net::op::normalize>, const visit_t& c) const {
        const net::node& n = c.n;
        const std::size_t outputs = n.output.size();
        node_state s = make(outputs);
        for (std::size_t k = 0; k < outputs; ++k) {
            // (v - mean) scale / divisor + offset = f v + (offset - f mean), f = scale / divisor real.
            const auto [w, r] = rounded_quotient(n.norm_scale[k], n.norm_divisor[k]);
            s.taps.push_back({k, w, w, 0.0, 0.0, r, 0});
            s.start.push_back(s.taps.size());
            const auto f = arith::make_interval(n.norm_scale[k]) / arith::make_interval(n.norm_divisor[k]);
            const auto shift = arith::make_interval(n.norm_offset[k]) - arith::make_interval(n.norm_mean[k]) * f;
            const double mid = 0.5 * shift.lower() + 0.5 * shift.upper();
            s.bz[k] = mid;
            s.rbz[k] = std::max(up(shift.upper() - mid), up(mid - shift.lower()));
        }
        return run_affine(c, std::move(s));
    }
    node_state visit(net::op_tag<net::op::relu>, const visit_t& c) const {
        const node_state& x = c.input();
        const std::size_t from = c.n.inputs.at(0);
        node_state s;
        s.allocate(x.elements, ctx.n + 1);
        s.kind = record_kind::relu;
        s.lines.resize(4 * x.elements);
        node_state scratch;
        scratch.allocate(1, x.n1);
        for (std::size_t e = 0; e < x.elements; ++e) {
            const auto [ql, qu] = quantized_range(ctx, x, from, e, scratch);
            const auto lines = relu_lines(x.zlo[e], x.zhi[e], ql, qu, x.dlo[e], x.dhi[e]);
            for (std::size_t b = 0; b < 4; ++b) {
                const line& l = lines[b];
                s.lines[4 * e + b] = l;
                const bool lower = b == zL || b == dL;
                // The zero line: the bound stays zero. An exact copy (slope 1
                // on z or on d, no constant) keeps the input's bound as it is.
                if (l.c == 0 && l.az == 0 && l.ad == 0) continue;
                const bool copies_z = l.az == 1 && l.ad == 0, copies_d = l.az == 0 && l.ad == 1;
                if (l.c == 0 && (copies_z || copies_d)) {
                    const std::size_t from_b = copies_z ? (lower ? zL : zU) : (lower ? dL : dU);
                    std::copy(x.c(e, from_b), x.c(e, from_b) + s.n1, s.c(e, b));
                    s.err[s.at(e, b)] = x.err[x.at(e, from_b)];
                    s.mag[s.at(e, b)] = x.mag[x.at(e, from_b)];
                    continue;
                }
                combiner k(ctx, s, e, b);
                if (!std::isfinite(l.c)) {
                    k.constant(l.c);  // an infinite constant: finish() makes the bound unbounded
                    k.finish();
                    continue;
                }
                k.add(l.az, x, e, (l.az >= 0) == lower ? zL : zU);
                k.add(l.ad, x, e, (l.ad >= 0) == lower ? dL : dU);
                k.constant(l.c);
                k.finish();
            }
        }
        finish_concrete(ctx, s, c.index);
        return s;
    }
    // Max pooling, ReLU6: constant bounds from the interval pass.
    template <net::op K>
        requires(K == net::op::max_pool || K == net::op::relu6)
    node_state visit(net::op_tag<K>, const visit_t& c) const {
        const auto& iv = ctx.intervals[c.index];
        node_state s;
        s.allocate(iv.a.size(), ctx.n + 1);
        s.kind = record_kind::constant;
        for (std::size_t e = 0; e < s.elements; ++e) {
            const double v[4] = {iv.a[e].lower(), iv.a[e].upper(), iv.delta[e].lower(), iv.delta[e].upper()};
            for (std::size_t b = 0; b < 4; ++b) {
                if (std::isfinite(v[b])) {
                    s.c(e, b)[ctx.n] = v[b];
                    s.mag[s.at(e, b)] = std::fabs(v[b]);
                } else {
                    s.err[s.at(e, b)] = inf;
                }
            }
            s.zlo[e] = v[0], s.zhi[e] = v[1], s.dlo[e] = v[2], s.dhi[e] = v[3];
            s.zabs[e] = std::max(std::fabs(v[0]), std::fabs(v[1]));
            s.dabs[e] = std::max(std::fabs(v[2]), std::fabs(v[3]));
        }
        return s;
    }
};

// The backward state of one node: objective <= sum (cz z + cd d) + C + E.
struct back_node {
    std::vector<double> cz, cd, az, ad;
    std::vector<std::size_t> kz, kd;
    bool active = false;
    void activate(std::size_t e) {
        if (active) return;
        active = true;
        cz.assign(e, 0.0), cd.assign(e, 0.0), az.assign(e, 0.0), ad.assign(e, 0.0);
        kz.assign(e, 0), kd.assign(e, 0);
    }
};

struct linear_in_x {
    double bound = inf;          // certified upper bound of the objective over the box
    std::vector<double> coef;    // objective <= coef.x + constant (+ error), approximately the bound's linear function
    double constant = 0;
};

// Upper bound of sign * d_k over the box by back-substitution.
linear_in_x backward_upper(const context& ctx, const std::vector<node_state>& v, std::size_t k, double sign) {
    const auto& nodes = ctx.theta.nodes();
    const std::size_t last = nodes.size() - 1;
    std::vector<back_node> st(nodes.size());
    st[last].activate(v[last].elements);
    st[last].cd[k] = sign;
    double C = 0, E = 0;
    std::size_t e_terms = 0;
    const auto add_c = [&](double a, double b) {
        if (a == 0 || b == 0) return;
        C = up(C + up(a * b));
    };
    const auto add_e = [&](double a, double b) {
        if (a == 0 || b == 0 || ctx.drop) return;
        E += a * b;
        ++e_terms;
    };
    const auto contribute = [](back_node& p, bool on_d, std::size_t e, double v, std::size_t count) {
        if (v == 0) return;
        (on_d ? p.cd : p.cz)[e] += v;
        (on_d ? p.ad : p.az)[e] += std::fabs(v);
        (on_d ? p.kd : p.kz)[e] += count;
    };
    for (std::size_t i = last; i >= 1; --i) {
        back_node& b = st[i];
        if (!b.active) continue;
        const node_state& s = v[i];
        for (std::size_t e = 0; e < s.elements; ++e) {
            if (b.kz[e]) add_e(dot_error(b.az[e], b.kz[e]), s.zabs[e]);
            if (b.kd[e]) add_e(dot_error(b.ad[e], b.kd[e]), s.dabs[e]);
        }
        const auto& inputs = nodes[i].inputs;
        switch (s.kind) {
            case record_kind::affine:
                for (std::size_t in : inputs) st[in].activate(v[in].elements);
                for (std::size_t o = 0; o < s.elements; ++o) {
                    const double czo = b.cz[o], cdo = b.cd[o];
                    if (czo == 0 && cdo == 0) continue;
                    for (std::size_t t = s.start[o]; t < s.start[o + 1]; ++t) {
                        const tap& p = s.taps[t];
                        back_node& to = st[inputs[p.slot]];
                        const node_state& x = v[inputs[p.slot]];
                        if (czo != 0) {
                            contribute(to, false, p.idx, p.w * czo, 1);
                            add_e(std::fabs(czo) * p.r, x.zabs[p.idx]);  // two products: counted twice
                            e_terms += p.r != 0;
                        }
                        if (cdo != 0) {
                            contribute(to, false, p.idx, p.s * cdo, p.es != 0 ? 2 : 1);  // |es cd| <= u |s cd|: one more term
                            contribute(to, true, p.idx, p.wq * cdo, 1);
                            add_e(std::fabs(cdo) * p.r, x.dabs[p.idx]);
                            e_terms += p.r != 0;
                        }
                    }
                    add_c(czo, s.bz[o]);
                    add_c(cdo, s.bd[o]);
                    add_e(std::fabs(czo), s.rbz[o]);
                    add_e(std::fabs(cdo), s.rbd[o]);
                }
                break;
            case record_kind::relu: {
                const std::size_t in = inputs.at(0);
                st[in].activate(v[in].elements);
                back_node& to = st[in];
                for (std::size_t e = 0; e < s.elements; ++e) {
                    for (int side = 0; side < 2; ++side) {
                        const double cf = side == 0 ? b.cz[e] : b.cd[e];
                        if (cf == 0) continue;
                        const line& l = s.lines[4 * e + (side == 0 ? (cf >= 0 ? zU : zL) : (cf >= 0 ? dU : dL))];
                        contribute(to, false, e, cf * l.az, 1);
                        contribute(to, true, e, cf * l.ad, 1);
                        if (l.c != 0) C = up(C + up(cf * l.c));
                    }
                }
                break;
            }
            case record_kind::constant:
                for (std::size_t e = 0; e < s.elements; ++e) {
                    if (b.cz[e] != 0) C = up(C + up(b.cz[e] * (b.cz[e] >= 0 ? s.zhi[e] : s.zlo[e])));
                    if (b.cd[e] != 0) C = up(C + up(b.cd[e] * (b.cd[e] >= 0 ? s.dhi[e] : s.dlo[e])));
                }
                break;
            case record_kind::none: throw core::invalid_argument("linear relaxation: internal error, node without a record");
        }
        b = back_node{};  // release
    }
    linear_in_x r;
    r.constant = C;
    r.coef.assign(ctx.n, 0.0);
    const back_node& b0 = st[0];
    double total = C;
    if (b0.active) {
        for (std::size_t j = 0; j < ctx.n; ++j) {
            if (b0.kz[j]) add_e(dot_error(b0.az[j], b0.kz[j]), ctx.m[j]);  // d = 0 at the input: cd drops out exactly
            const double cj = b0.cz[j];
            r.coef[j] = cj;
            if (cj != 0) total = up(total + up(cj * (cj >= 0 ? ctx.box.upper[j] : ctx.box.lower[j])));
        }
    }
    total = ctx.drop ? total : up(total + nonneg_bound(E, e_terms));
    r.bound = std::isnan(total) ? inf : total;
    return r;
}

}  // namespace linrelax
}  // namespace

box_bounds linear_difference_bounds(const net::network& theta, const net::network& quant, const input_box& box, const linear_options& opt) {
    using namespace linrelax;
    const auto intervals = differential_intervals(theta, quant, box);  // checks structure and box
    context ctx{box, box.lower.size(), {}, 1.0, opt.drop_rounding_terms_for_test, intervals, theta};
    double mass = 1;
    for (std::size_t j = 0; j < ctx.n; ++j) {
        ctx.m.push_back(std::max(std::fabs(box.lower[j]), std::fabs(box.upper[j])));
        mass = up(mass + ctx.m[j]);
    }
    ctx.mass = mass;
    node_state start;
    start.allocate(ctx.n, ctx.n + 1);
    for (std::size_t j = 0; j < ctx.n; ++j) {
        start.c(j, zL)[j] = start.c(j, zU)[j] = 1.0;
        start.mag[start.at(j, zL)] = start.mag[start.at(j, zU)] = ctx.m[j];
        start.zlo[j] = box.lower[j];
        start.zhi[j] = box.upper[j];
        start.zabs[j] = ctx.m[j];
    }
    const linear_walk engine{ctx};
    const auto v = net::walk_pair(theta, quant, std::move(start), engine, {"linear relaxation bound", false});
    const std::size_t last = v.size() - 1;
    const node_state& out = v[last];
    box_bounds result;
    const std::size_t K = out.elements;
    if (opt.output != linear_options::npos && opt.output >= K)
        throw core::invalid_argument("linear relaxation pass: output " + std::to_string(opt.output) + " requested, the network has " +
                                     std::to_string(K));
    std::vector<std::vector<double>> lower_coef(K), upper_coef(K);
    std::vector<double> lower_const(K), upper_const(K);
    for (std::size_t k = 0; k < K; ++k) {
        double lo = out.dlo[k], hi = out.dhi[k];  // forward, intersected with the interval pass
        lower_coef[k].assign(out.c(k, dL), out.c(k, dL) + ctx.n);
        upper_coef[k].assign(out.c(k, dU), out.c(k, dU) + ctx.n);
        lower_const[k] = out.c(k, dL)[ctx.n];
        upper_const[k] = out.c(k, dU)[ctx.n];
        if (opt.backward && (opt.output == linear_options::npos || opt.output == k)) {
            const auto up_side = backward_upper(ctx, v, k, 1.0);
            const auto low_side = backward_upper(ctx, v, k, -1.0);
            if (up_side.bound < hi) {
                hi = up_side.bound;
                upper_coef[k] = up_side.coef;
                upper_const[k] = up_side.constant;
            }
            if (-low_side.bound > lo) {
                lo = -low_side.bound;
                for (double& c : lower_coef[k] = low_side.coef) c = -c;
                lower_const[k] = -low_side.constant;
            }
            if (lo > hi)
                throw core::unsound_error("linear relaxation pass, output " + std::to_string(k) + ": the backward bounds " +
                                          core::interval_text(-low_side.bound, up_side.bound) + " and the forward bounds " +
                                          core::interval_text(out.dlo[k], out.dhi[k]) + " do not overlap over the box " +
                                          core::box_text(box.lower, box.upper));
        }
        result.lower.push_back(lo);
        result.upper.push_back(hi);
        // Candidates: the vertex maximizing the lower bound and the one minimizing the upper bound.
        std::vector<double> xl(ctx.n), xu(ctx.n);
        double vl = lower_const[k], vu = upper_const[k];
        for (std::size_t j = 0; j < ctx.n; ++j) {
            xl[j] = lower_coef[k][j] >= 0 ? box.upper[j] : box.lower[j];
            xu[j] = upper_coef[k][j] >= 0 ? box.lower[j] : box.upper[j];
            vl += lower_coef[k][j] * xl[j];
            vu += upper_coef[k][j] * xu[j];
        }
        result.candidates.push_back(std::fabs(vl) >= std::fabs(vu) ? xl : xu);
    }
    // Split score: the smear of the chosen output, or of the one with the largest magnitude.
    std::size_t worst = opt.output == linear_options::npos ? 0 : opt.output;
    for (std::size_t k = 1; k < K && opt.output == linear_options::npos; ++k)
        if (result.magnitude(k) > result.magnitude(worst)) worst = k;
    result.split_score.assign(ctx.n, 0.0);
    if (K > 0)
        for (std::size_t j = 0; j < ctx.n; ++j)
            result.split_score[j] = (std::fabs(lower_coef[worst][j]) + std::fabs(upper_coef[worst][j])) * (box.upper[j] - box.lower[j]);
    return result;
}

}  // namespace qbound::verify
