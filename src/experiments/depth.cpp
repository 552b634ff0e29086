#include "qbound/experiments/depth.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/experiments/verdicts.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/report/plot.hpp"
#include "support.hpp"

#include <fmt/core.h>

#include <atomic>
#include <cmath>
#include <fstream>

namespace qbound::experiments {

using detail::dec;
using detail::plot_link;
using detail::ratio_text;
using detail::sci;

// ---- (a) The sweep ------------------------------------------------------------

depth_sweep run_depth_sweep(const depth_sweep_options& opt, const progress_sink& progress) {
    if (opt.min_depth < 1 || opt.max_depth < opt.min_depth || opt.max_depth > 1000)
        throw core::invalid_argument("depth-sweep: need 1 <= --min-depth <= --max-depth <= 1000");
    if (opt.width < 1 || opt.width > 4096) throw core::invalid_argument("depth-sweep: --width must be in 1..4096");
    depth_sweep sweep;
    sweep.options = opt;
    report::series g_line{"G (Gonon et al.): max(D,1) W L^2 r^(L-1)", {}, {}}, a_line{"A collapsed: max(D,1) sum N r_mean^(L-1)", {}, {}},
        ratio_line{"G / A", {}, {}};
    // Nested networks: depth L uses layers 1..L-1 of one seeded deepest
    // network and its last layer, so the curves show the effect of depth,
    // not of redrawing every network.
    net::network deepest = net::make_mlp(std::vector<std::size_t>(opt.max_depth + 1, opt.width));
    net::init_he_normal(deepest, opt.seed, opt.bias_std);
    std::vector<const net::node*> pool;
    for (const auto& n : deepest.nodes())
        if (n.is_affine()) pool.push_back(&n);
    for (std::size_t L = opt.min_depth; L <= opt.max_depth; ++L) {
        progress.status(fmt::format("depth-sweep: depth {} / {}", L, opt.max_depth));
        net::network m = net::make_mlp(std::vector<std::size_t>(L + 1, opt.width));
        std::size_t l = 0;
        for (std::size_t i : m.affine_nodes()) {
            const net::node* from = ++l < L ? pool[l - 1] : pool.back();
            m.set_weights(i, from->weight);
            m.set_bias(i, from->bias);
        }
        bounds::bound_options bopt;
        bopt.D = 1;
        const auto all = bounds::compute_bounds(m, m, bopt);  // constants do not depend on theta'
        const bounds::bound_result *G = nullptr, *A = nullptr;
        for (const auto& b : all) {
            if (b.key == bounds::variant_key{bounds::bound_family::G, bounds::r_source::theta}) G = &b;
            if (b.key == bounds::variant_key{bounds::bound_family::A_collapsed, bounds::r_source::theta}) A = &b;
        }
        const double lg = bounds::log10_nearest(G->constant), la = bounds::log10_nearest(A->constant);
        sweep.rows.push_back({L, bounds::decimal_up(G->r_summary, 8), bounds::decimal_up(G->r_summary, 5),
                              L >= 2 ? bounds::decimal_up(A->r_summary, 5) : "-", bounds::scientific_up(G->constant, 4),
                              bounds::scientific_up(A->constant, 4), L >= 2 ? bounds::decimal_up(A->r_summary, 8) : "-",
                              bounds::scientific_up(G->constant, 8), bounds::scientific_up(A->constant, 8), lg, la, lg - la});
        g_line.x.push_back(static_cast<double>(L));
        g_line.y.push_back(lg);
        a_line.x.push_back(static_cast<double>(L));
        a_line.y.push_back(la);
        ratio_line.x.push_back(static_cast<double>(L));
        ratio_line.y.push_back(lg - la);
    }
    progress.done();
    std::filesystem::create_directories(opt.out);
    // Plot log10 values directly: the constants leave the double range for deep nets.
    report::plot_spec constants{fmt::format("Constants vs depth: width-{} MLPs, He-normal weights (seed {}), D = 1", opt.width, opt.seed),
                                "depth L", "log10 constant (C such that sup error <= C ||theta - theta'||)", false, {g_line, a_line}};
    report::write_plot(constants, opt.out / "depth_sweep_constants");
    report::plot_spec gain{"Gain of the new bound over G vs depth (log10 G/A)", "depth L", "log10 (G / A)", false, {ratio_line}};
    report::write_plot(gain, opt.out / "depth_sweep_gain");
    sweep.plots = {(opt.out / "depth_sweep_constants.png").string(), (opt.out / "depth_sweep_gain.png").string()};
    std::ofstream(opt.out / "depth_sweep.json") << to_json(sweep).dump(2) << "\n";
    return sweep;
}

nlohmann::json to_json(const depth_sweep& s) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : s.rows)
        rows.push_back({{"L", r.L},
                        {"r", r.r},
                        {"r_short", r.r_short},
                        {"r_mean_short", r.r_mean_short},
                        {"C_G_short", r.C_G_short},
                        {"C_A_short", r.C_A_short},
                        {"r_mean", r.r_mean},
                        {"C_G", r.C_G},
                        {"C_A", r.C_A},
                        {"log10_C_G", r.log10_C_G},
                        {"log10_C_A", r.log10_C_A},
                        {"log10_G_over_A", r.log10_G_over_A}});
    return {{"width", s.options.width}, {"seed", s.options.seed}, {"bias_std", s.options.bias_std}, {"rows", rows}, {"plots", s.plots}};
}

