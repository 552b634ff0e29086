#include "qbound/verify/check.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/fast/enclosure.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace qbound::verify {

std::string to_string(verdict v) {
    switch (v) {
    case verdict::holds: return "HOLDS";
    case verdict::violated: return "VIOLATED";
    case verdict::undecided: return "UNDECIDED";
    }
    return "?";
}

namespace {

// The largest certified lower value over the points offered: a point is
// certified unless a rigorous upper bound on its difference (one fast point
// pair pass, cheap) is at most the best certified value so far, and such a
// point cannot raise it. So the result is the maximum of the certified
// values of all the points offered, whatever their order: offering more
// points never lowers it.
class best_certified {
public:
    best_certified(const net::network& theta, const net::network& quant, long bits) : theta_(theta), quant_(quant), bits_(bits) {}

    void offer(const std::vector<double>& x) {
        if (best_) {
            const fast::enclosure e = fast::enclose_difference(theta_, quant_, x, fast::options{1, 100});
            double magnitude = 0;
            for (std::size_t i = 0; i < e.lower.size(); ++i) magnitude = std::max({magnitude, std::fabs(e.lower[i]), std::fabs(e.upper[i])});
            if (std::isfinite(magnitude) && arith::to_rational(magnitude) <= best_->lower) return;
        }
        point_difference p = certify_difference(theta_, quant_, x, bits_);
        ++certified_;
        if (!best_ || p.lower > best_->lower) best_ = std::move(p);
    }
    // Most promising first (the last incumbent is the best point found).
    void offer_incumbents(const search_result& s) {
        for (auto it = s.incumbents.rbegin(); it != s.incumbents.rend(); ++it) offer(*it);
    }
    bool empty() const { return !best_; }
    const point_difference& best() const { return *best_; }
    std::size_t certified() const { return certified_; }

private:
    const net::network& theta_;
    const net::network& quant_;
    long bits_;
    std::optional<point_difference> best_;
    std::size_t certified_ = 0;
};

}  // namespace

check_result check_pair(const net::network& theta, const net::network& quant, const check_options& opt) {
    if (opt.D < 0) throw core::invalid_argument("check: D must be >= 0");
    if (opt.search.max_evaluations == 0) throw core::invalid_argument("check: the search needs at least one evaluation");
    const std::size_t d = theta.input_shape().size();
    // D rounded to doubles: the search stays inside Omega (rounded down), the
    // upper bound covers it (rounded up).
    const input_box inside = centered_box(d, arith::round_to_double(opt.D, MPFR_RNDD));
    const input_box covering = centered_box(d, arith::round_to_double(opt.D, MPFR_RNDU));

    bounds::bound_options bopt;
    bopt.D = opt.D;
    const auto all = bounds::compute_bounds(theta, quant, bopt);

    check_result r;
    // Lower side: search, then certify its incumbents (small networks) or its
    // best point (large ones); raise it with ascents from the
    // branch-and-bound candidates.
    const auto stage = [&](const std::string& what) {
        if (opt.stage) opt.stage(what);
    };
    const bool large = forward_cost(theta) > fast_path_macs;
    stage("searching for a worst-case input");
    search_options first = opt.search;
    first.record_incumbents = !large;
    const search_result s = search_worst_case(theta, quant, inside, first);
    r.search_evaluations = s.evaluations;
    stage(large ? "certifying the witness (fast path, refined: 100 bits, more if the enclosure asks for it)" : "certifying the witness");
    best_certified lower_side(theta, quant, opt.certify_bits);
    if (large) {
        // One certification costs seconds here: the best point only (so on
        // these networks the lower side follows the search's best value, which
        // never falls with the evaluation budget, but the certified value of a
        // later best point may lie a rounding error below an earlier one's).
        lower_side.offer(s.best_x);
    } else {
        lower_side.offer_incumbents(s);
    }
    r.witness = lower_side.best();
    if (large) {
        stage("upper side: one fast correlated pair pass over Omega");
        // Branch and bound cannot tighten a box of this many dimensions in
        // any affordable number of splits: one fast correlated pair pass
        // (both networks and their difference) over Omega.
        r.boxes = 1;
        r.stopped_by = "size";
        const fast::enclosure diff = fast::enclose_box_difference(theta, quant, covering.lower, covering.upper);
        double bound = 0;
        for (std::size_t i = 0; i < diff.lower.size(); ++i) bound = std::max({bound, std::fabs(diff.lower[i]), std::fabs(diff.upper[i])});
        r.upper_method = "fast correlated pair pass of both networks and their difference over Omega (one box, no branching)";
        if (std::isfinite(bound)) {
            if (arith::to_rational(bound) < r.witness.lower)
                throw core::unsound_error("check: the " + r.upper_method + " gives the upper bound " + core::exact_digits(bound) +
                                           ", below the certified lower value " + arith::to_decimal(r.witness.lower, 20) + " (" +
                                           r.witness.arithmetic + ") at the witness x = " + core::point_text(r.witness.x));
            r.upper = arith::max(arith::to_rational(bound), r.witness.upper);
        } else {
            r.upper_computed = false;
            r.upper_method = "not computed at this size (the fast interval bound over Omega overflows)";
        }
    } else {
        const branch_and_bound_result b =
            branch_and_bound(theta, quant, covering, static_cast<double>(r.witness.lower) * (1 - 0x1p-50), opt.branch);
        r.boxes = b.nodes;
        r.stopped_by = b.stopped_by;
        // An ascent from each candidate (the centres of the first boxes
        // split, clamped into Omega), each depending on its start only: a
        // larger box budget adds candidates and so only adds points.
        search_options again = opt.search;
        again.max_evaluations = std::numeric_limits<std::size_t>::max();  // each ascent is bounded by its step counts
        again.record_incumbents = true;
        for (auto x : b.candidates) {
            for (std::size_t k = 0; k < d; ++k) x[k] = std::clamp(x[k], inside.lower[k], inside.upper[k]);
            const search_result t = ascend_from(theta, quant, inside, x, again);
            r.search_evaluations += t.evaluations;
            lower_side.offer_incumbents(t);
        }
        r.witness = lower_side.best();
        r.upper = arith::to_rational(b.upper);
        r.upper_method = "differential branch and bound";
    }
    if (r.upper_computed) {
        // Both sides are certified bounds of the same sup: an upper below the
        // lower proves a bug, never patched over.
        if (r.upper < r.witness.lower)
            throw core::unsound_error("check: the certified upper bound " + arith::to_decimal(r.upper, 20) + " (" + r.upper_method +
                                       ") is below the certified lower value " + arith::to_decimal(r.witness.lower, 20) + " (" +
                                       r.witness.arithmetic + ") at the witness x = " + core::point_text(r.witness.x));
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
