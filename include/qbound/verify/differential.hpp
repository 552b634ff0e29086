#pragma once
// A certified upper bound on sup_{x in box} ||R_theta'(x) - R_theta(x)||_inf
// by differential interval propagation (in the spirit of ReluDiff /
// NeuroDiff): enclosures of both networks' values a, a' and of their
// difference delta = a' - a are propagated together, node by node, so the
// difference keeps the correlation two independent passes would lose:
//   affine   delta' = W' delta + (W' - W) a + (b' - b)   (W' - W split exactly
//            into two double matrices by TwoSum), intersected with a'_out - a_out
//   ReLU, ReLU6, max pool: monotone and 1-Lipschitz, so the output difference
//            lies between 0 (or the window's smallest delta) and delta;
//            exact pass-through when both networks are in the same linear piece
//   average/global pooling, add, normalize: linear in delta
// All arithmetic is interval_double (Boost.Interval with qbound's
// error-free-transformation rounding, sound in round-to-nearest).
//
// Branch and bound splits the input box (widest side first), always refining
// the box that holds the current maximum, until a node budget, a time cap
// or a target gap is reached.
#include "qbound/arith/interval_double.hpp"
#include "qbound/net/network.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace qbound::verify {

struct input_box {
    std::vector<double> lower, upper;
};

input_box centered_box(std::size_t dim, double D);  // [-D, D]^dim

// Enclosures of every node's value over the box, for theta (a), theta' (aq)
// and their difference (delta = aq - a), index = node index.
struct differential_values {
    std::vector<arith::interval_double> a, aq, delta;
};

// Test only (the CLI never sets one): called with each node's index and its
// own difference enclosures before they are intersected with aq - a, so a
// test can narrow one wrongly and see the contradiction reported.
using narrow_hook = std::function<void(std::size_t node, std::vector<arith::interval_double>& delta)>;

// Every node's delta is intersected with aq - a; both enclose the same
// values, so an empty intersection proves a bug: core::unsound_error naming
// the node, the element, the box and both enclosures.
std::vector<differential_values> differential_intervals(const net::network& theta, const net::network& theta_quantized,
                                                        const input_box& box, const narrow_hook& narrow_for_test = {});

// Upper bound on sup_{x in box} ||R_theta'(x) - R_theta(x)||_inf (a double
// that is >= the exact sup).
double differential_upper_bound(const net::network& theta, const net::network& theta_quantized, const input_box& box);

struct branch_and_bound_options {
    std::size_t max_nodes = 2000;     // boxes evaluated
    double max_seconds = 10;
    double target_relative_gap = 0;   // stop when (upper - lower) <= gap * upper
    // Use the symbolic differential bound (verify/symbolic_difference.hpp;
    // never looser, slower per box) when symbolic_cost(theta) is at most this.
    std::size_t symbolic_budget = 300'000;
    // Called after each evaluated box with (boxes so far, current upper, current lower).
    std::function<void(std::size_t, double, double)> progress;
    std::size_t max_candidates = 32;  // centres of the first boxes split, in order (a prefix of a larger budget's)
    // Test only (the CLI never sets it): replaces the bound of a box, so a
    // test can give a deliberately wrong pass and see the contradiction reported.
    std::function<double(const input_box&)> bound_for_test;
};

struct branch_and_bound_result {
    double upper = 0;                  // certified: >= sup over the whole box
    std::size_t nodes = 0;             // boxes evaluated
    std::string stopped_by;            // "gap", "nodes", "time", "exhausted"
    std::string method;                // "symbolic differential" or "fast differential (correlated pair pass)"
    std::vector<std::vector<double>> candidates;  // centres of the first max_candidates boxes split, for the lower side
};

// `lower` is a certified lower bound already known (boxes whose bound is
// below it are dropped; it never makes the returned upper smaller than the
// true sup, since lower <= sup). A child's bound is capped by its parent's,
// so the upper never rises with the box budget; with counted budgets (the
// time cap not binding) a budget of N boxes makes the first splits of any
// larger one. An upper below `lower` proves a bug: core::unsound_error.
branch_and_bound_result branch_and_bound(const net::network& theta, const net::network& theta_quantized, const input_box& box,
                                         double lower, const branch_and_bound_options& opt);

}  // namespace qbound::verify
