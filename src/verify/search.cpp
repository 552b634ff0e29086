#include "qbound/verify/search.hpp"

#include "qbound/verify/gradient.hpp"
#include "qbound/verify/point_difference.hpp"
#include "qbound/net/forward.hpp"

#include <algorithm>
#include <cmath>

#include <chrono>
#include <random>

namespace qbound::verify {

search_result search_worst_case(const net::network& theta, const net::network& quant, const input_box& box,
                                const search_options& opt, const std::vector<std::vector<double>>& candidates) {
    const auto start = std::chrono::steady_clock::now();
    const auto out_of_time = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > opt.max_seconds;
    };
    std::mt19937_64 engine(opt.seed);
    const auto unit = [&engine] { return static_cast<double>(engine() >> 11) * 0x1p-53; };  // [0, 1)
    const std::size_t d = box.lower.size();
    search_result r;
    const auto consider = [&](const std::vector<double>& x) {
        const double v = approximate_difference(theta, quant, x);
        ++r.evaluations;
        if (v > r.best_value) r.best_value = v, r.best_x = x;
        return v;
    };
    std::vector<double> x(d);
    for (std::size_t k = 0; k < d; ++k) x[k] = box.lower[k] / 2 + box.upper[k] / 2;
    consider(x);
    for (const auto& c : candidates) consider(c);
    for (std::size_t s = 0; s < opt.random_samples && !out_of_time(); ++s) {
        for (std::size_t k = 0; k < d; ++k) x[k] = std::min(box.upper[k], box.lower[k] + unit() * (box.upper[k] - box.lower[k]));
        consider(x);
    }
    // Projected sign-gradient ascent from the best point and a few others.
    std::vector<std::vector<double>> starts{r.best_x};
    for (std::size_t k = 1; k < opt.gradient_starts; ++k) {
        std::vector<double> z(d);
        for (std::size_t j = 0; j < d; ++j) z[j] = std::min(box.upper[j], box.lower[j] + unit() * (box.upper[j] - box.lower[j]));
        starts.push_back(std::move(z));
    }
    for (auto& z : starts) {
        double current = consider(z), step = 0.5;
        for (std::size_t it = 0; it < opt.gradient_steps && step > 0x1p-30 && !out_of_time(); ++it) {
            const auto y = net::forward<double>(theta, z), yq = net::forward<double>(quant, z);
            std::size_t out = 0;
            for (std::size_t i = 1; i < y.size(); ++i)
                if (std::fabs(yq[i] - y[i]) > std::fabs(yq[out] - y[out])) out = i;
            const auto g = difference_gradient(theta, quant, z, out, yq[out] - y[out] >= 0 ? 1.0 : -1.0);
            std::vector<double> next = z;
            for (std::size_t j = 0; j < d; ++j) {
                const double move = g[j] > 0 ? 1.0 : g[j] < 0 ? -1.0 : 0.0;
                next[j] = std::clamp(z[j] + step * move * (box.upper[j] - box.lower[j]), box.lower[j], box.upper[j]);
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
    for (std::size_t restart = 0; restart < opt.vertex_restarts && !out_of_time(); ++restart) {
        for (std::size_t k = 0; k < d; ++k) x[k] = (engine() & 1) ? box.upper[k] : box.lower[k];
        double current = consider(x);
        for (std::size_t pass = 0; pass < opt.max_passes && !out_of_time(); ++pass) {
            bool improved = false;
            for (std::size_t k = 0; k < d && !out_of_time(); ++k) {
                const double keep = x[k];
                x[k] = keep == box.upper[k] ? box.lower[k] : box.upper[k];
                const double v = consider(x);
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
    return r;
}

}  // namespace qbound::verify
