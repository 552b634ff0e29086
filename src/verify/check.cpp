#include "qbound/verify/check.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/verify/symbolic_difference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
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

// Per output k, the largest certified lower value of |d_k| over the points
// offered: a point is certified (in exact or 256-bit arithmetic) unless a
// rigorous enclosure of its difference (one fast point pair pass, cheap)
// shows it cannot raise that output's best certified value. So each output's
// result is the maximum of the certified values of all the points offered,
// whatever their order: offering more points never lowers it. Points come in
// batches, and each output visits a batch's points most promising first
// (largest |midpoint| of its enclosure; batch order on ties), so one
// certification usually raises the bar above the rest (on an MNIST CNN,
// where a certification costs 0.15 s, certifying in the order offered ran
// 142 of them).
class best_certified {
public:
    // per_output false: a point is certified only when it can raise the max
    // over outputs (each output's value is then the best among those points).
    best_certified(const net::network& theta, const net::network& quant, long bits, bool per_output)
        : theta_(theta), quant_(quant), bits_(bits), per_output_(per_output), best_(theta.output_shape().size()) {}

    void offer(const std::vector<std::vector<double>>& batch) {
        if (batch.empty()) return;
        if (batch.size() == 1 && !has_any()) return certify(batch[0]);  // nothing to compare with: no enclosure needed
        if (!pair_) pair_.emplace(theta_, quant_);
        constexpr double inf = std::numeric_limits<double>::infinity();
        const std::size_t m = best_.size(), n = batch.size();
        // Per point and output: |midpoint| and max |end| of the enclosure (inf when not finite).
        std::vector<std::vector<double>> mid(n), mag(n);
        for (std::size_t p = 0; p < n; ++p) {
            const fast::enclosure e = pair_->point(batch[p], fast::options{1, 100});
            for (std::size_t i = 0; i < m; ++i) {
                const double lo = i < e.lower.size() ? e.lower[i] : -inf, hi = i < e.upper.size() ? e.upper[i] : inf;
                const double mg = std::max(std::fabs(lo), std::fabs(hi));
                mag[p].push_back(std::isfinite(mg) ? mg : inf);
                mid[p].push_back(std::isfinite(mg) ? std::fabs(lo / 2 + hi / 2) : inf);
            }
        }
        std::vector<char> done(n, 0);
        // Visits the points in decreasing key, certifying each that may raise.
        const auto visit = [&](const auto& key, const auto& may_raise) {
            std::vector<std::size_t> order(n);
            for (std::size_t p = 0; p < n; ++p) order[p] = p;
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) > key(b); });
            for (const std::size_t p : order)
                if (!done[p] && may_raise(p)) certify(batch[p]), done[p] = 1;
        };
        if (per_output_) {
            for (std::size_t i = 0; i < m; ++i)
                visit([&](std::size_t p) { return mid[p][i]; },
                      [&](std::size_t p) { return !best_[i] || !std::isfinite(mag[p][i]) || arith::to_rational(mag[p][i]) > best_[i]->output_lower[i]; });
        } else {
            const auto largest = [&](const std::vector<std::vector<double>>& v, std::size_t p) {
                return v[p].empty() ? 0.0 : *std::max_element(v[p].begin(), v[p].end());
            };
            visit([&](std::size_t p) { return largest(mid, p); },
                  [&](std::size_t p) { return !has_any() || !std::isfinite(largest(mag, p)) || arith::to_rational(largest(mag, p)) > best().lower; });
        }
    }
    void offer(const std::vector<double>& x) { offer(std::vector<std::vector<double>>{x}); }
    // A search's incumbents, most promising first (the last incumbent is the best point found).
    void offer_incumbents(const std::vector<std::vector<double>>& incumbents) {
        offer(std::vector<std::vector<double>>(incumbents.rbegin(), incumbents.rend()));
    }
    // The certified lower value of |d_k| (0 before any point).
    arith::rational lower(std::size_t k) const { return best_[k] ? best_[k]->output_lower[k] : arith::rational(0); }
    const point_difference& witness(std::size_t k) const { return *best_[k]; }
    bool has(std::size_t k) const { return static_cast<bool>(best_[k]); }
    // The witness of the largest lower value over all outputs.
    const point_difference& best() const {
        std::size_t top = 0;
        for (std::size_t k = 1; k < best_.size(); ++k)
            if (lower(k) > lower(top)) top = k;
        return *best_[top];
    }

