#include "qbound/net/init.hpp"

#include "qbound/net/errors.hpp"

#include <cmath>
#include <numbers>
#include <random>
#include <string>

namespace qbound::net {

namespace {

class sampler {
public:
    explicit sampler(std::uint64_t seed) : engine_(seed) {}
    // Uniform in (0, 1): 53 random bits, never 0.
    double unit() { return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1p-53; }
    double uniform(double a) { return a * (2 * unit() - 1); }
    // Box-Muller.
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double r = std::sqrt(-2 * std::log(unit())), t = 2 * std::numbers::pi * unit();
        spare_ = r * std::sin(t);
        has_spare_ = true;
        return r * std::cos(t);
    }

private:
    std::mt19937_64 engine_;
    double spare_ = 0;
    bool has_spare_ = false;
};

std::size_t fan_in(const node& n) {
    return n.kind == op::dense ? n.in_features : n.in_features / n.conv.groups * n.conv.kernel_h * n.conv.kernel_w;
}

void require_weights(const network& net) {
    if (!net.has_weights()) throw model_error(net.name() + ": a shape-only network has no weights to initialize");
}

}  // namespace

void init_he_normal(network& net, std::uint64_t seed, double bias_std) {
    require_weights(net);
    sampler s(seed);
    for (std::size_t i : net.affine_nodes()) {
        const double std_dev = std::sqrt(2.0 / static_cast<double>(fan_in(net.at(i))));
        for (double& w : net.weights(i)) w = std_dev * s.normal();
        for (double& b : net.bias(i)) b = bias_std * s.normal();
    }
}

void init_uniform(network& net, double a, std::uint64_t seed) {
    require_weights(net);
    if (!(a > 0) || !std::isfinite(a)) throw model_error("init_uniform: a must be positive and finite");
    sampler s(seed);
    for (std::size_t i : net.affine_nodes()) {
        for (double& w : net.weights(i)) w = s.uniform(a);
        for (double& b : net.bias(i)) b = s.uniform(a);
    }
}

double approximate_operator_norm(const node& n) {
    if (!n.is_affine() || n.weight.empty()) return 0.0;
    const std::size_t per_out = n.weight.size() / n.out_features;
    double best = 0;
    for (std::size_t o = 0; o < n.out_features; ++o) {
        double sum = std::fabs(n.bias[o]);
        for (std::size_t k = 0; k < per_out; ++k) sum += std::fabs(n.weight[o * per_out + k]);
        best = std::max(best, sum);
    }
    return best;
}

void scale_to_operator_norms(network& net, const std::vector<double>& r) {
    require_weights(net);
    std::size_t affine = 0;
    for (const auto& n : net.nodes()) affine += n.is_affine();
    if (r.size() != 1 && r.size() != affine)
        throw model_error(net.name() + ": " + std::to_string(r.size()) + " norms given for " + std::to_string(affine) +
                          " affine layers");
    std::size_t l = 0;
    for (std::size_t i : net.affine_nodes()) {
        const node& n = net.at(i);
        const double target = r.size() == 1 ? r[0] : r[l];
        ++l;
        if (!(target > 0) || !std::isfinite(target))
            throw model_error(net.name() + ": operator norm for '" + n.name + "' must be positive and finite");
        const double current = approximate_operator_norm(n);
        if (current == 0) throw model_error(net.name() + ": layer '" + n.name + "' is all zero and cannot be scaled");
        const double factor = target / current;
        for (double& w : net.weights(i)) w *= factor;
        for (double& b : net.bias(i)) b *= factor;
    }
}

}  // namespace qbound::net
