#pragma once
// The paper's comparison of the old bound (G) and the new CNN bound (B) on
// ImageNet CNNs (THEOREMS.md section 5):
//   old constant = W L^2 r^(L-1)                     (D = 1, W = largest feature map)
//   new constant = L * max_l (p_l^2 c_{l-1} + 1) * r_conv^(L-1)   ("L times the largest width")
//              or  sum_l (p_l^2 c_{l-1} + 1) * r_conv^(L-1)      ("sum over layers")
//   gain = old / new.
// Constants are certified upper values (MPFR, rounded up); a gain is the
// ratio of two such values, rounded to nearest (a comparison, not a bound).
#include "qbound/bounds/upward.hpp"
#include "qbound/net/architecture.hpp"

#include <optional>
#include <string>
#include <vector>

namespace qbound::bounds {

// The rounded norms printed in the paper, and its reported gain exponents.
struct paper_norms {
    std::string model;      // zoo name
    arith::rational r_old;  // largest layer norm
    arith::rational r_conv;
    double paper_log10_gain;
};
const std::vector<paper_norms>& paper_rounded_norms();  // mobilenetv2, resnet18, resnet50

struct gain_row {
    std::string model;
    std::size_t L = 0;
    std::size_t old_width = 0;                       // largest feature map
    std::size_t new_width = 0, new_width_group = 0;  // max_l p^2 c + 1, max_l p^2 c / g + 1
    std::size_t sum_width = 0, sum_width_group = 0;  // sum_l (p^2 c + 1), sum_l (p^2 c / g + 1)
    upper r_old, r_conv;
    upper old_constant;
    upper new_constant_max, new_constant_sum, new_constant_group;  // L * max width; sum; L * group width
    upper gain_max, gain_sum, gain_group;                           // old / new
    // log10(gain_max) changes by this much when r_conv grows by 0.5 (negative).
    double log10_gain_per_half_r_conv = 0;
    // The r_conv at which gain_max equals 10^target (when a target is given).
    std::optional<double> r_conv_for_target;
};

// `arch`: the model's architecture; r_old and r_conv as the paper defines
// them; `target_log10_gain`: the paper's reported exponent, if any.
gain_row paper_gain(const net::architecture& arch, const upper& r_old, const upper& r_conv,
                    std::optional<double> target_log10_gain = std::nullopt);

}  // namespace qbound::bounds
