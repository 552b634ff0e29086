#include "qbound/verify/shrink.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/walk.hpp"
#include "qbound/verify/case_file.hpp"
#include "qbound/verify/differential.hpp"
#include "qbound/verify/search.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <span>

namespace qbound::verify {

case_size size_of(const net::network& theta) {
    case_size s;
    s.inputs = theta.input_shape().size();
    s.parameters = theta.parameter_count();
    for (std::size_t i = 0; i < theta.nodes().size(); ++i) {
        const auto& n = theta.nodes()[i];
        if (!n.is_affine()) continue;
        ++s.layers;
        if (i != theta.output_index()) s.hidden_units += n.output.size();
        for (double w : n.weight) s.nonzero_parameters += w != 0;
        for (double b : n.bias) s.nonzero_parameters += b != 0;
    }
    return s;
}

namespace {

// Both networks share the graph; every structural edit is applied to both.
struct pair_case {
    net::network theta, quant;
    arith::rational D;
    std::vector<double> x;  // the current witness (a hint for the candidate)
};

// The node lists of a pair under graph surgery (every structural edit is
// applied to both) and the witness, turned back into a pair by rebuild,
// through network::from_nodes, which checks every invariant.
struct pair_draft {
    std::vector<net::node> a, b;
    std::vector<double> x;
};

pair_draft draft_of(const pair_case& c) { return {c.theta.nodes(), c.quant.nodes(), c.x}; }

// The edited pair; nullopt when the edit broke an invariant (not a candidate).
std::optional<pair_case> rebuild(const pair_case& from, pair_draft d) {
    try {
        return pair_case{net::network::from_nodes(from.theta.name(), std::move(d.a), from.theta.has_weights()),
                         net::network::from_nodes(from.quant.name(), std::move(d.b), from.quant.has_weights()), from.D, std::move(d.x)};
    } catch (const net::model_error&) {
        return std::nullopt;
    }
}

// What a candidate generator gives for index k: the end of its list, a
// candidate skipped without evaluation (its shapes do not fit, or it changes
// nothing), a malformed one (an edit that broke an invariant: counted as
// tried, as the evaluation of a malformed pair would be), or a pair.
struct candidate {
    bool end = false;
    bool malformed = false;
    std::optional<pair_case> pair;
};
candidate end_of_list() { return {true, false, std::nullopt}; }
candidate skipped() { return {false, false, std::nullopt}; }
candidate of(std::optional<pair_case> c) {
    const bool malformed = !c;
    return {false, malformed, std::move(c)};
}

bool is_vector(const net::shape3& s) { return s.height == 1 && s.width == 1; }

// The operators of the graphs the structural edits apply to.
constexpr net::op_set vector_ops{net::op::input, net::op::dense, net::op::relu, net::op::relu6, net::op::identity, net::op::flatten, net::op::add};

// Networks of dense layers, activations, flattens of vectors and additions.
bool vector_graph(const net::network& m) {
    for (const auto& n : m.nodes())
        if (!vector_ops.contains(n.kind) || !is_vector(n.output)) return false;
    return true;
}

// Node i's shape re-derived after an edit (a visitor of net::dispatch on
// vector graphs only): false when an addition's operands no longer match.
struct shape_fix {
    static constexpr net::op_set refused{net::op::input,    net::op::conv2d,          net::op::batch_norm, net::op::max_pool,
                                         net::op::avg_pool, net::op::global_avg_pool, net::op::normalize};
    std::vector<net::node>& a;
    std::vector<net::node>& b;

    // Dense layers whose input width changed get their columns truncated or
    // zero-padded (the same in both networks).
    bool visit(net::op_tag<net::op::dense>, std::size_t i) {
        const std::size_t in = a[a[i].inputs.at(0)].output.size();
        if (in != a[i].in_features) {
            for (auto* m : {&a[i], &b[i]}) {
                std::vector<double> w(m->out_features * in, 0.0);
                for (std::size_t o = 0; o < m->out_features; ++o)
                    for (std::size_t j = 0; j < std::min(in, m->in_features); ++j) w[o * in + j] = m->weight[o * m->in_features + j];
                m->weight = std::move(w);
                m->in_features = in;
            }
        }
        return true;
    }
    bool visit(net::op_tag<net::op::add>, std::size_t i) {
        if (a[a[i].inputs.at(1)].output.size() != a[a[i].inputs.at(0)].output.size()) return false;
        return preserve(i);
    }
    template <net::op K>
        requires(K == net::op::relu || K == net::op::relu6 || K == net::op::identity || K == net::op::flatten)
    bool visit(net::op_tag<K>, std::size_t i) { return preserve(i); }

