#include "qbound/experiments/hunt_report.hpp"

#include "qbound/arith/rational.hpp"
#include "qbound/report/markdown.hpp"
#include "support.hpp"
#include "qbound/report/plot.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace qbound::experiments {

namespace {

std::string ratio_text(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : std::string("inf"); }

std::string size_text(const verify::case_size& s) { return fmt::format("L{} d{} u{} p{}", s.layers, s.inputs, s.hidden_units, s.parameters); }

std::vector<std::string> hunt_row(const std::string& name, const std::string& track, const verify::hunt_track& v) {
    if (!v.certified) return {name, track, ratio_text(v.best_score), "-", "-", "-", "-", "-", "-", "-"};
    std::string hyp = v.hypotheses_hold ? "hold" : "fail: ";
    for (std::size_t i = 0; i < v.failed_hypotheses.size(); ++i) hyp += (i ? ", " : "") + v.failed_hypotheses[i];
    return {name,
            track,
            ratio_text(v.best_score),
            fmt::format("[{}, {}]", ratio_text(v.certified_ratio), ratio_text(v.ratio_upper)),
            to_string(v.result),
            hyp,
            size_text(v.size),
            v.perturbation,
            fmt::format("{:g}", v.D),
            v.saved.empty() ? "-" : v.saved};
}

const std::vector<std::string> hunt_header{"bound", "pairs", "best score", "certified ratio", "verdict", "hypotheses",
                                           "pair (L d u p)", "perturbation", "D",              "saved case"};

}  // namespace

std::string hunt_table(const verify::hunt_result& r) {
    std::vector<std::vector<std::string>> rows{hunt_header};
    for (const auto& v : r.variants) rows.push_back(hunt_row(v.name, "holding", v.holding)), rows.push_back(hunt_row(v.name, "any", v.any));
    std::vector<std::size_t> width(hunt_header.size(), 0);
    for (const auto& row : rows)
        for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    std::string out = fmt::format("hunt: space {}, depth {}-{}, width {}-{}, inputs {}-{}, perturbation {}; {} candidates in {} runs, seed {}\n{}\n",
                                  to_string(r.space.architecture), r.space.depth.lo, r.space.depth.hi, r.space.width.lo, r.space.width.hi,
                                  r.space.inputs.lo, r.space.inputs.hi, to_string(r.space.perturbation), r.evaluations, r.runs, r.seed,
                                  r.space.region.empty() ? std::string()
                                                         : "Omega: " + r.space.region_described + " (the bounds' D = " +
                                                               arith::to_decimal(r.space.region_D, 6) + ")\n");
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) line += fmt::format("{:<{}}  ", row[c], width[c]);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    out += "\npairs: holding = only pairs on which the bound's hypotheses hold (a violation refutes the theorem); any = every pair.\n"
           "best score: the float-sound lower end of ||R_theta(x) - R_theta'(x)||_inf at the search's best x / the bound (nearest double;\n"
           "a guide for the search, not a certificate). certified ratio: [certified lower of the\n"
           "sup / the bound's certified upper value, certified upper of the sup / the bound's certified lower value] for the best pair\n"
           "(above 1: VIOLATED, the witness is a certified counterexample). pair: layers L, inputs d, hidden units u, parameters p.\n";
    return out;
}

std::string hunt_markdown(const verify::hunt_result& r) {
    report::markdown_table t;
    t.header = hunt_header;
    for (const auto& v : r.variants) t.rows.push_back(hunt_row(v.name, "holding", v.holding)), t.rows.push_back(hunt_row(v.name, "any", v.any));
    return report::to_markdown(t);
}

std::string frontier_table(const verify::frontier_result& f) {
    std::string out;
    for (std::size_t v = 0; v < f.variants.size(); ++v) {
        out += fmt::format("{}: certified sup / bound by depth (rows) and width (columns)\n{:>6}", f.variants[v], "depth");
        for (std::size_t w : f.widths) out += fmt::format(" {:>9}", fmt::format("w={}", w));
        out += "\n";
        for (std::size_t d = 0; d < f.depths.size(); ++d) {
            out += fmt::format("{:>6}", f.depths[d]);
            for (std::size_t w = 0; w < f.widths.size(); ++w) out += fmt::format(" {:>9}", ratio_text(f.at(d, w, v)));
            out += "\n";
        }
        out += "\n";
    }
    return out;
}

std::string frontier_markdown(const verify::frontier_result& f) {
    report::markdown_table t;
    t.header = {"bound", "depth"};
    for (std::size_t w : f.widths) t.header.push_back(fmt::format("width {}", w));
    for (std::size_t v = 0; v < f.variants.size(); ++v)
        for (std::size_t d = 0; d < f.depths.size(); ++d) {
            std::vector<std::string> row{f.variants[v], std::to_string(f.depths[d])};
            for (std::size_t w = 0; w < f.widths.size(); ++w) row.push_back(ratio_text(f.at(d, w, v)));
            t.rows.push_back(std::move(row));
        }
    return report::to_markdown(t);
}

void write_hunt_history_plot(const verify::hunt_result& r, const std::filesystem::path& dir) {
    report::plot_spec p;
    p.title = "Hunt: best sup / bound found against budget, pairs where the hypotheses hold (" + to_string(r.space.architecture) + ")";
    p.x_label = "candidates scored";
    p.y_label = "best |R_theta - R_theta'| / bound (approximate)";
    p.log_y = true;
    p.key = "outside right top";
    p.width = 1100;
    for (const auto& v : r.variants) {
        report::series s;
        s.title = v.name;
        for (const auto& h : v.holding.history) s.x.push_back(static_cast<double>(h.evaluations)), s.y.push_back(h.best_score);
        p.lines.push_back(std::move(s));
    }
    std::filesystem::create_directories(dir);
    report::write_plot(p, dir / "hunt_history");
}

