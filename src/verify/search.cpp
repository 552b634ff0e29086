#include "qbound/verify/search.hpp"
#include "qbound/core/errors.hpp"

#include "qbound/verify/gradient.hpp"
#include "qbound/verify/point_difference.hpp"
#include "qbound/net/forward.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <chrono>
#include <random>

namespace qbound::verify {

namespace {

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
            double t_next = t_face;
            for (const auto* pair : {&a, &aq}) {
                const auto& m = pair == &a ? theta_ : quant_;
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
                            if (t > h && t < t_next) t_next = t;
                        }
                    }
                }
            }
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
