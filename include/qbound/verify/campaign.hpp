#pragma once
// Campaigns: many pairs (theta, theta') from random and adversarial families,
// each checked (verify/check.hpp), tallied per bound variant and recorded per
// pair. The first certified counterexample of each variant is shrunk
// (verify/shrink.hpp) to a smaller pair that still certifiably violates the
// same variant and saved as a replayable case (verify/case_file.hpp: both
// networks as float64 ONNX, D and the witness), which `qbound replay FOLDER`
// re-certifies.
//
// Families (seeded): campaign_family_registry() below, one entry per family
// with its generator and a one-line description (README lists the same).
#include "qbound/verify/check.hpp"
#include "qbound/verify/shrink.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace qbound::verify {

struct campaign_options {
    std::size_t pairs = 40;  // per family
    std::size_t shard_index = 0, shard_count = 1;  // run pairs i with i % shard_count == shard_index
    std::uint64_t seed = 1;
    std::vector<std::string> families;  // empty: all
    std::filesystem::path out;          // where counterexamples go (empty: not saved)
    std::size_t nodes = 300;            // branch-and-bound boxes per pair
    double search_effort = 0.25;        // verify::counted_search: evaluation budgets, no time limit
    // Shrinking (verify/shrink.hpp) of each saved counterexample; 0 candidates: no shrinking.
    std::size_t shrink_candidates = 300;
    unsigned threads = 0;               // pairs checked in parallel (0: all cores); results do not depend on it
    // campaign --hunt: after the families, a family "hunt" of up to hunt_pairs
    // pairs per variant from a hunt (verify/hunt.hpp, default space mlp) of
    // hunt_budget candidates seeded with `seed`: the best of its holding and
    // any tracks in turn, repeats dropped. 0: none.
    std::size_t hunt_pairs = 0;
    std::size_t hunt_budget = 4000;
    // (family, pairs checked, pairs of the family in this shard); called from the worker threads, one call at a time.
    std::function<void(const std::string& family, std::size_t done, std::size_t total)> progress;
};

// One bound variant on one pair.
struct pair_variant {
    std::string bound;            // e.g. "A-per-layer[r=max]"
    double value = 0;             // certified upper value of the bound, rounded up to a double
    verdict result = verdict::undecided;
    bool hypotheses_hold = true;
};

// One checked pair: what was drawn and what check_pair found (for tables and plots).
struct pair_record {
    std::string family;
    std::size_t index = 0;              // pair index within the family
    std::uint64_t seed = 0;             // the campaign seed (with family and index, the pair is reproducible)
    std::size_t depth = 0;              // L: affine layers on the main path
    std::vector<std::size_t> widths;    // N_0 (inputs), then the output size of each affine layer
    std::string method;                 // quantizer ("floor", "nearest", "stochastic", "adaround") or "constructed"
    unsigned bits = 0;                  // 0 when not quantized with a bit width
    bool per_channel = false;
    double D = 1;                       // Omega = [-D, D]^d (D is a small dyadic or rational; this is the nearest double)
    double parameter_change = 0;        // ||theta - theta'||_inf (double, approximate; for plots)
    double lower = 0, upper = 0;        // certified bracket on the sup, rounded outward to doubles
    double relative_gap = 0;            // (upper - lower) / upper
    std::vector<pair_variant> variants;
};

struct variant_tally {
    std::size_t holds = 0, violated = 0, undecided = 0;
    std::size_t violated_with_hypotheses = 0;  // would refute a theorem
    double worst_ratio = 0;                    // largest certified lower / bound value seen (> 1: violated)
    // bound / certified lower of every pair (+inf when lower = 0 < bound; pairs
    // with bound = lower = 0 are left out), in no particular order: kept whole
    // so the median of merged shards is exact.
    std::vector<double> bound_over_lower;
    double max_relative_gap = 0;               // largest (upper - lower) / upper of the pairs
    std::string first_counterexample;          // folder of the saved case, or a description
    // The saved counterexample before and after shrinking (verify/shrink.hpp).
    case_size counterexample_original, counterexample_shrunk;

    std::size_t pairs() const { return holds + violated + undecided; }
    double max_bound_over_lower() const;     // 0 when no pairs
    double median_bound_over_lower() const;  // the middle value (mean of the two middle ones); 0 when no pairs
};

struct campaign_result {
    std::vector<std::string> families;
    std::map<std::string, std::map<std::string, variant_tally>> tally;  // family -> variant -> counts
    std::size_t pairs = 0;
    std::vector<pair_record> records;  // ordered by family (as in `families`), then pair index
};

// One drawn pair of a campaign family.
struct campaign_pair {
    net::network theta, quant;
    arith::rational D;
    std::string method = "constructed";
    unsigned bits = 0;
    bool per_channel = false;
};

// A campaign family: its name, what it draws (one line) and its generator,
// which draws one pair from `g` (and leaves `g` to seed the pair's search).
struct campaign_family {
    std::string_view name;
    std::string_view description;
    campaign_pair (*draw)(std::mt19937_64& g);
};
// The family name of campaign --hunt's pairs (not in the registry: they are searched, not drawn).
inline constexpr std::string_view hunt_family = "hunt";

// THE list of families, in the order of the reports: random-mlp, deep-mlp,
// small-norms, sign-aligned, dominant-layer, tight, random-cnn, entrywise-G,
// skip-dominant, random-residual, mixed-mlp, mixed-cnn.
const std::vector<campaign_family>& campaign_family_registry();
// The family named `name`; throws core::invalid_argument naming it and listing the valid names.
const campaign_family& find_campaign_family(std::string_view name);
const std::vector<std::string>& campaign_families();  // the registry's names, in its order
std::string campaign_family_list();                   // "random-mlp, deep-mlp, ...": the names joined by ", "

campaign_result run_campaign(const campaign_options& opt);
// Pair `index` of `family` in a campaign of seed `seed` is a function of
// these three only (never of the --family list, the shard or the threads):
// its generator is seeded with campaign_pair_seed(seed, family, index).
std::uint64_t campaign_pair_seed(std::uint64_t seed, const std::string& family, std::size_t index);
campaign_pair draw_campaign_pair(const std::string& family, std::uint64_t seed, std::size_t index);

// total += t: counts add, ratios are pooled, the largest ratio and gap win, the first counterexample is kept.
void add_tally(variant_tally& total, const variant_tally& t);

// Sums the tallies of shards (same families and variants): counts add, the
// largest ratio wins, ratios are pooled (so medians are those of one run), the
// first counterexample found is kept; records are pooled and re-ordered.
void merge_into(campaign_result& total, const campaign_result& shard);

// Per variant over all families, in order of first appearance.
std::vector<std::pair<std::string, variant_tally>> variant_totals(const campaign_result& r);

// The `--json` report: families, per-family tallies (with every ratio),
// per-variant totals and the pair records. campaign_from_json reads it back
// (the totals are recomputed); throws core::invalid_argument naming `what`
// when a field is missing. Infinite ratios are written as null.
nlohmann::json campaign_to_json(const campaign_result& r);
campaign_result campaign_from_json(const nlohmann::json& j, const std::string& what);

}  // namespace qbound::verify
