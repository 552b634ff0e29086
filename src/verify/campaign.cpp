#include "qbound/verify/campaign.hpp"
#include "qbound/verify/hunt.hpp"

#include "qbound/verify/case_file.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>

namespace qbound::verify {

namespace {
// splitmix64's finalizer: a bijection of 64-bit words that mixes every bit.
std::uint64_t mix64(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
}  // namespace

std::uint64_t campaign_pair_seed(std::uint64_t seed, const std::string& family, std::size_t index) {
    std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the family's name: fixed on every platform
    for (unsigned char c : family) h = (h ^ c) * 0x100000001b3ULL;
    return mix64(mix64(mix64(seed) ^ h) ^ static_cast<std::uint64_t>(index));
}

namespace {

std::size_t pick(std::mt19937_64& g, std::size_t lo, std::size_t hi) { return lo + static_cast<std::size_t>(g() % (hi - lo + 1)); }

campaign_pair quantized(const net::network& m, quant::method kind, unsigned bits, arith::rational D, bool per_channel = false,
               std::uint64_t seed = 20261127) {
    quant::options q;
    q.kind = kind;
    q.bits = bits;
    q.per_channel = per_channel;
    q.seed = seed;
    q.D = static_cast<double>(D);
    q.calib_samples = 32;
    q.adaround.iterations = 200;  // a campaign wants many pairs; AdaRound's choice only has to be a valid rounding
    return {m, quant::quantize(m, q).network, D, std::string(quant::to_string(kind)), bits, per_channel};
}

const quant::method all_methods[] = {quant::method::floor, quant::method::nearest, quant::method::stochastic, quant::method::adaround};

net::network residual_net(std::mt19937_64& g, std::size_t blocks) {
    const std::size_t d = pick(g, 1, 3), n = pick(g, 2, 6);
    net::network m("residual", {d, 1, 1});
    std::size_t x = m.activation(m.dense(m.flatten(0), n, "stem"), net::op::relu);
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::string p = "block" + std::to_string(b + 1);
        const auto branch = m.dense(m.activation(m.dense(x, n, p + ".fc1"), net::op::relu), n, p + ".fc2");
        x = m.activation(m.add(branch, x, p + ".add"), net::op::relu);
    }
    m.dense(x, pick(g, 1, 3), "head");
    return m;
}

// random-mlp, or small-norms (the same scaled so every layer norm is 1/2).
campaign_pair draw_random_mlp(std::mt19937_64& g, bool small_norms) {
    std::vector<std::size_t> widths;
    const std::size_t L = pick(g, 1, 4);
    for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 8));
    net::network m = net::make_mlp(widths);
    net::init_he_normal(m, g(), 0.1);
    if (small_norms) net::scale_to_operator_norms(m, {0.5});
    const auto kind = g() % 2 ? quant::method::nearest : quant::method::floor;
    const auto bits = static_cast<unsigned>(pick(g, 2, 6));
    return quantized(m, kind, bits, arith::rational(pick(g, 1, 4), 2));
}

campaign_pair draw_deep_mlp(std::mt19937_64& g) {
    std::vector<std::size_t> widths{pick(g, 1, 4)};
    const std::size_t L = pick(g, 5, 12);
    for (std::size_t l = 1; l < L; ++l) widths.push_back(pick(g, 4, 16));
    widths.push_back(pick(g, 1, 3));
    net::network m = net::make_mlp(widths);
    if (g() % 2) {
        net::init_he_normal(m, g(), 0.05);
    } else {
        net::init_uniform(m, 0.5, g());
    }
    const auto kind = g() % 2 ? quant::method::nearest : quant::method::stochastic;
    return quantized(m, kind, static_cast<unsigned>(pick(g, 3, 8)), 1);
}

