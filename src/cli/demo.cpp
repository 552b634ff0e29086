// `qbound demo`: the main job. On built-in defaults it runs every kind of
// experiment qbound offers and writes a report folder a reader can follow:
//   report.md    tables, what each verdict means, counterexamples and the
//                commands that replay them
//   report.json  the same numbers, machine-readable
//   *.png/*.svg  plots (with their .dat data and .gp gnuplot scripts)
//   cases/       replayable case folders (`qbound replay cases/NAME`)
// Sections: 1 number types on hostile computations; 2 a campaign over random
// and adversarial pairs for every bound variant; 3 the paper's table; 4
// bounds against depth (constants, and bounds against the certified sup);
// 5 a quantized small CNN checked (floor, nearest, AdaRound at 4 and 8 bits);
// 6 cross-layer equalization: r_l and the bounds change, the function does not.
//
// Every budget is a count (search evaluations, branch-and-bound boxes), never
// a time, so a seed gives the same report on any machine and for any
// --threads.
#include "cli_support.hpp"
#include "commands.hpp"
#include "reports.hpp"

#include "qbound/arith/exact_dot.hpp"
#include "qbound/arith/linalg.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/bounds/ingredients.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/rescale.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/report/plot.hpp"
#include "qbound/verify/campaign.hpp"
#include "qbound/verify/case_file.hpp"
#include "qbound/verify/check.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace qbound::cli {

