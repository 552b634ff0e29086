#include "qbound/experiments/campaign_section.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/experiments/verdicts.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/report/plot.hpp"
#include "support.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace qbound::experiments {

using detail::plot_link;
using detail::ratio_text;

namespace {

std::string relative_to(const std::string& path, const std::filesystem::path& base) {
    return std::filesystem::relative(path, base).string();
}

}  // namespace

campaign_section run_campaign_section(const campaign_section_options& opt, const progress_sink& progress) {
    verify::campaign_options co;
    co.pairs = opt.pairs;
    co.nodes = opt.nodes;
    co.seed = opt.seed;
    co.threads = opt.threads;
    co.out = opt.out / "cases";
    co.hunt_pairs = opt.hunt_pairs;
    co.hunt_budget = opt.hunt_budget;
    co.progress = [&](const std::string& family, std::size_t done, std::size_t total) {
        progress.status(fmt::format("campaign: {} {}/{}", family, done, total));
    };
    campaign_section s;
    s.out = opt.out;
    s.result = verify::run_campaign(co);
    progress.done();
    s.totals = verify::variant_totals(s.result);
    for (const auto& [variant, t] : s.totals) s.violated_proved += t.violated_with_hypotheses;
    write_campaign_plots(s.result, opt.out);
    return s;
}

nlohmann::json to_json(const campaign_section& s) {
    using nlohmann::json;
    json j{{"pairs", s.result.pairs}, {"families", s.result.families}, {"violated_with_hypotheses_met", s.violated_proved}};
    for (const auto& [variant, t] : s.totals) {
        const double median = t.median_bound_over_lower(), max = t.max_bound_over_lower();
        json row{{"variant", variant},
                 {"pairs", t.pairs()},
                 {"holds", t.holds},
                 {"violated", t.violated},
                 {"undecided", t.undecided},
                 {"violated_with_hypotheses", t.violated_with_hypotheses},
                 {"max_lower_over_bound", t.worst_ratio},
                 {"max_bound_over_lower", std::isfinite(max) ? json(max) : json(nullptr)},
                 {"median_bound_over_lower", std::isfinite(median) ? json(median) : json(nullptr)},
                 {"max_relative_gap", t.max_relative_gap}};
        if (!t.first_counterexample.empty()) {
            row["counterexample"] = relative_to(t.first_counterexample, s.out);
            row["counterexample_size"] = case_size_text(t.counterexample_original);
            row["counterexample_shrunk_size"] = case_size_text(t.counterexample_shrunk);
        }
        j["variants"].push_back(row);
    }
    for (const auto& [family, variants] : s.result.tally)
        for (const auto& [variant, t] : variants)
            if (t.violated > 0)
                j["violations_by_family"].push_back({{"family", family}, {"variant", variant}, {"violated", t.violated},
                                                     {"max_lower_over_bound", t.worst_ratio}});
    return j;
}

namespace {

std::size_t refuted_readings(const campaign_section& s) {
    std::size_t n = 0;
    for (const auto& [variant, t] : s.totals)
        if (t.violated > 0) ++n;
    return n;
}

}  // namespace

std::string to_markdown(const campaign_section& s) {
    report::markdown_table t{{"bound", "pairs", "HOLDS", "VIOLATED", "UNDECIDED", "violated, hypotheses met", "max bound/lower",
                              "median bound/lower", "max gap", "first counterexample (size -> shrunk)"},
                             {},
                             {false, true, true, true, true, true, true, true, true, false}};
    std::string replays;
    for (const auto& [variant, tl] : s.totals) {
        std::string cex = "-";
        if (!tl.first_counterexample.empty()) {
            const auto rel = relative_to(tl.first_counterexample, s.out);
            cex = report::inline_code(rel) + " (" + case_size_text(tl.counterexample_original) + " -> " +
                  case_size_text(tl.counterexample_shrunk) + ")";
            replays += fmt::format("- {}: `qbound replay {}`\n", variant, (s.out / rel).string());
        }
        t.rows.push_back({variant, std::to_string(tl.pairs()), std::to_string(tl.holds), std::to_string(tl.violated),
                          std::to_string(tl.undecided), std::to_string(tl.violated_with_hypotheses),
                          ratio_text(tl.max_bound_over_lower()), ratio_text(tl.median_bound_over_lower()),
                          report::fraction_text(tl.max_relative_gap, 2), cex});
    }
    std::string families;
    std::size_t hunted = 0;
    for (const auto& f : s.result.families)
        if (f != verify::hunt_family) families += (families.empty() ? "" : ", ") + f;
    for (const auto& p : s.result.records) hunted += p.family == verify::hunt_family;
    const std::size_t menu_families = s.result.families.size() - (hunted > 0 ? 1 : 0);
    const std::string hunt_text =
        hunted > 0 ? fmt::format(", and {} pairs of the family `hunt`, found by `qbound hunt` (the best pairs per variant of a "
                                 "search over MLPs, not drawn from a menu)",
                                 hunted)
                   : std::string();
    std::string md =
        fmt::format("## 2. Campaign: {} pairs, every bound variant\n\nFamilies: {} ({} pairs each){}. Each pair gets a "
                    "certified bracket on the true sup (worst-case search, then differential branch and bound) and a "
                    "verdict per bound variant.\n\n",
                    s.result.pairs, families, (s.result.pairs - hunted) / std::max<std::size_t>(1, menu_families), hunt_text) +
        report::to_markdown(t) +
        "\n`bound/lower` is the bound's value divided by the certified lower end of the sup (below 1: violated; "
        "near 1: tight). `gap` is (upper - lower) / upper of the certified bracket: a large gap means the "
        "upper side is loose, so a large ratio may be the bracket's pessimism rather than the bound's. Sizes are "
        "layers L / units u (inputs and hidden) / non-zero parameters p, as drawn and after shrinking.\n\n" +
        plot_link("campaign_tightness", "bound / certified lower per variant") +
        plot_link("campaign_depth", "bounds and certified sup per unit of parameter change against depth");
    if (!replays.empty())
        md += "Counterexamples found (each folder holds both networks as float64 ONNX and the witness; replay "
              "re-certifies it):\n\n" + replays + "\n";
    return md;
}

std::string summary_row(const campaign_section& s) {
    return fmt::format("| campaign | {} pairs; {} variants violated somewhere; {} violations of a bound whose hypotheses hold |\n",
                       s.result.pairs, refuted_readings(s), s.violated_proved);
}

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
    const std::string G_max = bounds::to_string({bounds::bound_family::G, bounds::r_source::max});
    const std::string A_max = bounds::to_string({bounds::bound_family::A_per_layer, bounds::r_source::max});
    std::vector<quantity> quantities{{G_max, "#9400d3", 5, 0.15, {}},
                                     {A_max, "#009e73", 11, 0.05, {}},
                                     {"certified upper end of the sup (branch and bound)", "#0072b2", 7, -0.05, {}},
                                     {"certified lower end of the sup (witness)", "#e69f00", 9, -0.15, {}}};
    for (const auto& p : r.records) {
        // Only pairs where A-per-layer's hypotheses hold (plain chains, shared biases): the theorem's setting.
        const auto a = std::find_if(p.variants.begin(), p.variants.end(), [&](const auto& v) { return v.bound == A_max; });
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

}  // namespace qbound::experiments