campaign_pair draw_sign_aligned(std::mt19937_64& g) {
    // All-positive weights and perturbations of one sign: the term bounds align.
    std::vector<std::size_t> widths;
    const std::size_t L = pick(g, 1, 4);
    for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 6));
    net::network m = net::make_mlp(widths);
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i)) w = static_cast<double>(pick(g, 1, 8)) / 8;
    net::network q = m;
    for (std::size_t i : q.affine_nodes())
        for (double& w : q.weights(i)) w += static_cast<double>(pick(g, 0, 4)) / 64;
    return {m, q, arith::rational(pick(g, 1, 4))};
}

campaign_pair draw_dominant_layer(std::mt19937_64& g) {
    std::vector<std::size_t> widths;
    const std::size_t L = pick(g, 2, 5);
    for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 8));
    net::network m = net::make_mlp(widths);
    net::init_he_normal(m, g(), 0.1);
    std::vector<double> norms(L, 0.25);
    norms[pick(g, 0, L - 1)] = 64;  // norm concentrated in one layer
    net::scale_to_operator_norms(m, norms);
    return quantized(m, quant::method::floor, static_cast<unsigned>(pick(g, 3, 6)), 1);
}

campaign_pair draw_tight(std::mt19937_64& g) {
    // Proof step 9: L = 1, N_0 = 1, D >= 1, where bound A is attained.
    net::network m = net::make_mlp({1, pick(g, 1, 4)});
    for (double& w : m.weights(1)) w = static_cast<double>(static_cast<std::int64_t>(pick(g, 0, 16)) - 8) / 4;
    net::network q = m;
    for (double& w : q.weights(1)) w += static_cast<double>(static_cast<std::int64_t>(pick(g, 0, 8)) - 4) / 16;
    return {m, q, arith::rational(pick(g, 4, 16), 4)};
}

// A small CNN on a 6 x 6 input: one or two 3 x 3 convolutions (the first
// maybe followed by a 2 x 2 max pool), global average pooling or flatten, a
// dense layer of 1 to 3 outputs; He-normal weights.
net::network random_small_cnn(std::mt19937_64& g) {
    net::cnn_config cfg;
    cfg.input = {pick(g, 1, 2), 6, 6};
    cfg.convs.clear();
    const std::size_t convs = pick(g, 1, 2);
    for (std::size_t k = 0; k < convs; ++k)
        cfg.convs.push_back({pick(g, 2, 4), {3, 3, pick(g, 1, 2), 1, 1, 1}, k == 0 && g() % 2 == 0});
    cfg.global_pool = g() % 2 == 0;
    cfg.dense = {pick(g, 1, 3)};
    net::network m = net::make_cnn(cfg);
    net::init_he_normal(m, g(), 0.1);
    return m;
}

campaign_pair draw_random_cnn(std::mt19937_64& g) {
    net::network m = random_small_cnn(g);
    const auto kind = g() % 2 ? quant::method::nearest : quant::method::floor;
    return quantized(m, kind, static_cast<unsigned>(pick(g, 3, 6)), 1);
}

campaign_pair draw_entrywise_G(std::mt19937_64& g) {
    const std::size_t width = pick(g, 8, 32), hidden = pick(g, 3, 4);
    std::vector<std::size_t> widths{1};
    for (std::size_t l = 0; l < hidden; ++l) widths.push_back(width);
    widths.push_back(1);
    net::network m = net::make_mlp(widths);
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i)) w = 1;
    net::network q = m;
    const double delta = std::ldexp(1.0, -static_cast<int>(pick(g, 8, 12)));
    for (double& w : q.weights(1)) w += delta;
    return {m, q, 1};
}

campaign_pair draw_skip_dominant(std::mt19937_64& g) {
    net::network m = residual_net(g, pick(g, 1, 2));
    for (std::size_t i : m.affine_nodes()) {
        const double scale = m.at(i).name.find(".fc") != std::string::npos ? 0x1p-12 : 1.0;
        for (double& w : m.weights(i)) w = scale * static_cast<double>(pick(g, 1, 4)) / 4;
    }
    net::network q = m;
    for (std::size_t i : q.affine_nodes())
        if (q.at(i).name == "stem")
            for (double& w : q.weights(i)) w += static_cast<double>(pick(g, 1, 8)) / 16;
    return {m, q, 1};
}

