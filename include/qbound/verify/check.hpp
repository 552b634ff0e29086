#pragma once
// One pair (theta, theta') on an input region Omega (the union of
// check_options::region's boxes; [-D, D]^d when it is empty): per output k a
// certified bracket
//   lower_k <= sup_{x in Omega} |R_theta(x)_k - R_theta'(x)_k| <= upper_k,
// and over all outputs
//   lower <= sup_{x in Omega} ||R_theta(x) - R_theta'(x)||_inf <= upper
// (lower = max_k lower_k, upper = max_k upper_k), and a verdict for every
// bound variant (bounds/bounds.hpp) computed with D, which must cover Omega
// (Omega inside [-D, D]^d: a bound on the cube bounds the sup over Omega):
//   HOLDS      upper <= the bound's certified lower value: the inequality holds on this pair
//   VIOLATED   lower  > the bound's certified upper value: the witness x is a
//              counterexample (its difference certified in exact or 256-bit arithmetic)
//   UNDECIDED  the bracket straddles the bound; the gap says by how much
// lower is certified at the witness x (verify/point_difference.hpp); upper
// comes from per-output branch and bound on the linear relaxation pass
// (verify/branch_and_bound.hpp; the interval pass of verify/differential.hpp
// on networks the linear pass does not take), or,
// for networks above verify::fast_path_macs, from one fast interval bound
// propagation of both networks over Omega (fast/enclosure.hpp; sound but
// loose); when that overflows, the upper side is not computed and no
// variant can be HOLDS.
//
// More work never gives a worse answer: with counted budgets (search
// evaluations, branch-and-bound boxes; the time caps not binding) the
// result is deterministic (whatever the threads), the upper never rises and
// the lower never falls as either budget grows. Each lower_k is the largest
// certified value of |d_k| over every incumbent of the search, of branch and
// bound, and of an ascent on output k from each of branch and bound's
// starts (a point is certified unless a rigorous fast enclosure shows it
// cannot raise that output's lower; the points come in batches, visited per
// output most promising first, so few are certified); above fast_path_macs
// only the search's best point is certified (seconds each). An upper below the lower is a
// contradiction: core::unsound_error naming both, the witness and the
// method (never patched into an ordered bracket).
#include "qbound/bounds/bounds.hpp"
#include "qbound/io/region.hpp"
#include "qbound/verify/branch_and_bound.hpp"
#include "qbound/verify/point_difference.hpp"
#include "qbound/verify/search.hpp"

#include <functional>
#include <string>
#include <vector>

namespace qbound::verify {

enum class verdict { holds, violated, undecided };
std::string to_string(verdict v);

struct bound_verdict {
    std::string bound;             // e.g. "A-collapsed[r=max]"
    bool hypotheses_hold = true;
    bounds::upper value, value_lower;
    verdict result = verdict::undecided;
    double ratio_to_lower = 0;     // bound / certified lower (how pessimistic; inf when lower = 0)
};

// One box of the region: `inside` (rounded inward to doubles: the search and
// the witnesses stay in Omega) and `covering` (rounded outward: the upper side
// covers Omega).
struct region_box {
    input_box inside, covering;
};

struct check_options {
    arith::rational D = 1;             // the bounds' D; Omega must lie in [-D, D]^d
    std::vector<region_box> region;    // Omega; empty: [-D, D]^d
    search_options search;
    per_output_options branch;
    // The linear relaxation pass bounds each box when symbolic_cost(theta)
    // (verify/symbolic_difference.hpp: coefficient operations of one pass) is
    // at most linear_budget (1e9: about 4 s per pass on one core; an MNIST CNN
    // of 784 inputs and 15,000 elements costs 2.8e8, 1.2 s) and one pass holds
    // at most linear_memory_bytes (verify::linear_pass_bytes; each thread of
    // branch and bound holds one); above either (CIFAR-size CNNs) the fast
    // correlated pair pass does, on the max over outputs, with each box's
    // centre as its candidate.
    std::size_t linear_budget = 1'000'000'000;
    std::size_t linear_memory_bytes = std::size_t{1} << 30;
    bool use_branch_points = true;  // lower side: branch and bound's incumbents, and ascents from them (false: the search's alone)
    // Lower side, networks below the fast path's size with at most
    // per_output_max_inputs inputs (in more dimensions the lines reach
    // little and cost much: measured on an MNIST CNN, 16 s for nothing),
    // each box of Omega: a
    // uniform draw of min(per_output_samples, per_output_sample_macs /
    // forward_cost) points, then per output a sweep_ascent
    // (verify/search.hpp) from each of its per_output_starts best points;
    // per_output_samples = 0 (the default of the library; `qbound check`
    // sets 20000) skips it.
    std::size_t per_output_samples = 0;
    std::size_t per_output_max_inputs = sweep_max_axes;
    std::size_t per_output_sample_macs = 2'000'000'000;
    std::size_t per_output_starts = 8;
    std::size_t per_output_rounds = 2;         // sweep_ascent rounds from each start
    std::size_t per_output_line_steps = 400;   // kinks visited per line (at most)
    std::size_t per_output_sweep_macs = 40'000'000'000;  // all sweeps of one box of Omega: fewer kinks per line above it
    double per_output_span = 0.125;            // each line: the start +- this fraction of the box's width
    std::size_t per_output_whole_lines = 4;    // ... except the first round of this many best starts: whole lines of the box
    long certify_bits = 256;
    std::function<void(const std::string&)> stage;  // called as each stage starts (progress), may be empty
};

struct output_check {
    std::size_t index = 0;
    point_difference witness;      // certified lower side of this output: lower = witness.output_lower[index]
    arith::rational lower, upper;  // certified bracket on sup over Omega of |d_k| (upper meaningful only if check_result::upper_computed)
    double relative_gap = 1;
};

struct check_result {
    point_difference witness;      // certified lower side
    arith::rational upper;         // certified upper side (exact value of a double); meaningful only if upper_computed
    bool upper_computed = true;
    std::string upper_method;      // how `upper` was obtained (or why it was not)
    double relative_gap = 0;       // (upper - lower) / upper, 0 when upper = 0
    std::size_t search_evaluations = 0, boxes = 0;
    std::string stopped_by;
    std::vector<output_check> outputs;   // per output k
    std::vector<trace_point> trace;      // per-output branch and bound's bracket (max over outputs) against time; empty for the other upper sides
    std::vector<bound_verdict> verdicts;
};

// Omega's boxes rounded to doubles: `inside` inward, `covering` outward.
// Throws core::invalid_argument naming the box and input when an interval
// holds no double (so no witness can lie in it), or is not finite in doubles.
std::vector<region_box> region_boxes(const io::input_region& region);

check_result check_pair(const net::network& theta, const net::network& theta_quantized, const check_options& opt);

}  // namespace qbound::verify
