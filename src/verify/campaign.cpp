#include "qbound/verify/campaign.hpp"

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

namespace qbound::verify {

const std::vector<std::string>& campaign_families() {
    static const std::vector<std::string> names{"random-mlp", "small-norms", "entrywise-G", "skip-dominant", "random-residual"};
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
    throw arith::invalid_argument("unknown campaign family '" + family + "' (known: random-mlp, small-norms, entrywise-G, skip-dominant, random-residual)");
}

std::string hex(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    return buf;
}

}  // namespace

campaign_result run_campaign(const campaign_options& opt) {
    campaign_result r;
    r.families = opt.families.empty() ? campaign_families() : opt.families;
    for (const auto& f : r.families)
        if (std::find(campaign_families().begin(), campaign_families().end(), f) == campaign_families().end())
            throw arith::invalid_argument("unknown campaign family '" + f + "'");
    std::size_t family_index = 0;
    for (const auto& family : r.families) {
        std::mt19937_64 g(opt.seed * 1000003 + family_index++);
        for (std::size_t i = 0; i < opt.pairs; ++i) {
            if (opt.progress) opt.progress(family, i, opt.pairs);
            const drawn p = draw(family, g);
            check_options c;
            c.D = p.D;
            c.branch.max_nodes = opt.nodes;
            c.branch.max_seconds = 5;
            c.search.max_seconds = opt.search_seconds;
            c.search.seed = g();
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
                if (!std::filesystem::exists(dir / "witness.json")) {
                    std::filesystem::create_directories(dir);
                    io::write_onnx(p.theta, (dir / "theta.onnx").string());
                    io::write_onnx(p.quant, (dir / "theta_q.onnx").string());
                    nlohmann::json w{{"family", family}, {"pair", i}, {"D", arith::to_decimal(p.D, 20)},
                                     {"lower", arith::to_decimal(res.witness.lower, 20)}, {"arithmetic", res.witness.arithmetic}};
                    for (double x : res.witness.x) w["x_hex"].push_back(hex(x));
                    std::ofstream(dir / "witness.json") << w.dump(2) << "\n";
                }
                t.first_counterexample = dir.string();
            }
        }
        if (opt.progress) opt.progress(family, opt.pairs, opt.pairs);
    }
    return r;
}

}  // namespace qbound::verify
