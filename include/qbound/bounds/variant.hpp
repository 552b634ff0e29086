#pragma once
// The bound variants as typed keys: a bound family (THEOREMS.md section 3,
// bounds.hpp) and the source of r. One table (src/bounds/variant.cpp) gives
// every key its printed name "family[r=source]" (the name reports and JSON
// use) and fixes the order of the reports: all_variants().
#include <compare>
#include <string>
#include <string_view>
#include <vector>

namespace qbound::bounds {

// Where r_l comes from: rho_l(theta) (what a practitioner computes) or
// max(rho_l(theta), rho_l(theta')) (what the proofs need).
enum class r_source { theta, max };
std::string to_string(r_source s);  // "theta", "max"

enum class bound_family {
    G,                  // Gonon et al., as cited
    G_entrywise,        // G with r = largest |entry| (a false reading, kept to be refuted)
    A_per_layer,        // weights only
    A_collapsed,
    A_prime_per_layer,  // biases quantized too
    A_prime_collapsed,
    B,                  // conv norms, no biases
    B_group,
    B_bias,
    B_group_bias,
    residual_aware,     // ours, for any supported graph
};
std::string to_string(bound_family f);  // "G", "G-entrywise", "A'-per-layer", ...

struct variant_key {
    bound_family family = bound_family::G;
    r_source r = r_source::max;
    friend auto operator<=>(const variant_key&, const variant_key&) = default;
};

// The printed name, e.g. "A-collapsed[r=max]".
std::string to_string(const variant_key& k);

// The key of a printed name; throws core::invalid_argument naming `name` and
// listing every valid name when it is none of them.
variant_key parse_variant(std::string_view name);

// Every variant, in the order of the reports (and of compute_bounds):
// G, G-entrywise, A-per-layer, A-collapsed, A'-per-layer, A'-collapsed, B,
// B-group, B-bias, B-group-bias, residual-aware, each with [r=theta] then [r=max].
const std::vector<variant_key>& all_variants();

// "G[r=theta], G[r=max], ...": every printed name in that order (for messages).
std::string variant_name_list();

}  // namespace qbound::bounds
