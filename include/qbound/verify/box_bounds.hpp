#pragma once
// What an upper-side method certifies about one input box, per output k of
// the difference d(x) = R_theta'(x) - R_theta(x), and what it suggests to
// branch and bound (where to split) and to the lower side (where to look).
// Produced by verify/linear_relaxation.hpp for the per-output branch and
// bound (verify/branch_and_bound.hpp).
#include "qbound/verify/differential.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <vector>

namespace qbound::verify {

// A ReLU split (branch and bound on neurons): the pre-activation of one
// element of a ReLU node, in theta (z) or in theta' (z' = z + d), is
// constrained to be >= 0 (active) or <= 0 (inactive). A bound computed
// under splits holds for every x of the box that satisfies all of them.
struct relu_split {
    std::size_t node = 0;     // the ReLU node's index in the network
    std::size_t element = 0;  // the element of its input
    bool quantized = false;   // false: theta's z; true: theta''s z + d
    bool active = false;      // true: the pre-activation is >= 0; false: <= 0
    bool operator==(const relu_split&) const = default;
};

struct box_bounds {
    // Certified: lower[k] <= d_k(x) <= upper[k] for every x in the box
    // (+-inf when the method overflowed: sound, uninformative).
    std::vector<double> lower, upper;
    // Lower-side candidates (a heuristic, certified later): per output k, a
    // point of the box where the method's linear lower bound on |d_k| is
    // largest. Empty when the method has no linear bound.
    std::vector<std::vector<double>> candidates;
    // Further candidates per output (e.g. the linear program's maximizer,
    // verify/linear_relaxation.hpp); empty, or an empty point where none.
    std::vector<std::vector<double>> more_candidates;
    // Per input j: how much splitting input j is expected to tighten the
    // bounds (e.g. |coefficient| x width, the smear). Empty: split the widest side.
    std::vector<double> split_score;
    // Per output k, the split score of k alone (filled by a method that bounds
    // every output in one call, e.g. linear_options::output = npos); may be empty.
    std::vector<std::vector<double>> output_split_score;
    // Under ReLU splits: true when the method proved that no x of the box
    // satisfies them (the bounds are then 0 and mean nothing).
    bool infeasible = false;
    // The element whose relaxation costs the bound of the chosen output most
    // (relaxation constants times their backward coefficients), unstable in
    // the network named, not yet split; has_relu_candidate false when every
    // element is stable or the method was not asked for one
    // (linear_options::relu_candidate).
    bool has_relu_candidate = false;
    relu_split relu_candidate;

    // An upper bound on sup over the box of |d_k|.
    double magnitude(std::size_t k) const { return std::max(std::fabs(lower[k]), std::fabs(upper[k])); }
};

using box_bounder = std::function<box_bounds(const input_box&)>;

}  // namespace qbound::verify
