#include "qbound/verify/differential.hpp"

#include "qbound/fast/enclosure.hpp"
#include "qbound/verify/symbolic_difference.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/error_free.hpp"
#include "qbound/arith/interval_double.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <queue>

namespace qbound::verify {

using I = arith::interval_double;

input_box centered_box(std::size_t dim, double D) {
    if (!(D >= 0) || !std::isfinite(D)) throw core::invalid_argument("input box: D must be finite and >= 0");
    return {std::vector<double>(dim, -D), std::vector<double>(dim, D)};
}

namespace {

// w' - w = s + e exactly (arith::two_sum).
void split_difference(const std::vector<double>& w, const std::vector<double>& wq, std::vector<double>& s, std::vector<double>& e) {
    s.resize(w.size());
    e.resize(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
        const auto [sum, error] = arith::two_sum(wq[i], -w[i]);
        if (!std::isfinite(sum)) throw net::model_error("weight difference overflows the double range");
        s[i] = sum;
        e[i] = error;
    }
}

// d (the propagated difference) and q (aq - a) both enclose the difference of
// the two networks' values at one element, for every x in the box: their
// intersection cannot be empty; if it is, a rule is unsound (reported, never
// patched over).
I intersect(const I& d, const I& q, std::size_t node, const std::string& name, std::size_t k, const input_box& box) {
    const double lo = std::max(d.lower(), q.lower()), hi = std::min(d.upper(), q.upper());
    if (lo > hi)
        throw core::unsound_error("differential interval pass, node " + std::to_string(node) + " ('" + name + "'), element " +
                                   std::to_string(k) + ": the propagated difference " + core::interval_text(d.lower(), d.upper()) +
                                   " and the difference of the two networks' enclosures " + core::interval_text(q.lower(), q.upper()) +
                                   " do not overlap over the box " + core::box_text(box.lower, box.upper));
    return arith::make_interval(lo, hi);
}

// Difference of a monotone 1-Lipschitz map applied to u (theta') and v (theta),
// given delta = u - v: between min(0, delta) and max(0, delta); exact when
// both are in the same linear piece [lo_piece, hi_piece] with slope 1, zero
// when both are in the same flat piece.
I monotone_difference(const I& v, const I& u, const I& delta, double flat_below, double flat_above) {
    const bool both_linear = v.lower() >= flat_below && u.lower() >= flat_below && v.upper() <= flat_above && u.upper() <= flat_above;
    if (both_linear) return delta;
    const bool both_flat_low = v.upper() <= flat_below && u.upper() <= flat_below;
    const bool both_flat_high = v.lower() >= flat_above && u.lower() >= flat_above;
    if (both_flat_low || both_flat_high) return arith::make_interval(0.0);
    return arith::make_interval(std::min(0.0, delta.lower()), std::max(0.0, delta.upper()));
}

using triple = differential_values;

// The differential interval pass as a visitor on the pair walk
// (net/walk.hpp): a and aq in interval arithmetic, the node's own rule for
// the difference, then finish() intersects it with aq - a.
struct differential_pass {
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<triple>;
    const input_box& box;
    const narrow_hook& narrow_for_test;

