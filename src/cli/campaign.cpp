// `qbound campaign`: every bound variant against many random and adversarial
// pairs; per variant the counts of HOLDS / VIOLATED / UNDECIDED, the
// bound / certified-lower ratios (max and median), the largest bracket gap,
// and the first certified counterexample, shrunk and saved as a replayable
// case; optionally plots of the tightness and of bound vs certified sup
// against depth.
// `qbound merge`: the sum of campaign shards (their --json reports).
#include "commands.hpp"
#include "reports.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/report/plot.hpp"
#include "qbound/verify/campaign.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>

namespace qbound::cli {

std::string case_size_text(const verify::case_size& s) {
    return fmt::format("{}L/{}u/{}p", s.layers, s.inputs + s.hidden_units, s.nonzero_parameters);
}

namespace {

std::string ratio_text(double v) { return std::isfinite(v) ? fmt::format("{:.3g}", v) : std::string("inf"); }

}  // namespace

// (a) bound / certified lower per variant, one point per pair (coloured by
// family); (b) bound and certified bracket per unit of ||theta - theta'||
// against depth L.
void write_campaign_plots(const verify::campaign_result& r, const std::filesystem::path& dir) {
    const auto totals = verify::variant_totals(r);
    std::map<std::string, std::size_t> position;
    report::plot_spec tight;
    tight.title = fmt::format("Tightness: bound / certified lower end of the sup, {} pairs (one point per pair; below 1: violated)", r.pairs);
    tight.x_label = "bound variant";
    tight.y_label = "bound / certified lower (log scale)";
    tight.log_y = true;
    tight.x_tic_rotation = 45;
    tight.key = "outside right top";
    tight.width = 1400;
    tight.height = 800;
    for (const auto& [name, t] : totals) {
        position[name] = tight.x_tics.size();
        tight.x_tics.push_back({static_cast<double>(tight.x_tics.size()), name});
    }
    for (const auto& family : r.families) {
        report::series s{family, {}, {}, true, false};
        std::size_t k = 0;
        for (const auto& p : r.records) {
            if (p.family != family) continue;
            const double jitter = (static_cast<double>(k++ % 9) - 4) * 0.04;  // spread the pairs of one variant
            for (const auto& v : p.variants) {
                if (!(p.lower > 0)) continue;
                s.x.push_back(static_cast<double>(position.at(v.bound)) + jitter);
                s.y.push_back(v.value / p.lower);
            }
        }
        if (!s.x.empty()) tight.lines.push_back(std::move(s));
    }
    if (tight.lines.empty()) throw core::invalid_argument("--plots: no pair has a positive certified lower end to plot");
    report::series one{"ratio 1 (below: VIOLATED)", {-0.5, static_cast<double>(totals.size()) - 0.5}, {1, 1}, false, true, "black", 0, true};
    tight.lines.push_back(one);
    report::write_plot(tight, dir / "campaign_tightness");

    report::plot_spec depth;
    depth.title = "Bounds vs the certified sup against depth, per unit of ||theta - theta'||_inf (plain MLP chains; points: pairs, lines: medians)";
    depth.x_label = "depth L (affine layers)";
    depth.y_label = "value / ||theta - theta'||_inf (log scale)";
    depth.log_y = true;
    depth.key = "top left";
    depth.width = 1200;
    depth.height = 700;
    struct quantity {
        std::string title, color;
        int point_type;
        double offset;
        std::map<std::size_t, std::vector<double>> by_depth;
    };
    std::vector<quantity> quantities{{"G[r=max]", "#9400d3", 5, 0.15, {}},
                                     {"A-per-layer[r=max]", "#009e73", 11, 0.05, {}},
                                     {"certified upper end of the sup (branch and bound)", "#0072b2", 7, -0.05, {}},
                                     {"certified lower end of the sup (witness)", "#e69f00", 9, -0.15, {}}};
    for (const auto& p : r.records) {
        // Only pairs where A-per-layer's hypotheses hold (plain chains, shared biases): the theorem's setting.
        const auto a = std::find_if(p.variants.begin(), p.variants.end(), [](const auto& v) { return v.bound == "A-per-layer[r=max]"; });
        if (a == p.variants.end() || !a->hypotheses_hold || !(p.parameter_change > 0)) continue;
        for (const auto& v : p.variants)
            if (v.bound == quantities[0].title) quantities[0].by_depth[p.depth].push_back(v.value / p.parameter_change);
        quantities[1].by_depth[p.depth].push_back(a->value / p.parameter_change);
        quantities[2].by_depth[p.depth].push_back(p.upper / p.parameter_change);
        quantities[3].by_depth[p.depth].push_back(p.lower / p.parameter_change);
    }
    for (const auto& q : quantities) {
        report::series points{"", {}, {}, true, false, q.color, q.point_type};
        report::series median{q.title + " (median over the pairs of that depth)", {}, {}, true, true, q.color, q.point_type};
        for (const auto& [L, values] : q.by_depth) {
            for (double v : values) points.x.push_back(static_cast<double>(L) + q.offset), points.y.push_back(v);
            std::vector<double> sorted = values;
            std::sort(sorted.begin(), sorted.end());
            const std::size_t n = sorted.size();
            median.x.push_back(static_cast<double>(L));
            median.y.push_back(n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2);
        }
        depth.lines.push_back(std::move(points));
        depth.lines.push_back(std::move(median));
    }
    report::write_plot(depth, dir / "campaign_depth");
}

namespace {

int report(const verify::campaign_result& r, bool json, const std::string& title, const std::filesystem::path& plots) {
    const auto totals = verify::variant_totals(r);
    bool theorem_violated = false;
    for (const auto& [name, t] : totals) theorem_violated = theorem_violated || t.violated_with_hypotheses > 0;
    if (!plots.empty()) write_campaign_plots(r, plots);
    if (json) {
        auto j = verify::campaign_to_json(r);
        j["theorem_violated"] = theorem_violated;
        std::cout << j.dump(2) << "\n";
        return theorem_violated ? 1 : 0;
    }
    fmt::print("\n{} pairs ({}): ", r.pairs, title);
    for (std::size_t i = 0; i < r.families.size(); ++i) fmt::print("{}{}", i ? ", " : "", r.families[i]);
    fmt::print("\n\n{:<26} {:>5} {:>6} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8}  {}\n", "bound", "pairs", "HOLDS", "VIOLATED", "UNDECIDED",
               "viol.hyp", "max b/low", "med b/low", "max gap", "first counterexample (size -> shrunk)");
    for (const auto& [name, t] : totals) {
        std::string cex = "-";
        if (!t.first_counterexample.empty())
            cex = fmt::format("{} ({} -> {})", t.first_counterexample, case_size_text(t.counterexample_original), case_size_text(t.counterexample_shrunk));
        fmt::print("{:<26} {:>5} {:>6} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8.2g}  {}\n", name, t.pairs(), t.holds, t.violated, t.undecided,
                   t.violated_with_hypotheses, ratio_text(t.max_bound_over_lower()), ratio_text(t.median_bound_over_lower()), t.max_relative_gap,
                   cex);
    }
    fmt::print("\nVIOLATED counts certified counterexamples; 'viol.hyp' those where the bound's hypotheses hold (a theorem\n"
               "refuted: exit status 1). b/low: bound / certified lower end of the sup (max and median over the pairs; below 1:\n"
               "violated); gap: (upper - lower) / upper of the certified bracket. Sizes: layers L / units u (inputs and hidden) /\n"
               "non-zero parameters p of the counterexample as drawn and after shrinking. Replay a saved case: qbound replay FOLDER\n");
    if (!plots.empty()) fmt::print("wrote {0}/campaign_tightness.png|svg and {0}/campaign_depth.png|svg\n", plots.string());
    return theorem_violated ? 1 : 0;
}

}  // namespace

int run_campaign(const campaign_command_options& opt) {
    verify::campaign_options c;
    c.pairs = opt.pairs;
    c.seed = opt.seed;
    c.families = opt.families;
    c.out = opt.out;
    c.nodes = opt.nodes;
    c.shrink_candidates = opt.shrink_candidates;
    c.threads = opt.threads;
    if (!opt.shard.empty()) {
        const auto slash = opt.shard.find('/');
        try {
            if (slash == std::string::npos) throw std::invalid_argument("no /");
            c.shard_index = std::stoul(opt.shard.substr(0, slash));
            c.shard_count = std::stoul(opt.shard.substr(slash + 1));
        } catch (const std::exception&) {
            throw core::invalid_argument("--shard must be i/n with 0 <= i < n, got '" + opt.shard + "'");
        }
    }
    if (!opt.json)
        c.progress = [](const std::string& family, std::size_t done, std::size_t total) {
            std::cerr << fmt::format("\r  {:<16} {:>4} / {}", family, done, total) << (done == total ? "\n" : "") << std::flush;
        };
    const auto r = verify::run_campaign(c);
    return report(r, opt.json,
                  fmt::format("{} per family, seed {}{}", opt.pairs, opt.seed,
                              c.shard_count > 1 ? fmt::format(", shard {}/{}", c.shard_index, c.shard_count) : std::string()),
                  opt.plots);
}

int run_merge(const merge_options& opt) {
    verify::campaign_result total;
    for (const auto& file : opt.files) {
        std::ifstream in(file);
        if (!in) throw core::invalid_argument(file + ": cannot open the campaign report");
        nlohmann::json j;
        try {
            in >> j;
        } catch (const std::exception& e) {
            throw core::invalid_argument(file + ": not JSON (" + e.what() + ")");
        }
        verify::merge_into(total, verify::campaign_from_json(j, file));
    }
    return report(total, opt.json, fmt::format("merged from {} reports", opt.files.size()), opt.plots);
}

}  // namespace qbound::cli
