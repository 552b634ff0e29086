// `qbound campaign`: every bound variant against many random and adversarial
// pairs; per variant the counts of HOLDS / VIOLATED / UNDECIDED, and the
// first certified counterexample saved as a replayable case.
#include "commands.hpp"

#include "qbound/verify/campaign.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>

namespace qbound::cli {

int run_campaign(const campaign_command_options& opt) {
    verify::campaign_options c;
    c.pairs = opt.pairs;
    c.seed = opt.seed;
    c.families = opt.families;
    c.out = opt.out;
    c.nodes = opt.nodes;
    if (!opt.json)
        c.progress = [](const std::string& family, std::size_t done, std::size_t total) {
            std::cerr << fmt::format("\r  {:<16} {:>4} / {}", family, done, total) << (done == total ? "\n" : "") << std::flush;
        };
    const auto r = verify::run_campaign(c);
    // Totals per variant over all families.
    std::map<std::string, verify::variant_tally> total;
    std::vector<std::string> order;
    for (const auto& family : r.families)
        for (const auto& [name, t] : r.tally.at(family)) {
            if (!total.count(name)) order.push_back(name);
            auto& s = total[name];
            s.holds += t.holds;
            s.violated += t.violated;
            s.undecided += t.undecided;
            s.violated_with_hypotheses += t.violated_with_hypotheses;
            s.worst_ratio = std::max(s.worst_ratio, t.worst_ratio);
            if (s.first_counterexample.empty()) s.first_counterexample = t.first_counterexample;
        }
    bool theorem_violated = false;
    for (const auto& [name, t] : total) theorem_violated = theorem_violated || t.violated_with_hypotheses > 0;
    if (opt.json) {
        nlohmann::json j{{"pairs", r.pairs}, {"seed", opt.seed}, {"families", r.families}, {"theorem_violated", theorem_violated}};
        for (const auto& family : r.families)
            for (const auto& [name, t] : r.tally.at(family))
                j["tally"][family][name] = {{"holds", t.holds}, {"violated", t.violated}, {"undecided", t.undecided},
                                            {"violated_with_hypotheses", t.violated_with_hypotheses},
                                            {"largest_lower_over_bound", t.worst_ratio}, {"first_counterexample", t.first_counterexample}};
        std::cout << j.dump(2) << "\n";
        return theorem_violated ? 1 : 0;
    }
    fmt::print("\n{} pairs ({} per family: ", r.pairs, opt.pairs);
    for (std::size_t i = 0; i < r.families.size(); ++i) fmt::print("{}{}", i ? ", " : "", r.families[i]);
    fmt::print("), seed {}\n\n{:<26} {:>6} {:>9} {:>10} {:>13} {:>14}  {}\n", opt.seed, "bound", "HOLDS", "VIOLATED", "UNDECIDED",
               "viol. w/ hyp.", "max lower/bnd", "first counterexample");
    for (const auto& name : order) {
        const auto& t = total.at(name);
        fmt::print("{:<26} {:>6} {:>9} {:>10} {:>13} {:>14.3g}  {}\n", name, t.holds, t.violated, t.undecided, t.violated_with_hypotheses,
                   t.worst_ratio, t.first_counterexample.empty() ? "-" : t.first_counterexample);
    }
    fmt::print("\nVIOLATED counts certified counterexamples; 'viol. w/ hyp.' those where the bound's hypotheses hold (a theorem\n"
               "refuted). Replay a saved case: qbound check DIR/theta.onnx --against DIR/theta_q.onnx --D <D in DIR/witness.json> "
               "--replay DIR/witness.json\n");
    return theorem_violated ? 1 : 0;
}

}  // namespace qbound::cli
