#pragma once
// The verdict policy of every experiment and command, and the verdicts of a
// check as they appear in reports.
#include "qbound/verify/campaign.hpp"
#include "qbound/verify/check.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace qbound::experiments {

// The verdict policy. A bound is *violated* on a pair when the certified
// lower end of sup_x ||R_theta(x) - R_theta'(x)||_inf exceeds the bound's
// certified upper value. A violation refutes the theorem itself (exit status
// 1 of demo, check, campaign, replay) exactly when the bound's hypotheses hold
// on that pair; a violated bound whose hypotheses are not met refutes only a
// reading outside its proof (e.g. the chain reading on a residual network).
constexpr bool theorem_violated(bool violated, bool hypotheses_hold) { return violated && hypotheses_hold; }
// The policy applied to one verdict, to the verdicts of one check, and to a
// campaign's tallies (violated_with_hypotheses counts pairs the policy flags).
bool theorem_violated(const verify::bound_verdict& v);
bool theorem_violated(const std::vector<verify::bound_verdict>& verdicts);
bool theorem_violated(const std::vector<std::pair<std::string, verify::variant_tally>>& totals);

// Verdict counts of one check; violated_proved counts the verdicts the
// policy flags.
struct verdict_counts {
    std::size_t holds = 0, violated = 0, undecided = 0, violated_proved = 0;
};
verdict_counts count_verdicts(const verify::check_result& r);

// The verdict of the named bound, or nullptr.
const verify::bound_verdict* find_verdict(const verify::check_result& r, const bounds::variant_key& key);
// The best proved bound: the smallest certified value among variants whose
// hypotheses hold (nullptr when none holds).
const verify::bound_verdict* best_proved(const verify::check_result& r);

// The verdicts of a check as JSON (bound, hypotheses_hold, value rounded up,
// verdict, ratio_to_lower; an infinite ratio as "inf").
nlohmann::json verdicts_json(const std::vector<verify::bound_verdict>& verdicts);

// "3L/21u/120p": layers, units (inputs and hidden), non-zero parameters.
std::string case_size_text(const verify::case_size& s);

}  // namespace qbound::experiments
