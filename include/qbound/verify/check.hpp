#pragma once
// One pair (theta, theta') on Omega = [-D, D]^d: a certified bracket
//   lower <= sup_{x in Omega} ||R_theta(x) - R_theta'(x)||_inf <= upper
// and a verdict for every bound variant (bounds/bounds.hpp):
//   HOLDS      upper <= the bound's certified lower value: the inequality holds on this pair
//   VIOLATED   lower  > the bound's certified upper value: the witness x is a
//              counterexample (its difference certified in exact or 256-bit arithmetic)
//   UNDECIDED  the bracket straddles the bound; the gap says by how much
// lower is certified at the witness x (verify/point_difference.hpp); upper
// comes from differential branch and bound (verify/differential.hpp), or,
// for networks above verify::fast_path_macs, from one fast interval bound
// propagation of both networks over Omega (fast/enclosure.hpp; sound but
// loose); when that overflows, the upper side is not computed and no
// variant can be HOLDS.
//
// More work never gives a worse answer: with counted budgets (search
// evaluations, branch-and-bound boxes; the time caps not binding) the
// result is deterministic, the upper never rises and the lower never falls
// as either budget grows. The lower is the largest certified value over
// every incumbent of the search and of an ascent from each branch-and-bound
// candidate (a point is certified unless a rigorous fast bound shows it
// cannot raise the lower); above fast_path_macs only the search's best
// point is certified (seconds each). An upper below the lower is a
// contradiction: core::unsound_error naming both, the witness and the
// method (never patched into an ordered bracket).
#include "qbound/bounds/bounds.hpp"
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

struct check_options {
    arith::rational D = 1;
    search_options search;
    branch_and_bound_options branch;
    long certify_bits = 256;
    std::function<void(const std::string&)> stage;  // called as each stage starts (progress), may be empty
};

struct check_result {
    point_difference witness;      // certified lower side
    arith::rational upper;         // certified upper side (exact value of a double); meaningful only if upper_computed
    bool upper_computed = true;
    std::string upper_method;      // how `upper` was obtained (or why it was not)
    double relative_gap = 0;       // (upper - lower) / upper, 0 when upper = 0
    std::size_t search_evaluations = 0, boxes = 0;
    std::string stopped_by;
    std::vector<bound_verdict> verdicts;
};

check_result check_pair(const net::network& theta, const net::network& theta_quantized, const check_options& opt);

}  // namespace qbound::verify
