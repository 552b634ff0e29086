#include "qbound/verify/search.hpp"
#include "qbound/core/errors.hpp"

#include "qbound/verify/gradient.hpp"
#include "qbound/verify/point_difference.hpp"
#include "qbound/net/forward.hpp"

#include <algorithm>
#include <functional>
#include <utility>
#include <cmath>
#include <limits>

#include <chrono>
#include <random>

namespace qbound::verify {

namespace {

using all_values = std::vector<std::vector<double>>;

// The smallest step t in (h, limit) along a line at which a ReLU (ReLU6)
// input of either network reaches its kink 0 (or 6), from both networks'
// values a, aq at the line's point and b, bq a step h further (their
// difference quotient: a heuristic, only evaluated points count); limit
// when there is none.
double next_kink(const net::network& theta, const net::network& quant, const all_values& a, const all_values& aq, const all_values& b,
                 const all_values& bq, double h, double limit) {
    double next = limit;
    for (const auto* pair : {&a, &aq}) {
        const auto& m = pair == &a ? theta : quant;
        const auto& at_h = pair == &a ? b : bq;
        for (std::size_t i = 1; i < m.nodes().size(); ++i) {
            const auto& n = m.nodes()[i];
            if (n.kind != net::op::relu && n.kind != net::op::relu6) continue;
            const auto &p0 = (*pair)[n.inputs[0]], &ph = at_h[n.inputs[0]];
            for (std::size_t k = 0; k < p0.size(); ++k) {
                const double slope = (ph[k] - p0[k]) / h;
                if (slope == 0 || !std::isfinite(slope)) continue;
                for (double kink : {0.0, 6.0}) {
                    if (kink == 6.0 && n.kind != net::op::relu6) continue;
                    const double t = (kink - p0[k]) / slope;
                    if (t > h && t < next) next = t;
                }
            }
        }
    }
    return next;
}

// The evaluations of one search, in order. Once the evaluation budget is
// spent nothing more is evaluated, so a budget of N gives exactly the first N
// evaluations of a larger budget (same seed): the best value and the
// incumbents only grow with the budget. The time cap breaks this when it
// binds (it is a safety net).
class searcher {
public:
    searcher(const net::network& theta, const net::network& quant, const input_box& box, const search_options& opt)
        : theta_(theta), quant_(quant), box_(box), opt_(opt), start_(std::chrono::steady_clock::now()) {}

    bool exhausted() const {
        return r.evaluations >= opt_.max_evaluations ||
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() > opt_.max_seconds;
    }

    // The approximate difference at x (-1 once the budget is spent: nothing recorded).
    double consider(const std::vector<double>& x) {
        if (exhausted()) return -1;
        const double v = approximate_difference(theta_, quant_, x, opt_.output);
        ++r.evaluations;
        if (v > r.best_value) {
            r.best_value = v, r.best_x = x;
            if (opt_.record_incumbents) r.incumbents.push_back(x);
        }
        return v;
    }

    // Projected sign-gradient ascent from z with a halving step; z ends at the last accepted point.
    void gradient_ascent(std::vector<double>& z) {
        const std::size_t d = box_.lower.size();
        double current = consider(z), step = 0.5;
        for (std::size_t it = 0; it < opt_.gradient_steps && step > 0x1p-30 && !exhausted(); ++it) {
            const auto y = net::forward<double>(theta_, z), yq = net::forward<double>(quant_, z);
            const std::size_t out = objective_output(y, yq);
            const auto g = difference_gradient(theta_, quant_, z, out, yq[out] - y[out] >= 0 ? 1.0 : -1.0);
            std::vector<double> next = z;
            for (std::size_t j = 0; j < d; ++j) {
                const double move = g[j] > 0 ? 1.0 : g[j] < 0 ? -1.0 : 0.0;
                next[j] = std::clamp(z[j] + step * move * (box_.upper[j] - box_.lower[j]), box_.lower[j], box_.upper[j]);
            }
            const double v = consider(next);
            if (v > current) {
                current = v;
                z = std::move(next);
            } else {
                step /= 2;
            }
        }
    }

