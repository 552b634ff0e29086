#include "qbound/verify/branch_and_bound.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/verify/linear_relaxation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace qbound::verify {

double per_output_result::max_upper() const {
    double m = 0;
    for (const auto& o : outputs) m = std::max(m, o.upper);
    return m;
}

double per_output_result::max_lower() const {
    double m = 0;
    for (const auto& o : outputs) m = std::max(m, o.lower);
    return m;
}

namespace {

using clock_type = std::chrono::steady_clock;

struct leaf {
    input_box box;
    double bound = 0;            // >= sup of |d_k| over the box (under the splits)
    std::vector<double> score;   // split score from the box's bounds
    std::size_t depth = 0;       // splits from its root
    std::vector<relu_split> splits;  // ReLU splits: the leaf is {x in box : every split holds}
    bool has_relu = false;       // relu: the element to split next (the bounds' candidate)
    relu_split relu;
};

bool lower_bound_first(const leaf& a, const leaf& b) { return a.bound < b.bound; }  // std heap: largest on top

struct tree {
    std::vector<leaf> heap;
    double t = 0;                // certified lower value (fast point pass, or given) at best_x
    double own = 0;              // the best of branch and bound's own points (incumbents follow it, not the given value)
    std::vector<double> best_x;
    std::vector<std::vector<double>> incumbents, starts;
    double atomic = 0;           // largest bound of the leaves that cannot be split (single points)
    std::size_t nodes = 0;
    std::size_t split_count = 0;  // ReLU splits held by the leaves (memory)

    double upper() const { return std::max({t, atomic, heap.empty() ? 0.0 : heap.front().bound}); }
    // Drops the leaves that cannot beat t (their bounds are <= t, which the upper keeps).
    void prune() {
        while (!heap.empty() && heap.front().bound <= t) {
            std::pop_heap(heap.begin(), heap.end(), lower_bound_first);
            split_count -= heap.back().splits.size();
            heap.pop_back();
        }
    }
    bool meets(double gap) const {
        const double u = upper();
        return u - t <= gap * u;
    }
};

// The input to split: the largest split score among the sides that can be
// halved (a midpoint strictly inside), else the widest such side; npos when
// the box is a single point in doubles.
std::size_t split_dimension(const input_box& b, const std::vector<double>& score) {
    constexpr std::size_t npos = static_cast<std::size_t>(-1);
    std::size_t by_score = npos, by_width = npos;
    double best_score = 0, best_width = -1;
    for (std::size_t j = 0; j < b.lower.size(); ++j) {
        const double mid = b.lower[j] / 2 + b.upper[j] / 2;
        if (!(mid > b.lower[j] && mid < b.upper[j])) continue;
        const double s = j < score.size() && std::isfinite(score[j]) ? score[j] : 0.0;
        if (s > best_score) best_score = s, by_score = j;
        const double w = b.upper[j] - b.lower[j];
        if (w > best_width) best_width = w, by_width = j;
    }
    return by_score != npos ? by_score : by_width;
}

struct task {
    std::size_t output;
    double parent_bound;
    input_box box;
    std::size_t depth = 0;
    std::vector<relu_split> splits;
    // Filled by the evaluation:
    box_bounds bounds;
    std::vector<double> point;        // the box's candidate for `output` (may be empty)
    std::vector<double> point_lower;  // per output, certified mignitude of d at `point`
    double seconds = 0;               // the bounder's time (0 when the bounds were given)
};

}  // namespace

