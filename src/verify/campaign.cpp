#include "qbound/verify/campaign.hpp"

#include "qbound/verify/case_file.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>

namespace qbound::verify {

const std::vector<std::string>& campaign_families() {
    static const std::vector<std::string> names{"random-mlp",     "deep-mlp",     "small-norms",   "sign-aligned", "dominant-layer",
                                                "tight",          "random-cnn",   "entrywise-G",   "skip-dominant", "random-residual"};
    return names;
}

namespace {

struct drawn {
    net::network theta, quant;
    arith::rational D;
};

std::size_t pick(std::mt19937_64& g, std::size_t lo, std::size_t hi) { return lo + static_cast<std::size_t>(g() % (hi - lo + 1)); }

net::network quantize_with(const net::network& m, quant::method kind, unsigned bits) {
    quant::options q;
    q.kind = kind;
    q.bits = bits;
    return quant::quantize(m, q).network;
}

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

drawn draw(const std::string& family, std::mt19937_64& g) {
    if (family == "random-mlp" || family == "small-norms") {
        std::vector<std::size_t> widths;
        const std::size_t L = pick(g, 1, 4);
        for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 8));
        net::network m = net::make_mlp(widths);
        net::init_he_normal(m, g(), 0.1);
        if (family == "small-norms") net::scale_to_operator_norms(m, {0.5});
        const auto kind = g() % 2 ? quant::method::nearest : quant::method::floor;
        return {m, quantize_with(m, kind, static_cast<unsigned>(pick(g, 2, 6))), arith::rational(pick(g, 1, 4), 2)};
    }
    if (family == "deep-mlp") {
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
        return {m, quantize_with(m, g() % 2 ? quant::method::nearest : quant::method::stochastic, static_cast<unsigned>(pick(g, 3, 8))), 1};
    }
    if (family == "sign-aligned") {
        // All-positive weights and perturbations of one sign: the term bounds align.
        std::vector<std::size_t> widths;
        const std::size_t L = pick(g, 1, 4);
        for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 6));
        net::network m = net::make_mlp(widths);
        for (auto& n : m.nodes())
            for (auto& w : n.weight) w = static_cast<double>(pick(g, 1, 8)) / 8;
        net::network q = m;
        for (auto& n : q.nodes())
            for (auto& w : n.weight) w += static_cast<double>(pick(g, 0, 4)) / 64;
        return {m, q, arith::rational(pick(g, 1, 4))};
    }
    if (family == "dominant-layer") {
        std::vector<std::size_t> widths;
        const std::size_t L = pick(g, 2, 5);
        for (std::size_t l = 0; l <= L; ++l) widths.push_back(pick(g, 1, 8));
        net::network m = net::make_mlp(widths);
        net::init_he_normal(m, g(), 0.1);
        std::vector<double> norms(L, 0.25);
        norms[pick(g, 0, L - 1)] = 64;  // norm concentrated in one layer
        net::scale_to_operator_norms(m, norms);
        return {m, quantize_with(m, quant::method::floor, static_cast<unsigned>(pick(g, 3, 6))), 1};
    }
    if (family == "tight") {
        // Proof step 9: L = 1, N_0 = 1, D >= 1, where bound A is attained.
        net::network m = net::make_mlp({1, pick(g, 1, 4)});
        for (auto& w : m.nodes()[1].weight) w = static_cast<double>(static_cast<std::int64_t>(pick(g, 0, 16)) - 8) / 4;
        net::network q = m;
        for (auto& w : q.nodes()[1].weight) w += static_cast<double>(static_cast<std::int64_t>(pick(g, 0, 8)) - 4) / 16;
        return {m, q, arith::rational(pick(g, 4, 16), 4)};
    }
    if (family == "random-cnn") {
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
        return {m, quantize_with(m, g() % 2 ? quant::method::nearest : quant::method::floor, static_cast<unsigned>(pick(g, 3, 6))), 1};
    }
    if (family == "entrywise-G") {
        const std::size_t width = pick(g, 8, 32), hidden = pick(g, 3, 4);
        std::vector<std::size_t> widths{1};
        for (std::size_t l = 0; l < hidden; ++l) widths.push_back(width);
        widths.push_back(1);
        net::network m = net::make_mlp(widths);
        for (auto& n : m.nodes())
            for (auto& w : n.weight) w = 1;
        net::network q = m;
        const double delta = std::ldexp(1.0, -static_cast<int>(pick(g, 8, 12)));
        for (auto& w : q.nodes()[1].weight) w += delta;
        return {m, q, 1};
    }
    if (family == "skip-dominant") {
        net::network m = residual_net(g, pick(g, 1, 2));
        for (auto& n : m.nodes())
            for (auto& w : n.weight) w = (n.name.find(".fc") != std::string::npos ? 0x1p-12 : 1.0) * static_cast<double>(pick(g, 1, 4)) / 4;
        net::network q = m;
        for (auto& n : q.nodes())
            if (n.name == "stem")
                for (auto& w : n.weight) w += static_cast<double>(pick(g, 1, 8)) / 16;
        return {m, q, 1};
    }
    if (family == "random-residual") {
        net::network m = residual_net(g, pick(g, 1, 2));
        net::init_he_normal(m, g(), 0.1);
        return {m, quantize_with(m, quant::method::nearest, static_cast<unsigned>(pick(g, 4, 6))), 1};
    }
    throw arith::invalid_argument("unknown campaign family '" + family + "'");
}


}  // namespace