campaign_pair draw_random_residual(std::mt19937_64& g) {
    net::network m = residual_net(g, pick(g, 1, 2));
    net::init_he_normal(m, g(), 0.1);
    return quantized(m, quant::method::nearest, static_cast<unsigned>(pick(g, 4, 6)), 1);
}

campaign_pair draw_mixed_mlp(std::mt19937_64& g) {
    const std::size_t L = pick(g, 1, 4);
    std::vector<std::size_t> widths;
    for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 16));
    if (g() % 4 == 0) widths[pick(g, 0, L - 1)] = pick(g, 33, 64);  // one wide layer (or a wide input)
    net::network m = net::make_mlp(widths);
    const bool biases = g() % 2 == 0;
    if (g() % 2) {
        net::init_he_normal(m, g(), biases ? 0.1 : 0.0);
    } else {
        net::init_uniform(m, 0.5, g());
        if (!biases)
            for (std::size_t i : m.affine_nodes()) std::ranges::fill(m.bias(i), 0.0);
    }
    const std::size_t zero_in_ten = std::array<std::size_t, 3>{0, 5, 8}[g() % 3];  // sparsity: none, half, 80%
    for (std::size_t i : m.affine_nodes())
        for (double& w : m.weights(i))
            if (g() % 10 < zero_in_ten) w = 0;
    const auto kind = all_methods[g() % 4];
    const auto bits = std::array<unsigned, 5>{2, 3, 4, 6, 8}[g() % 5];
    const bool per_channel = g() % 2 == 0;
    const std::uint64_t quant_seed = g();
    return quantized(m, kind, bits, arith::rational(pick(g, 1, 4), 2), per_channel, quant_seed);
}

campaign_pair draw_mixed_cnn(std::mt19937_64& g) {
    net::network m = random_small_cnn(g);
    const auto kind = all_methods[g() % 4];
    const auto bits = static_cast<unsigned>(pick(g, 2, 8));
    const bool per_channel = g() % 2 == 0;
    const std::uint64_t quant_seed = g();
    return quantized(m, kind, bits, 1, per_channel, quant_seed);
}

}  // namespace

const std::vector<campaign_family>& campaign_family_registry() {
    static const std::vector<campaign_family> registry{
        {"random-mlp", "He-normal MLPs (depth 1..4, widths 1..8), nearest or floor at 2..6 bits",
         [](std::mt19937_64& g) { return draw_random_mlp(g, false); }},
        {"deep-mlp", "depth 5..12, widths 4..16, He-normal or uniform, nearest or stochastic at 3..8 bits", draw_deep_mlp},
        {"small-norms", "random-mlp scaled so every layer norm is 1/2 (all r_l < 1)",
         [](std::mt19937_64& g) { return draw_random_mlp(g, true); }},
        {"sign-aligned", "all-positive weights, non-negative perturbations", draw_sign_aligned},
        {"dominant-layer", "one layer of norm 64, the others 1/4; floor (raises row sums of negative weights)", draw_dominant_layer},
        {"tight", "proof step 9's construction (L = 1, N_0 = 1, D >= 1): bound A is attained", draw_tight},
        {"random-cnn", "small CNNs (1-2 convs, stride 1-2, max pool, flatten or global pooling), nearest or floor", draw_random_cnn},
        {"entrywise-G", "constant weights 1, width 8..32, depth 3..4, layer 1 perturbed (THEOREMS.md 3, G)", draw_entrywise_G},
        {"skip-dominant", "residual blocks whose branch is tiny; only the stem perturbed", draw_skip_dominant},
        {"random-residual", "residual MLP blocks with He-normal weights, nearest at 4..6 bits", draw_random_residual},
        {"mixed-mlp",
         "depth 1..4, widths up to 64, Gaussian or uniform, dense or sparse, with or without biases; "
         "floor, nearest, stochastic or AdaRound at 2..8 bits, per tensor or per channel",
         draw_mixed_mlp},
        {"mixed-cnn", "random-cnn with biases, per-channel steps and every method at 2..8 bits", draw_mixed_cnn},
    };
    return registry;
}