    // Activation-aware line search from z. Along z + t u the pre-activations
    // of both networks are linear in t until one of them crosses a ReLU kink
    // (0, and 6 for ReLU6); their slopes come from a difference quotient over
    // a short step h (a heuristic: only the evaluated points matter, and they
    // are certified later). The difference is linear on [0, t_next],
    // increasing along the sign-gradient direction, so its best point there
    // is t_next.
    void kink_search(std::vector<double>& z) {
        const std::size_t d = box_.lower.size();
        double current = consider(z);
        for (std::size_t it = 0; it < opt_.kink_steps && !exhausted(); ++it) {
            const auto a = net::forward_all<double>(theta_, z), aq = net::forward_all<double>(quant_, z);
            const auto &y = a.back(), &yq = aq.back();
            const std::size_t out = objective_output(y, yq);
            const auto g = difference_gradient(theta_, quant_, z, out, yq[out] - y[out] >= 0 ? 1.0 : -1.0);
            std::vector<double> u(d, 0.0);
            double t_face = std::numeric_limits<double>::infinity();
            for (std::size_t j = 0; j < d; ++j) {
                const double w = box_.upper[j] - box_.lower[j];
                if (g[j] > 0 && z[j] < box_.upper[j]) u[j] = w, t_face = std::min(t_face, (box_.upper[j] - z[j]) / w);
                if (g[j] < 0 && z[j] > box_.lower[j]) u[j] = -w, t_face = std::min(t_face, (z[j] - box_.lower[j]) / w);
            }
            if (!(t_face > 0) || !std::isfinite(t_face)) break;  // at a vertex in every direction that helps
            const double h = t_face * 0x1p-20;
            std::vector<double> zh(d);
            for (std::size_t j = 0; j < d; ++j) zh[j] = z[j] + h * u[j];
            const auto b = net::forward_all<double>(theta_, zh), bq = net::forward_all<double>(quant_, zh);
            const double t_next = next_kink(theta_, quant_, a, aq, b, bq, h, t_face);
            std::vector<double> next(d);
            for (std::size_t j = 0; j < d; ++j) next[j] = std::clamp(z[j] + t_next * u[j], box_.lower[j], box_.upper[j]);
            const double v = consider(next);
            if (!(v > current)) break;
            current = v;
            z = std::move(next);
        }
    }

    search_result r;

private:
    // The output the objective follows at this point: the fixed one, or the largest difference.
    std::size_t objective_output(const std::vector<double>& y, const std::vector<double>& yq) const {
        if (opt_.output < y.size()) return opt_.output;
        std::size_t out = 0;
        for (std::size_t i = 1; i < y.size(); ++i)
            if (std::fabs(yq[i] - y[i]) > std::fabs(yq[out] - y[out])) out = i;
        return out;
    }