campaign_result run_campaign(const campaign_options& opt) {
    if (opt.shard_count == 0 || opt.shard_index >= opt.shard_count)
        throw arith::invalid_argument("campaign shard " + std::to_string(opt.shard_index) + "/" + std::to_string(opt.shard_count) +
                                      ": need 0 <= i < n");
    campaign_result r;
    r.families = opt.families.empty() ? campaign_families() : opt.families;
    for (const auto& f : r.families)
        if (std::find(campaign_families().begin(), campaign_families().end(), f) == campaign_families().end())
            throw arith::invalid_argument("unknown campaign family '" + f + "'");
    std::size_t family_index = 0;
    std::set<std::string> saved;  // case folders written by this run (older files are overwritten)
    for (const auto& family : r.families) {
        std::mt19937_64 g(opt.seed * 1000003 + family_index++);
        for (std::size_t i = 0; i < opt.pairs; ++i) {
            if (opt.progress) opt.progress(family, i, opt.pairs);
            const drawn p = draw(family, g);  // drawn for every i, so shards see the same pairs
            const std::uint64_t search_seed = g();
            if (i % opt.shard_count != opt.shard_index) continue;
            check_options c;
            c.D = p.D;
            c.branch.max_nodes = opt.nodes;
            c.branch.max_seconds = 5;
            c.search.max_seconds = opt.search_seconds;
            c.search.seed = search_seed;
            const check_result res = check_pair(p.theta, p.quant, c);
            ++r.pairs;
            for (const auto& v : res.verdicts) {
                variant_tally& t = r.tally[family][v.bound];
                if (v.result == verdict::holds) ++t.holds;
                if (v.result == verdict::undecided) ++t.undecided;
                if (std::isfinite(v.ratio_to_lower) && v.ratio_to_lower > 0) t.worst_ratio = std::max(t.worst_ratio, 1 / v.ratio_to_lower);
                if (v.result != verdict::violated) continue;
                ++t.violated;
                if (v.hypotheses_hold) ++t.violated_with_hypotheses;
                if (!t.first_counterexample.empty()) continue;
                if (opt.out.empty()) {
                    t.first_counterexample = family + " pair " + std::to_string(i);
                    continue;
                }
                // Save the case once per (family, pair); variants share it.
                const auto dir = opt.out / (family + "-" + std::to_string(i));
                if (saved.insert(dir.string()).second)
                    save_case(dir, p.theta, p.quant, p.D, res.witness,
                              "qbound campaign, family " + family + ", pair " + std::to_string(i) + ", seed " + std::to_string(opt.seed));
                t.first_counterexample = dir.string();
            }
        }
        if (opt.progress) opt.progress(family, opt.pairs, opt.pairs);
    }
    return r;
}

void merge_into(campaign_result& total, const campaign_result& shard) {
    if (total.families.empty()) total.families = shard.families;
    if (total.families != shard.families) throw arith::invalid_argument("merge: the shards ran different families");
    total.pairs += shard.pairs;
    for (const auto& [family, variants] : shard.tally)
        for (const auto& [name, t] : variants) add_tally(total.tally[family][name], t);
}

void add_tally(variant_tally& s, const variant_tally& t) {
    s.holds += t.holds;
    s.violated += t.violated;
    s.undecided += t.undecided;
    s.violated_with_hypotheses += t.violated_with_hypotheses;
    s.worst_ratio = std::max(s.worst_ratio, t.worst_ratio);
    if (s.first_counterexample.empty()) s.first_counterexample = t.first_counterexample;
}

}  // namespace qbound::verify
