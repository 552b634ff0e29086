#include "qbound/experiments/equalization.hpp"

#include "qbound/core/parallel.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/bounds/ingredients.hpp"
#include "qbound/experiments/verdicts.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/report/plot.hpp"
#include "support.hpp"

#include <fmt/core.h>

#include <atomic>
#include <cmath>
#include <random>

namespace qbound::experiments {

using arith::rational;
using detail::dec;
using detail::plot_link;
using detail::sci;

namespace {

std::vector<rational> layer_norms(const net::network& n) {
    const auto p = bounds::collect_ingredients(n, n, 1);
    std::vector<rational> rho;
    for (std::size_t l : p.main_path) rho.push_back(p.layers[l].rho[bounds::original]);
    return rho;
}

void plot_cle(const equalization_section& s, const std::filesystem::path& stem) {
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
            line.y.push_back(arith::nearest_double(st.rho[l]));
        }
        spec.lines.push_back(line);
    }
    report::write_plot(spec, stem);
}

constexpr bounds::variant_key A_per_layer_max{bounds::bound_family::A_per_layer, bounds::r_source::max};

const std::vector<bounds::variant_key>& shown_bounds() {
    static const std::vector<bounds::variant_key> v{A_per_layer_max, {bounds::bound_family::B, bounds::r_source::max},
                                                    {bounds::bound_family::G, bounds::r_source::max}};
    return v;
}

}  // namespace

equalization_section run_equalization(const equalization_options& opt, const progress_sink& progress) {
    equalization_section s;
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
    s.inputs_compared = opt.inputs;
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
    core::parallel_for(s.stages.size(), opt.threads, [&](std::size_t i, unsigned) {
        auto& st = s.stages[i];
        st.rho = layer_norms(st.network);
        quant::options q;
        q.kind = quant::method::nearest;
        q.bits = 8;
        const auto quantized = quant::quantize(st.network, q);
        st.max_change = quantized.max_change;
        st.check = verify::check_pair(st.network, quantized.network,
                                      detail::counted_check(1, opt.nodes, opt.seed, opt.search_scale, st.network.input_shape().size()));
        progress.status(fmt::format("equalization: {}/{} networks checked", ++done, s.stages.size()));
    });
    progress.done();
    plot_cle(s, opt.out / "equalization_norms");
    return s;
}

nlohmann::json to_json(const equalization_section& s) {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& st : s.stages) {
        nlohmann::json rho = nlohmann::json::array();
        for (const auto& r : st.rho) rho.push_back(dec(r, 12));
        nlohmann::json bj;
        for (const auto& name : shown_bounds())
            if (const auto* v = find_verdict(st.check, name)) bj[bounds::to_string(name)] = bounds::scientific_up(v->value, 8);
        stages.push_back({{"network", st.name}, {"r_l", rho}, {"max_change", dec(st.max_change, 10)}, {"bounds", bj},
                          {"lower", dec(st.check.witness.lower, 12)}, {"upper", dec(st.check.upper, 12)}});
    }
    std::size_t limited = 0;
    for (const auto& p : s.report.pairs) limited += p.limited_channels;
    return {{"layers", s.layer_names}, {"stages", stages}, {"sweeps", s.report.sweeps},
            {"converged", s.report.converged}, {"limited_channels", limited},
            {"inputs_compared", s.inputs_compared}, {"outputs_identical", s.outputs_identical}};
}

std::string to_markdown(const equalization_section& s) {
    report::markdown_table norms{{"network"}, {}, {}};
    for (const auto& n : s.layer_names) norms.header.push_back("r_l " + n);
    norms.header.push_back("||theta - theta'|| (nearest 8-bit)");
    for (const auto& key : shown_bounds()) norms.header.push_back(bounds::to_string(key));
    norms.header.push_back("certified sup in");
    norms.right_aligned.assign(norms.header.size(), true);
    norms.right_aligned[0] = false;
    for (const auto& st : s.stages) {
        std::vector<std::string> row{st.name};
        for (const auto& r : st.rho) row.push_back(dec(r, 4));
        row.push_back(dec(st.max_change, 4));
        for (const auto& name : shown_bounds()) {
            const auto* v = find_verdict(st.check, name);
            row.push_back(v ? sci(v->value) : "-");
        }
        row.push_back(fmt::format("[{}, {}]", dec(st.check.witness.lower, 4), dec(st.check.upper, 4)));
        norms.rows.push_back(row);
    }
    return fmt::format("## 6. Rescaling: cross-layer equalization (proof step 7)\n\nA positive per-channel rescaling "
                       "between consecutive layers leaves the network's function unchanged but changes the layer norms "
                       "r_l, and with them every bound. Starting from the He-normal zoo `cnn`, each channel is rescaled "
                       "by a random power of two (as batch-norm folding leaves trained networks unbalanced), then "
                       "cross-layer equalization (power-of-two scales, {} sweeps, converged: {}) rebalances it. "
                       "Outputs at {} random inputs, in exact rationals: {}. Each network is then quantized "
                       "(nearest, 8 bits, per tensor) and checked.\n\n",
                       s.report.sweeps, s.report.converged ? "yes" : "no", s.inputs_compared,
                       s.outputs_identical ? "identical for all three networks" : "DIFFERENT (a bug)") +
           report::to_markdown(norms) + "\n" + plot_link("equalization_norms", "layer norms before and after equalization");
}

std::string summary_row(const equalization_section& s) {
    const auto* before = find_verdict(s.stages[1].check, A_per_layer_max);
    const auto* after = find_verdict(s.stages[2].check, A_per_layer_max);
    return fmt::format("| equalization | outputs {}; A-per-layer bound {} (imbalanced) -> {} (equalized) |\n",
                       s.outputs_identical ? "identical" : "DIFFERENT", sci(before->value), sci(after->value));
}

}  // namespace qbound::experiments
