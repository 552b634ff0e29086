#include "qbound/verify/symbolic_difference.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace qbound::verify {

namespace {

using I = arith::interval_double;

// A set of linear functions c_0 x_0 + ... + c_{d-1} x_{d-1} + c_d with
// interval coefficients (the last one is the constant).
using linear = std::vector<I>;

// lower <= value <= upper for every x in the box, with lower and upper linear.
struct bounds2 {
    linear lower, upper;
};

// theta (z), theta' (q) and the difference (d) of one node element.
struct symbolic_node {
    std::vector<bounds2> z, q, d;
};

class symbolic_pass {
public:
    explicit symbolic_pass(const input_box& box) : dim_(box.lower.size()) {
        for (std::size_t j = 0; j < dim_; ++j) x_.push_back(arith::make_interval(box.lower[j], box.upper[j]));
    }

    linear constant(const I& c) const {
        linear f(dim_ + 1, arith::make_interval(0.0));
        f[dim_] = c;
        return f;
    }
    bounds2 constant_bounds(const I& c) const { return {constant(arith::make_interval(c.lower())), constant(arith::make_interval(c.upper()))}; }

    // The interval of the values of f on the box.
    I evaluate(const linear& f) const {
        I acc = f[dim_];
        for (std::size_t j = 0; j < dim_; ++j) acc += f[j] * x_[j];
        return acc;
    }
    // Concrete enclosure of a bounded quantity, intersected with a known
    // enclosure of the same values (from the interval pass): an empty
    // intersection proves a bug, reported with the node (index, name), the
    // element, which quantity and both enclosures.
    I concretize(const bounds2& b, const I& known, std::size_t node, const std::string& name, std::size_t k, const char* what,
                 const input_box& box) const {
        const double sym_lo = evaluate(b.lower).lower(), sym_hi = evaluate(b.upper).upper();
        const double lo = std::max(sym_lo, known.lower()), hi = std::min(sym_hi, known.upper());
        if (lo > hi)
            throw core::unsound_error("symbolic differential pass, node " + std::to_string(node) + " ('" + name + "'), element " +
                                       std::to_string(k) + " of " + what + ": the symbolic bounds give " + core::interval_text(sym_lo, sym_hi) +
                                       ", the interval pass " + core::interval_text(known.lower(), known.upper()) +
                                       "; they do not overlap over the box " + core::box_text(box.lower, box.upper));
        return arith::make_interval(lo, hi);
    }

    static void add_scaled(linear& acc, const linear& f, const I& c) {
        for (std::size_t j = 0; j < acc.size(); ++j) acc[j] += c * f[j];
    }
    static linear scaled(const linear& f, const I& c) {
        linear out(f.size());
        for (std::size_t j = 0; j < f.size(); ++j) out[j] = c * f[j];
        return out;
    }
    static linear negated(const linear& f) {
        linear out(f.size());
        for (std::size_t j = 0; j < f.size(); ++j) out[j] = -f[j];
        return out;
    }
    // acc += w * value for a value in b: w >= 0 keeps the sides, w < 0 swaps them.
    static void accumulate(bounds2& acc, const bounds2& b, double w) {
        if (w == 0) return;
        const I c = arith::make_interval(w);
        add_scaled(acc.lower, w > 0 ? b.lower : b.upper, c);
        add_scaled(acc.upper, w > 0 ? b.upper : b.lower, c);
    }
    // Same with an interval weight of known sign (sign > 0: all >= 0, sign < 0: all <= 0).
    static void accumulate(bounds2& acc, const bounds2& b, const I& c, int sign) {
        if (sign == 0) return;
        add_scaled(acc.lower, sign > 0 ? b.lower : b.upper, c);
        add_scaled(acc.upper, sign > 0 ? b.upper : b.lower, c);
    }