private:
    const net::network& theta_;
    const net::network& quant_;
    std::optional<fast::pair_pass> pair_;  // the batches' enclosures, W' - W built once (at the first batch)
    long bits_;
    bool per_output_;
    std::vector<std::shared_ptr<const point_difference>> best_;
    void certify(const std::vector<double>& x) {
        const auto c = std::make_shared<const point_difference>(certify_difference(theta_, quant_, x, bits_));
        for (std::size_t i = 0; i < best_.size() && i < c->output_lower.size(); ++i)
            if (!best_[i] || c->output_lower[i] > best_[i]->output_lower[i]) best_[i] = c;
    }
    bool has_any() const {
        return std::any_of(best_.begin(), best_.end(), [](const auto& b) { return static_cast<bool>(b); });
    }
};

std::string region_text(const std::vector<region_box>& region) {
    if (region.size() == 1) return core::box_text(region[0].covering.lower, region[0].covering.upper);
    return std::to_string(region.size()) + " boxes";
}

}  // namespace

std::vector<region_box> region_boxes(const io::input_region& region) {
    std::vector<region_box> out;
    for (std::size_t b = 0; b < region.boxes.size(); ++b) {
        const auto& box = region.boxes[b];
        region_box rb;
        for (std::size_t j = 0; j < box.lower.size(); ++j) {
            const double in_lo = arith::round_to_double(box.lower[j], MPFR_RNDU), in_hi = arith::round_to_double(box.upper[j], MPFR_RNDD);
            const double out_lo = arith::round_to_double(box.lower[j], MPFR_RNDD), out_hi = arith::round_to_double(box.upper[j], MPFR_RNDU);
            const std::string where = "region " + region.described + ", box " + std::to_string(b) + ", input " + std::to_string(j);
            if (!std::isfinite(out_lo) || !std::isfinite(out_hi))
                throw core::invalid_argument(where + ": the interval [" + io::exact_text(box.lower[j]) + ", " + io::exact_text(box.upper[j]) +
                                             "] is beyond the doubles");
            if (!(in_lo <= in_hi))
                throw core::invalid_argument(where + ": the interval [" + io::exact_text(box.lower[j]) + ", " + io::exact_text(box.upper[j]) +
                                             "] holds no double, so no input can be evaluated in it");
            rb.inside.lower.push_back(in_lo), rb.inside.upper.push_back(in_hi);
            rb.covering.lower.push_back(out_lo), rb.covering.upper.push_back(out_hi);
        }
        out.push_back(std::move(rb));
    }
    return out;
}