    // The output is a vector of the input's size.
    bool preserve(std::size_t i) {
        a[i].output = {a[a[i].inputs.at(0)].output.size(), 1, 1};
        b[i].output = a[i].output;
        return true;
    }
};

bool fix_shapes(pair_draft& d) {
    shape_fix fix{d.a, d.b};
    for (std::size_t i = 1; i < d.a.size(); ++i)
        if (!net::dispatch_kind<bool>(d.a[i].kind, "shrink", fix, i)) return false;
    return true;
}

// Consumers of `from` read `to` instead; nodes no longer reaching the output
// are removed and the rest renumbered.
void bypass(pair_draft& d, std::size_t from, std::size_t to) {
    for (auto* m : {&d.a, &d.b}) {
        auto& nodes = *m;
        for (std::size_t j = from + 1; j < nodes.size(); ++j)
            for (auto& in : nodes[j].inputs)
                if (in == from) in = to;
        std::vector<bool> live(nodes.size(), false);
        live[0] = live.back() = true;
        for (std::size_t j = nodes.size(); j-- > 0;)
            if (live[j])
                for (auto in : nodes[j].inputs) live[in] = true;
        std::vector<std::size_t> index(nodes.size(), 0);
        std::vector<net::node> kept;
        for (std::size_t j = 0; j < nodes.size(); ++j) {
            if (!live[j]) continue;
            index[j] = kept.size();
            kept.push_back(std::move(nodes[j]));
            for (auto& in : kept.back().inputs) in = index[in];
        }
        nodes = std::move(kept);
    }
}

// Union-find over nodes: nodes whose features are the same units (an
// activation and its input, the operands of an addition) share a class.
std::vector<std::size_t> unit_classes(const net::network& m) {
    std::vector<std::size_t> parent(m.nodes().size());
    std::iota(parent.begin(), parent.end(), std::size_t{0});
    const auto find = [&](std::size_t i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    };
    for (std::size_t i = 1; i < m.nodes().size(); ++i) {
        const auto& n = m.nodes()[i];
        if (n.kind == net::op::dense) continue;
        for (auto in : n.inputs) parent[find(in)] = find(i);
    }
    std::vector<std::size_t> cls(parent.size());
    for (std::size_t i = 0; i < parent.size(); ++i) cls[i] = find(i);
    return cls;
}

// Removes units [first, first + count) of class `cls` everywhere.
void remove_units(pair_draft& d, const std::vector<std::size_t>& classes, std::size_t cls, std::size_t first, std::size_t count) {
    const auto erase_range = [&](std::vector<double>& v, std::size_t at, std::size_t n) {
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + n));
    };
    for (auto* m : {&d.a, &d.b}) {
        auto& nodes = *m;
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            auto& n = nodes[i];
            if (n.kind == net::op::dense && classes[n.inputs[0]] == cls) {
                for (std::size_t o = n.out_features; o-- > 0;) erase_range(n.weight, o * n.in_features + first, count);
                n.in_features -= count;
            }
            if (classes[i] != cls) continue;
            n.output.channels -= count;
            if (n.kind == net::op::dense) {
                erase_range(n.weight, first * n.in_features, count * n.in_features);
                erase_range(n.bias, first, count);
                n.out_features -= count;
            }
        }
    }
    if (classes[0] == cls) d.x.erase(d.x.begin() + static_cast<std::ptrdiff_t>(first), d.x.begin() + static_cast<std::ptrdiff_t>(first + count));
}

// v rounded to `bits` significant bits (1: a power of two), ties away from zero.
double round_significant(double v, int bits) {
    if (v == 0 || !std::isfinite(v)) return v;
    int e = 0;
    const double m = std::frexp(v, &e);  // |m| in [1/2, 1)
    return std::ldexp(std::round(std::ldexp(m, bits)), e - bits);
}

