#include "qbound/experiments/selfcheck.hpp"

#include "qbound/testing/negative_control.hpp"
#include "qbound/testing/operand_generators.hpp"
#include "qbound/arith/rational.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <vector>

namespace qbound::experiments {

namespace {

using namespace qbound::arith;
using namespace qbound::testing;

std::vector<property_result> run_properties(std::size_t cases, std::uint64_t seed,
                                            const std::function<void(const property_result&)>& on_property) {
    std::vector<property_result> results;
    auto record = [&](property_result r) {
        if (on_property) on_property(r);
        results.push_back(std::move(r));
    };
    for (auto op : all_binary_ops) {
        record(check_binary<interval_double>(op, cases, seed));
        record(check_binary<mpfi_interval>(op, cases, seed));
        record(check_mpfr_binary(op, cases, seed));
    }
    for (auto op : all_unary_ops) {
        record(check_unary<interval_double>(op, cases, seed));
        record(check_unary<mpfi_interval>(op, cases, seed));
        record(check_mpfr_unary(op, cases, seed));
    }
    // Dot products up to length 4096; fewer cases since each is long.
    const std::size_t dot_cases = std::max<std::size_t>(1, cases / 10);
    record(check_dot<interval_double>(dot_cases, seed));
    record(check_dot<mpfi_interval>(dot_cases, seed));
    record(check_mpfr_dot(dot_cases, seed));
    return results;
}

// ---- The fast path against exact rationals ----------------------------------

bool encloses(double lo, double hi, const rational& q) {
    if (std::isnan(lo) || std::isnan(hi)) return false;
    const bool above = lo == -INFINITY || (std::isfinite(lo) && to_rational(lo) <= q);
    const bool below = hi == INFINITY || (std::isfinite(hi) && q <= to_rational(hi));
    return above && below;
}

// Literal constant geometries, as the zoo writes them (the GCC 12.2
// miscompilation turned {1, 1, 1, 0, 1, 1} into padding 1): 3x3 padded,
// 1x1, depthwise strided, max pool, grouped dilated, average pool
// excluding padding, a residual add, global pooling, dense.
net::network constant_geometry_cnn() {
    net::network n("selfcheck-constant-cnn", {3, 8, 7});
    std::size_t x = n.conv2d(0, 6, {3, 3, 1, 1, 1, 1}, "conv3x3");
    x = n.activation(x, net::op::relu);
    std::size_t y = n.conv2d(x, 6, {1, 1, 1, 0, 1, 1}, "conv1x1");
    y = n.activation(y, net::op::relu6);
    x = n.add(y, x, "add");
    x = n.conv2d(x, 6, {3, 3, 2, 1, 1, 6}, "depthwise");
    x = n.activation(x, net::op::relu);
    x = n.max_pool(x, {2, 2, 0, true}, "maxpool");
    x = n.conv2d(x, 4, {3, 3, 1, 2, 2, 2}, "grouped-dilated");
    x = n.activation(x, net::op::relu);
    x = n.avg_pool(x, {3, 1, 1, false}, "avgpool");
    x = n.global_avg_pool(x, "gap");
    n.dense(x, 3, "fc");
    return n;
}

std::size_t pick(operand_generator& gen, std::int64_t lo, std::int64_t hi) { return static_cast<std::size_t>(gen.uniform_int(lo, hi)); }

// A random CNN with run-time geometry: convs (kernel 1..3, stride 1..2,
// padding 0..2, dilation 1..2, groups 1 / 2 / depthwise), pools, flatten or
// global pooling, two dense layers.
net::network random_cnn(operand_generator& gen) {
    const std::size_t c0 = pick(gen, 1, 4), size = pick(gen, 4, 8);
    net::network n("selfcheck-random-cnn", {c0, size, size});
    std::size_t x = 0, c = c0;
    for (int b = 0; b < 2; ++b) {
        net::conv_geometry g;
        g.kernel_h = pick(gen, 1, 3), g.kernel_w = pick(gen, 1, 3), g.stride = pick(gen, 1, 2), g.padding = pick(gen, 0, 2);
        g.dilation = pick(gen, 1, 2);
        std::size_t out = pick(gen, 1, 3) * c;
        const auto kind = gen.uniform_int(0, 2);
        if (kind == 1) g.groups = c, out = c;
        if (kind == 2 && c % 2 == 0) g.groups = 2, out = 2 * pick(gen, 1, 3);
        const std::size_t h = std::min(n.at(x).output.height, n.at(x).output.width);
        if (h + std::min(g.padding.top + g.padding.bottom, g.padding.left + g.padding.right) < (std::max(g.kernel_h, g.kernel_w) - 1) * g.dilation + 1) g.kernel_h = g.kernel_w = g.dilation = 1;
        x = n.conv2d(x, out, g);
        c = out;
        x = n.activation(x, gen.chance(0.7) ? net::op::relu : net::op::relu6);
        if (std::min(n.at(x).output.height, n.at(x).output.width) >= 3 && gen.chance(0.5)) {
            const net::pool_geometry p{pick(gen, 2, 3), pick(gen, 1, 2), pick(gen, 0, 1), gen.chance(0.5)};
            x = gen.chance(0.5) ? n.max_pool(x, p) : n.avg_pool(x, p);
        }
    }
    x = gen.chance(0.5) ? n.global_avg_pool(x) : n.flatten(x);
    x = n.dense(x, pick(gen, 2, 6));
    x = n.activation(x, net::op::relu);
    n.dense(x, pick(gen, 1, 3));
    return n;
}

net::network random_mlp(operand_generator& gen) {
    net::network n("selfcheck-random-mlp", {pick(gen, 1, 8), 1, 1});
    std::size_t x = 0;
    const std::size_t depth = pick(gen, 2, 4);
    for (std::size_t l = 0; l < depth; ++l) {
        x = n.dense(x, pick(gen, 1, 12));
        if (l + 1 < depth) x = n.activation(x, gen.chance(0.8) ? net::op::relu : net::op::relu6);
    }
    return n;
}

std::vector<double> random_input(operand_generator& gen, std::size_t size) {
    std::vector<double> x(size);
    for (auto& v : x) v = gen.chance(0.1) ? gen.few_bits() : std::ldexp(static_cast<double>(gen.uniform_int(-(1 << 20), 1 << 20)), -20);
    return x;
}

// A quantized copy: every weight and bias rounded to a grid of 2^-5.
net::network quantized_copy(const net::network& n) {
    net::network q = n;
    for (std::size_t i : q.affine_nodes()) {
        for (double& w : q.weights(i)) w = std::ldexp(std::nearbyint(std::ldexp(w, 5)), -5);
        for (double& b : q.bias(i)) b = std::ldexp(std::nearbyint(std::ldexp(b, 5)), -5);
    }
    return q;
}

std::vector<rational> exact_output(const net::network& n, const std::vector<double>& x) {
    return net::forward<rational>(n, net::input_from_doubles<rational>(x));
}

struct fast_tally {
    explicit fast_tally(std::string n) : name(std::move(n)) {}
    std::string name;
    std::size_t outputs = 0;
    std::string error;
    // Records the first enclosure that misses the exact value.
    void check(const fast::enclosure& e, const std::vector<rational>& exact, const std::string& what) {
        if (e.lower.size() != exact.size() || e.upper.size() != exact.size()) {
            if (error.empty()) error = what + ": " + std::to_string(e.lower.size()) + " outputs, expected " + std::to_string(exact.size());
            return;
        }
        for (std::size_t i = 0; i < exact.size(); ++i, ++outputs)
            if (!encloses(e.lower[i], e.upper[i], exact[i]) && error.empty())
                error = what + ", output " + std::to_string(i) + ": exact " + to_decimal(exact[i], 17) + " outside [" + describe(e.lower[i]) +
                        ", " + describe(e.upper[i]) + "]";
    }
    net::structure_finding finding(std::size_t networks) const {
        return {name, error.empty(),
                error.empty() ? fmt::format("{} networks, {} outputs enclosed", networks, outputs) : error};
    }
};

std::vector<net::structure_finding> check_fast_path(std::uint64_t seed) {
    operand_generator gen(seed ^ 0x5eedfa57ull);
    fast_tally point("fast: point enclosures (a priori, refined)"), box("fast: box enclosures at sampled points"),
        pair("fast: pair differences (point, refined, box)");
    const std::size_t networks = 9;
    for (std::size_t t = 0; t < networks; ++t) {
        net::network n = t < 2 ? constant_geometry_cnn() : (t % 2 == 0 ? random_cnn(gen) : random_mlp(gen));
        net::init_he_normal(n, gen.bits(), 0.1);
        const net::network q = quantized_copy(n);
        const std::string what = n.name() + " #" + std::to_string(t) + " (seed " + std::to_string(seed) + ")";
        const std::size_t d = n.input_shape().size();
        const auto x = random_input(gen, d);
        const auto exact = exact_output(n, x), exact_q = exact_output(q, x);
        std::vector<rational> difference(exact.size());
        for (std::size_t i = 0; i < exact.size(); ++i) difference[i] = exact_q[i] - exact[i];

        point.check(fast::enclose_point(n, x), exact, what + " a priori");
        pair.check(fast::enclose_difference(n, q, x), difference, what + " pair");
        try {
            point.check(fast::enclose_point_refined(n, x), exact, what + " refined");
            pair.check(fast::enclose_difference_refined(n, q, x), difference, what + " refined pair");
        } catch (const fast::refinement_not_applicable&) {
        }

        std::vector<double> lo(d), hi(d);
        for (std::size_t k = 0; k < d; ++k) {
            const double r = gen.chance(0.2) ? 0.0 : std::ldexp(1.0, static_cast<int>(gen.uniform_int(-10, -2)));
            lo[k] = x[k] - r, hi[k] = x[k] + r;
        }
        const auto e = fast::enclose_box(n, lo, hi);
        const auto e_pair = fast::enclose_box_difference(n, q, lo, hi);
        for (int sample = 0; sample < 3; ++sample) {
            std::vector<double> s(d);
            for (std::size_t k = 0; k < d; ++k) s[k] = sample == 0 ? lo[k] : sample == 1 ? hi[k] : (gen.chance(0.5) ? lo[k] : hi[k]);
            const auto exact_s = exact_output(n, s), exact_qs = exact_output(q, s);
            box.check(e, exact_s, what + " box sample " + std::to_string(sample));
            std::vector<rational> d_s(exact_s.size());
            for (std::size_t i = 0; i < exact_s.size(); ++i) d_s[i] = exact_qs[i] - exact_s[i];
            pair.check(e_pair, d_s, what + " box pair sample " + std::to_string(sample));
        }
    }
    return {point.finding(networks), box.finding(networks), pair.finding(networks)};
}

}  // namespace

selfcheck_report run_selfcheck(const selfcheck_options& opt, const std::function<void(const property_result&)>& on_property) {
    selfcheck_report r;
    r.options = opt;
    const auto start = std::chrono::steady_clock::now();
    r.environment = check_environment();
    r.properties = run_properties(opt.cases, opt.seed, on_property);
    // The checker must reject an interval type that rounds to nearest only.
    r.control = check_binary<round_to_nearest_interval>(binary_op::add, opt.cases, opt.seed);
    r.control_caught = !r.control.passed();
    // What a miscompiled library breaks beyond the arithmetic: the networks it
    // builds, the zoo's shapes, and the fast path's enclosures.
    const auto networks_start = std::chrono::steady_clock::now();
    r.networks = net::check_builders(opt.seed);
    for (auto& f : net::check_zoo_shapes()) r.networks.push_back(std::move(f));
    try {
        for (auto& f : check_fast_path(opt.seed)) r.networks.push_back(std::move(f));
    } catch (const std::exception& error) {
        r.networks.push_back({"fast: enclosures against exact rationals", false, std::string("a check threw: ") + error.what()});
    }
    r.network_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - networks_start).count();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    r.ok = r.control_caught;
    for (const auto& f : r.environment) r.ok = r.ok && f.ok;
    for (const auto& p : r.properties) r.ok = r.ok && p.passed();
    for (const auto& f : r.networks) r.ok = r.ok && f.ok;
    return r;
}

nlohmann::json to_json(const selfcheck_report& r) {
    nlohmann::json j;
    j["verdict"] = r.ok ? "SOUND" : "UNSOUND";
    j["seed"] = r.options.seed;
    j["seconds"] = r.seconds;
    j["network_seconds"] = r.network_seconds;
    for (const auto& f : r.environment) j["environment"].push_back({{"check", f.name}, {"ok", f.ok}, {"detail", f.detail}});
    for (const auto& f : r.networks) j["networks"].push_back({{"check", f.name}, {"ok", f.ok}, {"detail", f.detail}});
    for (const auto& p : r.properties)
        j["properties"].push_back({{"property", p.property}, {"type", p.type}, {"cases", p.cases},
                                   {"failures", p.failures}, {"counterexample", p.counterexample}});
    j["negative_control"] = {{"type", "round-to-nearest interval (unsound on purpose)"},
                             {"caught", r.control_caught}, {"failures", r.control.failures},
                             {"cases", r.control.cases}, {"counterexample", r.control.counterexample}};
    return j;
}

}  // namespace qbound::experiments
