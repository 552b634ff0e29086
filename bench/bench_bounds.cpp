// Benchmark (not a test): every bound variant for a zoo model pair at 224,
// timed from the weights (ingredients: exact norms and Delta_l; then all
// variants), median of 5 runs on one thread.
//   build/qbound_bench_bounds [model ...]    default: resnet50
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    using namespace qbound;
    std::vector<std::string> models(argv + 1, argv + argc);
    if (models.empty()) models = {"resnet50"};
    for (const auto& name : models) {
        auto theta = net::make_zoo_model(name, 224);
        net::init_he_normal(theta, 1, 0.01);
        auto quant = theta;
        net::init_he_normal(quant, 2, 0.01);
        std::vector<double> ingredients_s, variants_s;
        std::size_t count = 0;
        for (int run = 0; run < 5; ++run) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto p = bounds::collect_ingredients(theta, quant, 1);
            const auto t1 = std::chrono::steady_clock::now();
            const auto all = bounds::compute_bounds(p, theta);
            const auto t2 = std::chrono::steady_clock::now();
            count = all.size();
            ingredients_s.push_back(std::chrono::duration<double>(t1 - t0).count());
            variants_s.push_back(std::chrono::duration<double>(t2 - t1).count());
        }
        const auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        fmt::print("{:<12} {:>11} parameters: ingredients {:.3f} s, {} variants {:.4f} s, total {:.3f} s (median of 5)\n", name,
                   theta.parameter_count(), median(ingredients_s), count, median(variants_s),
                   median(ingredients_s) + median(variants_s));
    }
    return 0;
}