const std::vector<std::string>& campaign_families() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& f : campaign_family_registry()) out.emplace_back(f.name);
        return out;
    }();
    return names;
}

std::string campaign_family_list() {
    std::string out;
    for (const auto& f : campaign_family_registry()) out += (out.empty() ? "" : ", ") + std::string(f.name);
    return out;
}

const campaign_family& find_campaign_family(std::string_view name) {
    for (const auto& f : campaign_family_registry())
        if (f.name == name) return f;
    throw core::invalid_argument("unknown campaign family '" + std::string(name) + "' (valid: " + campaign_family_list() + ")");
}

namespace {

std::vector<std::size_t> record_widths(const net::network& m, std::size_t& depth) {
    std::vector<std::size_t> widths{m.input_shape().size()};
    depth = 0;
    for (const auto& n : m.nodes())
        if (n.is_affine()) {
            widths.push_back(n.output.size());
            depth += n.main_path;
        }
    return widths;
}

double parameter_change(const net::network& a, const net::network& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.nodes().size(); ++i) {
        const auto &x = a.nodes()[i], &y = b.nodes()[i];
        for (std::size_t k = 0; k < x.weight.size(); ++k) m = std::max(m, std::abs(y.weight[k] - x.weight[k]));
        for (std::size_t k = 0; k < x.bias.size(); ++k) m = std::max(m, std::abs(y.bias[k] - x.bias[k]));
    }
    return m;
}

// A counterexample saved by this run: its folder, sizes and the variants its witness violates.
struct saved_case {
    std::string where;
    std::set<std::string> violated;
    case_size original, shrunk;
};

// Shrinks the pair for `bound`, saves it (when `out` is set) and lists what its witness violates.
saved_case save_counterexample(const campaign_options& opt, const std::string& family, std::size_t index, const campaign_pair& p,
                               const check_result& res, const std::string& bound, std::uint64_t shrink_seed) {
    shrink_options so;
    so.max_candidates = opt.shrink_candidates;
    so.seed = shrink_seed;
    const auto dir = opt.out.empty() ? std::filesystem::path() : opt.out / (family + "-" + std::to_string(index) + "-" + case_folder_name(bound));
    const saved_counterexample c = save_shrunk_counterexample(
        dir, p.theta, p.quant, p.D, res.witness, bound, so,
        "qbound campaign, family " + family + ", pair " + std::to_string(index) + ", seed " + std::to_string(opt.seed));
    saved_case s;
    s.original = c.original;
    s.shrunk = c.shrunk;
    bounds::bound_options bopt;
    bopt.D = c.D;
    for (const auto& b : bounds::compute_bounds(c.theta, c.quantized, bopt))
        if (c.witness.lower > b.value.to_rational()) s.violated.insert(b.name);
    s.where = opt.out.empty() ? family + " pair " + std::to_string(index) : dir.string();
    return s;
}

}  // namespace

double variant_tally::max_bound_over_lower() const {
    return bound_over_lower.empty() ? 0.0 : *std::max_element(bound_over_lower.begin(), bound_over_lower.end());
}