check_result check_pair(const net::network& theta, const net::network& quant, const check_options& opt) {
    if (opt.D < 0) throw core::invalid_argument("check: D must be >= 0");
    if (opt.search.max_evaluations == 0) throw core::invalid_argument("check: the search needs at least one evaluation");
    const std::size_t d = theta.input_shape().size();
    const std::size_t m = theta.output_shape().size();
    std::vector<region_box> region = opt.region;
    if (region.empty()) {
        // D rounded to doubles: the search stays inside Omega (rounded down), the
        // upper bound covers it (rounded up).
        region.push_back(region_box{centered_box(d, arith::round_to_double(opt.D, MPFR_RNDD)),
                                    centered_box(d, arith::round_to_double(opt.D, MPFR_RNDU))});
    }
    for (std::size_t b = 0; b < region.size(); ++b) {
        const auto& rb = region[b];
        if (rb.inside.lower.size() != d || rb.inside.upper.size() != d || rb.covering.lower.size() != d || rb.covering.upper.size() != d)
            throw core::invalid_argument("check: region box " + std::to_string(b) + " has " + std::to_string(rb.covering.lower.size()) +
                                         " inputs, the network " + std::to_string(d));
        for (std::size_t j = 0; j < d; ++j) {
            if (!(rb.inside.lower[j] <= rb.inside.upper[j]) || !(rb.covering.lower[j] <= rb.inside.lower[j]) ||
                !(rb.inside.upper[j] <= rb.covering.upper[j]) || !std::isfinite(rb.covering.lower[j]) || !std::isfinite(rb.covering.upper[j]))
                throw core::invalid_argument("check: region box " + std::to_string(b) + ", input " + std::to_string(j) +
                                             ": the box is empty, not finite, or its inner box is not inside its covering one");
            // Omega lies between the two boxes; its inner box at least must lie in [-D, D]^d.
            if (arith::to_rational(rb.inside.lower[j]) < -opt.D || arith::to_rational(rb.inside.upper[j]) > opt.D)
                throw core::invalid_argument("check: region box " + std::to_string(b) + ", input " + std::to_string(j) +
                                             " reaches outside [-D, D] with D = " + arith::to_decimal(opt.D, 20) +
                                             " (the bounds' D must cover Omega)");
        }
    }

    bounds::bound_options bopt;
    bopt.D = opt.D;
    const auto all = bounds::compute_bounds(theta, quant, bopt);

    check_result r;
    const auto stage = [&](const std::string& what) {
        if (opt.stage) opt.stage(what);
    };
    const bool large = forward_cost(theta) > fast_path_macs;
    // Lower side: search each box of the region, then certify its incumbents
    // (small networks) or its best point (large ones).
    stage("searching for a worst-case input");
    const bool one_tree =
        !opt.branch.bounder_for_test && (symbolic_cost(theta) > opt.linear_budget || linear_pass_bytes(theta) > opt.linear_memory_bytes);
    best_certified lower_side(theta, quant, opt.certify_bits, !large && !one_tree);
    search_options first = opt.search;
    first.record_incumbents = !large;
    std::vector<search_result> searches;
    for (const auto& rb : region) {
        searches.push_back(search_worst_case(theta, quant, rb.inside, first));
        r.search_evaluations += searches.back().evaluations;
    }
    stage(large ? "certifying the witness (fast path, refined: 100 bits, more if the enclosure asks for it)" : "certifying the witness");
    for (const auto& s : searches) {
        if (large)
            // One certification costs seconds here: the best point only (so on
            // these networks the lower side follows the search's best value, which
            // never falls with the evaluation budget, but the certified value of a
            // later best point may lie a rounding error below an earlier one's).
            lower_side.offer(s.best_x);
        else
            lower_side.offer_incumbents(s.incumbents);
    }
    if (!large && opt.per_output_samples > 0 && d <= opt.per_output_max_inputs) {
        // Per output: a wide uniform draw over each box of Omega, then a
        // coordinate ascent with exact line sweeps on that output from each of
        // its best points (counts only: the same points on any machine and
        // thread count; the ascents run in parallel and are offered in order).
        stage("per-output search: uniform draw and line sweeps");
        const std::size_t cost = std::max<std::size_t>(1, forward_cost(theta));
        const std::size_t samples = std::max<std::size_t>(1, std::min(opt.per_output_samples, opt.per_output_sample_macs / cost));
        for (std::size_t b = 0; b < region.size(); ++b) {
            const auto starts = best_samples_per_output(theta, quant, region[b].inside, samples, opt.per_output_starts, opt.search.seed + b);
            r.search_evaluations += samples;
            std::vector<std::pair<std::size_t, std::size_t>> jobs;  // (output, start)
            for (std::size_t k = 0; k < m; ++k)
                for (std::size_t i = 0; i < starts[k].size(); ++i) jobs.emplace_back(k, i);
            // Kinks visited per line: per_output_line_steps, fewer when the sweeps
            // would exceed per_output_sweep_macs (each step evaluates both networks
            // twice; lines per round of the axis phase and the slab phase).
            const double lines = static_cast<double>(sweep_lines_per_round(d));
            const double affordable = static_cast<double>(opt.per_output_sweep_macs) /
                                      (std::max<double>(1, static_cast<double>(jobs.size())) * lines *
                                       static_cast<double>(std::max<std::size_t>(1, opt.per_output_rounds)) * 4.0 * static_cast<double>(cost));
            const std::size_t steps = static_cast<std::size_t>(std::clamp(affordable, 1.0, static_cast<double>(opt.per_output_line_steps)));
            std::vector<search_result> ends(jobs.size());
            core::parallel_for(jobs.size(), static_cast<unsigned>(opt.branch.threads), [&](std::size_t j, unsigned) {
                const auto [k, i] = jobs[j];
                // The first rounds of the best few starts sweep whole lines of the box.
                ends[j] = sweep_ascent(theta, quant, region[b].inside, starts[k][i], k, opt.per_output_rounds, steps,
                                       i < opt.per_output_whole_lines ? 1.0 : opt.per_output_span, opt.per_output_span);
            });
            std::vector<std::vector<double>> batch;
            for (const auto& t : ends) {
                r.search_evaluations += t.evaluations;
                batch.push_back(t.best_x);
            }
            lower_side.offer(batch);
        }
    }
    std::vector<arith::rational> upper_k(m);
    if (large) {
        stage("upper side: one fast correlated pair pass over Omega");
        // Branch and bound cannot tighten a box of this many dimensions in
        // any affordable number of splits: one fast correlated pair pass
        // (both networks and their difference) over each box of Omega.
        r.boxes = region.size();
        r.stopped_by = "size";
        r.upper_method = "fast correlated pair pass of both networks and their difference over Omega (one pass per box, no branching)";
        std::vector<double> bound(m, 0.0);
        for (const auto& rb : region) {
            const fast::enclosure diff = fast::enclose_box_difference(theta, quant, rb.covering.lower, rb.covering.upper);
            for (std::size_t i = 0; i < m; ++i) bound[i] = std::max({bound[i], std::fabs(diff.lower[i]), std::fabs(diff.upper[i])});
        }
        for (std::size_t i = 0; i < m && r.upper_computed; ++i) {
            if (!std::isfinite(bound[i])) {
                r.upper_computed = false;
                r.upper_method = "not computed at this size (the fast interval bound over Omega overflows)";
                break;
            }
            upper_k[i] = arith::to_rational(bound[i]);
        }
    } else if (one_tree) {
        // Hundreds of inputs: one tree over the max of the outputs on the fast
        // correlated pair pass (verify/differential.hpp), which shares its box
        // budget among the outputs and is far cheaper per box than the linear
        // pass; every output's upper is then that max.
        stage("upper side: branch and bound on the max over outputs");
        r.upper_method = "differential branch and bound on the max over outputs (the linear pass costs more time or memory than its budget here)";
        branch_and_bound_options bo;
        bo.max_seconds = opt.branch.max_seconds;
        bo.target_relative_gap = opt.branch.target_relative_gap;
        if (opt.branch.progress)
            bo.progress = [&opt, m](std::size_t nodes, double upper, double lower) {
                output_progress p;
                p.nodes = nodes;
                p.upper.assign(m, upper);
                p.lower.assign(m, lower);
                opt.branch.progress(p);
            };
        double upper = 0;
        std::size_t left = opt.branch.max_nodes;
        for (std::size_t i = 0; i < region.size(); ++i) {
            bo.max_nodes = std::max<std::size_t>(1, left / (region.size() - i));
            const branch_and_bound_result b =
                branch_and_bound(theta, quant, region[i].covering, static_cast<double>(lower_side.best().lower) * (1 - 0x1p-50), bo);
            left -= std::min(left, b.nodes);
            r.boxes += b.nodes;
            r.stopped_by = b.stopped_by;
            upper = std::max(upper, b.upper);
            if (opt.use_branch_points) {
                // An ascent from each candidate (the centres of the first boxes
                // split, clamped into Omega), each depending on its start only.
                search_options again = opt.search;
                again.max_evaluations = std::numeric_limits<std::size_t>::max();
                again.record_incumbents = true;
                for (auto x : b.candidates) {
                    for (std::size_t j = 0; j < d; ++j) x[j] = std::clamp(x[j], region[i].inside.lower[j], region[i].inside.upper[j]);
                    const search_result t = ascend_from(theta, quant, region[i].inside, x, again);
                    r.search_evaluations += t.evaluations;
                    lower_side.offer_incumbents(t.incumbents);
                }
            }
        }
        for (std::size_t k = 0; k < m; ++k) upper_k[k] = arith::to_rational(upper);
    } else {
        stage("upper side: per-output branch and bound");
        per_output_options bo = opt.branch;
        bo.initial_lower.assign(m, 0.0);
        bo.initial_points.assign(m, {});
        for (std::size_t k = 0; k < m; ++k)
            if (lower_side.has(k)) {
                bo.initial_lower[k] = arith::round_to_double(lower_side.lower(k), MPFR_RNDD);
                bo.initial_points[k] = lower_side.witness(k).x;
            }
        std::vector<input_box> roots;
        for (const auto& rb : region) roots.push_back(rb.covering);
        r.upper_method = "per-output branch and bound on the linear relaxation pass";
        const auto centres = [m](const input_box& b, box_bounds& out) {
            std::vector<double> c(b.lower.size());
            for (std::size_t j = 0; j < c.size(); ++j) c[j] = b.lower[j] / 2 + b.upper[j] / 2;
            out.candidates.assign(m, c);
        };
        if (!bo.bounder_for_test) {
            try {
                (void)linear_relaxation(theta, quant);  // builds the plans: refuses what the pass does not take
            } catch (const net::model_error& e) {
                // A network the linear pass does not take: the interval pass per box.
                r.upper_method = "per-output branch and bound on the differential interval pass (the linear pass does not take this network: " +
                                 std::string(e.what()) + ")";
                bo.bounder_for_test = [&theta, &quant, centres](const input_box& b, std::size_t) {
                    const auto v = differential_intervals(theta, quant, b);
                    box_bounds out;
                    for (const auto& x : v.back().delta) out.lower.push_back(x.lower()), out.upper.push_back(x.upper());
                    centres(b, out);
                    return out;
                };
            }
        }
        const per_output_result b = per_output_branch_and_bound(theta, quant, roots, bo);
        r.boxes = b.nodes;
        r.stopped_by = b.stopped_by;
        r.trace = b.trace;
        stage("certifying the witnesses");
        if (opt.use_branch_points) {
            std::vector<std::vector<double>> incumbents;
            for (const auto& o : b.outputs) incumbents.insert(incumbents.end(), o.incumbents.begin(), o.incumbents.end());
            lower_side.offer_incumbents(incumbents);
            // Branch and bound's incumbents are offered as they are; an ascent on
            // output k starts from each of its starts (its first boxes' centres
            // and candidates, clamped into the inner box that covers them), each
            // depending on its start only: a larger box budget only adds points.
            search_options again = opt.search;
            again.max_evaluations = std::numeric_limits<std::size_t>::max();  // each ascent is bounded by its step counts
            // The first box of Omega whose covering box holds x (else the first).
            const auto home_box = [&region, d](const std::vector<double>& x) -> const region_box& {
                for (const auto& rb : region) {
                    bool in = true;
                    for (std::size_t j = 0; j < d && in; ++j) in = rb.covering.lower[j] <= x[j] && x[j] <= rb.covering.upper[j];
                    if (in) return rb;
                }
                return region.front();
            };
            // Each output's own objective, then (npos) the largest difference over
            // outputs; the ascents' ends (only the ends: certifying their every
            // step costs more than it finds) are offered as one batch.
            std::vector<std::vector<double>> ends;
            for (std::size_t k = 0; k <= m; ++k) {
                again.output = k < m ? k : search_options{}.output;
                std::vector<std::vector<double>> from;
                if (k < m) {
                    from = b.outputs[k].starts;
                } else {
                    // The first root's centre (the same for every output), then every output's first candidate.
                    for (const auto& o : b.outputs)
                        for (std::size_t i = from.empty() ? 0 : 1; i < std::min<std::size_t>(2, o.starts.size()); ++i) from.push_back(o.starts[i]);
                }
                for (auto x : from) {
                    const region_box& home = home_box(x);
                    for (std::size_t j = 0; j < d; ++j) x[j] = std::clamp(x[j], home.inside.lower[j], home.inside.upper[j]);
                    const search_result t = ascend_from(theta, quant, home.inside, x, again);
                    r.search_evaluations += t.evaluations;
                    ends.push_back(t.best_x);
                }
            }
            lower_side.offer(ends);
        }
        for (std::size_t k = 0; k < m; ++k) upper_k[k] = arith::to_rational(b.outputs[k].upper);
    }
    r.witness = lower_side.best();
    for (std::size_t k = 0; k < m; ++k) {
        output_check o;
        o.index = k;
        o.witness = lower_side.witness(k);
        o.lower = lower_side.lower(k);
        if (r.upper_computed) {
            // Both sides are certified bounds of the same sup: an upper below the
            // lower proves a bug, never patched over.
            if (upper_k[k] < o.lower)
                throw core::unsound_error("check: the certified upper bound " + arith::to_decimal(upper_k[k], 20) + " on output " +
                                          std::to_string(k) + " (" + r.upper_method + ") is below the certified lower value " +
                                          arith::to_decimal(o.lower, 20) + " (" + o.witness.arithmetic + ") at the witness x = " +
                                          core::point_text(o.witness.x) + " in Omega = " + region_text(region));
            o.upper = upper_k[k];
            o.relative_gap = o.upper > 0 ? static_cast<double>((o.upper - o.lower) / o.upper) : 0.0;
            r.upper = arith::max(r.upper, o.upper);
        }
        r.outputs.push_back(std::move(o));
    }
    if (r.upper_computed) {
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