namespace {

using namespace qbound::arith;
using nlohmann::json;

// ---- Section 1: number types on hostile computations --------------------------

struct number_row {
    std::string computation, type, guarantee, lower, upper, width;
    bool contains_exact = false;
};

std::string show(double x) { return fmt::format("{:.17g}", x); }
std::string show(const rational& q) { return to_decimal(q, 17); }
std::string show(const mpfr_real& x) { return x.to_string(17); }
std::string show_width(double w) { return fmt::format("{:.3g}", w); }
std::string show_width(const rational& w) { return show_width(nearest_double(w)); }
std::string show_width(const mpfr_real& w) { return show_width(w.to_double()); }

template <class T>
number_row describe_result(const std::string& computation, const T& value, const rational& exact) {
    using traits = scalar_traits<T>;
    return {computation,       std::string(traits::name), std::string(to_string(traits::kind)), show(lower(value)),
            show(upper(value)), show_width(width(value)),        contains(value, exact)};
}

// sum_i a_i b_i, then ReLU, computed in type T from double data.
template <class T>
T relu_of_dot(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<T> ta, tb;
    for (double v : a) ta.push_back(scalar_traits<T>::from_double(v));
    for (double v : b) tb.push_back(scalar_traits<T>::from_double(v));
    return relu(dot<T>(ta, tb));
}

template <class... Ts>
void add_each_type(std::vector<number_row>& rows, const std::string& name, const std::vector<double>& a,
                   const std::vector<double>& b) {
    const rational exact = relu(exact_dot(a, b));
    (rows.push_back(describe_result(name, relu_of_dot<Ts>(a, b), exact)), ...);
}

std::vector<number_row> number_type_rows() {
    struct computation {
        std::string name;
        std::vector<double> a, b;
    };
    const std::vector<computation> computations = {
        {"relu(0.1*1 + 0.2*1)", {0.1, 0.2}, {1, 1}},
        {"relu(1e16 + 1 - 1e16)", {1e16, 1, -1e16}, {1, 1, 1}},
        {"relu(2^-1074 * 0.5 + 2^-1074 * 0.25)", {0x1p-1074, 0x1p-1074}, {0.5, 0.25}},
        {"relu(1 - 3 * (1/3))", {1, -3}, {1, 1.0 / 3.0}},
    };
    std::vector<number_row> rows;
    for (const auto& c : computations)
        add_each_type<double, rational, mpfr_real, interval_double, mpfi_interval>(rows, c.name, c.a, c.b);
    return rows;
}

json number_rows_json(const std::vector<number_row>& rows) {
    json j = json::array();
    for (const auto& r : rows)
        j.push_back({{"computation", r.computation}, {"type", r.type}, {"guarantee", r.guarantee}, {"lower", r.lower},
                     {"upper", r.upper}, {"width", r.width}, {"contains_exact", r.contains_exact}});
    return j;
}

// The original `qbound demo` output: kept as `qbound demo --numbers-only`.
int print_number_types(const std::vector<number_row>& rows, long precision, bool as_json) {
    if (as_json) {
        std::cout << json{{"precision_bits", precision}, {"results", number_rows_json(rows)}}.dump(2) << "\n";
        return 0;
    }
    fmt::print("qbound demo: one computation, five number types (MPFR/MPFI at {} bits)\n", precision);
    fmt::print("'exact?' says whether the value (or enclosure) contains the exact real result.\n");
    std::string current;
    for (const auto& r : rows) {
        if (r.computation != current) {
            current = r.computation;
            fmt::print("\n{}\n  {:<16} {:<18} {:<25} {:<25} {:<11} {}\n", current, "type", "guarantee", "lower", "upper", "width", "exact?");
        }
        fmt::print("  {:<16} {:<18} {:<25} {:<25} {:<11} {}\n", r.type, r.guarantee, r.lower, r.upper, r.width,
                   r.contains_exact ? "yes" : "NO");
    }
    fmt::print("\nEvery enclosure contains the exact result; plain double may not (that is why qbound exists).\n");
    return 0;
}

// ---- Shared helpers -------------------------------------------------------------

class progress_line {
public:
    explicit progress_line(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
    void section(const std::string& title) {
        if (!enabled_) return;
        clear();
        std::cerr << fmt::format("[{:6.1f} s] {}\n", seconds(), title);
    }
    void update(const std::string& text) {
        if (!enabled_) return;
        std::lock_guard lock(mutex_);
        std::cerr << "\r  " << text << std::string(text.size() < 70 ? 70 - text.size() : 0, ' ') << std::flush;
        dirty_ = true;
    }
    void clear() {
        if (!enabled_ || !dirty_) return;
        std::cerr << "\r" << std::string(74, ' ') << "\r" << std::flush;
        dirty_ = false;
    }
    double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

private:
    bool enabled_;
    bool dirty_ = false;
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
};

std::string sci(const bounds::upper& v) { return bounds::scientific_up(v, 3); }
std::string dec(const rational& q, int digits = 6) { return to_decimal(q, digits); }
std::string ratio_text(double r) { return std::isfinite(r) ? fmt::format("{:.3g}", r) : "inf"; }

const verify::bound_verdict* find_verdict(const verify::check_result& r, const std::string& name) {
    for (const auto& v : r.verdicts)
        if (v.bound == name) return &v;
    return nullptr;
}

// Counted budgets only (verify::counted_search, branch-and-bound boxes): a
// seed gives the same report on any machine and thread count.
verify::check_options counted_check(const rational& D, std::size_t nodes, std::uint64_t seed, bool quick, std::size_t inputs) {
    verify::check_options c;
    c.D = D;
    c.search = verify::counted_search(inputs, quick ? 0.25 : 1, seed);
    c.branch.max_nodes = nodes;
    c.branch.max_seconds = 1e6;
    return c;
}

// The best proved bound: the smallest certified value among variants whose
// hypotheses hold.
const verify::bound_verdict* best_proved(const verify::check_result& r) {
    const verify::bound_verdict* best = nullptr;
    for (const auto& v : r.verdicts)
        if (v.hypotheses_hold && (!best || v.value < best->value)) best = &v;
    return best;
}

struct verdict_counts {
    std::size_t holds = 0, violated = 0, undecided = 0, violated_proved = 0;
};
verdict_counts count_verdicts(const verify::check_result& r) {
    verdict_counts c;
    for (const auto& v : r.verdicts) {
        if (v.result == verify::verdict::holds) ++c.holds;
        if (v.result == verify::verdict::undecided) ++c.undecided;
        if (v.result == verify::verdict::violated) {
            ++c.violated;
            if (v.hypotheses_hold) ++c.violated_proved;
        }
    }
    return c;
}

// ---- Section 2: campaign ------------------------------------------------------------

struct campaign_section {
    verify::campaign_result result;
    std::vector<std::pair<std::string, verify::variant_tally>> totals;  // over all families, in THEOREMS.md order
    std::size_t violated_proved = 0;
};

campaign_section run_campaign_section(const demo_options& opt, progress_line& progress) {
    verify::campaign_options co;
    co.pairs = opt.quick ? 2 : 12;
    co.nodes = opt.quick ? 100 : 300;
    co.seed = opt.seed;
    co.threads = static_cast<unsigned>(opt.threads);
    co.out = opt.out / "cases";
    co.progress = [&](const std::string& family, std::size_t done, std::size_t total) {
        progress.update(fmt::format("campaign: {} {}/{}", family, done, total));
    };
    campaign_section s;
    s.result = verify::run_campaign(co);
    progress.clear();
    s.totals = verify::variant_totals(s.result);
    for (const auto& [variant, t] : s.totals) s.violated_proved += t.violated_with_hypotheses;
    return s;
}

std::string relative_to(const std::string& path, const std::filesystem::path& base) {
    return std::filesystem::relative(path, base).string();
}

json campaign_json(const campaign_section& s, const std::filesystem::path& out) {
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
            row["counterexample"] = relative_to(t.first_counterexample, out);
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

// ---- Section 4b: bounds against the certified sup, against depth ---------------------

struct depth_point {
    std::size_t L = 0;
    verify::check_result check;
    rational max_change;
};

std::vector<depth_point> run_depth_checks(const demo_options& opt, progress_line& progress) {
    const std::size_t max_depth = opt.quick ? 4 : 8, width = 8;
    std::vector<depth_point> points(max_depth);
    std::atomic<std::size_t> done{0};
    core::parallel_for(max_depth, static_cast<unsigned>(opt.threads), [&](std::size_t i, unsigned) {
        const std::size_t L = i + 1;
        std::vector<std::size_t> widths(L + 1, width);
        widths.front() = 2;
        widths.back() = 1;
        net::network theta = net::make_mlp(widths);
        net::init_he_normal(theta, opt.seed + 100 * L, 0.1);
        quant::options q;
        q.kind = quant::method::nearest;
        q.bits = 4;
        const auto quantized = quant::quantize(theta, q);
        points[i].L = L;
        points[i].max_change = quantized.max_change;
        points[i].check = verify::check_pair(theta, quantized.network, counted_check(1, opt.quick ? 300 : 3000, opt.seed, opt.quick, 2));
        progress.update(fmt::format("bounds vs depth: {}/{} depths checked", ++done, max_depth));
    });
    progress.clear();
    return points;
}

const std::vector<std::string>& depth_plot_variants() {
    static const std::vector<std::string> v{"G[r=max]", "A-per-layer[r=max]", "A-collapsed[r=max]", "A'-collapsed[r=max]"};
    return v;
}

void plot_depth_checks(const std::vector<depth_point>& points, const std::filesystem::path& stem) {
    report::plot_spec spec;
    spec.title = "Bounds vs the certified worst case: 2-input MLPs of width 8, nearest rounding at 4 bits, D = 1";
    spec.x_label = "depth L (affine layers)";
    spec.y_label = "sup_x ||R_theta(x) - R_theta'(x)||_inf (log scale)";
    spec.log_y = true;
    for (const auto& p : points) spec.x_tics.emplace_back(static_cast<double>(p.L), std::to_string(p.L));
    for (const auto& name : depth_plot_variants()) {
        report::series s{name + " bound", {}, {}};
        for (const auto& p : points)
            if (const auto* v = find_verdict(p.check, name)) {
                s.x.push_back(static_cast<double>(p.L));
                s.y.push_back(bounds::log10_nearest(v->value) > 300 ? HUGE_VAL : std::pow(10.0, bounds::log10_nearest(v->value)));
            }
        spec.lines.push_back(s);
    }
    report::series upper{"certified upper end of the sup (branch and bound)", {}, {}}, lower{"certified lower end of the sup (witness)", {}, {}};
    upper.dashed = true;
    for (const auto& p : points) {
        upper.x.push_back(static_cast<double>(p.L));
        upper.y.push_back(round_to_double(p.check.upper, MPFR_RNDU));
        lower.x.push_back(static_cast<double>(p.L));
        lower.y.push_back(round_to_double(p.check.witness.lower, MPFR_RNDD));
    }
    spec.lines.push_back(upper);
    spec.lines.push_back(lower);
    report::write_plot(spec, stem);
}

// ---- Section 5: a quantized small CNN ---------------------------------------------------

struct cnn_case {
    std::string method;
    unsigned bits = 0;
    std::string name;  // case folder name
    rational max_change;
    verify::check_result check;
};

std::vector<cnn_case> run_cnn_checks(const demo_options& opt, progress_line& progress) {
    net::network theta = net::make_zoo_model("cnn");
    net::init_he_normal(theta, opt.seed, 0.05);
    std::vector<cnn_case> cases;
    for (const std::string method : {"floor", "nearest", "adaround"})
        for (unsigned bits : {4u, 8u}) cases.push_back({method, bits, fmt::format("cnn-{}-{}bit", method, bits), 0, {}});
    std::atomic<std::size_t> done{0};
    core::parallel_for(cases.size(), static_cast<unsigned>(opt.threads), [&](std::size_t i, unsigned) {
        auto& c = cases[i];
        quant::options q;
        q.kind = c.method == "floor" ? quant::method::floor : c.method == "nearest" ? quant::method::nearest : quant::method::adaround;
        q.bits = c.bits;
        q.seed = opt.seed;
        q.calib_samples = opt.quick ? 16 : 64;
        const auto quantized = quant::quantize(theta, q);
        c.max_change = quantized.max_change;
        c.check = verify::check_pair(theta, quantized.network, counted_check(1, opt.quick ? 40 : 400, opt.seed, opt.quick, theta.input_shape().size()));
        verify::save_case(opt.out / "cases" / c.name, theta, quantized.network, 1, c.check.witness,
                          fmt::format("qbound demo: zoo cnn (He-normal, seed {}, bias std 0.05) vs {} at {} bits", opt.seed, c.method, c.bits));
        progress.update(fmt::format("small CNN: {}/{} quantized copies checked", ++done, cases.size()));
    });
    progress.clear();
    return cases;
}

// ---- Section 6: cross-layer equalization ------------------------------------------------

struct cle_stage {
    std::string name;
    net::network network;
    std::vector<rational> rho;  // per affine layer of the main path
    rational max_change;        // of its nearest 8-bit copy
    verify::check_result check;
};

struct cle_section {
    std::vector<std::string> layer_names;
    std::vector<cle_stage> stages;  // He-normal, imbalanced, equalized
    net::cle_report report;
    std::size_t inputs_compared = 0;
    bool outputs_identical = true;
};

std::vector<rational> layer_norms(const net::network& n) {
    const auto p = bounds::collect_ingredients(n, n, 1);
    std::vector<rational> rho;
    for (std::size_t l : p.main_path) rho.push_back(p.layers[l].rho[bounds::original]);
    return rho;
}

cle_section run_cle_section(const demo_options& opt, progress_line& progress) {
    cle_section s;
    net::network base = net::make_zoo_model("cnn");
    net::init_he_normal(base, opt.seed, 0.05);
    // Imbalance: per-channel power-of-two rescalings (exact: the function is
    // unchanged), as batch-norm folding leaves trained networks.
    net::network imbalanced = base;
    std::mt19937_64 rng(opt.seed * 7919 + 11);
    std::uniform_int_distribution<int> exponent(-5, 5);
    for (std::size_t i = 0; i < imbalanced.nodes().size(); ++i) {
        if (!imbalanced.nodes()[i].is_affine()) continue;
        try {
            (void)net::rescaling_partner(imbalanced, i);
        } catch (const net::model_error&) {
            continue;  // the output layer has no partner
        }
        std::vector<double> scale(imbalanced.nodes()[i].out_features);
        for (auto& v : scale) v = std::ldexp(1.0, exponent(rng));
        net::rescale_layer_pair(imbalanced, i, scale);
    }
    net::network equalized = imbalanced;
    s.report = net::cross_layer_equalization(equalized);

    // The three networks compute the same function: exact rational outputs at random inputs.
    std::uniform_real_distribution<double> coordinate(-1, 1);
    s.inputs_compared = opt.quick ? 2 : 8;
    for (std::size_t k = 0; k < s.inputs_compared; ++k) {
        std::vector<rational> x(base.input_shape().size());
        for (auto& v : x) v = rational(coordinate(rng));
        const auto y0 = net::forward<rational>(base, x), y1 = net::forward<rational>(imbalanced, x),
                   y2 = net::forward<rational>(equalized, x);
        s.outputs_identical = s.outputs_identical && y0 == y1 && y1 == y2;
    }

    const auto p = bounds::collect_ingredients(base, base, 1);
    for (std::size_t l : p.main_path) s.layer_names.push_back(p.layers[l].name);
    s.stages = {{"He-normal", base, {}, 0, {}}, {"imbalanced (exact 2^k channel rescaling)", imbalanced, {}, 0, {}},
                {"after cross-layer equalization", equalized, {}, 0, {}}};
    std::atomic<std::size_t> done{0};
    core::parallel_for(s.stages.size(), static_cast<unsigned>(opt.threads), [&](std::size_t i, unsigned) {
        auto& st = s.stages[i];
        st.rho = layer_norms(st.network);
        quant::options q;
        q.kind = quant::method::nearest;
        q.bits = 8;
        const auto quantized = quant::quantize(st.network, q);
        st.max_change = quantized.max_change;
        st.check = verify::check_pair(st.network, quantized.network, counted_check(1, opt.quick ? 40 : 300, opt.seed, opt.quick, st.network.input_shape().size()));
        progress.update(fmt::format("equalization: {}/{} networks checked", ++done, s.stages.size()));
    });
    progress.clear();
    return s;
}

void plot_cle(const cle_section& s, const std::filesystem::path& stem) {
    report::plot_spec spec;
    spec.title = "Layer norms r_l = ||[W_l | b_l]||_inf before and after cross-layer equalization (zoo cnn)";
    spec.x_label = "affine layer l";
    spec.y_label = "r_l (log scale)";
    spec.log_y = true;
    for (std::size_t l = 0; l < s.layer_names.size(); ++l)
        spec.x_tics.emplace_back(static_cast<double>(l + 1), fmt::format("{} ({})", l + 1, s.layer_names[l]));
    for (const auto& st : s.stages) {
        report::series line{st.name, {}, {}};
        for (std::size_t l = 0; l < st.rho.size(); ++l) {
            line.x.push_back(static_cast<double>(l + 1));
            line.y.push_back(nearest_double(st.rho[l]));
        }
        spec.lines.push_back(line);
    }
    report::write_plot(spec, stem);
}

// ---- The report ---------------------------------------------------------------------

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

std::string plot_link(const std::string& stem, const std::string& alt) {
    return fmt::format("![{}]({}.png)\n\n(also [{}.svg]({}.svg); data {}.dat, gnuplot script {}.gp)\n\n", alt, stem, stem, stem, stem, stem);
}

}  // namespace

int run_demo(const demo_options& opt) {
    precision_scope scope(opt.precision);
    if (opt.numbers_only) return print_number_types(number_type_rows(), opt.precision, opt.json);

    demo_options o = opt;
    if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
    std::filesystem::create_directories(o.out);
    progress_line progress(true);
    const std::string mode = o.quick ? "quick" : "full";
    if (!o.json)
        fmt::print("qbound demo ({} run, seed {}, {} threads): writing the report to {}/\n", mode, o.seed, o.threads, o.out.string());

    json report{{"qbound_version", "0.1.0"}, {"mode", mode}, {"seed", o.seed}, {"threads", o.threads}};
    std::string md;
    md += fmt::format("# qbound demo report\n\n{} run, seed {}. Regenerate with `qbound demo{} --seed {} --out {}`.\n\n", mode, o.seed,
                      o.quick ? " --quick" : "", o.seed, o.out.string());
    md += "qbound checks, with rigorous arithmetic, the published bounds on how much quantizing a ReLU network's weights "
          "can change its outputs: sup over x in [-D, D]^d of ||R_theta(x) - R_theta'(x)||_inf <= C ||theta - theta'||_inf.\n\n";
    md += "## What the verdicts mean\n\n";
    md += verdict_meaning;
    std::string summary;  // filled as sections finish, placed before the sections
    std::string sections;

    // 1. Number types.
    progress.section("1/6 number types on hostile computations");
    const auto rows = number_type_rows();
    report["number_types"] = {{"precision_bits", o.precision}, {"results", number_rows_json(rows)}};
    {
        report::markdown_table t{{"computation", "type", "guarantee", "lower", "upper", "contains exact?"}, {}, {}};
        std::size_t missed_by_enclosure = 0, missed_by_double = 0, rigorous = 0;
        for (const auto& r : rows) {
            if (r.guarantee != "approximate") ++rigorous;
            t.rows.push_back({r.computation, r.type, r.guarantee, r.lower, r.upper, r.contains_exact ? "yes" : "NO"});
            if (!r.contains_exact) (r.guarantee == "approximate" ? missed_by_double : missed_by_enclosure)++;
        }
        sections += "## 1. Number types on hostile computations\n\nEach computation is a dot product followed by ReLU, in each "
                    "of qbound's number types; the exact result is computed in rationals (GMP).\n\n" +
                    report::to_markdown(t) +
                    fmt::format("\nEnclosures missing the exact result: {} (must be 0). Plain double missing it: {}.\n\n",
                                missed_by_enclosure, missed_by_double);
        summary += fmt::format("| number types | {} results in rational, MPFR and interval types: {} miss the exact result; "
                               "plain double misses it in {} of 4 computations |\n",
                               rigorous, missed_by_enclosure, missed_by_double);
    }

    // 2. Campaign.
    progress.section("2/6 campaign: every bound variant against random and adversarial pairs");
    const auto campaign = run_campaign_section(o, progress);
    write_campaign_plots(campaign.result, o.out);
    report["campaign"] = campaign_json(campaign, o.out);
    {
        report::markdown_table t{{"bound", "pairs", "HOLDS", "VIOLATED", "UNDECIDED", "violated, hypotheses met", "max bound/lower",
                                  "median bound/lower", "max gap", "first counterexample (size -> shrunk)"},
                                 {},
                                 {false, true, true, true, true, true, true, true, true, false}};
        std::size_t refuted_readings = 0;
        std::string replays;
        for (const auto& [variant, tl] : campaign.totals) {
            std::string cex = "-";
            if (!tl.first_counterexample.empty()) {
                const auto rel = relative_to(tl.first_counterexample, o.out);
                cex = report::inline_code(rel) + " (" + case_size_text(tl.counterexample_original) + " -> " +
                      case_size_text(tl.counterexample_shrunk) + ")";
                replays += fmt::format("- {}: `qbound replay {}`\n", variant, (o.out / rel).string());
            }
            if (tl.violated > 0) ++refuted_readings;
            t.rows.push_back({variant, std::to_string(tl.pairs()), std::to_string(tl.holds), std::to_string(tl.violated),
                              std::to_string(tl.undecided), std::to_string(tl.violated_with_hypotheses),
                              ratio_text(tl.max_bound_over_lower()), ratio_text(tl.median_bound_over_lower()),
                              fmt::format("{:.2g}", tl.max_relative_gap), cex});
        }
        std::string families;
        for (const auto& f : campaign.result.families) families += (families.empty() ? "" : ", ") + f;
        sections += fmt::format("## 2. Campaign: {} pairs, every bound variant\n\nFamilies: {} ({} pairs each). Each pair gets a "
                                "certified bracket on the true sup (worst-case search, then differential branch and bound) and a "
                                "verdict per bound variant.\n\n",
                                campaign.result.pairs, families, campaign.result.pairs / std::max<std::size_t>(1, campaign.result.families.size())) +
                    report::to_markdown(t) +
                    "\n`bound/lower` is the bound's value divided by the certified lower end of the sup (below 1: violated; "
                    "near 1: tight). `gap` is (upper - lower) / upper of the certified bracket: a large gap means the "
                    "upper side is loose, so a large ratio may be the bracket's pessimism rather than the bound's. Sizes are "
                    "layers L / units u (inputs and hidden) / non-zero parameters p, as drawn and after shrinking.\n\n" +
                    plot_link("campaign_tightness", "bound / certified lower per variant") +
                    plot_link("campaign_depth", "bounds and certified sup per unit of parameter change against depth");
        if (!replays.empty())
            sections += "Counterexamples found (each folder holds both networks as float64 ONNX and the witness; replay "
                        "re-certifies it):\n\n" + replays + "\n";
        summary += fmt::format("| campaign | {} pairs; {} variants violated somewhere; {} violations of a bound whose hypotheses hold |\n",
                               campaign.result.pairs, refuted_readings, campaign.violated_proved);
    }

    // 3. The paper's table.
    progress.section("3/6 the paper's table (both parts)");
    const table_report table = compute_table(table_options{}, true);
    report["paper_table"] = table.json;
    {
        auto gain_rows = [](const std::vector<bounds::gain_row>& rows, const std::vector<std::optional<double>>& paper) {
            report::markdown_table t{{"model", "L", "old W (largest feature map)", "old r", "new W (max p^2 c + 1)", "group-aware W",
                                      "r_conv", "old C", "new C (L * max)", "gain (L * max)", "gain (sum)", "paper"},
                                     {},
                                     {false, true, true, true, true, true, true, true, true, true, true, true}};
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const auto& g = rows[i];
                t.rows.push_back({g.model, std::to_string(g.L), grouped(g.old_width), bounds::decimal_up(g.r_old, 4),
                                  grouped(g.new_width), grouped(g.new_width_group), bounds::decimal_up(g.r_conv, 4),
                                  bounds::scientific_up(g.old_constant, 3), bounds::scientific_up(g.new_constant_max, 3),
                                  fmt::format("1e{:.2f}", bounds::log10_nearest(g.gain_max)),
                                  fmt::format("1e{:.2f}", bounds::log10_nearest(g.gain_sum)),
                                  i < paper.size() && paper[i] ? fmt::format("~1e{:.0f}", *paper[i]) : "-"});
            }
            return report::to_markdown(t);
        };
        sections += "## 3. The paper's table: old bound G against the new CNN bound B at 224 x 224\n\n"
                    "Old constant W L^2 r^(L-1) (W the largest feature map); new constant L * max_l (p_l^2 c_(l-1) + 1) * "
                    "r_conv^(L-1) (or the sum over layers). Constants are certified upper values, gains their ratios.\n\n"
                    "(a) With the paper's rounded norms (from trained ImageNet weights):\n\n" +
                    gain_rows(table.rows_a, table.paper_a) +
                    fmt::format("\nThe paper's gains follow the width convention '{}' (ResNet exponents off by {:.2f} in total, "
                                "{:.2f} with the other convention).\n\n(b) With norms computed from qbound's zoo weights "
                                "(seeded He-normal, not trained: the widths and depths are exact, the norms are not the paper's):\n\n",
                                table.matches, table.miss_best, table.miss_other) +
                    gain_rows(table.rows_b, {}) + "\n";
        std::string gains;
        for (const auto& g : table.rows_a) gains += fmt::format("{}{} 1e{:.2f}", gains.empty() ? "" : ", ", g.model, bounds::log10_nearest(g.gain_max));
        summary += fmt::format("| paper's table | gains with the paper's norms: {} |\n", gains);
    }