per_output_result per_output_branch_and_bound(const net::network& theta, const net::network& quant, const std::vector<input_box>& roots,
                                              const per_output_options& opt) {
    const auto start = clock_type::now();
    const auto elapsed = [&] { return std::chrono::duration<double>(clock_type::now() - start).count(); };
    if (roots.empty()) throw core::invalid_argument("branch and bound: no input box");
    const std::size_t d = theta.input_shape().size();
    for (std::size_t r = 0; r < roots.size(); ++r) {
        if (roots[r].lower.size() != d || roots[r].upper.size() != d)
            throw core::invalid_argument("branch and bound: box " + std::to_string(r) + " has " + std::to_string(roots[r].lower.size()) +
                                         " inputs, the network " + std::to_string(d));
        for (std::size_t j = 0; j < d; ++j)
            if (!(roots[r].lower[j] <= roots[r].upper[j]) || !std::isfinite(roots[r].lower[j]) || !std::isfinite(roots[r].upper[j]))
                throw core::invalid_argument("branch and bound: box " + std::to_string(r) + " is empty or not finite in input " +
                                             std::to_string(j));
    }
    const std::size_t m = theta.output_shape().size();
    const auto threads = static_cast<unsigned>(opt.threads);  // 0: core::thread_count's default
    const linear_relaxation pass(theta, quant);
    const fast::pair_pass point_pass(theta, quant);  // the candidates' a-priori point enclosures
    const bool relu_splitting = d > opt.relu_split_above_inputs;
    // The roots are cross-checked against the interval pass (an empty
    // intersection is UNSOUND); their children skip it (about half the cost).
    const auto bounder = [&](const task& w) {
        if (opt.bounder_for_test) return opt.bounder_for_test(w.box, w.output);
        linear_options lo;
        lo.output = w.output;
        lo.interval_pass = w.depth == 0;
        lo.intermediate = w.depth < opt.intermediate_depth || (!w.splits.empty() && opt.relu_split_intermediate);
        lo.splits = w.splits;
        lo.relu_candidate = relu_splitting;
        lo.lp = opt.lp;
        lo.lp_magnitude_only = true;  // only the magnitude of w.output is read
        return pass.bounds(w.box, lo);
    };

    std::vector<tree> trees(m);
    for (std::size_t k = 0; k < m && k < opt.initial_lower.size(); ++k)
        if (opt.initial_lower[k] > 0 && std::isfinite(opt.initial_lower[k])) {
            trees[k].t = opt.initial_lower[k];
            if (k < opt.initial_points.size() && opt.initial_points[k].size() == d) trees[k].best_x = opt.initial_points[k];
        }
    const auto contains = [d](const input_box& b, const std::vector<double>& x) {
        if (x.size() != d) return false;
        for (std::size_t j = 0; j < d; ++j)
            if (!(b.lower[j] <= x[j] && x[j] <= b.upper[j])) return false;
        return true;
    };
    const auto contradiction = [](std::size_t k, const input_box& b, double bound, double value, const std::vector<double>& x) {
        return core::unsound_error("branch and bound, output " + std::to_string(k) + ": the box's certified bound |d| <= " +
                                   core::exact_digits(bound) + " over " + core::box_text(b.lower, b.upper) +
                                   " is below the certified lower value " + core::exact_digits(value) + " at x = " + core::point_text(x) +
                                   ", a point of the box");
    };

    // Bounds the task's box unless they were given (the roots), then certifies its candidate.
    const auto evaluate = [&](task& w) {
        const auto t0 = clock_type::now();
        if (w.bounds.upper.empty()) w.bounds = bounder(w);
        w.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
        if (w.bounds.upper.size() != m || w.bounds.lower.size() != m)
            throw core::invalid_argument("branch and bound: the bounder returned " + std::to_string(w.bounds.upper.size()) + " outputs, not " +
                                         std::to_string(m));
        if (w.bounds.infeasible) return;  // no point of the box satisfies the splits
        if (w.output < w.bounds.candidates.size() && w.bounds.candidates[w.output].size() == d) {
            const auto clamped = [&](std::vector<double> x) {
                for (std::size_t j = 0; j < d; ++j) x[j] = std::clamp(x[j], w.box.lower[j], w.box.upper[j]);
                return x;
            };
            const auto mignitudes = [&](const fast::enclosure& e) {
                std::vector<double> r(m, 0.0);
                for (std::size_t j = 0; j < m && j < e.lower.size(); ++j) {
                    const double mig = e.lower[j] > 0 ? e.lower[j] : e.upper[j] < 0 ? -e.upper[j] : 0.0;
                    if (std::isfinite(mig)) r[j] = mig;
                }
                return r;
            };
            w.point = clamped(w.bounds.candidates[w.output]);
            fast::enclosure e = point_pass.point(w.point, fast::options{1, 100});
            w.point_lower = mignitudes(e);
            // A further candidate replaces it when it certifies more for this output.
            if (w.output < w.bounds.more_candidates.size() && w.bounds.more_candidates[w.output].size() == d) {
                auto x = clamped(w.bounds.more_candidates[w.output]);
                fast::enclosure ex = point_pass.point(x, fast::options{1, 100});
                auto lx = mignitudes(ex);
                if (lx[w.output] > w.point_lower[w.output]) {
                    w.point = std::move(x);
                    e = std::move(ex);
                    w.point_lower = std::move(lx);
                }
            }
            const auto raise_to = [&](const fast::enclosure& en) {
                const auto r = mignitudes(en);
                for (std::size_t j = 0; j < m; ++j) w.point_lower[j] = std::max(w.point_lower[j], r[j]);
            };
            // A difference below the a-priori pass's resolution (about 2^-52 |R_theta(x)|)
            // certifies nothing, and its output could never close a gap: when the
            // enclosure is wider than the box's own bound (so no pass of this
            // resolution can ever certify a value there), the refined point mode
            // resolves it (100, 275, then 450 bits, while nothing is certified and
            // the enclosure stays that wide).
            const auto too_wide = [&] {
                const double width = e.upper[w.output] - e.lower[w.output];
                return !(width < w.bounds.magnitude(w.output));
            };
            if (w.output < m && w.point_lower[w.output] == 0 && too_wide()) {
                try {
                    for (int bits = 100; w.point_lower[w.output] == 0 && too_wide() && bits <= fast::max_refined_bits; bits += 175) {
                        e = fast::enclose_difference_refined(theta, quant, w.point, fast::options{1, bits});
                        raise_to(e);
                    }
                } catch (const fast::refinement_not_applicable&) {
                }
            }
        }
    };
    const std::size_t leaf_bytes = sizeof(leaf) + 3 * d * sizeof(double);
    const auto merge = [&](task& w) {
        tree& tr = trees[w.output];
        ++tr.nodes;
        if (w.bounds.infeasible) return;  // an empty leaf: nothing to bound
        if (tr.starts.size() < 2 * opt.max_starts) {
            // The box's centre, then its candidate.
            std::vector<double> centre(d);
            for (std::size_t j = 0; j < d; ++j) centre[j] = w.box.lower[j] / 2 + w.box.upper[j] / 2;
            tr.starts.push_back(std::move(centre));
            if (!w.point.empty()) tr.starts.push_back(w.point);
        }
        // The point's certified values raise every output's lower value.
        if (!w.point.empty()) {
            for (std::size_t j = 0; j < m; ++j) {
                tree& to = trees[j];
                if (w.point_lower[j] > to.own) {
                    to.own = w.point_lower[j];
                    to.incumbents.push_back(w.point);
                }
                if (w.point_lower[j] > to.t) to.t = w.point_lower[j], to.best_x = w.point;
            }
        }
        // A certified value above this box's certified bound, at a point of the box, proves a bug
        // (under ReLU splits the point may lie outside the leaf's part of the box: no check).
        const double own = w.bounds.magnitude(w.output);
        if (w.splits.empty() && !w.point.empty() && w.point_lower[w.output] > own)
            throw contradiction(w.output, w.box, own, w.point_lower[w.output], w.point);
        if (w.splits.empty() && tr.t > own && contains(w.box, tr.best_x)) throw contradiction(w.output, w.box, own, tr.t, tr.best_x);
        const double bound = std::min(w.parent_bound, own);
        if (bound > tr.t) {
            // A box whose own bound is no better than its parent's splits its widest side next:
            // the smear of the output's linear bounds can miss the inputs the relaxation's
            // looseness depends on (coefficients that cancel), and then it would halve the
            // same sides forever without tightening anything.
            const bool stalled = !(own < w.parent_bound);
            tr.split_count += w.splits.size();
            tr.heap.push_back(leaf{std::move(w.box), bound, stalled ? std::vector<double>{} : std::move(w.bounds.split_score), w.depth,
                                   std::move(w.splits), relu_splitting && w.bounds.has_relu_candidate, w.bounds.relu_candidate});
            std::push_heap(tr.heap.begin(), tr.heap.end(), lower_bound_first);
        }
    };

    per_output_result result;
    std::size_t nodes = 0;
    // Seconds of the passes so far (summed over threads) and their count: a
    // round of k boxes takes about ceil(k / threads) mean passes of wall time.
    double pass_seconds = 0;
    std::size_t passes = 0;
    const auto count_pass = [&](double seconds) { pass_seconds += seconds, ++passes; };
    const auto round_seconds = [&](std::size_t boxes) {
        if (passes == 0) return 0.0;
        const std::size_t lanes = std::min<std::size_t>(core::thread_count(threads), std::max<std::size_t>(1, boxes));
        return pass_seconds / static_cast<double>(passes) * static_cast<double>((boxes + lanes - 1) / lanes);
    };
    const auto snapshot = [&] {
        output_progress p;
        p.nodes = nodes;
        p.seconds = elapsed();
        for (auto& tr : trees) p.upper.push_back(tr.upper()), p.lower.push_back(tr.t);
        return p;
    };
    const auto record = [&](bool force) {
        double up = 0, lo = 0;
        for (auto& tr : trees) up = std::max(up, tr.upper()), lo = std::max(lo, tr.t);
        if (!force && !result.trace.empty()) {
            const auto& last = result.trace.back();
            if (!(up < last.upper * (1 - 1e-3)) && !(lo > last.lower * (1 + 1e-3))) return;
        }
        result.trace.push_back(trace_point{elapsed(), nodes, up, lo});
    };

    // The roots, for every output. One pass per root box bounds every output
    // at once (the forward pass, which dominates a pass's cost, is shared);
    // each output's tree then starts from that box with its own split score
    // and candidate (a test's bounder is asked per output).
    {
        std::vector<box_bounds> shared(opt.bounder_for_test ? 0 : roots.size());
        std::vector<double> shared_seconds(shared.size());
        core::parallel_for(shared.size(), threads, [&](std::size_t r, unsigned) {
            const auto t0 = clock_type::now();
            task all{linear_options::npos, std::numeric_limits<double>::infinity(), roots[r], 0, {}, {}, {}, {}};
            shared[r] = bounder(all);
            shared_seconds[r] = std::chrono::duration<double>(clock_type::now() - t0).count();
        });
        std::vector<task> first;
        for (std::size_t k = 0; k < m; ++k)
            for (std::size_t r = 0; r < roots.size(); ++r) {
                first.push_back(task{k, std::numeric_limits<double>::infinity(), roots[r], 0, {}, {}, {}, {}});
                if (!shared.empty()) {
                    box_bounds& b = first.back().bounds;
                    b = shared[r];
                    if (k < shared[r].output_split_score.size()) b.split_score = shared[r].output_split_score[k];
                }
            }
        core::parallel_for(first.size(), threads, [&](std::size_t i, unsigned) { evaluate(first[i]); });
        for (const auto& w : first)
            if (shared.empty()) count_pass(w.seconds);
        for (const double t : shared_seconds) count_pass(t);
        for (auto& w : first) merge(w);
        nodes += first.size();
    }
    record(true);
    if (opt.progress) opt.progress(snapshot());

    for (;;) {
        std::vector<std::size_t> open;
        bool all_meet = true;
        for (std::size_t k = 0; k < m; ++k) {
            trees[k].prune();
            const bool meets = trees[k].meets(opt.target_relative_gap);
            all_meet = all_meet && meets;
            if (!meets && !trees[k].heap.empty()) open.push_back(k);
        }
        if (open.empty()) {
            result.stopped_by = all_meet ? "gap" : "exhausted";
            break;
        }
        if (elapsed() > opt.max_seconds) {
            result.stopped_by = "time";
            break;
        }
        // The round (two children per leaf split) at the mean pass time so far:
        // one that would end past the time cap is not started (a pass of
        // seconds, as on an MNIST CNN, would overrun the cap by a whole round).
        // A fixed share per output: an output that closes never changes what the others split.
        const std::size_t share = std::max<std::size_t>(1, opt.batch / m);
        if (elapsed() + round_seconds(2 * open.size() * share) > opt.max_seconds) {
            result.stopped_by = "time";
            break;
        }
        if (nodes + 2 > opt.max_nodes) {
            result.stopped_by = "nodes";
            break;
        }
        std::size_t leaves = 0, splits_held = 0;
        for (const auto& tr : trees) leaves += tr.heap.size(), splits_held += tr.split_count;
        if (leaves * leaf_bytes + splits_held * sizeof(relu_split) > opt.max_memory_bytes) {
            result.stopped_by = "memory";
            break;
        }
        std::vector<task> round;
        for (const std::size_t k : open) {
            tree& tr = trees[k];
            for (std::size_t i = 0; i < share && !tr.heap.empty() && nodes + round.size() + 2 <= opt.max_nodes; ++i) {
                std::pop_heap(tr.heap.begin(), tr.heap.end(), lower_bound_first);
                leaf top = std::move(tr.heap.back());
                tr.heap.pop_back();
                tr.split_count -= top.splits.size();
                if (top.has_relu) {
                    // Both signs of the candidate element: the two parts cover the leaf.
                    std::vector<relu_split> on = top.splits, off = std::move(top.splits);
                    top.relu.active = true;
                    on.push_back(top.relu);
                    top.relu.active = false;
                    off.push_back(top.relu);
                    round.push_back(task{k, top.bound, top.box, top.depth + 1, std::move(on), {}, {}, {}});
                    round.push_back(task{k, top.bound, std::move(top.box), top.depth + 1, std::move(off), {}, {}, {}});
                    continue;
                }
                const std::size_t j = split_dimension(top.box, top.score);
                if (j == static_cast<std::size_t>(-1)) {
                    tr.atomic = std::max(tr.atomic, top.bound);
                    continue;
                }
                const double mid = top.box.lower[j] / 2 + top.box.upper[j] / 2;
                input_box left = top.box, right = std::move(top.box);
                left.upper[j] = mid;
                right.lower[j] = mid;
                round.push_back(task{k, top.bound, std::move(left), top.depth + 1, top.splits, {}, {}, {}});
                round.push_back(task{k, top.bound, std::move(right), top.depth + 1, std::move(top.splits), {}, {}, {}});
            }
        }
        core::parallel_for(round.size(), threads, [&](std::size_t i, unsigned) { evaluate(round[i]); });
        for (auto& w : round) count_pass(w.seconds), merge(w);
        nodes += round.size();
        record(false);
        if (opt.progress) opt.progress(snapshot());
    }
    record(true);
    result.nodes = nodes;
    for (auto& tr : trees) {
        output_bracket o;
        o.upper = tr.upper();
        o.lower = tr.t;
        o.best_x = tr.best_x;
        o.incumbents = std::move(tr.incumbents);
        o.starts = std::move(tr.starts);
        o.nodes = tr.nodes;
        o.leaves = tr.heap.size();
        result.outputs.push_back(std::move(o));
    }
    return result;
}

}  // namespace qbound::verify