double variant_tally::median_bound_over_lower() const {
    if (bound_over_lower.empty()) return 0;
    std::vector<double> v = bound_over_lower;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

campaign_pair draw_campaign_pair(const std::string& family, std::uint64_t seed, std::size_t index) {
    const campaign_family& f = find_campaign_family(family);
    std::mt19937_64 g(campaign_pair_seed(seed, family, index));
    return f.draw(g);
}

namespace {

bool same_pair(const hunt_candidate& a, const campaign_pair& b) {
    if (a.D != b.D || a.theta.nodes().size() != b.theta.nodes().size()) return false;
    for (std::size_t i = 0; i < a.theta.nodes().size(); ++i) {
        const auto &x = a.theta.nodes()[i], &y = b.theta.nodes()[i], &xq = a.quantized.nodes()[i], &yq = b.quant.nodes()[i];
        if (x.weight != y.weight || x.bias != y.bias || xq.weight != yq.weight || xq.bias != yq.bias) return false;
    }
    return true;
}

// campaign --hunt: per variant, up to hunt_pairs best pairs of the hunt,
// alternating its holding and any tracks, without repeats, in variant order.
std::vector<campaign_pair> hunted_pairs(const campaign_options& opt) {
    hunt_options h;
    h.budget = opt.hunt_budget;
    h.seed = opt.seed;
    h.threads = opt.threads;
    h.keep = (opt.hunt_pairs + 1) / 2;
    h.certify = false;
    const hunt_result r = run_hunt(h);
    std::vector<campaign_pair> pairs;
    for (std::size_t v = 0; v < r.variants.size(); ++v) {
        const auto &holding = r.archive[2 * v], &any = r.archive[2 * v + 1];
        std::size_t taken = 0;
        for (std::size_t k = 0; taken < opt.hunt_pairs && k < std::max(holding.size(), any.size()); ++k)
            for (const auto* list : {&holding, &any}) {
                if (taken >= opt.hunt_pairs || k >= list->size()) continue;
                const hunt_candidate& c = (*list)[k];
                ++taken;
                if (std::any_of(pairs.begin(), pairs.end(), [&](const campaign_pair& p) { return same_pair(c, p); })) continue;
                pairs.push_back({c.theta, c.quantized, c.D, "hunted: " + c.perturbation, 0, false});
            }
    }
    return pairs;
}

}  // namespace

campaign_result run_campaign(const campaign_options& opt) {
    if (opt.shard_count == 0 || opt.shard_index >= opt.shard_count)
        throw core::invalid_argument("campaign shard " + std::to_string(opt.shard_index) + "/" + std::to_string(opt.shard_count) +
                                      ": need 0 <= i < n");
    campaign_result r;
    std::mutex progress_mutex;
    r.families = opt.families.empty() ? campaign_families() : opt.families;
    for (const auto& f : r.families) find_campaign_family(f);  // throws on an unknown name, before any work
    struct job {
        std::size_t index;
        campaign_pair pair;
        std::uint64_t search_seed;
        check_result result;
    };
    // Checks one family's jobs in parallel, then tallies them and saves counterexamples in order.
    const auto check_family = [&](const std::string& family, std::vector<job>& jobs) {
        std::atomic<std::size_t> checked{0};
        if (opt.progress) opt.progress(family, 0, jobs.size());
        core::parallel_for(jobs.size(), opt.threads, [&](std::size_t k, unsigned) {
            job& j = jobs[k];
            check_options c;
            c.D = j.pair.D;
            c.branch.max_nodes = opt.nodes;
            c.branch.max_seconds = 600;  // a safety net: the node budget decides (reproducible)
            c.search = counted_search(j.pair.theta.input_shape().size(), opt.search_effort, j.search_seed);
            j.result = check_pair(j.pair.theta, j.pair.quant, c);
            if (opt.progress) {
                std::lock_guard lock(progress_mutex);
                opt.progress(family, ++checked, jobs.size());
            }
        });
        for (const job& j : jobs) {
            const std::size_t i = j.index;
            const campaign_pair& p = j.pair;
            const std::uint64_t search_seed = j.search_seed;
            const check_result& res = j.result;
            ++r.pairs;

            pair_record rec;
            rec.family = family;
            rec.index = i;
            rec.seed = opt.seed;
            rec.widths = record_widths(p.theta, rec.depth);
            rec.method = p.method;
            rec.bits = p.bits;
            rec.per_channel = p.per_channel;
            rec.D = static_cast<double>(p.D);
            rec.parameter_change = parameter_change(p.theta, p.quant);
            rec.lower = arith::round_to_double(res.witness.lower, MPFR_RNDD);
            rec.upper = arith::round_to_double(res.upper, MPFR_RNDU);
            rec.relative_gap = res.relative_gap;

            std::vector<saved_case> saved;  // this pair's shrunk counterexamples (variants share one when they can)
            for (const auto& v : res.verdicts) {
                rec.variants.push_back({v.bound, arith::round_to_double(v.value.to_rational(), MPFR_RNDU), v.result, v.hypotheses_hold});
                variant_tally& t = r.tally[family][v.bound];
                if (v.result == verdict::holds) ++t.holds;
                if (v.result == verdict::undecided) ++t.undecided;
                if (std::isfinite(v.ratio_to_lower) && v.ratio_to_lower > 0) t.worst_ratio = std::max(t.worst_ratio, 1 / v.ratio_to_lower);
                // 0 / 0 (theta' = theta, or a zero bound met exactly) says nothing about tightness: not pooled.
                if (!(res.witness.lower == 0 && v.value.to_rational() == 0)) t.bound_over_lower.push_back(v.ratio_to_lower);
                t.max_relative_gap = std::max(t.max_relative_gap, res.relative_gap);
                if (v.result != verdict::violated) continue;
                ++t.violated;
                if (v.hypotheses_hold) ++t.violated_with_hypotheses;
                if (!t.first_counterexample.empty()) continue;
                auto it = std::find_if(saved.begin(), saved.end(), [&](const saved_case& s) { return s.violated.count(v.bound) > 0; });
                if (it == saved.end()) {
                    saved.push_back(save_counterexample(opt, family, i, p, res, v.bound, search_seed ^ 0x5eed));
                    it = saved.end() - 1;
                }
                t.first_counterexample = it->where;
                t.counterexample_original = it->original;
                t.counterexample_shrunk = it->shrunk;
            }
            r.records.push_back(std::move(rec));
        }
    };
    for (const auto& family : r.families) {
        const campaign_family& generator = find_campaign_family(family);
        // This shard's pairs, each from its own generator seeded by
        // campaign_pair_seed: the same pair whatever the family list, shard
        // or thread count.
        std::vector<job> jobs;
        for (std::size_t i = opt.shard_index; i < opt.pairs; i += opt.shard_count) {
            std::mt19937_64 g(campaign_pair_seed(opt.seed, family, i));
            campaign_pair p = generator.draw(g);
            const std::uint64_t search_seed = g();
            jobs.push_back({i, std::move(p), search_seed, {}});
        }
        check_family(family, jobs);
    }
    if (opt.hunt_pairs > 0) {
        std::vector<job> jobs;
        const auto hunted = hunted_pairs(opt);
        for (std::size_t i = opt.shard_index; i < hunted.size(); i += opt.shard_count)
            jobs.push_back({i, hunted[i], campaign_pair_seed(opt.seed, std::string(hunt_family), i), {}});
        r.families.emplace_back(hunt_family);
        check_family(std::string(hunt_family), jobs);
    }
    return r;
}

void merge_into(campaign_result& total, const campaign_result& shard) {
    if (total.families.empty()) total.families = shard.families;
    if (total.families != shard.families) throw core::invalid_argument("merge: the shards ran different families");
    total.pairs += shard.pairs;
    for (const auto& [family, variants] : shard.tally)
        for (const auto& [name, t] : variants) add_tally(total.tally[family][name], t);
    total.records.insert(total.records.end(), shard.records.begin(), shard.records.end());
    const auto position = [&](const pair_record& p) {
        return std::pair(std::find(total.families.begin(), total.families.end(), p.family) - total.families.begin(), p.index);
    };
    std::stable_sort(total.records.begin(), total.records.end(), [&](const pair_record& a, const pair_record& b) { return position(a) < position(b); });
}

void add_tally(variant_tally& s, const variant_tally& t) {
    s.holds += t.holds;
    s.violated += t.violated;
    s.undecided += t.undecided;
    s.violated_with_hypotheses += t.violated_with_hypotheses;
    s.worst_ratio = std::max(s.worst_ratio, t.worst_ratio);
    s.bound_over_lower.insert(s.bound_over_lower.end(), t.bound_over_lower.begin(), t.bound_over_lower.end());
    s.max_relative_gap = std::max(s.max_relative_gap, t.max_relative_gap);
    if (s.first_counterexample.empty()) {
        s.first_counterexample = t.first_counterexample;
        s.counterexample_original = t.counterexample_original;
        s.counterexample_shrunk = t.counterexample_shrunk;
    }
}

std::vector<std::pair<std::string, variant_tally>> variant_totals(const campaign_result& r) {
    std::vector<std::pair<std::string, variant_tally>> total;
    // The order of bounds::compute_bounds, as the records list it.
    for (const auto& p : r.records)
        for (const auto& v : p.variants)
            if (std::find_if(total.begin(), total.end(), [&](const auto& e) { return e.first == v.bound; }) == total.end())
                total.emplace_back(v.bound, variant_tally{});
    for (const auto& family : r.families) {
        const auto f = r.tally.find(family);
        if (f == r.tally.end()) continue;
        for (const auto& entry : f->second) {
            // (clang before 16 cannot capture a structured binding in a lambda)
            const std::string& name = entry.first;
            const variant_tally& t = entry.second;
            auto it = std::find_if(total.begin(), total.end(), [&](const auto& e) { return e.first == name; });
            if (it == total.end()) {
                total.emplace_back(name, variant_tally{});
                it = total.end() - 1;
            }
            add_tally(it->second, t);
        }
    }
    return total;
}

namespace {

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double number(const nlohmann::json& j) { return j.is_null() ? std::numeric_limits<double>::infinity() : j.get<double>(); }

nlohmann::json size_json(const case_size& s) {
    return {{"layers", s.layers}, {"inputs", s.inputs}, {"hidden_units", s.hidden_units}, {"parameters", s.parameters},
            {"nonzero_parameters", s.nonzero_parameters}};
}

case_size size_from(const nlohmann::json& j) {
    return {j.at("layers").get<std::size_t>(), j.at("inputs").get<std::size_t>(), j.at("hidden_units").get<std::size_t>(),
            j.at("parameters").get<std::size_t>(), j.at("nonzero_parameters").get<std::size_t>()};
}

nlohmann::json tally_json(const variant_tally& t, bool with_ratios) {
    nlohmann::json j{{"pairs", t.pairs()},
                     {"holds", t.holds},
                     {"violated", t.violated},
                     {"undecided", t.undecided},
                     {"violated_with_hypotheses", t.violated_with_hypotheses},
                     {"largest_lower_over_bound", t.worst_ratio},
                     {"max_bound_over_lower", number(t.max_bound_over_lower())},
                     {"median_bound_over_lower", number(t.median_bound_over_lower())},
                     {"max_relative_gap", t.max_relative_gap},
                     {"first_counterexample", t.first_counterexample}};
    if (!t.first_counterexample.empty()) {
        j["counterexample_original"] = size_json(t.counterexample_original);
        j["counterexample_shrunk"] = size_json(t.counterexample_shrunk);
    }
    if (with_ratios) {
        j["bound_over_lower"] = nlohmann::json::array();
        for (double v : t.bound_over_lower) j["bound_over_lower"].push_back(number(v));
    }
    return j;
}

}  // namespace

nlohmann::json campaign_to_json(const campaign_result& r) {
    nlohmann::json j{{"pairs", r.pairs}, {"families", r.families}};
    j["tally"] = nlohmann::json::object();
    for (const auto& family : r.families) {
        const auto f = r.tally.find(family);
        if (f == r.tally.end()) continue;
        for (const auto& [name, t] : f->second) j["tally"][family][name] = tally_json(t, true);
    }
    j["variants"] = nlohmann::json::array();
    for (const auto& [name, t] : variant_totals(r)) {
        auto v = tally_json(t, false);
        v["bound"] = name;
        j["variants"].push_back(v);
    }
    j["records"] = nlohmann::json::array();
    for (const auto& p : r.records) {
        nlohmann::json rec{{"family", p.family}, {"index", p.index}, {"seed", p.seed}, {"depth", p.depth}, {"widths", p.widths},
                           {"method", p.method}, {"bits", p.bits}, {"per_channel", p.per_channel}, {"D", p.D},
                           {"parameter_change", p.parameter_change}, {"lower", p.lower}, {"upper", number(p.upper)},
                           {"relative_gap", p.relative_gap}};
        rec["variants"] = nlohmann::json::array();
        for (const auto& v : p.variants)
            rec["variants"].push_back(
                {{"bound", v.bound}, {"value", number(v.value)}, {"verdict", to_string(v.result)}, {"hypotheses_hold", v.hypotheses_hold}});
        j["records"].push_back(rec);
    }
    return j;
}

campaign_result campaign_from_json(const nlohmann::json& j, const std::string& what) {
    campaign_result r;
    try {
        r.pairs = j.at("pairs").get<std::size_t>();
        r.families = j.at("families").get<std::vector<std::string>>();
        for (const auto& [family, variants] : j.at("tally").items())
            for (const auto& [name, t] : variants.items()) {
                auto& v = r.tally[family][name];
                v.holds = t.at("holds").get<std::size_t>();
                v.violated = t.at("violated").get<std::size_t>();
                v.undecided = t.at("undecided").get<std::size_t>();
                v.violated_with_hypotheses = t.at("violated_with_hypotheses").get<std::size_t>();
                v.worst_ratio = t.at("largest_lower_over_bound").get<double>();
                v.max_relative_gap = t.at("max_relative_gap").get<double>();
                for (const auto& x : t.at("bound_over_lower")) v.bound_over_lower.push_back(number(x));
                v.first_counterexample = t.at("first_counterexample").get<std::string>();
                if (t.contains("counterexample_original")) {
                    v.counterexample_original = size_from(t.at("counterexample_original"));
                    v.counterexample_shrunk = size_from(t.at("counterexample_shrunk"));
                }
            }
        for (const auto& p : j.at("records")) {
            pair_record rec;
            rec.family = p.at("family").get<std::string>();
            rec.index = p.at("index").get<std::size_t>();
            rec.seed = p.at("seed").get<std::uint64_t>();
            rec.depth = p.at("depth").get<std::size_t>();
            rec.widths = p.at("widths").get<std::vector<std::size_t>>();
            rec.method = p.at("method").get<std::string>();
            rec.bits = p.at("bits").get<unsigned>();
            rec.per_channel = p.at("per_channel").get<bool>();
            rec.D = p.at("D").get<double>();
            rec.parameter_change = p.at("parameter_change").get<double>();
            rec.lower = p.at("lower").get<double>();
            rec.upper = number(p.at("upper"));
            rec.relative_gap = p.at("relative_gap").get<double>();
            for (const auto& v : p.at("variants")) {
                const std::string verdict_name = v.at("verdict").get<std::string>();
                const verdict result = verdict_name == "HOLDS" ? verdict::holds : verdict_name == "VIOLATED" ? verdict::violated : verdict::undecided;
                rec.variants.push_back({v.at("bound").get<std::string>(), number(v.at("value")), result, v.at("hypotheses_hold").get<bool>()});
            }
            r.records.push_back(std::move(rec));
        }
    } catch (const std::exception& e) {
        throw core::invalid_argument(what + ": not a qbound campaign report (" + e.what() + ")");
    }
    return r;
}

}  // namespace qbound::verify