    // 4. Depth.
    progress.section("4/6 bounds against depth");
    depth_sweep_options sweep;
    sweep.max_depth = o.quick ? 12 : 40;
    sweep.seed = o.seed;
    sweep.out = o.out;
    const json sweep_json = compute_depth_sweep(sweep, true);
    const auto depth = run_depth_checks(o, progress);
    plot_depth_checks(depth, o.out / "bounds_vs_depth");
    {
        json points = json::array();
        report::markdown_table t{{"L", "||theta - theta'||", "certified sup in", "G", "A-per-layer", "A-collapsed", "A'-collapsed", "A-per-layer / lower"},
                                 {},
                                 {true, true, false, true, true, true, true, true}};
        for (const auto& p : depth) {
            json pj{{"L", p.L}, {"max_change", dec(p.max_change, 10)}, {"lower", dec(p.check.witness.lower, 12)},
                    {"upper", dec(p.check.upper, 12)}, {"boxes", p.check.boxes}, {"verdicts", verdicts_json(p.check.verdicts)}};
            points.push_back(pj);
            std::vector<std::string> row{std::to_string(p.L), dec(p.max_change, 4),
                                         fmt::format("[{}, {}]", dec(p.check.witness.lower, 4), dec(p.check.upper, 4))};
            for (const auto& name : depth_plot_variants()) {
                const auto* v = find_verdict(p.check, name);
                row.push_back(v ? sci(v->value) + " " + verify::to_string(v->result) : "-");
            }
            const auto* a = find_verdict(p.check, "A-per-layer[r=max]");
            row.push_back(a ? ratio_text(a->ratio_to_lower) : "-");
            t.rows.push_back(row);
        }
        report["depth"] = {{"constants", sweep_json}, {"checks", points}};
        const auto& last = sweep_json["rows"].back();
        sections += fmt::format("## 4. Bounds against depth\n\n(a) Constants of width-16 MLPs (He-normal, seed {}) for L = 2..{}: "
                                "log10 G/A grows linearly with L, so the new bound's gain is exponential in depth (at L = {}: "
                                "G/A = 1e{:.2f}).\n\n",
                                o.seed, sweep.max_depth, last["L"].get<std::size_t>(), last["log10_G_over_A"].get<double>()) +
                    plot_link("depth_sweep_constants", "G and A constants against depth") + "\n" +
                    plot_link("depth_sweep_gain", "log10 G/A against depth") +
                    "\n(b) The bounds against the certified worst case, on 2-input MLPs of width 8 (He-normal, bias std 0.1) "
                    "and their nearest 4-bit copies, D = 1:\n\n" +
                    report::to_markdown(t) + "\n" + plot_link("bounds_vs_depth", "bounds and certified sup against depth");
        summary += fmt::format("| depth | G/A = 1e{:.2f} at L = {}; A-per-layer / certified sup from {} (L = 1) to {} (L = {}) |\n",
                               last["log10_G_over_A"].get<double>(), last["L"].get<std::size_t>(),
                               ratio_text(find_verdict(depth.front().check, "A-per-layer[r=max]")->ratio_to_lower),
                               ratio_text(find_verdict(depth.back().check, "A-per-layer[r=max]")->ratio_to_lower), depth.back().L);
    }

