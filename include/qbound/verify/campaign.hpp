#pragma once
// Campaigns: many pairs (theta, theta') from random and adversarial families,
// each checked (verify/check.hpp), tallied per bound variant. The first
// certified counterexample of each variant is saved as a replayable case:
// both networks as float64 ONNX (bit-exact weights) and the witness, so
//   qbound check theta.onnx --against theta_q.onnx --D <D> --replay witness.json
// re-certifies it.
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
#include "qbound/verify/check.hpp"

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
    double search_seconds = 0.2;
    std::function<void(const std::string& family, std::size_t done, std::size_t total)> progress;
};

struct variant_tally {
    std::size_t holds = 0, violated = 0, undecided = 0;
    std::size_t violated_with_hypotheses = 0;  // would refute a theorem
    double worst_ratio = 0;                    // largest certified lower / bound value seen (> 1: violated)
    std::string first_counterexample;          // folder of the saved case, or a description
};

struct campaign_result {
    std::vector<std::string> families;
    std::map<std::string, std::map<std::string, variant_tally>> tally;  // family -> variant -> counts
    std::size_t pairs = 0;
};

const std::vector<std::string>& campaign_families();
campaign_result run_campaign(const campaign_options& opt);

// total += t: counts add, the largest ratio wins, the first counterexample is kept.
void add_tally(variant_tally& total, const variant_tally& t);

// Sums the tallies of shards (same families and variants): counts add, the
// largest ratio wins, the first counterexample found is kept.
void merge_into(campaign_result& total, const campaign_result& shard);

}  // namespace qbound::verify