// w -> s(w), w' -> s(w) + s(w' - w) over the chosen layers' weights (and biases).
template <class Simplify>
void simplify_pair(pair_case& c, std::optional<std::size_t> only_node, bool biases, Simplify s) {
    for (std::size_t i : c.theta.affine_nodes()) {
        if (only_node && *only_node != i) continue;
        const auto apply = [&](std::span<double> w, std::span<double> wq) {
            const double scale = std::accumulate(w.begin(), w.end(), 0.0, [](double m, double v) { return std::max(m, std::abs(v)); });
            for (std::size_t k = 0; k < w.size(); ++k) {
                const double delta = wq[k] - w[k];
                w[k] = s(w[k], scale);
                wq[k] = w[k] + s(delta, 0.0);
            }
        };
        apply(c.theta.weights(i), c.quant.weights(i));
        if (biases) apply(c.theta.bias(i), c.quant.bias(i));
    }
}

bool same_weights(const pair_case& p, const pair_case& q) {
    if (p.theta.nodes().size() != q.theta.nodes().size()) return false;
    for (std::size_t i = 0; i < p.theta.nodes().size(); ++i) {
        const auto &a = p.theta.nodes()[i], &b = q.theta.nodes()[i], &aq = p.quant.nodes()[i], &bq = q.quant.nodes()[i];
        if (a.weight != b.weight || a.bias != b.bias || aq.weight != bq.weight || aq.bias != bq.bias) return false;
    }
    return true;
}

class shrinker {
public:
    shrinker(const std::string& bound, const shrink_options& opt)
        : bound_(bounds::parse_variant(bound)), opt_(opt), rng_(opt.seed), start_(std::chrono::steady_clock::now()) {}

    bool exhausted() const {
        return candidates_ >= opt_.max_candidates ||
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() > opt_.max_seconds;
    }
    std::size_t candidates() const { return candidates_; }

    // The certified witness when `c` violates the variant, else nothing.
    // Candidates whose previous witness no longer violates get a short search (`search`).
    std::optional<std::pair<point_difference, bool>> violation(pair_case& c, bool count = true, bool search = true) {
        if (count) ++candidates_;
        try {
            bounds::bound_options bopt;
            bopt.D = c.D;
            const auto all = bounds::compute_bounds(c.theta, c.quant, bopt);
            const bounds::bound_result& target = bounds::find(all, bound_);
            const arith::rational limit = target.value.to_rational();
            const std::size_t d = c.theta.input_shape().size();
            const double inside = arith::round_to_double(c.D, MPFR_RNDD);
            std::vector<double> hint = c.x;
            hint.resize(d, inside);
            for (auto& v : hint) v = std::clamp(v, -inside, inside);
            point_difference p = certify_difference(c.theta, c.quant, hint, opt_.certify_bits);
            if (p.lower > limit) return std::make_pair(std::move(p), target.hypotheses_hold());
            if (!search) return std::nullopt;
            search_options s;
            s.random_samples = 32;
            s.vertex_restarts = 4;
            s.max_passes = 4;
            s.gradient_starts = 2;
            s.gradient_steps = 30;
            s.max_seconds = 600;  // the counts above decide (reproducible)
            s.seed = rng_();
            const search_result found = search_worst_case(c.theta, c.quant, centered_box(d, inside), s, {hint});
            p = certify_difference(c.theta, c.quant, found.best_x, opt_.certify_bits);
            if (p.lower > limit) return std::make_pair(std::move(p), target.hypotheses_hold());
        } catch (const core::unsound_error&) {
            throw;  // two certified values contradict each other: a bug, never a rejected candidate
        } catch (const std::exception&) {
            // A malformed candidate (e.g. a layer left without inputs) is simply not kept.
        }
        return std::nullopt;
    }

    // Tries the candidates in order; keeps the first that still violates.
    template <class Candidates>
    bool first_violating(pair_case& current, point_difference& witness, bool& hypotheses, Candidates&& make) {
        for (std::size_t k = 0;; ++k) {
            if (exhausted()) return false;
            candidate made = make(k);
            if (made.end) return false;  // no more candidates
            if (made.malformed) ++candidates_;
            if (!made.pair) continue;    // skipped, or malformed
            std::optional<pair_case>& cand = made.pair;
            if (auto v = violation(*cand)) {
                cand->x = v->first.x;
                current = std::move(*cand);
                witness = std::move(v->first);
                hypotheses = v->second;
                return true;
            }
        }
    }

private:
    bounds::variant_key bound_;  // parsed once: an unknown name is an error, never a pair that violates nothing
    shrink_options opt_;
    std::mt19937_64 rng_;
    std::chrono::steady_clock::time_point start_;
    std::size_t candidates_ = 0;
};

}  // namespace

