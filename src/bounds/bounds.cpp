#include "qbound/bounds/bounds.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>

namespace qbound::bounds {

using arith::rational;

bool bound_result::hypotheses_hold() const {
    return std::all_of(hypotheses.begin(), hypotheses.end(), [](const hypothesis& h) { return h.holds; });
}

namespace {

// Every formula is evaluated once, in certified ranges (certified_range.hpp):
// `hi` is the certified upper value, `lo` the certified lower value of the
// formula's exact real value. Names: rng for a range.
using rng = certified_range;

// The chain view: r_l and the widths of the main-path layers l = 1..L.
struct chain_context {
    const pair_ingredients& p;
    long bits;
    rng zero, one, D, maxD1, change;
    std::size_t L;

    chain_context(const pair_ingredients& pair, long precision)
        : p(pair), bits(precision), zero(rng::count(0, precision)), one(rng::count(1, precision)),
          D(rng::of(pair.D_effective, precision)), maxD1(rng::of(arith::max(pair.D_effective, rational(1)), precision)),
          change(rng::of(pair.max_change, precision)), L(pair.main_path.size()) {}

    rng exact(const rational& q) const { return rng::of(q, bits); }
    rng count(std::size_t n) const { return rng::count(n, bits); }

    const layer_ingredients& layer(std::size_t l) const { return p.layers[p.main_path[l - 1]]; }  // l = 1..L

    // r_1..r_L (index 0 unused) from one norm of each layer.
    std::vector<rng> r_values(const std::array<rational, 2> layer_ingredients::*norm, r_source s) const {
        std::vector<rng> r{zero};
        for (std::size_t l = 1; l <= L; ++l) {
            const auto& v = layer(l).*norm;
            r.push_back(exact(s == r_source::theta ? v[original] : arith::max(v[original], v[quantized])));
        }
        return r;
    }

    // prod_{k=a..b} r_k (1 when a > b).
    rng product(const std::vector<rng>& r, std::size_t a, std::size_t b) const {
        rng acc = one;
        for (std::size_t k = a; k <= b && k <= L; ++k) acc = acc * r[k];
        return acc;
    }

    // max_{1 <= i <= last} prod_{k=i..l-1} r_k (the forward-growth factor, step 4).
    rng head(const std::vector<rng>& r, std::size_t l, std::size_t last) const {
        rng best = zero;
        for (std::size_t i = 1; i <= last; ++i) best = max(best, product(r, i, l - 1));
        return best;
    }