    // 5. Quantized small CNN.
    progress.section("5/6 a quantized small CNN: floor, nearest, AdaRound at 4 and 8 bits");
    const auto cnn = run_cnn_checks(o, progress);
    {
        json cj = json::array();
        report::markdown_table t{{"method", "bits", "||theta - theta'||", "certified sup in", "gap", "best proved bound", "bound / lower",
                                  "HOLDS", "VIOLATED", "UNDECIDED", "replay"},
                                 {},
                                 {false, true, true, false, true, false, true, true, true, true, false}};
        std::size_t violated_proved = 0;
        for (const auto& c : cnn) {
            const auto counts = count_verdicts(c.check);
            violated_proved += counts.violated_proved;
            const auto* best = best_proved(c.check);
            cj.push_back({{"method", c.method}, {"bits", c.bits}, {"max_change", dec(c.max_change, 10)},
                          {"lower", dec(c.check.witness.lower, 12)}, {"upper", dec(c.check.upper, 12)},
                          {"relative_gap", c.check.relative_gap}, {"witness_arithmetic", c.check.witness.arithmetic},
                          {"boxes", c.check.boxes}, {"case", "cases/" + c.name}, {"verdicts", verdicts_json(c.check.verdicts)}});
            t.rows.push_back({c.method, std::to_string(c.bits), dec(c.max_change, 4),
                              fmt::format("[{}, {}]", dec(c.check.witness.lower, 4), dec(c.check.upper, 4)),
                              fmt::format("{:.2f}", c.check.relative_gap), best ? best->bound + " = " + sci(best->value) : "-",
                              best ? ratio_text(best->ratio_to_lower) : "-", std::to_string(counts.holds),
                              std::to_string(counts.violated), std::to_string(counts.undecided),
                              report::inline_code("qbound replay " + (o.out / "cases" / c.name).string())});
        }
        report["small_cnn"] = cj;
        sections += fmt::format("## 5. A quantized small CNN\n\nThe zoo `cnn` (1x16x16 input, conv 8 + max pool, conv 16 "
                                "stride 2, dense 10; He-normal, seed {}, bias std 0.05), quantized per tensor; Omega = [-1, 1]^256. "
                                "The lower end is certified at the witness ({}); the upper end comes from differential "
                                "branch and bound, which is loose in 256 dimensions: read the gap.\n\n",
                                o.seed, cnn.front().check.witness.arithmetic) +
                    report::to_markdown(t) + "\n";
        summary += fmt::format("| small CNN | 6 quantized copies; best proved bound / certified sup from {} to {}; {} proved bounds violated |\n",
                               ratio_text(best_proved(cnn.front().check)->ratio_to_lower),
                               ratio_text(best_proved(cnn.back().check)->ratio_to_lower), violated_proved);
    }

