#include "qbound/experiments/verdicts.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace qbound::experiments {

bool theorem_violated(const verify::bound_verdict& v) {
    return theorem_violated(v.result == verify::verdict::violated, v.hypotheses_hold);
}

bool theorem_violated(const std::vector<verify::bound_verdict>& verdicts) {
    return std::any_of(verdicts.begin(), verdicts.end(), [](const verify::bound_verdict& v) { return theorem_violated(v); });
}

bool theorem_violated(const std::vector<std::pair<std::string, verify::variant_tally>>& totals) {
    return std::any_of(totals.begin(), totals.end(), [](const auto& t) { return t.second.violated_with_hypotheses > 0; });
}

verdict_counts count_verdicts(const verify::check_result& r) {
    verdict_counts c;
    for (const auto& v : r.verdicts) {
        if (v.result == verify::verdict::holds) ++c.holds;
        if (v.result == verify::verdict::undecided) ++c.undecided;
        if (v.result == verify::verdict::violated) ++c.violated;
        if (theorem_violated(v)) ++c.violated_proved;
    }
    return c;
}

const verify::bound_verdict* find_verdict(const verify::check_result& r, const bounds::variant_key& key) {
    const std::string name = bounds::to_string(key);
    for (const auto& v : r.verdicts)
        if (v.bound == name) return &v;
    return nullptr;
}

const verify::bound_verdict* best_proved(const verify::check_result& r) {
    const verify::bound_verdict* best = nullptr;
    for (const auto& v : r.verdicts)
        if (v.hypotheses_hold && (!best || v.value < best->value)) best = &v;
    return best;
}

nlohmann::json verdicts_json(const std::vector<verify::bound_verdict>& verdicts) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : verdicts)
        j.push_back({{"bound", v.bound},
                     {"hypotheses_hold", v.hypotheses_hold},
                     {"value", bounds::scientific_up(v.value, 8)},
                     {"verdict", verify::to_string(v.result)},
                     {"ratio_to_lower", std::isfinite(v.ratio_to_lower) ? nlohmann::json(v.ratio_to_lower) : nlohmann::json("inf")}});
    return j;
}

std::string case_size_text(const verify::case_size& s) {
    return fmt::format("{}L/{}u/{}p", s.layers, s.inputs + s.hidden_units, s.nonzero_parameters);
}

}  // namespace qbound::experiments