// ---- (b) The checks -----------------------------------------------------------

std::vector<depth_point> run_depth_checks(const depth_check_options& opt, const progress_sink& progress) {
    const std::size_t width = 8;
    std::vector<depth_point> points(opt.max_depth);
    std::atomic<std::size_t> done{0};
    core::parallel_for(opt.max_depth, opt.threads, [&](std::size_t i, unsigned) {
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
        points[i].check = verify::check_pair(theta, quantized.network, detail::counted_check(1, opt.nodes, opt.seed, opt.search_scale, 2));
        progress.status(fmt::format("bounds vs depth: {}/{} depths checked", ++done, opt.max_depth));
    });
    progress.done();
    return points;
}

namespace {

constexpr bounds::variant_key A_per_layer_max{bounds::bound_family::A_per_layer, bounds::r_source::max};

const std::vector<bounds::variant_key>& depth_plot_variants() {
    using F = bounds::bound_family;
    static const std::vector<bounds::variant_key> v{{F::G, bounds::r_source::max}, A_per_layer_max, {F::A_collapsed, bounds::r_source::max},
                                                    {F::A_prime_collapsed, bounds::r_source::max}};
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
        report::series s{bounds::to_string(name) + " bound", {}, {}};
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
        upper.y.push_back(arith::round_to_double(p.check.upper, MPFR_RNDU));
        lower.x.push_back(static_cast<double>(p.L));
        lower.y.push_back(arith::round_to_double(p.check.witness.lower, MPFR_RNDD));
    }
    spec.lines.push_back(upper);
    spec.lines.push_back(lower);
    report::write_plot(spec, stem);
}

}  // namespace

// ---- The demo's section -------------------------------------------------------

depth_section run_depth_section(const depth_section_options& opt, const progress_sink& progress) {
    depth_section s;
    s.sweep = run_depth_sweep(opt.sweep, progress);
    s.checks = run_depth_checks(opt.checks, progress);
    plot_depth_checks(s.checks, opt.sweep.out / "bounds_vs_depth");
    return s;
}

nlohmann::json to_json(const depth_section& s) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : s.checks)
        points.push_back({{"L", p.L}, {"max_change", dec(p.max_change, 10)}, {"lower", dec(p.check.witness.lower, 12)},
                          {"upper", dec(p.check.upper, 12)}, {"boxes", p.check.boxes}, {"verdicts", verdicts_json(p.check.verdicts)}});
    return {{"constants", to_json(s.sweep)}, {"checks", points}};
}

std::string to_markdown(const depth_section& s) {
    report::markdown_table t{{"L", "||theta - theta'||", "certified sup in", "G", "A-per-layer", "A-collapsed", "A'-collapsed", "A-per-layer / lower"},
                             {},
                             {true, true, false, true, true, true, true, true}};
    for (const auto& p : s.checks) {
        std::vector<std::string> row{std::to_string(p.L), dec(p.max_change, 4),
                                     fmt::format("[{}, {}]", dec(p.check.witness.lower, 4), dec(p.check.upper, 4))};
        for (const auto& name : depth_plot_variants()) {
            const auto* v = find_verdict(p.check, name);
            row.push_back(v ? sci(v->value) + " " + verify::to_string(v->result) : "-");
        }
        const auto* a = find_verdict(p.check, A_per_layer_max);
        row.push_back(a ? ratio_text(a->ratio_to_lower) : "-");
        t.rows.push_back(row);
    }
    const auto& last = s.sweep.rows.back();
    return fmt::format("## 4. Bounds against depth\n\n(a) Constants of width-16 MLPs (He-normal, seed {}) for L = 2..{}: "
                       "log10 G/A grows linearly with L, so the new bound's gain is exponential in depth (at L = {}: "
                       "G/A = 1e{:.2f}).\n\n",
                       s.sweep.options.seed, s.sweep.options.max_depth, last.L, last.log10_G_over_A) +
           plot_link("depth_sweep_constants", "G and A constants against depth") + "\n" +
           plot_link("depth_sweep_gain", "log10 G/A against depth") +
           "\n(b) The bounds against the certified worst case, on 2-input MLPs of width 8 (He-normal, bias std 0.1) "
           "and their nearest 4-bit copies, D = 1:\n\n" +
           report::to_markdown(t) + "\n" + plot_link("bounds_vs_depth", "bounds and certified sup against depth");
}

std::string summary_row(const depth_section& s) {
    const auto& last = s.sweep.rows.back();
    return fmt::format("| depth | G/A = 1e{:.2f} at L = {}; A-per-layer / certified sup from {} (L = 1) to {} (L = {}) |\n",
                       last.log10_G_over_A, last.L, ratio_text(find_verdict(s.checks.front().check, A_per_layer_max)->ratio_to_lower),
                       ratio_text(find_verdict(s.checks.back().check, A_per_layer_max)->ratio_to_lower), s.checks.back().L);
}

}  // namespace qbound::experiments
