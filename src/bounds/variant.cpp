#include "qbound/bounds/variant.hpp"

#include "qbound/core/errors.hpp"

#include <algorithm>
#include <iterator>

namespace qbound::bounds {

namespace {

struct variant_entry {
    variant_key key;
    std::string_view name;
};

// THE table of variant names, in the order of the reports.
constexpr variant_entry variant_table[] = {
    {{bound_family::G, r_source::theta}, "G[r=theta]"},
    {{bound_family::G, r_source::max}, "G[r=max]"},
    {{bound_family::G_entrywise, r_source::theta}, "G-entrywise[r=theta]"},
    {{bound_family::G_entrywise, r_source::max}, "G-entrywise[r=max]"},
    {{bound_family::A_per_layer, r_source::theta}, "A-per-layer[r=theta]"},
    {{bound_family::A_per_layer, r_source::max}, "A-per-layer[r=max]"},
    {{bound_family::A_collapsed, r_source::theta}, "A-collapsed[r=theta]"},
    {{bound_family::A_collapsed, r_source::max}, "A-collapsed[r=max]"},
    {{bound_family::A_prime_per_layer, r_source::theta}, "A'-per-layer[r=theta]"},
    {{bound_family::A_prime_per_layer, r_source::max}, "A'-per-layer[r=max]"},
    {{bound_family::A_prime_collapsed, r_source::theta}, "A'-collapsed[r=theta]"},
    {{bound_family::A_prime_collapsed, r_source::max}, "A'-collapsed[r=max]"},
    {{bound_family::B, r_source::theta}, "B[r=theta]"},
    {{bound_family::B, r_source::max}, "B[r=max]"},
    {{bound_family::B_group, r_source::theta}, "B-group[r=theta]"},
    {{bound_family::B_group, r_source::max}, "B-group[r=max]"},
    {{bound_family::B_bias, r_source::theta}, "B-bias[r=theta]"},
    {{bound_family::B_bias, r_source::max}, "B-bias[r=max]"},
    {{bound_family::B_group_bias, r_source::theta}, "B-group-bias[r=theta]"},
    {{bound_family::B_group_bias, r_source::max}, "B-group-bias[r=max]"},
    {{bound_family::residual_aware, r_source::theta}, "residual-aware[r=theta]"},
    {{bound_family::residual_aware, r_source::max}, "residual-aware[r=max]"},
};

const variant_entry& variant_entry_of(const variant_key& k) {
    const auto it = std::find_if(std::begin(variant_table), std::end(variant_table), [&](const variant_entry& e) { return e.key == k; });
    if (it == std::end(variant_table))
        throw core::invalid_argument("bound variant with family #" + std::to_string(static_cast<int>(k.family)) + " and r source #" +
                                      std::to_string(static_cast<int>(k.r)) + " is not in the variant table");
    return *it;
}

}  // namespace

std::string to_string(r_source s) { return s == r_source::theta ? "theta" : "max"; }

std::string to_string(const variant_key& k) { return std::string(variant_entry_of(k).name); }

std::string to_string(bound_family f) {
    // The family part of the printed name: everything before "[r=".
    const std::string_view name = variant_entry_of({f, r_source::theta}).name;
    return std::string(name.substr(0, name.find('[')));
}

variant_key parse_variant(std::string_view name) {
    for (const auto& e : variant_table)
        if (e.name == name) return e.key;
    throw core::invalid_argument("unknown bound variant '" + std::string(name) + "' (valid: " + variant_name_list() + ")");
}

const std::vector<variant_key>& all_variants() {
    static const std::vector<variant_key> keys = [] {
        std::vector<variant_key> out;
        for (const auto& e : variant_table) out.push_back(e.key);
        return out;
    }();
    return keys;
}

std::string variant_name_list() {
    std::string out;
    for (const auto& e : variant_table) {
        if (!out.empty()) out += ", ";
        out += e.name;
    }
    return out;
}

}  // namespace qbound::bounds