    rng M(const std::vector<rng>& r, std::size_t l) const {  // A: weights only
        return product(r, l + 1, L) * (l == 1 ? one : head(r, l, l - 1));
    }
    rng M_prime(const std::vector<rng>& r, std::size_t l) const {  // A': biases quantized too
        return product(r, l + 1, L) * head(r, l, l);
    }
    rng all_but(const std::vector<rng>& r, std::size_t l) const {  // B: prod_{k != l} r_k
        return product(r, 1, l - 1) * product(r, l + 1, L);
    }
};

// value (hi) and value_lower (lo) of a bound from its one range.
void set_value(bound_result& b, const rng& v) {
    b.value = v.hi();
    b.value_lower = v.lo();
}

// C = value / ||theta - theta'|| for the per-layer forms (0 when nothing changed).
upper per_unit_change(const chain_context& c, const rng& value) {
    return c.change.lo().sign() > 0 ? (value / c.change).hi() : c.zero.hi();
}

hypothesis chain_hypothesis(const pair_ingredients& p) {
    hypothesis h{"plain chain", !p.has_residual, ""};
    if (!h.holds) h.reason = "not a plain chain: residual connections (the value is the paper's main-path reading)";
    return h;
}

hypothesis weights_only_hypothesis(const pair_ingredients& p) {
    hypothesis h{"biases shared by both networks", !p.biases_changed, ""};
    if (!h.holds) h.reason = "the biases differ between theta and theta' (use the A' or bias variants)";
    return h;
}

hypothesis no_bias_hypothesis(const pair_ingredients& p) {
    hypothesis h{"networks without biases", !p.has_biases, ""};
    if (!h.holds) h.reason = "the networks have non-zero biases (use the B-bias variants)";
    return h;
}

// For r = theta: the proofs need r_l >= the same norm of theta'.
hypothesis theta_bounds_quantized(const chain_context& c, const std::array<rational, 2> layer_ingredients::*norm,
                                  const std::string& what) {
    hypothesis h{"r_l from theta bounds " + what + " of theta'", true, ""};
    for (std::size_t l = 1; l <= c.L; ++l) {
        const auto& v = c.layer(l).*norm;
        if (v[quantized] > v[original]) {
            h.holds = false;
            h.reason = "layer " + std::to_string(l) + " ('" + c.layer(l).name + "'): " + what + " of theta' is " +
                       arith::to_decimal(v[quantized], 10) + " > " + arith::to_decimal(v[original], 10) + " of theta";
            break;
        }
    }
    return h;
}

rng total_width(const chain_context& c, const std::function<std::size_t(const layer_ingredients&)>& width) {
    rng sum = c.zero;
    for (std::size_t l = 1; l <= c.L; ++l) sum = sum + c.count(width(c.layer(l)));
    return sum;
}

// The key of a result and the names read from it (variant.hpp's table).
void set_key(bound_result& b, variant_key key) {
    b.key = key;
    b.name = to_string(key);
    b.family = to_string(key.family);
    b.source = key.r;
}

// ---- G and G-entrywise --------------------------------------------------------

bound_result bound_G(const chain_context& c, r_source s, bool entrywise) {
    bound_result b;
    set_key(b, {entrywise ? bound_family::G_entrywise : bound_family::G, s});
    b.formula = entrywise ? "max(D,1) * W * L^2 * r^(L-1) * ||theta-theta'||_inf, r = largest |entry| (r >= 1)"
                          : "max(D,1) * W * L^2 * r^(L-1) * ||theta-theta'||_inf, r = max_l rho_l (r >= 1)";
    const auto norms = c.r_values(&layer_ingredients::rho, s);
    const auto entries = c.r_values(&layer_ingredients::max_entry, s);
    rng r = c.zero, largest_norm = c.zero;
    for (std::size_t l = 1; l <= c.L; ++l) {
        r = max(r, entrywise ? entries[l] : norms[l]);
        largest_norm = max(largest_norm, norms[l]);
    }
    b.r_summary = r.hi();
    b.r_summary_name = entrywise ? "r (largest entry)" : "r (largest layer norm)";
    b.hypotheses.push_back(chain_hypothesis(c.p));
    const bool at_least_one = r.hi() >= c.one.hi();
    b.hypotheses.push_back({"r >= 1", at_least_one, at_least_one ? "" : "r must be >= 1 (r = " + scientific_up(r.hi(), 6) + ")"});
    if (entrywise) {
        const bool bounds_norms = largest_norm.hi() <= r.hi();
        b.hypotheses.push_back({"r bounds every layer's operator norm", bounds_norms,
                                bounds_norms ? "" : "the largest layer norm " + scientific_up(largest_norm.hi(), 6) +
                                                        " exceeds r: this reading of G is not what its proof needs"});
    }
    if (s == r_source::theta) b.hypotheses.push_back(theta_bounds_quantized(c, &layer_ingredients::rho, "the layer norm rho_l"));
    const rng L = c.count(c.L);
    const rng constant = c.maxD1 * c.count(c.p.width) * (L * L) * pow(r, static_cast<unsigned long>(c.L - 1));
    b.constant = constant.hi();
    set_value(b, constant * c.change);
    return b;
}

// ---- A, A' (per layer and collapsed) -----------------------------------------------

bound_result bound_A(const chain_context& c, r_source s, bool biases, bool per_layer) {
    bound_result b;
    const bound_family family = biases ? (per_layer ? bound_family::A_prime_per_layer : bound_family::A_prime_collapsed)
                                       : (per_layer ? bound_family::A_per_layer : bound_family::A_collapsed);
    set_key(b, {family, s});
    if (biases)
        b.formula = per_layer ? "max(D,1) * sum_l (N_{l-1}+1) * M'_l * max(Delta_l, Delta b_l)"
                              : "max(D,1) * sum_l (N_{l-1}+1) * max_l M'_l * ||theta-theta'||_inf";
    else
        b.formula = per_layer ? "max(D,1) * sum_l N_{l-1} * M_l * Delta_l"
                              : "max(D,1) * sum_l N_{l-1} * r_mean^(L-1) * ||theta-theta'||_inf, r_mean^(L-1) = max_l M_l";
    b.hypotheses.push_back(chain_hypothesis(c.p));
    if (!biases) b.hypotheses.push_back(weights_only_hypothesis(c.p));
    if (s == r_source::theta) b.hypotheses.push_back(theta_bounds_quantized(c, &layer_ingredients::rho, "the layer norm rho_l"));
    const auto r = c.r_values(&layer_ingredients::rho, s);
    rng largest_M = c.zero, sum = c.zero;
    for (std::size_t l = 1; l <= c.L; ++l) {
        const auto& layer = c.layer(l);
        layer_term t;
        t.layer = c.p.main_path[l - 1];
        t.width = layer.n_in + (biases ? 1 : 0);
        const rng multiplier = biases ? c.M_prime(r, l) : c.M(r, l);
        const rng delta = per_layer ? c.exact(biases ? arith::max(layer.delta_weight, layer.delta_bias) : layer.delta_weight)
                                    : c.change;
        const rng term = c.maxD1 * c.count(t.width) * (multiplier * delta);
        t.r = r[l].hi();
        t.multiplier = multiplier.hi();
        t.delta = delta.hi();
        t.term = term.hi();
        largest_M = max(largest_M, multiplier);
        sum = sum + term;
        b.terms.push_back(t);
    }
    b.r_summary_name = biases ? "r_mean' = (max_l M'_l)^(1/(L-1))" : "r_mean = (max_l M_l)^(1/(L-1))";
    b.r_summary = c.L >= 2 ? root(largest_M, static_cast<unsigned long>(c.L - 1)).hi() : c.zero.hi();
    if (per_layer) {
        set_value(b, sum);
        b.constant = per_unit_change(c, sum);
    } else {
        const rng widths = total_width(c, [biases](const layer_ingredients& l) { return l.n_in + (biases ? 1 : 0); });
        const rng constant = c.maxD1 * widths * largest_M;
        b.constant = constant.hi();
        set_value(b, constant * c.change);
    }
    return b;
}

// ---- B family (conv norms, receptive-field widths) ---------------------------------------

bound_result bound_B(const chain_context& c, r_source s, bool group_aware, bool biases) {
    bound_result b;
    const bound_family family = biases ? (group_aware ? bound_family::B_group_bias : bound_family::B_bias)
                                       : (group_aware ? bound_family::B_group : bound_family::B);
    set_key(b, {family, s});
    const std::string width = group_aware ? "p_l^2 c_{l-1} / g_l" : "p_l^2 c_{l-1}";
    b.formula = biases ? "max(D,1) * sum_l (" + width + " + 1) * max_l M'_l(r^conv) * ||theta-theta'||_inf"
                       : "D * sum_l " + width + " * r_conv^(L-1) * ||theta-theta'||_inf, r_conv^(L-1) = max_l prod_{k!=l} r^conv_k";
    b.hypotheses.push_back(chain_hypothesis(c.p));
    if (!biases) b.hypotheses.push_back(no_bias_hypothesis(c.p));
    if (s == r_source::theta)
        b.hypotheses.push_back(theta_bounds_quantized(c, &layer_ingredients::conv_norm, "the conv norm r^conv_l"));
    const auto r = c.r_values(&layer_ingredients::conv_norm, s);
    const auto count = [group_aware, biases](const layer_ingredients& l) {
        return (group_aware ? l.group_count : l.dense_count) + (biases ? 1 : 0);
    };
    rng largest = c.zero;
    const rng& scale = biases ? c.maxD1 : c.D;
    for (std::size_t l = 1; l <= c.L; ++l) {
        layer_term t;
        t.layer = c.p.main_path[l - 1];
        t.width = count(c.layer(l));
        const rng multiplier = biases ? c.M_prime(r, l) : c.all_but(r, l);
        t.r = r[l].hi();
        t.multiplier = multiplier.hi();
        t.delta = c.change.hi();
        t.term = (scale * c.count(t.width) * (multiplier * c.change)).hi();
        largest = max(largest, multiplier);
        b.terms.push_back(t);
    }
    b.r_summary_name = biases ? "r_conv' = (max_l M'_l)^(1/(L-1))" : "r_conv = (max_l prod_{k!=l} r^conv_k)^(1/(L-1))";
    b.r_summary = c.L >= 2 ? root(largest, static_cast<unsigned long>(c.L - 1)).hi() : c.zero.hi();
    const rng constant = scale * total_width(c, count) * largest;
    b.constant = constant.hi();
    set_value(b, constant * c.change);
    return b;
}

// ---- residual-aware (ours) ---------------------------------------------------------------
//
// Forward, per affine node: ||y||_inf <= max_o (s_o m + |b_o|) for y = K x + b,
// ||x||_inf <= m, with s_o = channel_row_sum: the largest absolute row sum of
// the layer's matrix over the rows of output channel o (for a conv on a small
// map with padding, smaller than the kernel sum sum |k_o|: no output pixel
// sees every tap). Exact and sound: each output entry is one row of K times x.
//
// Theorem (the README's claim). On a plain chain with shared biases,
// residual-aware[r=s] <= A-per-layer[r=s] (exact values, s = theta or max).
// Proof. Layers l = 1..L, every affine node on the chain; r_l = rho_l (s).
// Term l of residual-aware is Lip_l rows_l Delta_l m_{l-1} (Delta b_l = 0);
// term l of A is max(D,1) N_{l-1} M_l Delta_l, M_l = prod_{j>l} r_j h_l with
// h_1 = 1, h_l = max_{1<=i<=l-1} prod_{k=i}^{l-1} r_k. Compare factor by factor:
//  * Lip_l <= prod_{j>l} r_j: backward, Lip_l = prod_{j>l} ||W_j|| (ReLU,
//    pooling, flatten contribute 1) and ||W_j|| = weight_norm_j <= rho_j.
//  * rows_l <= N_{l-1}: a row of K_l has at most N_{l-1} entries.
//  * m_{l-1} <= max(D,1) h_l, m_{l-1} the forward bound on ||input of l||:
//    m_0 = D (input normalization: D_effective, as in A); ReLU, ReLU6 and
//    pooling do not increase ||.||_inf (nor m); and m_k = max_o (s_o m + |b_o|)
//    <= max_o (s_o + |b_o|) max(m, 1) = rho_k max(m_{k-1}, 1), because
//    max_o (s_o + |b_o|) is exactly rho_k (the largest row sum of [K_k | b_k];
//    r = max: max(s_o, s'_o) + |b_o| <= max(rho_k, rho'_k), biases shared).
//    By induction (step 4) m_{l-1} <= max(D,1) max_{1<=i<=l-1} prod_{k=i}^{l-1} r_k,
//    using max(D,1) >= 1; for l = 1, m_0 = D <= max(D,1) = max(D,1) h_1.
// All factors are non-negative, so each term, and the sum, is at most A's. []
// With the kernel sums sum |k_o| in place of s_o the third step fails (they
// can exceed rho_k), which is how residual-aware once exceeded A on CNN
// chains with pooling (tests/bounds/residual_vs_chain.cpp).

// Forward, per node: a bound on ||value of the node||_inf in any network
// mixing theta and theta' layers, from its inputs' bounds `m` (a visitor of
// net::dispatch).
template <class Pick>
struct norm_step {
    static constexpr net::op_set refused{net::op::batch_norm};
    const chain_context& c;
    const std::vector<std::size_t>& layer_of;
    const Pick& pick;
    const std::vector<rng>& m;
    rng six;

