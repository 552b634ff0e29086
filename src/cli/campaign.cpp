// `qbound campaign`: every bound variant against many random and adversarial
// pairs; per variant the counts of HOLDS / VIOLATED / UNDECIDED, and the
// first certified counterexample saved as a replayable case.
// `qbound merge`: the sum of campaign shards (their --json reports).
#include "commands.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/verify/campaign.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <map>

namespace qbound::cli {

namespace {

nlohmann::json to_json(const verify::campaign_result& r) {
    nlohmann::json j{{"pairs", r.pairs}, {"families", r.families}};
    for (const auto& family : r.families)
        for (const auto& [name, t] : r.tally.at(family))
            j["tally"][family][name] = {{"holds", t.holds},
                                        {"violated", t.violated},
                                        {"undecided", t.undecided},
                                        {"violated_with_hypotheses", t.violated_with_hypotheses},
                                        {"largest_lower_over_bound", t.worst_ratio},
                                        {"first_counterexample", t.first_counterexample}};
    return j;
}

verify::campaign_result from_json(const nlohmann::json& j, const std::string& file) {
    verify::campaign_result r;
    try {
        r.pairs = j.at("pairs").get<std::size_t>();
        r.families = j.at("families").get<std::vector<std::string>>();
        for (const auto& [family, variants] : j.at("tally").items())
            for (const auto& [name, t] : variants.items()) {
                auto& v = r.tally[family][name];
                v.holds = t.at("holds").get<std::size_t>();
                v.violated = t.at("violated").get<std::size_t>();
                v.undecided = t.at("undecided").get<std::size_t>();
                v.violated_with_hypotheses = t.at("violated_with_hypotheses").get<std::size_t>();
                v.worst_ratio = t.at("largest_lower_over_bound").get<double>();
                v.first_counterexample = t.at("first_counterexample").get<std::string>();
            }
    } catch (const std::exception& e) {
        throw arith::invalid_argument(file + ": not a qbound campaign report (" + e.what() + ")");
    }
    return r;
}

int report(const verify::campaign_result& r, bool json, const std::string& title) {
    std::map<std::string, verify::variant_tally> total;
    std::vector<std::string> order;
    for (const auto& family : r.families)
        for (const auto& [name, t] : r.tally.at(family)) {
            if (!total.count(name)) order.push_back(name);
            verify::add_tally(total[name], t);
        }
    bool theorem_violated = false;
    for (const auto& [name, t] : total) theorem_violated = theorem_violated || t.violated_with_hypotheses > 0;
    if (json) {
        auto j = to_json(r);
        j["theorem_violated"] = theorem_violated;
        std::cout << j.dump(2) << "\n";
        return theorem_violated ? 1 : 0;
    }
    fmt::print("\n{} pairs ({}): ", r.pairs, title);
    for (std::size_t i = 0; i < r.families.size(); ++i) fmt::print("{}{}", i ? ", " : "", r.families[i]);
    fmt::print("\n\n{:<26} {:>6} {:>9} {:>10} {:>13} {:>14}  {}\n", "bound", "HOLDS", "VIOLATED", "UNDECIDED", "viol. w/ hyp.",
               "max lower/bnd", "first counterexample");
    for (const auto& name : order) {
        const auto& t = total.at(name);
        fmt::print("{:<26} {:>6} {:>9} {:>10} {:>13} {:>14.3g}  {}\n", name, t.holds, t.violated, t.undecided, t.violated_with_hypotheses,
                   t.worst_ratio, t.first_counterexample.empty() ? "-" : t.first_counterexample);
    }
    fmt::print("\nVIOLATED counts certified counterexamples; 'viol. w/ hyp.' those where the bound's hypotheses hold (a theorem\n"
               "refuted: exit status 1). Replay a saved case: qbound replay FOLDER\n");
    return theorem_violated ? 1 : 0;
}

}  // namespace

int run_campaign(const campaign_command_options& opt) {
    verify::campaign_options c;
    c.pairs = opt.pairs;
    c.seed = opt.seed;
    c.families = opt.families;
    c.out = opt.out;
    c.nodes = opt.nodes;
    if (!opt.shard.empty()) {
        const auto slash = opt.shard.find('/');
        try {
            if (slash == std::string::npos) throw std::invalid_argument("no /");
            c.shard_index = std::stoul(opt.shard.substr(0, slash));
            c.shard_count = std::stoul(opt.shard.substr(slash + 1));
        } catch (const std::exception&) {
            throw arith::invalid_argument("--shard must be i/n with 0 <= i < n, got '" + opt.shard + "'");
        }
    }
    if (!opt.json)
        c.progress = [](const std::string& family, std::size_t done, std::size_t total) {
            std::cerr << fmt::format("\r  {:<16} {:>4} / {}", family, done, total) << (done == total ? "\n" : "") << std::flush;
        };
    const auto r = verify::run_campaign(c);
    return report(r, opt.json,
                  fmt::format("{} per family, seed {}{}", opt.pairs, opt.seed,
                              c.shard_count > 1 ? fmt::format(", shard {}/{}", c.shard_index, c.shard_count) : std::string()));
}

int run_merge(const merge_options& opt) {
    verify::campaign_result total;
    for (const auto& file : opt.files) {
        std::ifstream in(file);
        if (!in) throw arith::invalid_argument(file + ": cannot open the campaign report");
        nlohmann::json j;
        try {
            in >> j;
        } catch (const std::exception& e) {
            throw arith::invalid_argument(file + ": not JSON (" + e.what() + ")");
        }
        verify::merge_into(total, from_json(j, file));
    }
    return report(total, opt.json, fmt::format("merged from {} reports", opt.files.size()));
}

}  // namespace qbound::cli