shrink_result shrink_counterexample(const net::network& theta, const net::network& quantized, const arith::rational& D,
                                    const std::vector<double>& x, const std::string& bound, const shrink_options& opt) {
    shrinker s(bound, opt);
    pair_case cur{theta, quantized, D, x};
    auto first = s.violation(cur, false, false);
    if (!first) throw core::invalid_argument("shrink: the witness does not certifiably violate " + bound + " on the given pair");
    point_difference witness = first->first;
    bool hypotheses = first->second;
    cur.x = witness.x;
    shrink_result r{theta, quantized, D, witness, hypotheses, size_of(theta), {}, 0, 0};

    const bool structural = vector_graph(theta) && vector_graph(quantized);
    bool progress = true;
    while (progress && !s.exhausted()) {
        progress = false;
        // 1. Drop a layer or a residual block.
        if (structural) {
            std::vector<std::pair<std::size_t, std::size_t>> bypasses;  // (node, replacement)
            const auto& nodes = cur.theta.nodes();
            for (std::size_t i = 1; i < nodes.size(); ++i) {
                const auto& n = nodes[i];
                if (n.kind == net::op::add) {
                    bypasses.push_back({i, n.inputs[1]});
                    bypasses.push_back({i, n.inputs[0]});
                }
                if (n.kind != net::op::dense || i == cur.theta.output_index()) continue;
                // The dense layer with its activation, when the activation is its only reader.
                std::size_t readers = 0, activation = i;
                for (std::size_t j = i + 1; j < nodes.size(); ++j)
                    for (auto in : nodes[j].inputs)
                        if (in == i) {
                            ++readers;
                            activation = j;
                        }
                const auto kind = nodes[activation].kind;
                const bool with_activation = readers == 1 && (kind == net::op::relu || kind == net::op::relu6 || kind == net::op::identity) &&
                                             activation != cur.theta.output_index();
                bypasses.push_back({with_activation ? activation : i, n.inputs[0]});
            }
            progress = s.first_violating(cur, r.witness, r.hypotheses_hold, [&](std::size_t k) -> candidate {
                if (k >= bypasses.size()) return end_of_list();
                pair_draft d = draft_of(cur);
                bypass(d, bypasses[k].first, bypasses[k].second);
                if (!fix_shapes(d)) return skipped();
                std::optional<pair_case> c = rebuild(cur, std::move(d));
                if (c && size_of(c->theta).layers >= size_of(cur.theta).layers) return skipped();
                return of(std::move(c));
            });
            if (progress) {
                ++r.accepted;
                continue;
            }
        }
        // 2. Drop units: halves, quarters, ..., single units of each class.
        if (structural) {
            const auto classes = unit_classes(cur.theta);
            std::vector<std::pair<std::size_t, std::pair<std::size_t, std::size_t>>> removals;  // class, (first, count)
            std::vector<std::size_t> seen;
            for (std::size_t i = 0; i < classes.size(); ++i) {
                const std::size_t cls = classes[i];
                if (std::find(seen.begin(), seen.end(), cls) != seen.end()) continue;
                seen.push_back(cls);
                const std::size_t n = cur.theta.nodes()[i].output.size();
                if (n < 2) continue;
                for (std::size_t chunk = n / 2; chunk >= 1; chunk /= 2)
                    for (std::size_t at = 0; at + chunk <= n; at += chunk) removals.push_back({cls, {at, chunk}});
            }
            progress = s.first_violating(cur, r.witness, r.hypotheses_hold, [&](std::size_t k) -> candidate {
                if (k >= removals.size()) return end_of_list();
                pair_draft d = draft_of(cur);
                remove_units(d, classes, removals[k].first, removals[k].second.first, removals[k].second.second);
                if (!fix_shapes(d)) return skipped();
                return of(rebuild(cur, std::move(d)));
            });
            if (progress) {
                ++r.accepted;
                continue;
            }
        }
        // 3. Simplify weights: globally first, then one layer at a time.
        {
            std::vector<std::optional<std::size_t>> scopes{std::nullopt};
            for (std::size_t i = 0; i < cur.theta.nodes().size(); ++i)
                if (cur.theta.nodes()[i].is_affine()) scopes.push_back(i);
            const auto power_of_two = [](double v, double) { return round_significant(v, 1); };
            const auto two_bits = [](double v, double) { return round_significant(v, 2); };
            const auto four_bits = [](double v, double) { return round_significant(v, 4); };
            const auto eight_bits = [](double v, double) { return round_significant(v, 8); };
            const auto small_to_zero = [](double v, double scale) { return std::abs(v) < scale / 8 ? 0.0 : v; };
            progress = s.first_violating(cur, r.witness, r.hypotheses_hold, [&](std::size_t k) -> candidate {
                constexpr std::size_t kinds = 6;
                if (k >= scopes.size() * kinds) return end_of_list();
                pair_case c = cur;
                const auto scope = scopes[k / kinds];
                switch (k % kinds) {
                case 0:
                    // Biases to zero in theta, the bias change kept (b' - b).
                    for (std::size_t i : c.theta.affine_nodes()) {
                        if (scope && *scope != i) continue;
                        const std::span<double> a = c.theta.bias(i), b = c.quant.bias(i);
                        for (std::size_t o = 0; o < a.size(); ++o) {
                            b[o] = b[o] - a[o];
                            a[o] = 0;
                        }
                    }
                    break;
                case 1: simplify_pair(c, scope, true, power_of_two); break;
                case 2: simplify_pair(c, scope, true, two_bits); break;
                case 3: simplify_pair(c, scope, true, four_bits); break;
                case 4: simplify_pair(c, scope, true, eight_bits); break;
                case 5: simplify_pair(c, scope, false, small_to_zero); break;
                }
                if (same_weights(c, cur)) return skipped();
                return of(std::move(c));
            });
            if (progress) {
                ++r.accepted;
                continue;
            }
        }
        // 4. Shrink D: to 1, then halving (at most down to 1/8).
        {
            std::vector<arith::rational> radii;
            if (cur.D > 1) radii.push_back(1);
            if (cur.D > arith::rational(1, 8)) radii.push_back(cur.D / 2);
            progress = s.first_violating(cur, r.witness, r.hypotheses_hold, [&](std::size_t k) -> candidate {
                if (k >= radii.size()) return end_of_list();
                pair_case c = cur;
                const double scale = static_cast<double>(radii[k] / cur.D);
                for (auto& v : c.x) v *= scale;
                c.D = radii[k];
                return of(std::move(c));
            });
            if (progress) ++r.accepted;
        }
    }
    r.theta = std::move(cur.theta);
    r.quantized = std::move(cur.quant);
    r.D = cur.D;
    r.shrunk = size_of(r.theta);
    r.candidates = s.candidates();
    return r;
}