void write_frontier_plot(const verify::frontier_result& f, const std::filesystem::path& dir) {
    report::plot_spec p;
    p.title = "Tightness frontier: largest certified sup / bound found (max over widths)";
    p.x_label = "depth L";
    p.y_label = "certified sup / bound";
    p.log_y = true;
    p.key = "outside right top";
    p.width = 1100;
    for (std::size_t v = 0; v < f.variants.size(); ++v) {
        report::series s;
        s.title = f.variants[v];
        for (std::size_t d = 0; d < f.depths.size(); ++d) {
            double best = 0;
            for (std::size_t w = 0; w < f.widths.size(); ++w) best = std::max(best, f.at(d, w, v));
            s.x.push_back(static_cast<double>(f.depths[d]));
            s.y.push_back(best);
        }
        p.lines.push_back(std::move(s));
    }
    if (!f.depths.empty())
        p.lines.push_back({"ratio 1 (above: VIOLATED)", {static_cast<double>(f.depths.front()), static_cast<double>(f.depths.back())}, {1, 1}, false, true,
                           "black", 0, true});
    std::filesystem::create_directories(dir);
    report::write_plot(p, dir / "hunt_frontier");
}

hunt_section run_hunt_section(const hunt_section_options& opt, const progress_sink& progress) {
    verify::hunt_options h;
    h.space.depth = {1, opt.max_depth};
    h.space.width = {1, opt.max_width};
    h.budget = opt.budget;
    h.seed = opt.seed;
    h.threads = opt.threads;
    h.out = opt.out / "cases";
    h.progress = [&](std::size_t done, std::size_t total) { progress.status(fmt::format("hunt: runs {}/{}", done, total)); };
    hunt_section s;
    s.out = opt.out;
    s.result = verify::run_hunt(h);
    progress.status("hunt: tightness frontier");
    s.frontier = verify::hunt_frontier(h, opt.frontier_budget);
    progress.done();
    write_hunt_history_plot(s.result, opt.out);
    write_frontier_plot(s.frontier, opt.out);
    return s;
}

nlohmann::json to_json(const hunt_section& s) {
    nlohmann::json j = verify::hunt_to_json(s.result);
    j["frontier"] = verify::frontier_to_json(s.frontier);
    for (auto& v : j["variants"])
        for (const char* track : {"holding", "any"})
            if (v[track].contains("saved")) v[track]["saved"] = std::filesystem::relative(v[track]["saved"].get<std::string>(), s.out).string();
    return j;
}

namespace {

std::size_t holding_violations(const verify::hunt_result& r) {
    std::size_t n = 0;
    for (const auto& v : r.variants) n += v.holding.result == verify::verdict::violated;
    return n;
}

}  // namespace

std::string to_markdown(const hunt_section& s) {
    verify::hunt_result r = s.result;  // saved cases shown relative to the report folder
    for (auto& v : r.variants)
        for (auto* t : {&v.holding, &v.any})
            if (!t->saved.empty()) t->saved = std::filesystem::relative(t->saved, s.out).string();
    std::string md = fmt::format(
        "## 7. Hunt: the pairs that push each bound hardest\n\n`qbound hunt` searched MLPs (depth 1-{}, hidden widths 1-{}, "
        "inputs 1-4; free perturbations or quantizer grids; D = 2^-24 .. 2^4) for the largest sup / bound of every variant: "
        "{} candidates in {} runs (gradient steps on the weights, sign moves of the perturbation, mutations; seed {}). "
        "**holding**: only pairs on which the variant's hypotheses hold, so a ratio above 1 refutes the theorem as stated "
        "here; **any**: every pair. Each best pair is re-certified with the usual bracket.\n\n",
        r.space.depth.hi, r.space.width.hi, r.evaluations, r.runs, r.seed);
    md += hunt_markdown(r);
    md += "\n`certified ratio`: [certified lower end of the sup / the bound's certified upper value, certified upper end / "
          "the bound's certified lower value]. Pair sizes: layers L, inputs d, hidden units u, parameters p.\n\n";
    std::string replays;
    for (const auto& v : r.variants)
        for (const auto* t : {&v.holding, &v.any})
            if (!t->saved.empty())
                replays += fmt::format("- {} ({}): `qbound replay {}`\n", v.name, t == &v.holding ? "hypotheses met" : "any pair",
                                       (s.out / t->saved).string());
    if (!replays.empty()) md += "Violations found, shrunk and saved:\n\n" + replays + "\n";
    md += fmt::format("### Tightness frontier\n\nFor each depth and width, a hunt of {} candidates restricted to it; the largest "
                      "certified sup / bound on pairs where the variant's hypotheses hold (certified at the cell's best witness). "
                      "Values near 1 mean the theorem is nearly attained at that size; small values, that it stays pessimistic "
                      "there (for what this search could find).\n\n",
                      s.frontier.budget_per_cell);
    md += frontier_markdown(s.frontier) + "\n";
    md += detail::plot_link("hunt_frontier", "largest certified sup / bound against depth, per variant");
    md += detail::plot_link("hunt_history", "best score against candidates scored, per variant");
    return md;
}

std::string summary_row(const hunt_section& s) {
    return fmt::format("| hunt | {} candidates; {} variants violated on pairs where their hypotheses hold |\n", s.result.evaluations,
                       holding_violations(s.result));
}

}  // namespace qbound::experiments