    triple finish(const visit_t& c, triple out, std::vector<I> d) const {
        if (narrow_for_test) narrow_for_test(c.index, d);
        out.delta.resize(d.size());
        for (std::size_t k = 0; k < d.size(); ++k) out.delta[k] = intersect(d[k], out.aq[k] - out.a[k], c.index, c.n.name, k, box);
        return out;
    }

    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    triple visit(net::op_tag<K>, const visit_t& c) const {
        const net::node &n = c.n, &nq = c.paired();
        const triple& x = c.input();
        const net::shape3& in = c.input_shape();
        const auto eval = [&](const net::node& node, const std::vector<I>& input) {
            if constexpr (K == net::op::dense)
                return net::detail::eval_dense<I>(node, input);
            else
                return net::detail::eval_conv2d<I>(node, in, input);
        };
        triple out;
        out.a = eval(n, x.a);
        out.aq = eval(nq, x.aq);
        net::node quant_no_bias = nq;
        std::fill(quant_no_bias.bias.begin(), quant_no_bias.bias.end(), 0.0);
        net::node diff_hi = n, diff_lo = n;
        split_difference(n.weight, nq.weight, diff_hi.weight, diff_lo.weight);
        split_difference(n.bias, nq.bias, diff_hi.bias, diff_lo.bias);
        const auto t1 = eval(quant_no_bias, x.delta), t2 = eval(diff_hi, x.a), t3 = eval(diff_lo, x.a);
        std::vector<I> d;
        for (std::size_t k = 0; k < t1.size(); ++k) d.push_back(t1[k] + t2[k] + t3[k]);
        return finish(c, std::move(out), std::move(d));
    }
    template <net::op K>
        requires(K == net::op::relu || K == net::op::relu6)
    triple visit(net::op_tag<K>, const visit_t& c) const {
        const double top = K == net::op::relu ? std::numeric_limits<double>::infinity() : 6.0;
        const triple& x = c.input();
        triple out;
        std::vector<I> d;
        for (std::size_t k = 0; k < x.a.size(); ++k) {
            out.a.push_back(K == net::op::relu ? arith::relu(x.a[k]) : arith::relu6(x.a[k]));
            out.aq.push_back(K == net::op::relu ? arith::relu(x.aq[k]) : arith::relu6(x.aq[k]));
            d.push_back(monotone_difference(x.a[k], x.aq[k], x.delta[k], 0.0, top));
        }
        return finish(c, std::move(out), std::move(d));
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    triple visit(net::op_tag<K>, const visit_t& c) const { return c.take_input(); }
    template <net::op K>
        requires(K == net::op::avg_pool || K == net::op::global_avg_pool)
    triple visit(net::op_tag<K>, const visit_t& c) const {
        const net::node& n = c.n;
        const net::shape3& in = c.input_shape();
        const auto pool = [&](const std::vector<I>& input) {
            if constexpr (K == net::op::avg_pool)
                return net::detail::eval_pool<I>(n, in, input);
            else
                return net::detail::eval_global_avg_pool<I>(in, input);
        };
        const triple& x = c.input();
        triple out;
        out.a = pool(x.a);
        out.aq = pool(x.aq);
        return finish(c, std::move(out), pool(x.delta));
    }
    triple visit(net::op_tag<net::op::max_pool>, const visit_t& c) const {
        const net::node& n = c.n;
        const net::shape3& in = c.input_shape();
        const triple& x = c.input();
        triple out;
        out.a = net::detail::eval_pool<I>(n, in, x.a);
        out.aq = net::detail::eval_pool<I>(n, in, x.aq);
        // max(u) - max(v) lies in [min_k (u_k - v_k), max_k (u_k - v_k)] over the window.
        std::vector<double> hi, neg_lo;
        for (const auto& dk : x.delta) hi.push_back(dk.upper()), neg_lo.push_back(-dk.lower());
        const auto max_hi = net::detail::eval_pool<double>(n, in, hi), max_neg_lo = net::detail::eval_pool<double>(n, in, neg_lo);
        std::vector<I> d;
        for (std::size_t k = 0; k < max_hi.size(); ++k) d.push_back(arith::make_interval(-max_neg_lo[k], max_hi[k]));
        return finish(c, std::move(out), std::move(d));
    }
    triple visit(net::op_tag<net::op::add>, const visit_t& c) const {
        const triple &x = c.input(0), &z = c.input(1);
        triple out;
        std::vector<I> d;
        for (std::size_t k = 0; k < x.a.size(); ++k) {
            out.a.push_back(x.a[k] + z.a[k]);
            out.aq.push_back(x.aq[k] + z.aq[k]);
            d.push_back(x.delta[k] + z.delta[k]);
        }
        return finish(c, std::move(out), std::move(d));
    }
    triple visit(net::op_tag<net::op::normalize>, const visit_t& c) const {
        const net::node& n = c.n;
        const triple& x = c.input();
        triple out;
        std::vector<I> d;
        for (std::size_t k = 0; k < x.a.size(); ++k) {
            const I factor = arith::make_interval(n.norm_scale[k]) / arith::make_interval(n.norm_divisor[k]);
            const I mean = arith::make_interval(n.norm_mean[k]), offset = arith::make_interval(n.norm_offset[k]);
            out.a.push_back((x.a[k] - mean) * factor + offset);
            out.aq.push_back((x.aq[k] - mean) * factor + offset);
            d.push_back(x.delta[k] * factor);
        }
        return finish(c, std::move(out), std::move(d));
    }
};

}  // namespace

std::vector<differential_values> differential_intervals(const net::network& theta, const net::network& quant, const input_box& box,
                                                        const narrow_hook& narrow_for_test) {
    net::check_lockstep(theta, quant, "differential bound");
    if (box.lower.size() != theta.input_shape().size() || box.upper.size() != box.lower.size())
        throw core::invalid_argument("differential bound: the box has the wrong dimension");
    triple start;
    for (std::size_t k = 0; k < box.lower.size(); ++k) {
        start.a.push_back(arith::make_interval(box.lower[k], box.upper[k]));
        start.delta.push_back(arith::make_interval(0.0));
    }
    start.aq = start.a;
    const differential_pass pass{box, narrow_for_test};
    return net::walk_pair(theta, quant, std::move(start), pass, {"differential bound", false});
}

double differential_upper_bound(const net::network& theta, const net::network& quant, const input_box& box) {
    const auto v = differential_intervals(theta, quant, box);
    double bound = 0;
    for (const auto& d : v.back().delta) bound = std::max({bound, std::fabs(d.lower()), std::fabs(d.upper())});
    return bound;
}

branch_and_bound_result branch_and_bound(const net::network& theta, const net::network& quant, const input_box& box, double lower,
                                         const branch_and_bound_options& opt) {
    // Ordered by bound, ties by evaluation order (the earlier first): the
    // order of the pops depends only on the bounds, so a budget of N boxes
    // makes the same first pops as any larger budget.
    struct item {
        double bound;
        std::size_t order;
        input_box box;
        bool operator<(const item& other) const { return bound < other.bound || (bound == other.bound && order > other.order); }
    };
    const auto start = std::chrono::steady_clock::now();
    branch_and_bound_result r;
    std::priority_queue<item> open;
    const bool symbolic = symbolic_cost(theta) <= opt.symbolic_budget;
    std::optional<fast::pair_pass> pair;  // each affine node's W' - W once for all boxes
    if (!symbolic && !opt.bound_for_test) pair.emplace(theta, quant);
    // Otherwise the fast correlated pair pass: the same interval rules as
    // differential_intervals in vectorized binary64 with a-priori error
    // bounds, never looser and about 10-15x faster on CNNs.
    const auto bound_of = [&](const input_box& b) {
        if (opt.bound_for_test) return opt.bound_for_test(b);
        if (symbolic) return symbolic_difference_bound(theta, quant, b);
        const fast::enclosure e = pair->box(b.lower, b.upper);
        double bound = 0;
        for (std::size_t i = 0; i < e.lower.size(); ++i) bound = std::max({bound, std::fabs(e.lower[i]), std::fabs(e.upper[i])});
        return bound;
    };
    r.method = opt.bound_for_test ? "a test's bound" : symbolic ? "symbolic differential" : "fast differential (correlated pair pass)";
    open.push({bound_of(box), 0, box});
    r.nodes = 1;
    const auto center = [](const input_box& b) {
        std::vector<double> c(b.lower.size());
        for (std::size_t k = 0; k < c.size(); ++k) c[k] = b.lower[k] / 2 + b.upper[k] / 2;
        return c;
    };
    r.stopped_by = "exhausted";
    double dropped = 0;  // the largest bound of a dropped box (kept in the result: sound for any `lower`)
    while (!open.empty()) {
        const double upper = open.top().bound;
        if (opt.progress) opt.progress(r.nodes, upper, lower);
        if (upper - lower <= opt.target_relative_gap * upper) {
            r.stopped_by = "gap";
            break;
        }
        if (r.nodes >= opt.max_nodes) {
            r.stopped_by = "nodes";
            break;
        }
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > opt.max_seconds) {
            r.stopped_by = "time";
            break;
        }
        item top = open.top();
        open.pop();
        std::size_t dim = 0;
        double widest = -1;
        for (std::size_t k = 0; k < top.box.lower.size(); ++k)
            if (top.box.upper[k] - top.box.lower[k] > widest) widest = top.box.upper[k] - top.box.lower[k], dim = k;
        if (widest <= 0) {  // a point box cannot be split: keep it as final
            open.push(std::move(top));
            r.stopped_by = "exhausted";
            break;
        }
        const double mid = top.box.lower[dim] / 2 + top.box.upper[dim] / 2;
        input_box left = top.box, right = top.box;
        left.upper[dim] = mid;
        right.lower[dim] = mid;
        if (r.candidates.size() < opt.max_candidates) r.candidates.push_back(center(top.box));
        for (input_box* child : {&left, &right}) {
            // The parent's bound also bounds the child's sup: the queue's top never rises.
            const double b = std::min(bound_of(*child), top.bound);
            const std::size_t order = r.nodes++;
            if (b >= lower)
                open.push({b, order, std::move(*child)});
            else
                dropped = std::max(dropped, b);
        }
    }
    // The sup is attained in some box; every box is open or dropped.
    r.upper = std::max(dropped, open.empty() ? 0.0 : open.top().bound);
    // lower <= sup <= the bound of the box holding the maximizer, which is
    // never dropped: an upper below lower proves a bug.
    if (r.upper < lower)
        throw core::unsound_error("branch and bound (" + r.method + ") over the box " + core::box_text(box.lower, box.upper) +
                                   ": the certified upper bound " + core::exact_digits(r.upper) + " is below the certified lower bound " +
                                   core::exact_digits(lower) + " after " + std::to_string(r.nodes) + " boxes" +
                                   (open.empty() ? " (every box was dropped)" : ""));
    return r;
}

}  // namespace qbound::verify