    const net::network& theta_;
    const net::network& quant_;
    const input_box& box_;
    const search_options& opt_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace

search_result search_worst_case(const net::network& theta, const net::network& quant, const input_box& box,
                                const search_options& opt, const std::vector<std::vector<double>>& candidates) {
    searcher s(theta, quant, box, opt);
    std::mt19937_64 engine(opt.seed);
    const auto unit = [&engine] { return static_cast<double>(engine() >> 11) * 0x1p-53; };  // [0, 1)
    const std::size_t d = box.lower.size();
    std::vector<double> x(d);
    for (std::size_t k = 0; k < d; ++k) x[k] = box.lower[k] / 2 + box.upper[k] / 2;
    s.consider(x);
    for (const auto& c : candidates) s.consider(c);
    for (std::size_t i = 0; i < opt.random_samples && !s.exhausted(); ++i) {
        for (std::size_t k = 0; k < d; ++k) x[k] = std::min(box.upper[k], box.lower[k] + unit() * (box.upper[k] - box.lower[k]));
        s.consider(x);
    }
    // Projected sign-gradient ascent from the best point and a few others.
    std::vector<std::vector<double>> starts{s.r.best_x};
    for (std::size_t k = 1; k < opt.gradient_starts; ++k) {
        std::vector<double> z(d);
        for (std::size_t j = 0; j < d; ++j) z[j] = std::min(box.upper[j], box.lower[j] + unit() * (box.upper[j] - box.lower[j]));
        starts.push_back(std::move(z));
    }
    for (auto& z : starts) s.gradient_ascent(z);
    for (std::size_t restart = 0; restart < opt.vertex_restarts && !s.exhausted(); ++restart) {
        for (std::size_t k = 0; k < d; ++k) x[k] = (engine() & 1) ? box.upper[k] : box.lower[k];
        double current = s.consider(x);
        for (std::size_t pass = 0; pass < opt.max_passes && !s.exhausted(); ++pass) {
            bool improved = false;
            for (std::size_t k = 0; k < d && !s.exhausted(); ++k) {
                const double keep = x[k];
                x[k] = keep == box.upper[k] ? box.lower[k] : box.upper[k];
                const double v = s.consider(x);
                if (v > current) {
                    current = v;
                    improved = true;
                } else {
                    x[k] = keep;
                }
            }
            if (!improved) break;
        }
    }
    // Activation-aware line search from the best point and a few random ones.
    std::vector<std::vector<double>> kink_starts;
    if (opt.kink_steps > 0 && opt.kink_starts > 0) kink_starts.push_back(s.r.best_x);
    for (std::size_t k = 1; k < opt.kink_starts && opt.kink_steps > 0; ++k) {
        std::vector<double> z(d);
        for (std::size_t j = 0; j < d; ++j) z[j] = std::min(box.upper[j], box.lower[j] + unit() * (box.upper[j] - box.lower[j]));
        kink_starts.push_back(std::move(z));
    }
    for (auto& z : kink_starts) s.kink_search(z);
    return std::move(s.r);
}

std::vector<std::vector<std::vector<double>>> best_samples_per_output(const net::network& theta, const net::network& quant,
                                                                      const input_box& box, std::size_t samples, std::size_t keep,
                                                                      std::uint64_t seed) {
    const std::size_t d = box.lower.size(), m = theta.output_shape().size();
    if (box.upper.size() != d || d != theta.input_shape().size())
        throw core::invalid_argument("sampling: the box has " + std::to_string(d) + " inputs, the network " + std::to_string(theta.input_shape().size()));
    std::mt19937_64 engine(seed);
    const auto unit = [&engine] { return static_cast<double>(engine() >> 11) * 0x1p-53; };  // [0, 1)
    // The draw: the largest power of two <= samples (none for 0).
    std::size_t total = samples == 0 ? 0 : 1;
    while (total <= samples / 2) total *= 2;
    // Per output, a min-heap of (value, sample index) of the best `keep` so far.
    using entry = std::pair<double, std::size_t>;
    std::vector<std::vector<entry>> best(m);
    std::vector<std::vector<double>> points;
    std::vector<std::vector<std::vector<double>>> out(m);
    // Appends each output's current best `keep` (best first) that it does not hold yet.
    const auto harvest = [&] {
        for (std::size_t k = 0; k < m; ++k) {
            auto sorted = best[k];
            std::sort(sorted.begin(), sorted.end(), std::greater<>{});
            for (const auto& [v, i] : sorted)
                if (std::find(out[k].begin(), out[k].end(), points[i]) == out[k].end()) out[k].push_back(points[i]);
        }
    };
    std::vector<double> x(d);
    for (std::size_t i = 0; i < total; ++i) {
        for (std::size_t j = 0; j < d; ++j) x[j] = std::min(box.upper[j], box.lower[j] + unit() * (box.upper[j] - box.lower[j]));
        const auto y = net::forward<double>(theta, x), yq = net::forward<double>(quant, x);
        bool kept = false;
        for (std::size_t k = 0; k < m; ++k) {
            const double v = std::fabs(yq[k] - y[k]);
            if (!std::isfinite(v)) continue;
            auto& h = best[k];
            if (h.size() < keep) {
                h.emplace_back(v, points.size());
                std::push_heap(h.begin(), h.end(), std::greater<>{});
                kept = true;
            } else if (keep > 0 && v > h.front().first) {
                std::pop_heap(h.begin(), h.end(), std::greater<>{});
                h.back() = {v, points.size()};
                std::push_heap(h.begin(), h.end(), std::greater<>{});
                kept = true;
            }
        }
        if (kept) points.push_back(x);
        // At the end, and at every prefix of a power of two >= sample_block points: that prefix's best.
        const std::size_t done = i + 1;
        if (done == total || (done >= sample_block && (done & (done - 1)) == 0)) harvest();
    }
    return out;
}

sweep_result line_sweep(const net::network& theta, const net::network& quant, const input_box& box, const std::vector<double>& x,
                        const std::vector<double>& u, std::size_t max_steps) {
    const std::size_t d = box.lower.size(), m = theta.output_shape().size();
    if (x.size() != d || u.size() != d || box.upper.size() != d)
        throw core::invalid_argument("line sweep: the point, the direction and the box differ in dimension");
    sweep_result r;
    r.best.assign(m, -1.0);
    r.best_x.assign(m, x);
    // The segment: t in [t0, t1] keeps x + t u in the box.
    double t0 = -1, t1 = 1;
    bool moves = false;
    for (std::size_t j = 0; j < d; ++j) moves = moves || u[j] != 0;
    if (!moves) t0 = t1 = 0;
    for (std::size_t j = 0; j < d; ++j) {
        if (u[j] == 0) continue;
        const double a = (box.lower[j] - x[j]) / u[j], b = (box.upper[j] - x[j]) / u[j];
        t0 = std::max(t0, std::min(a, b));
        t1 = std::min(t1, std::max(a, b));
    }
    const auto point = [&](double t) {
        std::vector<double> z(d);
        for (std::size_t j = 0; j < d; ++j) z[j] = std::clamp(x[j] + t * u[j], box.lower[j], box.upper[j]);
        return z;
    };
    const auto record = [&](const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& aq, const std::vector<double>& z) {
        ++r.evaluations;
        for (std::size_t k = 0; k < m; ++k) {
            const double v = std::fabs(aq.back()[k] - a.back()[k]);
            if (std::isfinite(v) && v > r.best[k]) r.best[k] = v, r.best_x[k] = z;
        }
    };
    if (!(t0 < t1) || !std::isfinite(t0) || !std::isfinite(t1)) {  // no direction, or x outside the box along u: the point alone
        const auto a = net::forward_all<double>(theta, x), aq = net::forward_all<double>(quant, x);
        record(a, aq, x);
        return r;
    }
    const double h = (t1 - t0) * 0x1p-30;
    double t = t0;
    std::vector<double> z = point(t);
    auto a = net::forward_all<double>(theta, z), aq = net::forward_all<double>(quant, z);
    record(a, aq, z);
    for (std::size_t step = 0; step < max_steps && t < t1 && h > 0; ++step) {
        const std::vector<double> zh = point(t + h);
        const auto b = net::forward_all<double>(theta, zh), bq = net::forward_all<double>(quant, zh);
        t = std::min(t1, t + next_kink(theta, quant, a, aq, b, bq, h, t1 - t));
        z = point(t);
        a = net::forward_all<double>(theta, z), aq = net::forward_all<double>(quant, z);
        record(a, aq, z);
    }
    return r;
}

search_result sweep_ascent(const net::network& theta, const net::network& quant, const input_box& box, std::vector<double> x,
                           std::size_t output, std::size_t rounds, std::size_t max_steps, double first_span, double span,
                           std::size_t max_axes) {
    const std::size_t d = box.lower.size();
    if (output >= theta.output_shape().size()) throw core::invalid_argument("sweep ascent: no output " + std::to_string(output));
    search_result r;
    r.best_x = x;
    r.best_value = approximate_difference(theta, quant, x, output);
    r.evaluations = 1;
    std::mt19937_64 engine(0x5eed + output);
    // Sweeps the line through x along u and moves x to its best point for the output.
    const auto sweep_to_best = [&](const std::vector<double>& u) {
        const sweep_result sw = line_sweep(theta, quant, box, x, u, max_steps);
        r.evaluations += sw.evaluations;
        if (sw.best[output] > r.best_value) {
            r.best_value = sw.best[output];
            r.best_x = sw.best_x[output];
            x = r.best_x;
        }
    };
    for (std::size_t round = 0; round < rounds; ++round) {
        const double before = r.best_value;
        const double reach = round == 0 ? first_span : span;
        const std::size_t lines = d <= max_axes ? d : high_dimension_lines;
        for (std::size_t l = 0; l < lines; ++l) {
            std::vector<double> u(d, 0.0);
            if (d <= max_axes) {
                u[l] = reach * (box.upper[l] - box.lower[l]);
            } else if (l == 0) {
                const auto y = net::forward<double>(theta, x), yq = net::forward<double>(quant, x);
                const auto g = difference_gradient(theta, quant, x, output, yq[output] - y[output] >= 0 ? 1.0 : -1.0);
                for (std::size_t j = 0; j < d; ++j) u[j] = (g[j] > 0 ? 1.0 : g[j] < 0 ? -1.0 : 0.0) * reach * (box.upper[j] - box.lower[j]);
            } else {
                for (std::size_t j = 0; j < d; ++j) u[j] = ((engine() & 1) ? 1.0 : -1.0) * reach * (box.upper[j] - box.lower[j]);
            }
            sweep_to_best(u);
        }
        if (!(r.best_value > before)) break;
    }
    // Slab following (low dimension): the largest differences of a quantized
    // copy often lie in the thin slab between a neuron's kinks in the two
    // networks, and an axis line leaves it at once. At x, take the ReLU input
    // whose two values differ in sign the most (x lies in its slab), its
    // gradient by difference quotients, and sweep the lines along each axis
    // projected on its level set (the pivot axis, where the gradient weighs
    // most, compensates), over +-first_span.
    for (std::size_t round = 0; round < rounds && d <= max_axes && d >= 2; ++round) {
        const double before = r.best_value;
        const auto a = net::forward_all<double>(theta, x), aq = net::forward_all<double>(quant, x);
        std::size_t node = 0, element = 0;
        double widest = 0;
        for (std::size_t i = 1; i < theta.nodes().size(); ++i) {
            const auto& n = theta.nodes()[i];
            if (n.kind != net::op::relu) continue;
            const auto &p = a[n.inputs[0]], &q = aq[n.inputs[0]];
            for (std::size_t k = 0; k < p.size(); ++k)
                if ((p[k] > 0) != (q[k] > 0) && std::fabs(p[k] - q[k]) > widest) widest = std::fabs(p[k] - q[k]), node = n.inputs[0], element = k;
        }
        if (node == 0) break;  // in no slab
        std::vector<double> g(d, 0.0);
        std::size_t pivot = 0;
        for (std::size_t j = 0; j < d; ++j) {
            const double w = box.upper[j] - box.lower[j], h = w * 0x1p-30;
            if (!(h > 0)) continue;
            std::vector<double> xh = x;
            xh[j] = x[j] + h <= box.upper[j] ? x[j] + h : x[j] - h;
            const double step = xh[j] - x[j];
            g[j] = (net::forward_all<double>(theta, xh)[node][element] - a[node][element]) / step;
            ++r.evaluations;
            if (std::fabs(g[j]) * w > std::fabs(g[pivot]) * (box.upper[pivot] - box.lower[pivot])) pivot = j;
        }
        if (!(g[pivot] != 0) || !std::isfinite(g[pivot])) break;
        for (std::size_t j = 0; j < d; ++j) {
            if (j == pivot) continue;
            std::vector<double> u(d, 0.0);
            u[j] = first_span * (box.upper[j] - box.lower[j]);
            u[pivot] = -g[j] * u[j] / g[pivot];
            if (std::isfinite(u[pivot])) sweep_to_best(u);
        }
        if (!(r.best_value > before)) break;
    }
    return r;
}

search_result ascend_from(const net::network& theta, const net::network& quant, const input_box& box, const std::vector<double>& start,
                          const search_options& opt) {
    searcher s(theta, quant, box, opt);
    std::vector<double> z = start;
    s.consider(z);
    s.gradient_ascent(z);
    if (opt.kink_steps > 0) s.kink_search(z);
    return std::move(s.r);
}

search_options counted_search(std::size_t inputs, double effort, std::uint64_t seed) {
    if (!(effort > 0) || !std::isfinite(effort)) throw core::invalid_argument("search effort must be positive and finite");
    const auto scaled = [&](double base) { return static_cast<std::size_t>(std::max(1.0, std::ceil(base * effort))); };
    const bool wide = inputs > 16;
    search_options o;
    o.random_samples = scaled(inputs <= 4 ? 2048 : 256);
    o.vertex_restarts = scaled(wide ? 4 : 16);
    o.max_passes = wide ? 2 : 8;
    o.gradient_starts = scaled(8);
    o.gradient_steps = wide ? 40 : 60;
    o.kink_starts = scaled(4);
    o.kink_steps = 40;
    o.max_seconds = 600;
    o.seed = seed;
    return o;
}

}  // namespace qbound::verify
