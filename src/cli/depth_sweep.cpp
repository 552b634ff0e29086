// `qbound depth-sweep`: the paper's MLP experiment. For constant-width MLPs
// of depth L (seeded He-normal weights, nested in depth) the ratio
// of the old constant G to the new collapsed constant A, as a table, JSON
// and a plot: log G/A grows linearly in L, i.e. the gain is exponential.
#include "cli_support.hpp"
#include "commands.hpp"
#include "reports.hpp"

#include "qbound/bounds/bounds.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/report/plot.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace qbound::cli {

nlohmann::json compute_depth_sweep(const depth_sweep_options& opt, bool progress) {
    if (opt.min_depth < 1 || opt.max_depth < opt.min_depth || opt.max_depth > 1000)
        throw core::invalid_argument("depth-sweep: need 1 <= --min-depth <= --max-depth <= 1000");
    if (opt.width < 1 || opt.width > 4096) throw core::invalid_argument("depth-sweep: --width must be in 1..4096");
    nlohmann::json rows = nlohmann::json::array();
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
        if (progress) std::cerr << "\rdepth-sweep: depth " << L << " / " << opt.max_depth << std::flush;
        net::network m = net::make_mlp(std::vector<std::size_t>(L + 1, opt.width));
        std::size_t l = 0;
        for (auto& n : m.nodes()) {
            if (!n.is_affine()) continue;
            const net::node* from = ++l < L ? pool[l - 1] : pool.back();
            n.weight = from->weight;
            n.bias = from->bias;
        }
        bounds::bound_options bopt;
        bopt.D = 1;
        const auto all = bounds::compute_bounds(m, m, bopt);  // constants do not depend on theta'
        const bounds::bound_result *G = nullptr, *A = nullptr;
        for (const auto& b : all) {
            if (b.name == "G[r=theta]") G = &b;
            if (b.name == "A-collapsed[r=theta]") A = &b;
        }
        const double lg = bounds::log10_nearest(G->constant), la = bounds::log10_nearest(A->constant);
        rows.push_back({{"L", L},
                        {"r", bounds::decimal_up(G->r_summary, 8)},
                        {"r_short", bounds::decimal_up(G->r_summary, 5)},
                        {"r_mean_short", L >= 2 ? bounds::decimal_up(A->r_summary, 5) : "-"},
                        {"C_G_short", bounds::scientific_up(G->constant, 4)},
                        {"C_A_short", bounds::scientific_up(A->constant, 4)},
                        {"r_mean", L >= 2 ? bounds::decimal_up(A->r_summary, 8) : "-"},
                        {"C_G", bounds::scientific_up(G->constant, 8)},
                        {"C_A", bounds::scientific_up(A->constant, 8)},
                        {"log10_C_G", lg},
                        {"log10_C_A", la},
                        {"log10_G_over_A", lg - la}});
        g_line.x.push_back(static_cast<double>(L));
        g_line.y.push_back(lg);
        a_line.x.push_back(static_cast<double>(L));
        a_line.y.push_back(la);
        ratio_line.x.push_back(static_cast<double>(L));
        ratio_line.y.push_back(lg - la);
    }
    std::filesystem::create_directories(opt.out);
    // Plot log10 values directly: the constants leave the double range for deep nets.
    report::plot_spec constants{fmt::format("Constants vs depth: width-{} MLPs, He-normal weights (seed {}), D = 1", opt.width, opt.seed),
                                "depth L", "log10 constant (C such that sup error <= C ||theta - theta'||)", false, {g_line, a_line}};
    report::write_plot(constants, opt.out / "depth_sweep_constants");
    report::plot_spec gain{"Gain of the new bound over G vs depth (log10 G/A)", "depth L", "log10 (G / A)", false, {ratio_line}};
    report::write_plot(gain, opt.out / "depth_sweep_gain");
    nlohmann::json j{{"width", opt.width}, {"seed", opt.seed}, {"bias_std", opt.bias_std}, {"rows", rows},
                     {"plots", {(opt.out / "depth_sweep_constants.png").string(), (opt.out / "depth_sweep_gain.png").string()}}};
    std::ofstream(opt.out / "depth_sweep.json") << j.dump(2) << "\n";
    if (progress) std::cerr << "\r" << std::string(40, ' ') << "\r";
    return j;
}

int run_depth_sweep(const depth_sweep_options& opt) {
    const nlohmann::json j = compute_depth_sweep(opt, !opt.json);
    if (opt.json) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    fmt::print("{:>4} {:>10} {:>10} {:>14} {:>14} {:>10}\n", "L", "r (max)", "r_mean", "C_G", "C_A", "log10 G/A");
    for (const auto& r : j["rows"])
        fmt::print("{:>4} {:>10} {:>10} {:>14} {:>14} {:>10.3f}\n", r["L"].get<std::size_t>(), r["r_short"].get<std::string>(),
                   r["r_mean_short"].get<std::string>(), r["C_G_short"].get<std::string>(), r["C_A_short"].get<std::string>(),
                   r["log10_G_over_A"].get<double>());
    fmt::print("\nwrote {0}/depth_sweep.json, {0}/depth_sweep_constants.{{png,svg}}, {0}/depth_sweep_gain.{{png,svg}}\n",
               opt.out.string());
    return 0;
}

}  // namespace qbound::cli