    rng visit(net::op_tag<net::op::input>, const net::node&, std::size_t) const { return c.exact(c.p.D); }
    rng visit(net::op_tag<net::op::normalize>, const net::node&, std::size_t) const { return c.D; }
    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    rng visit(net::op_tag<K>, const net::node& n, std::size_t i) const {
        const auto& l = c.p.layers[layer_of[i]];
        const rng& in = m[n.inputs.at(0)];
        rng best = c.zero;
        for (std::size_t o = 0; o < l.channel_row_sum[original].size(); ++o) {
            const rational row = pick({l.channel_row_sum[original][o], l.channel_row_sum[quantized][o]});
            const rational bias = pick({l.channel_abs_bias[original][o], l.channel_abs_bias[quantized][o]});
            best = max(best, c.exact(row) * in + c.exact(bias));
        }
        return best;
    }
    rng visit(net::op_tag<net::op::relu6>, const net::node& n, std::size_t) const { return min(m[n.inputs.at(0)], six); }
    rng visit(net::op_tag<net::op::add>, const net::node& n, std::size_t) const { return m[n.inputs.at(0)] + m[n.inputs.at(1)]; }
    // ReLU, identity, pooling, flatten: never increase ||.||_inf.
    template <net::op K>
        requires(K == net::op::relu || K == net::op::identity || K == net::op::max_pool || K == net::op::avg_pool ||
                 K == net::op::global_avg_pool || K == net::op::flatten)
    rng visit(net::op_tag<K>, const net::node& n, std::size_t) const { return m[n.inputs.at(0)]; }
};

bound_result bound_residual_aware(const chain_context& c, const net::network& theta, r_source s) {
    bound_result b;
    set_key(b, {bound_family::residual_aware, s});
    b.formula = "sum_j Lip_j * (rows_j * Delta_j * m_j + Delta b_j): m_j bounds ||input of j||_inf (forward, step 4), "
                "Lip_j bounds the map from j's output to the output (backward: residual block 1 + Lip(F))";
    const auto& nodes = theta.nodes();
    std::vector<std::size_t> layer_of(nodes.size(), SIZE_MAX);
    for (std::size_t i = 0; i < c.p.layers.size(); ++i) layer_of[c.p.layers[i].node] = i;
    const auto pick = [s](const std::array<rational, 2>& v) {
        return s == r_source::theta ? v[original] : arith::max(v[original], v[quantized]);
    };
    if (s == r_source::theta) {
        hypothesis h{"row sums and biases of theta bound those of theta'", true, ""};
        for (const auto& l : c.p.layers)
            for (std::size_t o = 0; o < l.channel_row_sum[original].size() && h.holds; ++o)
                if (l.channel_row_sum[quantized][o] > l.channel_row_sum[original][o] ||
                    l.channel_abs_bias[quantized][o] > l.channel_abs_bias[original][o]) {
                    h.holds = false;
                    h.reason = "layer '" + l.name + "', output channel " + std::to_string(o) + ": theta' is larger";
                }
        b.hypotheses.push_back(h);
    }
    // Forward: m[n] >= ||value of node n||_inf in any network mixing theta and theta' layers.
    std::vector<rng> m(nodes.size(), c.zero);
    const norm_step<decltype(pick)> step{c, layer_of, pick, m, c.count(6)};
    for (std::size_t i = 0; i < nodes.size(); ++i) m[i] = net::dispatch<rng>(theta, i, "the residual-aware bound", step, nodes[i], i);
    // Backward: Lip[n] bounds the Lipschitz constant of the map from node n's
    // value to the output (other branches held fixed): the sum over consumers.
    std::vector<rng> lip(nodes.size(), c.zero);
    lip.back() = c.one;
    for (std::size_t i = nodes.size(); i-- > 1;) {
        const auto& n = nodes[i];
        rng local = c.one;  // relu, relu6, identity, pooling, flatten, add: 1-Lipschitz in each input
        if (n.is_affine()) local = c.exact(pick(c.p.layers[layer_of[i]].weight_norm));
        for (std::size_t from : n.inputs) lip[from] = lip[from] + lip[i] * local;
    }
    rng sum = c.zero;
    for (std::size_t i = 0; i < c.p.layers.size(); ++i) {
        const auto& l = c.p.layers[i];
        layer_term t;
        t.layer = i;
        t.width = l.row_nonzeros;
        const rng multiplier = lip[l.node] * m[nodes[l.node].inputs.at(0)];
        const rng delta = c.exact(l.delta_weight);
        const rng term = c.count(t.width) * multiplier * delta + lip[l.node] * c.exact(l.delta_bias);
        t.r = lip[l.node].hi();
        t.multiplier = multiplier.hi();
        t.delta = delta.hi();
        t.term = term.hi();
        sum = sum + term;
        b.terms.push_back(t);
    }
    set_value(b, sum);
    b.constant = per_unit_change(c, sum);
    b.r_summary = c.zero.hi();
    return b;
}

}  // namespace

namespace {

// One variant of the pair.
bound_result evaluate_variant(const chain_context& c, const net::network& theta, variant_key k) {
    switch (k.family) {
    case bound_family::G: return bound_G(c, k.r, false);
    case bound_family::G_entrywise: return bound_G(c, k.r, true);
    case bound_family::A_per_layer: return bound_A(c, k.r, false, true);
    case bound_family::A_collapsed: return bound_A(c, k.r, false, false);
    case bound_family::A_prime_per_layer: return bound_A(c, k.r, true, true);
    case bound_family::A_prime_collapsed: return bound_A(c, k.r, true, false);
    case bound_family::B: return bound_B(c, k.r, false, false);
    case bound_family::B_group: return bound_B(c, k.r, true, false);
    case bound_family::B_bias: return bound_B(c, k.r, false, true);
    case bound_family::B_group_bias: return bound_B(c, k.r, true, true);
    case bound_family::residual_aware: return bound_residual_aware(c, theta, k.r);
    }
    throw core::invalid_argument("bound variant '" + to_string(k) + "' has no formula");
}

// Every variant, in the order of all_variants().
std::vector<bound_result> evaluate_all(const pair_ingredients& p, const net::network& theta, const bound_options& opt) {
    if (opt.precision < 64 || opt.precision > arith::max_precision_bits)
        throw core::invalid_argument("bound precision must be in [64, " + std::to_string(arith::max_precision_bits) + "] bits");
    if (p.main_path.empty()) throw net::model_error("network '" + p.original_name + "' has no affine layer: nothing to bound");
    const chain_context c(p, opt.precision);
    std::vector<bound_result> out;
    for (const variant_key& k : all_variants()) out.push_back(evaluate_variant(c, theta, k));
    return out;
}

}  // namespace

std::vector<bound_result> compute_bounds(const pair_ingredients& p, const net::network& theta, const bound_options& opt) {
    return evaluate_all(p, theta, opt);  // one evaluation: value and value_lower are the two ends of one range
}

std::vector<bound_result> compute_bounds(const net::network& theta, const net::network& quant, const bound_options& opt) {
    return compute_bounds(collect_ingredients(theta, quant, opt.D), theta, opt);
}

const bound_result& find(const std::vector<bound_result>& results, const variant_key& key) {
    const auto it = std::find_if(results.begin(), results.end(), [&](const bound_result& b) { return b.key == key; });
    if (it == results.end()) throw core::invalid_argument("bound variant '" + to_string(key) + "' is not among the results");
    return *it;
}

}  // namespace qbound::bounds
