#pragma once
// Every published quantization bound as a named, certified object
// (THEOREMS.md section 3). Each bound claims
//     sup_{x in Omega} ||R_theta(x) - R_theta'(x)||_inf <= value,
//     value = C * ||theta - theta'||_inf   (per-layer forms: C := value / ||theta - theta'||_inf),
// on Omega = [-D, D]^d. `value` and `value_lower` are certified upper and
// lower values of the formula's exact real value: ingredients are exact
// rationals from the weights, then the formula is evaluated once in
// certified ranges (bounds/certified_range.hpp: [lo rounded down, hi rounded
// up] per operation, the ends chosen by each operation's monotonicity).
//
// Variants (name[r=source]):
//   G             max(D,1) W L^2 r^(L-1),  r = max_l rho_l >= 1            (Gonon et al., as cited)
//   G-entrywise   the same with r = largest |entry| (a false reading, kept to be refuted)
//   A-per-layer   max(D,1) sum_l N_{l-1} M_l Delta_l                        (weights only)
//   A-collapsed   max(D,1) (sum_l N_{l-1}) r_mean^(L-1) ||theta-theta'||,  r_mean^(L-1) = max_l M_l
//   A'-per-layer  max(D,1) sum_l (N_{l-1}+1) M'_l max(Delta_l, Delta b_l)   (biases quantized too)
//   A'-collapsed  max(D,1) (sum_l (N_{l-1}+1)) max_l M'_l ||theta-theta'||
//   B             D (sum_l p_l^2 c_{l-1}) max_l prod_{k!=l} r^conv_k ||theta-theta'||   (no biases)
//   B-group       the same with p_l^2 c_{l-1} / g_l
//   B-bias        max(D,1) (sum_l (p_l^2 c_{l-1} + 1)) max_l M'_l(r^conv) ||theta-theta'||
//   B-group-bias  the same with p_l^2 c_{l-1} / g_l + 1
//   residual-aware  ours, for any supported graph (residual additions, pooling):
//                 sum over affine nodes j of Lip_j (rows_j Delta_j m_j + Delta b_j), where m_j
//                 bounds the input of j and Lip_j the map from j's output to the network output
//                 (a residual block x + F(x) contributes 1 + Lip(F)); proof in proofs/residual_block.
// with  M_l  = prod_{j>l} r_j * max_{1<=i<=l-1} prod_{k=i..l-1} r_k  (M_1 = prod_{j>=2} r_j),
//       M'_l = prod_{j>l} r_j * max_{1<=i<=l}   prod_{k=i..l-1} r_k  (empty product 1).
// r sources: "theta" (r_l = rho_l(theta), what a practitioner computes) and
// "max" (r_l = max(rho_l(theta), rho_l(theta')), what the proofs need).
// On a residual network the chain variants use the main path (the paper's
// reading) and report the failed "plain chain" hypothesis.
#include "qbound/bounds/certified_range.hpp"
#include "qbound/bounds/ingredients.hpp"
#include "qbound/bounds/upward.hpp"
#include "qbound/bounds/variant.hpp"

#include <string>
#include <vector>

namespace qbound::bounds {

struct hypothesis {
    std::string name;
    bool holds = true;
    std::string reason;  // why it fails (empty when it holds)
};

// One layer's contribution, as the formula uses it.
struct layer_term {
    std::size_t layer = 0;   // index into pair_ingredients::layers
    std::size_t width = 0;   // N_{l-1}, p^2 c, ... (+1) as the formula counts it
    upper r;                 // r_l (or Lip_j for residual-aware)
    upper multiplier;        // M_l, M'_l, prod_{k!=l} r_k, or Lip_j * m_j
    upper delta;             // Delta_l used by the term (or ||theta-theta'|| for collapsed forms)
    upper term;              // width * multiplier * delta (* max(D,1) or D)
};

struct bound_result {
    variant_key key;      // which variant (variant.hpp); the three fields below are read from it
    std::string name;     // to_string(key), e.g. "A-collapsed[r=max]"
    std::string family;   // to_string(key.family): "G", "G-entrywise", "A-per-layer", ...
    std::string formula;
    r_source source = r_source::max;  // key.r
    std::vector<hypothesis> hypotheses;
    bool hypotheses_hold() const;
    upper r_summary;      // r (G), r_mean (A), r_conv (B): rounded up; 0 when not used
    std::string r_summary_name;
    upper constant;       // C
    upper value;          // certified upper bound on C * ||theta - theta'||_inf (the range's hi end)
    upper value_lower;    // certified lower bound on the same exact value (the range's lo end):
                          // a sup above `value` violates the bound; a sup below `value_lower` satisfies it
    std::vector<layer_term> terms;
};

struct bound_options {
    arith::rational D = 1;
    long precision = bound_precision;  // bits of the upward-rounded evaluation (>= 64)
};

// All variants for the pair, one per key, in the order of all_variants()
// (the names above, each with [r=theta] then [r=max]).
std::vector<bound_result> compute_bounds(const net::network& theta, const net::network& theta_quantized,
                                         const bound_options& opt = {});
// The same from precomputed ingredients (the residual-aware bound also needs
// the graph, hence theta, whose architecture theta' shares).
std::vector<bound_result> compute_bounds(const pair_ingredients& p, const net::network& theta, const bound_options& opt = {});

// The result of variant `key`; throws core::invalid_argument naming the
// variant when `results` has none (never a silent skip).
const bound_result& find(const std::vector<bound_result>& results, const variant_key& key);

}  // namespace qbound::bounds