    std::size_t dim() const { return dim_; }
    const std::vector<I>& inputs() const { return x_; }

private:
    std::size_t dim_;
    std::vector<I> x_;
};

// relu(v) for v with linear bounds b and concrete enclosure [l, u].
bounds2 relu_bounds(const symbolic_pass& s, const bounds2& b, const I& v) {
    const double l = v.lower(), u = v.upper();
    if (l >= 0) return b;
    if (u <= 0) return s.constant_bounds(arith::make_interval(0.0));
    // Chord above: relu(v) <= u (v - l) / (u - l); below: v (when u >= -l) or 0.
    const I lambda = arith::make_interval(u) / (arith::make_interval(u) - arith::make_interval(l));
    linear upper = symbolic_pass::scaled(b.upper, lambda);
    upper.back() -= lambda * arith::make_interval(l);
    linear lower = u >= -l ? b.lower : s.constant(arith::make_interval(0.0));
    return {std::move(lower), std::move(upper)};
}

// relu(z + d) - relu(z) from linear bounds of z, z' = z + d and d and their
// concrete enclosures.
bounds2 relu_difference_bounds(const symbolic_pass& s, const bounds2& z, const bounds2& q, const bounds2& d, const I& zi, const I& qi,
                               const I& di) {
    const bool z_active = zi.lower() >= 0, z_inactive = zi.upper() <= 0;
    const bool q_active = qi.lower() >= 0, q_inactive = qi.upper() <= 0;
    const bounds2 zero = s.constant_bounds(arith::make_interval(0.0));
    if (z_active && q_active) return d;
    if (z_inactive && q_inactive) return zero;
    if (z_active && q_inactive) return {symbolic_pass::negated(z.upper), symbolic_pass::negated(z.lower)};  // -z
    if (z_inactive && q_active) return q;                                                                   // z'
    const double dl = di.lower(), du = di.upper();
    // Chords of max(0, d) (above) and min(0, d) (below) on [dl, du]; the true
    // difference always lies between min(0, d) and max(0, d).
    linear upper, lower;
    if (dl >= 0) {
        upper = d.upper;
        lower = zero.lower;
    } else if (du <= 0) {
        upper = zero.upper;
        lower = d.lower;
    } else {
        const I width = arith::make_interval(du) - arith::make_interval(dl);
        const I mu = arith::make_interval(du) / width;   // max(0, d) <= mu (d - dl)
        const I nu = -arith::make_interval(dl) / width;  // min(0, d) >= nu (d - du)
        upper = symbolic_pass::scaled(d.upper, mu);
        upper.back() -= mu * arith::make_interval(dl);
        lower = symbolic_pass::scaled(d.lower, nu);
        lower.back() -= nu * arith::make_interval(du);
    }
    // One network stable sharpens a side:
    //   z active:   relu(z + d) - z >= d          q active:   z' - relu(z) <= d
    //   z inactive: relu(z + d) >= 0              q inactive: -relu(z) <= 0
    if (z_active) lower = d.lower;
    if (q_active) upper = d.upper;
    if (z_inactive) lower = zero.lower;
    if (q_inactive) upper = zero.upper;
    return {std::move(lower), std::move(upper)};
}

// The symbolic pass as a visitor on the pair walk (net/walk.hpp): linear
// rules where a node has one, else constant bounds from the interval pass.
template <class Concrete>
struct symbolic_walk {
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<symbolic_node>;
    symbolic_pass& s;
    const std::vector<differential_values>& intervals;
    const Concrete& concrete;

