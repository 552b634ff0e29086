#include "qbound/net/rescale.hpp"

#include "qbound/arith/exact_sum.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <set>
#include <span>
#include <string>

namespace qbound::net {

namespace {

std::string describe(const node& n) { return "'" + n.name + "' (" + std::string(to_string(n.kind)) + ")"; }

// readers[i]: the nodes that read node i (once per input slot).
std::vector<std::vector<std::size_t>> readers_of(const network& net) {
    std::vector<std::vector<std::size_t>> readers(net.nodes().size());
    for (std::size_t j = 0; j < net.nodes().size(); ++j)
        for (std::size_t i : net.at(j).inputs) readers.at(i).push_back(j);
    return readers;
}

// One step on the way from an affine node to its partner (a visitor of
// dispatch): true at the partner (the next affine node), false through a
// node that commutes with a positive per-channel scale, else throws naming
// the node and why.
struct partner_step {
    const std::string& what;

    template <op K>
        requires(K == op::dense || K == op::conv2d)
    bool visit(op_tag<K>, const node&) const { return true; }
    template <op K>
        requires(K == op::relu || K == op::identity || K == op::max_pool || K == op::avg_pool || K == op::global_avg_pool ||
                 K == op::flatten)
    bool visit(op_tag<K>, const node&) const { return false; }
    bool visit(op_tag<op::relu6>, const node& n) const {
        throw model_error(what + ": " + describe(n) +
                          " lies before the next affine layer, and ReLU6 is not positively homogeneous "
                          "(min(max(t/s, 0), 6) s != min(max(t, 0), 6) when t > 6 or t/s > 6)");
    }
    bool visit(op_tag<op::add>, const node& n) const {
        throw model_error(what + ": " + describe(n) + " is a residual add; its other branch would not be rescaled");
    }
    bool visit(op_tag<op::batch_norm>, const node& n) const {
        throw model_error(what + ": " + describe(n) + " must be folded first (fold_batch_norm)");
    }
    template <op K>
        requires(K == op::normalize || K == op::input)
    bool visit(op_tag<K>, const node& n) const {
        throw model_error(what + ": " + describe(n) + " is not a per-channel positively homogeneous node");
    }
};

std::size_t find_partner(const network& net, std::size_t a, const std::vector<std::vector<std::size_t>>& readers) {
    if (a >= net.nodes().size()) throw model_error(net.name() + ": no node " + std::to_string(a) + " to rescale");
    const node& A = net.at(a);
    const std::string what = net.name() + ": cannot rescale " + describe(A);
    if (!A.is_affine()) throw model_error(what + ": not a dense or conv2d node");
    if (!net.has_weights()) throw model_error(what + ": a shape-only network has no weights");
    const partner_step step{what};
    std::size_t current = a;
    for (;;) {
        const auto& next = readers[current];
        if (next.empty())
            throw model_error(what + ": " + (current == a ? std::string("it is the output layer") : describe(net.at(current)) + " is the output") +
                              ", no later affine layer can compensate");
        if (next.size() > 1) {
            std::string list;
            for (std::size_t j : next) list += (list.empty() ? "" : ", ") + describe(net.at(j));
            throw model_error(what + ": fan-out, " + describe(net.at(current)) + " is read by " + std::to_string(next.size()) +
                              " nodes (" + list + "); one layer cannot compensate");
        }
        if (dispatch<bool>(net, next[0], "rescaling", step, net.at(next[0]))) return next[0];
        current = next[0];
    }
}

// Which weights of A and B a channel of A's output touches.
struct pair_layout {
    std::size_t first = 0, second = 0, channels = 0;
    std::size_t filter_size = 0;                         // A's filter c: weight[c * filter_size, (c + 1) * filter_size)
    std::vector<std::vector<std::size_t>> partner_taps;  // B's weights reading channel c
};

pair_layout layout_of(const network& net, std::size_t a, std::size_t b) {
    const node& A = net.at(a);
    const node& B = net.at(b);
    pair_layout p;
    p.first = a;
    p.second = b;
    p.channels = A.out_features;
    p.filter_size = A.weight.size() / A.out_features;
    p.partner_taps.resize(p.channels);
    const shape3 in = net.at(B.inputs.at(0)).output;  // B's input; channel c of A spans `block` of its channels
    if (in.channels % p.channels != 0)
        throw model_error(net.name() + ": internal: " + describe(B) + " input " + to_string(in) + " does not split into " +
                          std::to_string(p.channels) + " channels of " + describe(A));
    const std::size_t block = in.channels / p.channels, plane = in.height * in.width;
    if (B.kind == op::dense) {
        const std::size_t cols = block * plane;
        for (std::size_t c = 0; c < p.channels; ++c)
            for (std::size_t o = 0; o < B.out_features; ++o)
                for (std::size_t k = c * cols; k < (c + 1) * cols; ++k) p.partner_taps[c].push_back(o * B.in_features + k);
    } else {
        const auto& g = B.conv;
        const std::size_t in_per_group = in.channels / g.groups, out_per_group = B.out_features / g.groups;
        const std::size_t taps = g.kernel_h * g.kernel_w;
        for (std::size_t c = 0; c < p.channels; ++c)
            for (std::size_t ch = c * block; ch < (c + 1) * block; ++ch) {
                const std::size_t group = ch / in_per_group, ic = ch % in_per_group;
                for (std::size_t o = group * out_per_group; o < (group + 1) * out_per_group; ++o)
                    for (std::size_t t = 0; t < taps; ++t) p.partner_taps[c].push_back((o * in_per_group + ic) * taps + t);
            }
    }
    return p;
}

// The exponents e for which w * 2^(direction * e) is exact (a finite double,
// no bit lost below 2^-1074) form an interval; intersect [lo, hi] with it.
void restrict_to_exact(double w, int direction, int& lo, int& hi) {
    if (w == 0) return;
    int E = 0;
    const double f = std::frexp(w, &E);  // |w| = |f| 2^E, |f| in [1/2, 1)
    const auto mantissa = static_cast<std::uint64_t>(std::ldexp(std::fabs(f), 53));
    const int lowest_bit = E - 53 + std::countr_zero(mantissa);  // w = odd * 2^lowest_bit
    // w * 2^k exact  <=>  -1074 - lowest_bit <= k <= 1024 - E
    const int k_lo = -1074 - lowest_bit, k_hi = 1024 - E;
    if (direction > 0) {
        lo = std::max(lo, k_lo);
        hi = std::min(hi, k_hi);
    } else {
        lo = std::max(lo, -k_hi);
        hi = std::min(hi, -k_lo);
    }
}

// The integer nearest to log2 sqrt(r1 / r2), ties toward zero, from exact
// comparisons (r1, r2 > 0).
int balancing_exponent(double r1, double r2) {
    int e1 = 0, e2 = 0;
    const double m1 = std::frexp(r1, &e1), m2 = std::frexp(r2, &e2);
    const int E = e1 - e2 - (m1 >= m2 ? 0 : 1);  // r1 / r2 in [2^E, 2^(E+1))
    if (E % 2 == 0) return E / 2;
    const int k = (E - 1) / 2;  // E = 2k + 1: log2 sqrt in [k + 1/2, k + 1)
    const bool tie = m1 == m2;  // r1 / r2 = 2^E exactly: log2 sqrt = k + 1/2
    return tie && k >= 0 ? k : k + 1;
}

double max_abs(const std::vector<double>& v, std::size_t begin, std::size_t end) {
    double best = 0;
    for (std::size_t k = begin; k < end; ++k) best = std::max(best, std::fabs(v[k]));
    return best;
}

struct channel_ranges {
    double first = 0, second = 0;
};

channel_ranges ranges_of(const network& net, const pair_layout& p, std::size_t c) {
    channel_ranges r;
    r.first = max_abs(net.at(p.first).weight, c * p.filter_size, (c + 1) * p.filter_size);
    const auto& wb = net.at(p.second).weight;
    for (std::size_t k : p.partner_taps[c]) r.second = std::max(r.second, std::fabs(wb[k]));
    return r;
}

arith::rational imbalance_of(const network& net, const pair_layout& p) {
    arith::rational worst = 1;
    for (std::size_t c = 0; c < p.channels; ++c) {
        const auto r = ranges_of(net, p, c);
        if (r.first == 0 || r.second == 0) continue;
        const arith::rational q = arith::to_rational(r.first) / arith::to_rational(r.second);
        worst = std::max(worst, std::max(q, 1 / q));
    }
    return worst;
}

// Dense rows and conv output channels alike: max_o (sum |w_o| (+ |b_o|)).
void norms_of(const node& n, arith::rational& rho, arith::rational& weight_norm) {
    const std::size_t per_row = n.weight.size() / n.out_features;
    rho = 0;
    weight_norm = 0;
    for (std::size_t o = 0; o < n.out_features; ++o) {
        const arith::rational row = arith::exact_abs_sum(std::span<const double>(n.weight).subspan(o * per_row, per_row), "weight");
        weight_norm = arith::max(weight_norm, row);
        rho = arith::max(rho, row + arith::abs(arith::to_rational(n.bias[o], "bias")));
    }
}

}  // namespace

std::size_t rescaling_partner(const network& net, std::size_t first_affine_node) {
    return find_partner(net, first_affine_node, readers_of(net));
}

void rescale_layer_pair(network& net, std::size_t first_affine_node, const std::vector<double>& s) {
    const std::size_t b = rescaling_partner(net, first_affine_node);
    const pair_layout p = layout_of(net, first_affine_node, b);
    const node& A = net.at(p.first);
    const std::string what = net.name() + ": rescaling " + describe(A);
    if (s.size() != p.channels)
        throw model_error(what + ": " + std::to_string(s.size()) + " scales given for " + std::to_string(p.channels) + " channels");
    for (std::size_t c = 0; c < s.size(); ++c)
        if (!std::isfinite(s[c]) || !(s[c] > 0))
            throw model_error(what + ": scale " + std::to_string(c) + " is " + std::to_string(s[c]) +
                              "; scales must be finite and positive (ReLU commutes only with positive scales)");
    std::vector<double> wa = A.weight, ba = A.bias, wb = net.at(b).weight;
    for (std::size_t c = 0; c < p.channels; ++c) {
        for (std::size_t k = c * p.filter_size; k < (c + 1) * p.filter_size; ++k) wa[k] /= s[c];
        ba[c] /= s[c];
        for (std::size_t k : p.partner_taps[c]) wb[k] *= s[c];
    }
    auto all_finite = [](const std::vector<double>& v) { return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }); };
    if (!all_finite(wa) || !all_finite(ba) || !all_finite(wb))
        throw model_error(what + " and " + describe(net.at(b)) + ": a rescaled weight overflows");
    net.set_weights(p.first, std::move(wa));
    net.set_bias(p.first, std::move(ba));
    net.set_weights(b, std::move(wb));
}