std::string case_folder_name(const std::string& name) {
    std::string out;
    for (char c : name) {
        if (c == '\'') {
            out += "prime";
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
            out += c;
        } else if (!out.empty() && out.back() != '-') {
            out += '-';
        }
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

namespace {

std::string size_text(const case_size& s) {
    return std::to_string(s.layers) + " layers, " + std::to_string(s.inputs) + " inputs, " + std::to_string(s.hidden_units) +
           " hidden units, " + std::to_string(s.parameters) + " parameters (" + std::to_string(s.nonzero_parameters) + " non-zero)";
}

}  // namespace

saved_counterexample save_shrunk_counterexample(const std::filesystem::path& folder, const net::network& theta, const net::network& quantized,
                                                const arith::rational& D, const point_difference& witness, const std::string& bound,
                                                const shrink_options& opt, const std::string& note) {
    saved_counterexample s{folder.string(), theta, quantized, D, witness, size_of(theta), size_of(theta)};
    if (opt.max_candidates > 0) {
        shrink_result r = shrink_counterexample(theta, quantized, D, witness.x, bound, opt);
        s.theta = std::move(r.theta);
        s.quantized = std::move(r.quantized);
        s.D = r.D;
        s.witness = std::move(r.witness);
        s.shrunk = r.shrunk;
    }
    if (!folder.empty())
        save_case(folder, s.theta, s.quantized, s.D, s.witness,
                  note + "; shrunk for " + bound + " from " + size_text(s.original) + " to " + size_text(s.shrunk));
    return s;
}

}  // namespace qbound::verify