    // A node of `outputs` elements whose z, z' and d are all the constant 0.
    symbolic_node zeros(std::size_t outputs) const {
        const bounds2 zero = s.constant_bounds(arith::make_interval(0.0));
        symbolic_node out;
        out.z.assign(outputs, zero);
        out.q.assign(outputs, zero);
        out.d.assign(outputs, zero);
        return out;
    }

    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    symbolic_node visit(net::op_tag<K>, const visit_t& c) const {
        const net::node &n = c.n, &nq = c.paired();
        const symbolic_node& x = c.input();
        const std::size_t outputs = n.output.size();
        symbolic_node out = zeros(outputs);
        const std::size_t pixels = K == net::op::conv2d ? n.output.height * n.output.width : 1;
        std::size_t current = 0;
        const auto begin = [&](std::size_t o) {
            current = o;
            const std::size_t channel = o / pixels;
            const I b = arith::make_interval(n.bias[channel]), bq = arith::make_interval(nq.bias[channel]);
            out.z[o].lower.back() = out.z[o].upper.back() = b;
            out.q[o].lower.back() = out.q[o].upper.back() = bq;
            out.d[o].lower.back() = out.d[o].upper.back() = bq - b;
        };
        const auto tap = [&](std::size_t w, std::size_t in) {
            const double wt = n.weight[w], wq = nq.weight[w];
            symbolic_pass::accumulate(out.z[current], x.z[in], wt);
            symbolic_pass::accumulate(out.q[current], x.q[in], wq);
            // d_out += w' d + (w' - w) a: the sign of w' - w is exact from the doubles.
            symbolic_pass::accumulate(out.d[current], x.d[in], wq);
            const int sign = wq > wt ? 1 : wq < wt ? -1 : 0;
            if (sign != 0)
                symbolic_pass::accumulate(out.d[current], x.z[in], arith::make_interval(wq) - arith::make_interval(wt), sign);
        };
        if constexpr (K == net::op::conv2d) {
            net::detail::for_each_conv_tap(n, c.input_shape(), begin, tap, [](std::size_t) {});
        } else {
            for (std::size_t o = 0; o < n.out_features; ++o) {
                begin(o);
                for (std::size_t k = 0; k < n.in_features; ++k) tap(o * n.in_features + k, k);
            }
        }
        return out;
    }
    symbolic_node visit(net::op_tag<net::op::relu>, const visit_t& c) const {
        const symbolic_node& x = c.input();
        const std::size_t from = c.n.inputs.at(0);
        symbolic_node out;
        for (std::size_t k = 0; k < x.z.size(); ++k) {
            const auto [zi, qi, di] = concrete(x, from, k);
            out.z.push_back(relu_bounds(s, x.z[k], zi));
            out.q.push_back(relu_bounds(s, x.q[k], qi));
            out.d.push_back(relu_difference_bounds(s, x.z[k], x.q[k], x.d[k], zi, qi, di));
        }
        return out;
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    symbolic_node visit(net::op_tag<K>, const visit_t& c) const { return c.take_input(); }
    template <net::op K>
        requires(K == net::op::avg_pool || K == net::op::global_avg_pool)
    symbolic_node visit(net::op_tag<K>, const visit_t& c) const {
        // Linear with non-negative weights 1/divisor: average the bounds.
        const net::node& n = c.n;
        const net::shape3& in = c.input_shape();
        const symbolic_node& x = c.input();
        const std::size_t outputs = n.output.size();
        symbolic_node out = zeros(outputs);
        const auto average = [&](std::size_t o, const std::vector<std::size_t>& taps, double divisor) {
            const I w = arith::make_interval(1.0) / arith::make_interval(divisor);
            for (std::size_t t : taps) {
                symbolic_pass::accumulate(out.z[o], x.z[t], w, 1);
                symbolic_pass::accumulate(out.q[o], x.q[t], w, 1);
                symbolic_pass::accumulate(out.d[o], x.d[t], w, 1);
            }
        };
        if constexpr (K == net::op::global_avg_pool) {
            const std::size_t hw = in.height * in.width;
            std::vector<std::size_t> taps(hw);
            for (std::size_t ch = 0; ch < in.channels; ++ch) {
                for (std::size_t k = 0; k < hw; ++k) taps[k] = ch * hw + k;
                average(ch, taps, static_cast<double>(hw));
            }
        } else {
            net::for_each_pool_window(n, in, [&](std::size_t o, const std::vector<std::size_t>& taps) {
                average(o, taps, net::pool_divisor(n, taps.size()));
            });
        }
        return out;
    }
    symbolic_node visit(net::op_tag<net::op::add>, const visit_t& c) const {
        const symbolic_node& y = c.input(1);
        symbolic_node out = c.input(0);
        for (std::size_t k = 0; k < out.z.size(); ++k) {
            symbolic_pass::accumulate(out.z[k], y.z[k], 1.0);
            symbolic_pass::accumulate(out.q[k], y.q[k], 1.0);
            symbolic_pass::accumulate(out.d[k], y.d[k], 1.0);
        }
        return out;
    }
    symbolic_node visit(net::op_tag<net::op::normalize>, const visit_t& c) const {
        const net::node& n = c.n;
        const symbolic_node& x = c.input();
        symbolic_node out;
        for (std::size_t k = 0; k < x.z.size(); ++k) {
            // (v - mean) * scale / divisor + offset; the factor's sign is exact from the doubles.
            const I factor = arith::make_interval(n.norm_scale[k]) / arith::make_interval(n.norm_divisor[k]);
            const int sign = (n.norm_scale[k] > 0) == (n.norm_divisor[k] > 0) ? (n.norm_scale[k] == 0 ? 0 : 1) : -1;
            const I shift = arith::make_interval(n.norm_offset[k]) - arith::make_interval(n.norm_mean[k]) * factor;
            bounds2 z = s.constant_bounds(shift), q = z, d = s.constant_bounds(arith::make_interval(0.0));
            symbolic_pass::accumulate(z, x.z[k], factor, sign);
            symbolic_pass::accumulate(q, x.q[k], factor, sign);
            symbolic_pass::accumulate(d, x.d[k], factor, sign);
            out.z.push_back(std::move(z));
            out.q.push_back(std::move(q));
            out.d.push_back(std::move(d));
        }
        return out;
    }
    // Max pooling, ReLU6: no linear rule here; constant bounds from the interval pass.
    template <net::op K>
        requires(K == net::op::max_pool || K == net::op::relu6)
    symbolic_node visit(net::op_tag<K>, const visit_t& c) const {
        const auto& iv = intervals[c.index];
        symbolic_node out;
        for (std::size_t k = 0; k < iv.a.size(); ++k) {
            out.z.push_back(s.constant_bounds(iv.a[k]));
            out.q.push_back(s.constant_bounds(iv.aq[k]));
            out.d.push_back(s.constant_bounds(iv.delta[k]));
        }
        return out;
    }
};

}  // namespace

std::size_t symbolic_cost(const net::network& net) {
    std::size_t work = 0;
    for (const auto& n : net.nodes()) work += n.weight.size() * (n.kind == net::op::conv2d ? n.output.height * n.output.width : 1) + n.output.size();
    return work * (net.input_shape().size() + 1);
}

std::vector<arith::interval_double> symbolic_difference_enclosures(const net::network& theta, const net::network& quant,
                                                                  const input_box& box, const narrow_hook& narrow_for_test) {
    auto intervals = differential_intervals(theta, quant, box);  // checks structure and box
    if (narrow_for_test)
        for (std::size_t i = 0; i < intervals.size(); ++i) narrow_for_test(i, intervals[i].delta);
    const auto& nodes = theta.nodes();
    symbolic_pass s(box);
    const std::size_t dim = s.dim();
    std::vector<symbolic_node> v(nodes.size());
    for (std::size_t j = 0; j < dim; ++j) {
        linear xj = s.constant(arith::make_interval(0.0));
        xj[j] = arith::make_interval(1.0);
        v[0].z.push_back({xj, xj});
        v[0].d.push_back(s.constant_bounds(arith::make_interval(0.0)));
    }
    v[0].q = v[0].z;
    // Concrete enclosures: symbolic bounds intersected with the interval pass.
    const auto concrete = [&](const symbolic_node& sn, std::size_t node, std::size_t k) {
        const auto& iv = intervals[node];
        const std::string& name = nodes[node].name;
        return std::array<I, 3>{s.concretize(sn.z[k], iv.a[k], node, name, k, "theta", box),
                                s.concretize(sn.q[k], iv.aq[k], node, name, k, "theta'", box),
                                s.concretize(sn.d[k], iv.delta[k], node, name, k, "the difference", box)};
    };
    const symbolic_walk<decltype(concrete)> engine{s, intervals, concrete};
    v = net::walk_pair(theta, quant, std::move(v[0]), engine, {"symbolic differential bound", true});
    const std::size_t last = nodes.size() - 1;
    std::vector<arith::interval_double> result;
    for (std::size_t k = 0; k < v[last].d.size(); ++k)
        result.push_back(s.concretize(v[last].d[k], intervals[last].delta[k], last, nodes[last].name, k, "the difference", box));
    return result;
}

std::vector<double> symbolic_difference_bounds(const net::network& theta, const net::network& quant, const input_box& box) {
    std::vector<double> result;
    for (const auto& d : symbolic_difference_enclosures(theta, quant, box))
        result.push_back(std::max(std::fabs(d.lower()), std::fabs(d.upper())));
    return result;
}

double symbolic_difference_bound(const net::network& theta, const net::network& quant, const input_box& box) {
    const auto b = symbolic_difference_bounds(theta, quant, box);
    return b.empty() ? 0.0 : *std::max_element(b.begin(), b.end());
}

}  // namespace qbound::verify
