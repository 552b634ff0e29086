#include "qbound/experiments/demo.hpp"

#include "qbound/arith/precision.hpp"
#include "qbound/experiments/verdicts.hpp"

#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace qbound::experiments {

namespace {

const char* verdict_meaning =
    "- **HOLDS**: the certified upper end of the sup is at most the bound's certified lower value; the inequality holds on "
    "this pair.\n"
    "- **VIOLATED**: the certified lower end (the error at the witness x, evaluated in exact rationals or 256-bit MPFI) "
    "exceeds the bound's certified upper value: x is a counterexample to that bound on this pair.\n"
    "- **UNDECIDED**: the bracket [lower, upper] straddles the bound; more branch-and-bound boxes may decide it.\n"
    "- A VIOLATED bound whose **hypotheses are not met** refutes a reading of a theorem outside its proof (for example the "
    "chain reading on a residual network, or the entrywise form of G); a VIOLATED bound whose hypotheses are met would "
    "refute the theorem itself (exit status 1).\n"
    "- `[r=max]`: r_l from max(theta, theta') as the proofs need; `[r=theta]`: the practitioner's reading, r_l from theta "
    "only.\n";

std::string mode_name(const demo_options& o) { return o.quick ? "quick" : "full"; }

}  // namespace

demo_report run_demo(const demo_options& opt, const progress_sink& progress) {
    const auto start = std::chrono::steady_clock::now();
    const arith::precision_scope scope(opt.precision);
    std::filesystem::create_directories(opt.out);
    demo_report r;
    r.options = opt;
    const bool quick = opt.quick;
    const double search_scale = quick ? 0.25 : 1;

    progress.begin("1/7 number types on hostile computations");
    r.number_types = run_number_types();

    progress.begin("2/7 campaign: every bound variant against random and adversarial pairs");
    r.campaign = run_campaign_section({quick ? 2u : 12u, quick ? 100u : 300u, opt.seed, opt.threads, opt.out, 1, quick ? 4000u : 20000u},
                                      progress);

    progress.begin("3/7 the paper's table (both parts)");
    r.table = run_paper_table(paper_table_options{}, progress);

    progress.begin("4/7 bounds against depth");
    depth_section_options depth;
    depth.sweep.max_depth = quick ? 12 : 40;
    depth.sweep.seed = opt.seed;
    depth.sweep.out = opt.out;
    depth.checks = {quick ? 4u : 8u, quick ? 300u : 3000u, search_scale, opt.seed, opt.threads};
    r.depth = run_depth_section(depth, progress);

    progress.begin("5/7 a quantized small CNN: floor, nearest, AdaRound at 4 and 8 bits");
    r.small_cnn = run_small_cnn({opt.seed, quick ? 40u : 400u, quick ? 16u : 64u, search_scale, opt.threads, opt.out}, progress);

    progress.begin("6/7 rescaling: cross-layer equalization");
    r.equalization = run_equalization({opt.seed, quick ? 2u : 8u, quick ? 40u : 300u, search_scale, opt.threads, opt.out}, progress);

    progress.begin("7/7 hunt: the pairs that push each bound hardest, and the tightness frontier");
    r.hunt = run_hunt_section({quick ? 8000u : 100000u, quick ? 150u : 1500u, quick ? 4u : 8u, quick ? 4u : 16u, opt.seed, opt.threads, opt.out},
                              progress);

    bool depth_violated = false;
    for (const auto& p : r.depth.checks) depth_violated = depth_violated || theorem_violated(p.check.verdicts);
    r.theorem_violated =
        r.campaign.violated_proved > 0 || violated_proved(r.small_cnn) > 0 || depth_violated || r.hunt.result.theorem_violated();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

// Formatting rounds certified values at the working precision: the report's own.
nlohmann::json to_json(const demo_report& r) {
    const arith::precision_scope scope(r.options.precision);
    return {{"qbound_version", "0.1.0"},
            {"mode", mode_name(r.options)},
            {"seed", r.options.seed},
            {"threads", r.options.threads},
            {"number_types", to_json(r.number_types)},
            {"campaign", to_json(r.campaign)},
            {"paper_table", to_json(r.table)},
            {"depth", to_json(r.depth)},
            {"small_cnn", to_json(r.small_cnn)},
            {"equalization", to_json(r.equalization)},
            {"hunt", to_json(r.hunt)},
            {"theorem_violated", r.theorem_violated},
            {"seconds", r.seconds}};
}

std::string summary_table(const demo_report& r) {
    const arith::precision_scope scope(r.options.precision);
    return summary_row(r.number_types) + summary_row(r.campaign) + summary_row(r.table) + summary_row(r.depth) +
           summary_row(r.small_cnn) + summary_row(r.equalization) + summary_row(r.hunt);
}

std::string to_markdown(const demo_report& r) {
    const arith::precision_scope scope(r.options.precision);
    const auto& o = r.options;
    const char* quick_flag = o.quick ? " --quick" : "";
    std::string md = fmt::format("# qbound demo report\n\n{} run, seed {}. Regenerate with `qbound demo{} --seed {} --out {}`.\n\n",
                                 mode_name(o), o.seed, quick_flag, o.seed, o.out.string());
    md += "qbound checks, with rigorous arithmetic, the published bounds on how much quantizing a ReLU network's weights "
          "can change its outputs: sup over x in [-D, D]^d of ||R_theta(x) - R_theta'(x)||_inf <= C ||theta - theta'||_inf.\n\n";
    md += "## What the verdicts mean\n\n";
    md += verdict_meaning;
    md += "\n## Summary\n\n| section | result |\n|---|---|\n" + summary_table(r) +
          (r.theorem_violated ? std::string("\nA bound whose hypotheses hold was VIOLATED in this run (a theorem refuted as stated; see the "
                                            "sections below and replay the saved cases).\n\n")
                              : std::string("\nA bound whose hypotheses hold was never violated anywhere in this run.\n\n"));
    md += to_markdown(r.number_types) + to_markdown(r.campaign) + to_markdown(r.table) + to_markdown(r.depth) +
          to_markdown(r.small_cnn) + to_markdown(r.equalization) + to_markdown(r.hunt);
    md += fmt::format("## Reproduce\n\n- This report: `qbound demo{} --seed {} --out {}` (budgets are counts, not times: the "
                      "same seed gives the same numbers on any machine and thread count).\n- The campaign alone: `qbound campaign`; the "
                      "hunt: `qbound hunt --variant all`; "
                      "one pair: `qbound check MODEL --method floor --bits 4`; the paper's table: `qbound table`.\n\nGenerated in "
                      "{:.0f} s.\n",
                      quick_flag, o.seed, o.out.string(), r.seconds);
    return md;
}

void write_demo_report(const demo_report& r) {
    std::ofstream(r.options.out / "report.md") << to_markdown(r);
    std::ofstream(r.options.out / "report.json") << to_json(r).dump(2) << "\n";
}

}  // namespace qbound::experiments