    // 6. Cross-layer equalization.
    progress.section("6/6 rescaling: cross-layer equalization");
    const auto cle = run_cle_section(o, progress);
    plot_cle(cle, o.out / "equalization_norms");
    {
        report::markdown_table norms{{"network"}, {}, {}};
        for (const auto& n : cle.layer_names) norms.header.push_back("r_l " + n);
        for (const std::string h : {"||theta - theta'|| (nearest 8-bit)", "A-per-layer[r=max]", "B[r=max]", "G[r=max]", "certified sup in"})
            norms.header.push_back(h);
        norms.right_aligned.assign(norms.header.size(), true);
        norms.right_aligned[0] = false;
        json stages = json::array();
        for (const auto& st : cle.stages) {
            std::vector<std::string> row{st.name};
            json rho = json::array();
            for (const auto& r : st.rho) {
                row.push_back(dec(r, 4));
                rho.push_back(dec(r, 12));
            }
            row.push_back(dec(st.max_change, 4));
            json bj;
            for (const std::string name : {"A-per-layer[r=max]", "B[r=max]", "G[r=max]"}) {
                const auto* v = find_verdict(st.check, name);
                row.push_back(v ? sci(v->value) : "-");
                if (v) bj[name] = bounds::scientific_up(v->value, 8);
            }
            row.push_back(fmt::format("[{}, {}]", dec(st.check.witness.lower, 4), dec(st.check.upper, 4)));
            norms.rows.push_back(row);
            stages.push_back({{"network", st.name}, {"r_l", rho}, {"max_change", dec(st.max_change, 10)}, {"bounds", bj},
                              {"lower", dec(st.check.witness.lower, 12)}, {"upper", dec(st.check.upper, 12)}});
        }
        std::size_t limited = 0;
        for (const auto& p : cle.report.pairs) limited += p.limited_channels;
        report["equalization"] = {{"layers", cle.layer_names}, {"stages", stages}, {"sweeps", cle.report.sweeps},
                                  {"converged", cle.report.converged}, {"limited_channels", limited},
                                  {"inputs_compared", cle.inputs_compared}, {"outputs_identical", cle.outputs_identical}};
        sections += fmt::format("## 6. Rescaling: cross-layer equalization (proof step 7)\n\nA positive per-channel rescaling "
                                "between consecutive layers leaves the network's function unchanged but changes the layer norms "
                                "r_l, and with them every bound. Starting from the He-normal zoo `cnn`, each channel is rescaled "
                                "by a random power of two (as batch-norm folding leaves trained networks unbalanced), then "
                                "cross-layer equalization (power-of-two scales, {} sweeps, converged: {}) rebalances it. "
                                "Outputs at {} random inputs, in exact rationals: {}. Each network is then quantized "
                                "(nearest, 8 bits, per tensor) and checked.\n\n",
                                cle.report.sweeps, cle.report.converged ? "yes" : "no", cle.inputs_compared,
                                cle.outputs_identical ? "identical for all three networks" : "DIFFERENT (a bug)") +
                    report::to_markdown(norms) + "\n" + plot_link("equalization_norms", "layer norms before and after equalization");
        const auto* before = find_verdict(cle.stages[1].check, "A-per-layer[r=max]");
        const auto* after = find_verdict(cle.stages[2].check, "A-per-layer[r=max]");
        summary += fmt::format("| equalization | outputs {}; A-per-layer bound {} (imbalanced) -> {} (equalized) |\n",
                               cle.outputs_identical ? "identical" : "DIFFERENT", sci(before->value), sci(after->value));
    }

