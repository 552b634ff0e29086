#pragma once
// Per-output branch and bound (qbound issue 17, item 4): for every output k
// of d(x) = R_theta'(x) - R_theta(x), a certified upper bound on
//   sup over Omega of |d_k(x)|,   Omega = the union of the root boxes,
// and a certified lower value at the best point found, each output with its
// own tree of input boxes.
//
// One tree per output. Its leaves are boxes, each with the upper bound of
// |d_k| the bounder gave it (the linear relaxation pass of
// verify/linear_relaxation.hpp with the backward pass on output k only),
// capped by its parent's, so a leaf never rises when it is split. Splitting
// takes the leaf with the largest bound and halves it along the input
// with the largest split score (the smear |c_j| x width_j of output k's
// linear bounds, as ReluVal / NeuroDiff do), or along the widest side when
// the scores say nothing or the leaf's own bound did not improve on its
// parent's (the smear can miss the inputs the relaxation's looseness
// depends on, and would then halve the same sides forever). Each evaluated
// box proposes a point (the vertex where its linear lower bound of |d_k|
// is largest): its difference is
// enclosed by the fast float-sound point pass (fast/enclosure.hpp: the
// a-priori mode, and the refined mode when that certifies nothing for the
// box's output, e.g. |d_k| below 2^-52 |R(x)|), whose mignitude is a
// certified lower value t_k <= sup |d_k|. A leaf whose bound
// is at most t_k cannot hold a larger value and is dropped; the upper is
//   upper_k = max(t_k, largest leaf bound),
// sound because every dropped box's bound was at most t_k when it was dropped.
//
// Work goes in rounds: each output whose relative gap (upper_k - t_k) /
// upper_k is above the target splits its share of `batch` leaves
// (batch / outputs, at least one), in output order; the children of all of them are evaluated in
// parallel (`threads`), then merged in a fixed order. So with the time cap
// not binding the result depends only on the counts, never on the threads:
// a node budget of N evaluates a prefix of the boxes of any larger budget,
// the upper never rises and t_k never falls as the budget grows.
//
// Stops when every output meets the target gap ("gap"), the node budget is
// spent ("nodes"), the time cap ("time": passed, or a round at the mean
// pass time so far would end past it, so a pass of seconds does not overrun
// the cap by a round), the leaves' memory would exceed
// max_memory_bytes ("memory"), or no leaf can be split ("exhausted": every
// leaf is a single point, or no leaf is left). A box whose certified bound
// of |d_k| is below a certified value of |d_k| at a point inside it (the
// box's own candidate, or output k's best point so far) proves a bug:
// core::unsound_error naming the box, the point and both values.
#include "qbound/verify/box_bounds.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace qbound::verify {

struct output_progress {
    std::size_t nodes = 0;
    double seconds = 0;
    std::vector<double> upper, lower;  // per output, as now
};

struct per_output_options {
    std::size_t max_nodes = 2000;           // boxes evaluated, all outputs together
    double max_seconds = 10;
    double target_relative_gap = 0;         // per output
    std::size_t threads = 1;                // 0: core::thread_count(0) (the --threads default, else all cores)
    std::size_t batch = 8;                  // leaves split per round, shared among the open outputs
    std::size_t max_memory_bytes = std::size_t{1} << 30;  // the leaves of all trees
    std::size_t max_starts = 1;             // boxes per output (output_bracket::starts: their centres and candidates)
    // Boxes fewer than this many splits from their root get the linear
    // pass's intermediate back-substitution (linear_options::intermediate):
    // several times tighter on wide boxes, tens of times the cost of a pass
    // there. 5 was best of 0, 5, 10, 15, 25 and always on ACAS Xu property 1
    // at 12 s (README, Verification).
    std::size_t intermediate_depth = 5;
    // Networks with more inputs than this split ReLU elements instead of
    // inputs (beta-free ReLU splitting: the linear pass's candidate element,
    // both signs; the children's bounds hold under the splits, see
    // verify/linear_relaxation.hpp), and inputs when every element of a leaf
    // is stable. Input splitting reaches little in many dimensions.
    std::size_t relu_split_above_inputs = static_cast<std::size_t>(-1);  // off by default: see the README (measured)
    bool relu_split_intermediate = true;   // leaves under ReLU splits always get intermediate back-substitution
    bool lp = false;                       // every box's bounds also from the linear program (linear_options::lp)
    // Certified lower values known before (e.g. from a search), per output,
    // and the points where they hold (each inside a root box); may be empty.
    std::vector<double> initial_lower;
    std::vector<std::vector<double>> initial_points;
    std::function<void(const output_progress&)> progress;  // after each round, may be empty
    // Test only (the CLI never sets it): replaces the bounder, called with the box and the output.
    std::function<box_bounds(const input_box&, std::size_t)> bounder_for_test;
};

struct output_bracket {
    double upper = 0;            // certified: >= sup over Omega of |d_k|
    double lower = 0;            // certified (fast float-sound point pass) at best_x
    std::vector<double> best_x;  // empty when no point was proposed
    // Every one of branch and bound's own points that raised the best of them
    // for this output, in order, whatever initial_lower was: a prefix of a
    // larger budget's list (with the time cap not binding).
    std::vector<std::vector<double>> incumbents;
    // The centres and proposed points of this output's first max_starts
    // boxes, in order (starts for the lower side's ascents; a prefix of a
    // larger budget's list).
    std::vector<std::vector<double>> starts;
    std::size_t nodes = 0;       // boxes evaluated for this output
    std::size_t leaves = 0;      // open leaves at the end
};

struct trace_point {
    double seconds = 0;
    std::size_t nodes = 0;
    double upper = 0, lower = 0;  // max over outputs
};

struct per_output_result {
    std::vector<output_bracket> outputs;
    std::size_t nodes = 0;
    std::string stopped_by;       // "gap", "nodes", "time", "memory", "exhausted"
    std::vector<trace_point> trace;  // the first round, each round that moved the bracket by 0.1 % or more, the end
    double max_upper() const;
    double max_lower() const;
};

// Throws core::invalid_argument for no roots, roots of the wrong dimension
// or an empty root box.
per_output_result per_output_branch_and_bound(const net::network& theta, const net::network& theta_quantized,
                                              const std::vector<input_box>& roots, const per_output_options& opt);

}  // namespace qbound::verify
