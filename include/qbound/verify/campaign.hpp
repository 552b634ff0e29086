#pragma once
// Campaigns: many pairs (theta, theta') from random and adversarial families,
// each checked (verify/check.hpp), tallied per bound variant and recorded per
// pair. The first certified counterexample of each variant is shrunk
// (verify/shrink.hpp) to a smaller pair that still certifiably violates the
// same variant and saved as a replayable case (verify/case_file.hpp: both
// networks as float64 ONNX, D and the witness), which `qbound replay FOLDER`
// re-certifies.
//
// Families (seeded):
//   random-mlp        He-normal MLPs (depth 1..4, widths 1..8), nearest or floor at 2..6 bits
//   deep-mlp          depth 5..12, widths 4..16, He-normal or uniform, nearest or stochastic at 3..8 bits
//   small-norms       the same scaled so every layer norm is 1/2 (all r_l < 1)
//   sign-aligned      all-positive weights, non-negative perturbations
//   dominant-layer    one layer of norm 64, the others 1/4; floor (raises row sums of negative weights)
//   tight             proof step 9's construction (L = 1, N_0 = 1, D >= 1): bound A is attained
//   random-cnn        small CNNs (1-2 convs, stride 1-2, max pool, flatten or global pooling), nearest or floor
//   entrywise-G       constant weights 1, width 8..32, depth 3..4, layer 1 perturbed (THEOREMS.md 3, G)
//   skip-dominant     residual blocks whose branch is tiny; only the stem perturbed
//   random-residual   residual MLP blocks with He-normal weights, nearest at 4..6 bits
//   mixed-mlp         depth 1..4, widths 1..64 (one pair in four has a layer of 33..64 units), Gaussian or
//                     uniform, dense or sparse (half or 80% zeros), with or without biases; floor, nearest,
//                     stochastic or AdaRound at 2, 3, 4, 6 or 8 bits, per tensor or per channel
//   mixed-cnn         random-cnn with biases, per-channel steps and every method at 2..8 bits
#include "qbound/verify/check.hpp"
#include "qbound/verify/shrink.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
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

const std::vector<std::string>& campaign_families();
campaign_result run_campaign(const campaign_options& opt);

// One drawn pair of a campaign family.
struct campaign_pair {
    net::network theta, quant;
    arith::rational D;
    std::string method = "constructed";
    unsigned bits = 0;
    bool per_channel = false;
};
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