    const bool theorem_violated = campaign.violated_proved > 0 ||
                                  std::any_of(cnn.begin(), cnn.end(), [](const cnn_case& c) { return count_verdicts(c.check).violated_proved > 0; }) ||
                                  std::any_of(depth.begin(), depth.end(), [](const depth_point& p) { return count_verdicts(p.check).violated_proved > 0; });
    report["theorem_violated"] = theorem_violated;
    report["seconds"] = progress.seconds();
    md += "\n## Summary\n\n| section | result |\n|---|---|\n" + summary +
          fmt::format("\nA bound whose hypotheses hold was {}violated anywhere in this run.\n\n", theorem_violated ? "" : "never ") + sections;
    md += fmt::format("## Reproduce\n\n- This report: `qbound demo{} --seed {} --out {}` (budgets are counts, not times: the "
                      "same seed gives the same numbers on any machine and thread count).\n- The campaign alone: `qbound campaign`; "
                      "one pair: `qbound check MODEL --method floor --bits 4`; the paper's table: `qbound table`.\n\nGenerated in "
                      "{:.0f} s.\n",
                      o.quick ? " --quick" : "", o.seed, o.out.string(), progress.seconds());
    std::ofstream(o.out / "report.md") << md;
    std::ofstream(o.out / "report.json") << report.dump(2) << "\n";
    progress.section("done");
    if (o.json) {
        std::cout << report.dump(2) << "\n";
    } else {
        fmt::print("\n| section | result |\n|---|---|\n{}\nwrote {}/report.md, report.json, plots (*.png, *.svg) and cases/\n", summary,
                   o.out.string());
    }
    return theorem_violated ? 1 : 0;
}

}  // namespace qbound::cli
