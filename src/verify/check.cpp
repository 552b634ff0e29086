#include "qbound/verify/check.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/fast/enclosure.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qbound::verify {

std::string to_string(verdict v) {
    switch (v) {
    case verdict::holds: return "HOLDS";
    case verdict::violated: return "VIOLATED";
    case verdict::undecided: return "UNDECIDED";
    }
    return "?";
}

check_result check_pair(const net::network& theta, const net::network& quant, const check_options& opt) {
    if (opt.D < 0) throw arith::invalid_argument("check: D must be >= 0");
    const std::size_t d = theta.input_shape().size();
    // D rounded to doubles: the search stays inside Omega (rounded down), the
    // upper bound covers it (rounded up).
    const input_box inside = centered_box(d, arith::round_to_double(opt.D, MPFR_RNDD));
    const input_box covering = centered_box(d, arith::round_to_double(opt.D, MPFR_RNDU));

    bounds::bound_options bopt;
    bopt.D = opt.D;
    const auto all = bounds::compute_bounds(theta, quant, bopt);

    check_result r;
    // Lower side: search, then certify the best point; refine with the
    // branch-and-bound candidates.
    const auto stage = [&](const std::string& what) {
        if (opt.stage) opt.stage(what);
    };
    const bool large = forward_cost(theta) > fast_path_macs;
    stage("searching for a worst-case input");
    search_result s = search_worst_case(theta, quant, inside, opt.search);
    stage(large ? "certifying the witness (fast path, refined: 100 bits, more if the enclosure asks for it)" : "certifying the witness");
    r.witness = certify_difference(theta, quant, s.best_x, opt.certify_bits);
    if (large) {
        stage("upper side: one fast correlated pair pass over Omega");
        // Branch and bound cannot tighten a box of this many dimensions in
        // any affordable number of splits: one fast correlated pair pass
        // (both networks and their difference) over Omega.
        r.search_evaluations = s.evaluations;
        r.boxes = 1;
        r.stopped_by = "size";
        const fast::enclosure diff = fast::enclose_box_difference(theta, quant, covering.lower, covering.upper);
        double bound = 0;
        for (std::size_t i = 0; i < diff.lower.size(); ++i) bound = std::max({bound, std::fabs(diff.lower[i]), std::fabs(diff.upper[i])});
        if (std::isfinite(bound)) {
            r.upper = arith::max(arith::to_rational(bound), r.witness.upper);
            r.upper_method = "fast correlated pair pass of both networks and their difference over Omega (one box, no branching)";
        } else {
            r.upper_computed = false;
            r.upper_method = "not computed at this size (the fast interval bound over Omega overflows)";
        }
    } else {
        const branch_and_bound_result b =
            branch_and_bound(theta, quant, covering, static_cast<double>(r.witness.lower) * (1 - 0x1p-50), opt.branch);
        r.boxes = b.nodes;
        r.stopped_by = b.stopped_by;
        if (!b.candidates.empty()) {
            search_options again = opt.search;
            again.random_samples = 0;
            again.vertex_restarts = 0;
            // Candidates are centres of boxes of the covering box: clamp into Omega.
            auto candidates = b.candidates;
            for (auto& x : candidates)
                for (std::size_t k = 0; k < d; ++k) x[k] = std::clamp(x[k], inside.lower[k], inside.upper[k]);
            const search_result t = search_worst_case(theta, quant, inside, again, candidates);
            s.evaluations += t.evaluations;
            if (t.best_value > s.best_value) {
                const point_difference w = certify_difference(theta, quant, t.best_x, opt.certify_bits);
                if (w.lower > r.witness.lower) r.witness = w;
            }
        }
        r.search_evaluations = s.evaluations;
        r.upper = arith::to_rational(b.upper);
        r.upper_method = "differential branch and bound";
    }
    if (r.upper_computed) {
        if (r.upper < r.witness.lower) r.upper = r.witness.lower;  // cannot happen; keeps the bracket ordered
        r.relative_gap = r.upper > 0 ? static_cast<double>((r.upper - r.witness.lower) / r.upper) : 0.0;
    } else {
        r.upper = 0;
        r.relative_gap = 1;
    }

    for (const auto& bound : all) {
        bound_verdict v;
        v.bound = bound.name;
        v.hypotheses_hold = bound.hypotheses_hold();
        v.value = bound.value;
        v.value_lower = bound.value_lower;
        const arith::rational hi = bound.value.to_rational(), lo = bound.value_lower.to_rational();
        if (r.witness.lower > hi)
            v.result = verdict::violated;
        else if (r.upper_computed && r.upper <= lo)
            v.result = verdict::holds;
        else
            v.result = verdict::undecided;
        v.ratio_to_lower = r.witness.lower > 0 ? static_cast<double>(hi / r.witness.lower) : std::numeric_limits<double>::infinity();
        r.verdicts.push_back(std::move(v));
    }
    return r;
}

}  // namespace qbound::verify