cle_report cross_layer_equalization(network& net, const cle_options& options) {
    if (!net.has_weights()) throw model_error(net.name() + ": cross-layer equalization needs weights (shape-only network)");
    if (options.max_exponent < 0) throw model_error(net.name() + ": cle max_exponent must be >= 0");
    for (const auto& n : net.nodes())
        if (n.kind == op::batch_norm) throw model_error(net.name() + ": " + describe(n) + " must be folded before equalization (fold_batch_norm)");
    check_finite_weights(net);

    cle_report report;
    const auto readers = readers_of(net);
    std::vector<pair_layout> layouts;
    for (std::size_t i = 0; i < net.nodes().size(); ++i) {
        const node& n = net.at(i);
        if (!n.is_affine()) continue;
        cle_layer_norms norms;
        norms.node = i;
        norms.name = n.name;
        norms_of(n, norms.rho_before, norms.weight_norm_before);
        report.layers.push_back(std::move(norms));
        try {
            layouts.push_back(layout_of(net, i, find_partner(net, i, readers)));
        } catch (const model_error& e) {
            report.unpaired.emplace_back(e.what());
        }
    }
    std::vector<std::set<std::size_t>> limited(layouts.size());
    for (const auto& p : layouts) {
        cle_pair pair;
        pair.first = p.first;
        pair.second = p.second;
        pair.exponents.assign(p.channels, 0);
        pair.imbalance_before = imbalance_of(net, p);
        report.pairs.push_back(std::move(pair));
    }

    while (report.sweeps < options.max_sweeps && !report.converged) {
        ++report.sweeps;
        bool changed = false;
        for (std::size_t q = 0; q < layouts.size(); ++q) {
            const pair_layout& p = layouts[q];
            const std::span<double> a_weight = net.weights(p.first), a_bias = net.bias(p.first), b_weight = net.weights(p.second);
            auto& total = report.pairs[q].exponents;
            for (std::size_t c = 0; c < p.channels; ++c) {
                const auto r = ranges_of(net, p, c);
                if (r.first == 0 || r.second == 0) continue;
                const int wanted = balancing_exponent(r.first, r.second);
                if (wanted == 0) continue;
                int lo = -options.max_exponent - total[c], hi = options.max_exponent - total[c];
                for (std::size_t k = c * p.filter_size; k < (c + 1) * p.filter_size; ++k) restrict_to_exact(a_weight[k], -1, lo, hi);
                restrict_to_exact(a_bias[c], -1, lo, hi);
                for (std::size_t k : p.partner_taps[c]) restrict_to_exact(b_weight[k], +1, lo, hi);
                const int e = std::clamp(wanted, lo, hi);  // lo <= 0 <= hi: e = 0 always qualifies
                if (e != wanted) limited[q].insert(c);
                if (e == 0) continue;
                for (std::size_t k = c * p.filter_size; k < (c + 1) * p.filter_size; ++k) a_weight[k] = std::ldexp(a_weight[k], -e);
                a_bias[c] = std::ldexp(a_bias[c], -e);
                for (std::size_t k : p.partner_taps[c]) b_weight[k] = std::ldexp(b_weight[k], e);
                total[c] += e;
                changed = true;
            }
        }
        report.converged = !changed;
    }

    for (std::size_t q = 0; q < layouts.size(); ++q) {
        auto& pair = report.pairs[q];
        pair.imbalance_after = imbalance_of(net, layouts[q]);
        pair.limited_channels = limited[q].size();
        for (std::size_t c = 0; c < layouts[q].channels; ++c) {
            const auto r = ranges_of(net, layouts[q], c);
            pair.skipped_channels += r.first == 0 || r.second == 0;
        }
    }
    for (auto& norms : report.layers) norms_of(net.at(norms.node), norms.rho_after, norms.weight_norm_after);
    return report;
}

}  // namespace qbound::net
