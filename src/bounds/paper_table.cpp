#include "qbound/bounds/paper_table.hpp"

#include "qbound/core/errors.hpp"

#include <cmath>

namespace qbound::bounds {

const std::vector<paper_norms>& paper_rounded_norms() {
    static const std::vector<paper_norms> table{
        {"mobilenetv2", 101, 9, 56},
        {"resnet18", 84, 44, 8},
        {"resnet50", 108, 37, 27},
    };
    return table;
}

namespace {

upper ratio(const upper& a, const upper& b) {
    upper r = arith::make_mpfr_result(std::max(a.precision(), b.precision()));
    mpfr_div(r.get(), a.get(), b.get(), MPFR_RNDN);
    return r;
}

}  // namespace

gain_row paper_gain(const net::architecture& arch, const upper& r_old, const upper& r_conv,
                    std::optional<double> target_log10_gain) {
    if (arch.depth == 0) throw core::invalid_argument("paper_gain: '" + arch.name + "' has no affine layer");
    if (r_old.sign() <= 0 || r_conv.sign() <= 0) throw core::invalid_argument("paper_gain: norms must be positive");
    gain_row g;
    g.model = arch.name;
    g.L = arch.depth;
    g.old_width = arch.largest_feature_map;
    g.new_width = arch.max_dense_count;
    g.new_width_group = arch.max_group_count;
    for (const auto& l : arch.layers) {
        if (!l.main_path) continue;
        g.sum_width += l.dense_count;
        g.sum_width_group += l.group_count;
    }
    g.r_old = r_old;
    g.r_conv = r_conv;
    const auto power = static_cast<unsigned long>(g.L - 1);
    const upper L = exact_count(g.L);
    g.old_constant = mul_up(mul_up(exact_count(g.old_width), mul_up(L, L)), pow_up(r_old, power));
    const upper r_conv_power = pow_up(r_conv, power);
    g.new_constant_max = mul_up(mul_up(L, exact_count(g.new_width)), r_conv_power);
    g.new_constant_sum = mul_up(exact_count(g.sum_width), r_conv_power);
    g.new_constant_group = mul_up(mul_up(L, exact_count(g.new_width_group)), r_conv_power);
    g.gain_max = ratio(g.old_constant, g.new_constant_max);
    g.gain_sum = ratio(g.old_constant, g.new_constant_sum);
    g.gain_group = ratio(g.old_constant, g.new_constant_group);
    // d log10(gain) = -(L-1) log10(r_conv + 0.5) + (L-1) log10(r_conv)
    const double rc = r_conv.to_double();
    g.log10_gain_per_half_r_conv = -static_cast<double>(g.L - 1) * std::log10((rc + 0.5) / rc);
    if (target_log10_gain && g.L >= 2) {
        // log10 gain_max = log10(old) - log10(L new_width) - (L-1) log10(r_conv) = target
        const double rest = log10_nearest(g.old_constant) - log10_nearest(mul_up(L, exact_count(g.new_width)));
        g.r_conv_for_target = std::pow(10.0, (rest - *target_log10_gain) / static_cast<double>(g.L - 1));
    }
    return g;
}

}  // namespace qbound::bounds
