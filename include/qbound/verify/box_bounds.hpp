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

struct box_bounds {
    // Certified: lower[k] <= d_k(x) <= upper[k] for every x in the box
    // (+-inf when the method overflowed: sound, uninformative).
    std::vector<double> lower, upper;
    // Lower-side candidates (a heuristic, certified later): per output k, a
    // point of the box where the method's linear lower bound on |d_k| is
    // largest. Empty when the method has no linear bound.
    std::vector<std::vector<double>> candidates;
    // Per input j: how much splitting input j is expected to tighten the
    // bounds (e.g. |coefficient| x width, the smear). Empty: split the widest side.
    std::vector<double> split_score;

    // An upper bound on sup over the box of |d_k|.
    double magnitude(std::size_t k) const { return std::max(std::fabs(lower[k]), std::fabs(upper[k])); }
};

using box_bounder = std::function<box_bounds(const input_box&)>;

}  // namespace qbound::verify
