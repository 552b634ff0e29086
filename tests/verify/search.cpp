// The activation-aware line search (verify/search.hpp, last phase): it only
// adds evaluations after the other phases, so the certified lower side never
// drops when it is switched on, and on plain ascent from few starts it finds
// larger differences than sampling alone. The per-output lower side's
// pieces: uniform draws kept per output, and line sweeps over every kink,
// which find a planted slab of width 2^-20 that sampling misses.
#include "qbound/core/errors.hpp"
#include "qbound/verify/point_difference.hpp"
#include "qbound/verify/search.hpp"

#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace qbound;

namespace {

struct drawn_pair {
    net::network theta, quant;
};

drawn_pair random_pair(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::vector<std::size_t> widths{1 + g() % 4};
    const std::size_t L = 2 + g() % 3;
    for (std::size_t l = 1; l < L; ++l) widths.push_back(4 + g() % 12);
    widths.push_back(1 + g() % 3);
    net::network m = net::make_mlp(widths);
    net::init_he_normal(m, g(), 0.1);
    quant::options q;
    q.kind = g() % 2 ? quant::method::nearest : quant::method::floor;
    q.bits = static_cast<unsigned>(3 + g() % 4);
    return {m, quant::quantize(m, q).network};
}

}  // namespace

TEST_CASE("search: the activation-aware line search never lowers the certified lower side", "[verify][search]") {
    std::size_t raised = 0;
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        INFO("seed " << seed);
        const auto p = random_pair(seed);
        const auto box = verify::centered_box(p.theta.input_shape().size(), 1.0);
        verify::search_options without;
        without.max_seconds = 1e6;  // phases end by their counts: reproducible
        without.seed = seed;
        without.kink_steps = 0;
        verify::search_options with = without;
        with.kink_steps = 40;
        const auto a = verify::search_worst_case(p.theta, p.quant, box, without);
        const auto b = verify::search_worst_case(p.theta, p.quant, box, with);
        const auto ca = verify::certify_difference(p.theta, p.quant, a.best_x);
        const auto cb = verify::certify_difference(p.theta, p.quant, b.best_x);
        CHECK(cb.lower >= ca.lower);
        CHECK(b.evaluations >= a.evaluations);
        raised += cb.lower > ca.lower;
    }
    // Usually the earlier phases already reach the optimum; how often the line search adds to them:
    WARN("the line search raised the certified lower side on " << raised << " of 30 pairs");
}

TEST_CASE("search: line search alone climbs from random points to kinks and faces", "[verify][search]") {
    std::size_t better = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        INFO("seed " << seed);
        const auto p = random_pair(seed + 100);
        const auto box = verify::centered_box(p.theta.input_shape().size(), 1.0);
        verify::search_options only_samples;
        only_samples.max_seconds = 1e6;
        only_samples.seed = seed;
        only_samples.random_samples = 4;
        only_samples.vertex_restarts = 0;
        only_samples.gradient_starts = 0;
        only_samples.gradient_steps = 0;
        only_samples.kink_steps = 0;
        verify::search_options line = only_samples;
        line.kink_steps = 40;
        line.kink_starts = 4;
        const auto a = verify::search_worst_case(p.theta, p.quant, box, only_samples);
        const auto b = verify::search_worst_case(p.theta, p.quant, box, line);
        CHECK(b.best_value >= a.best_value);
        better += b.best_value > a.best_value;
        // Every point it reports lies in the box.
        for (std::size_t k = 0; k < b.best_x.size(); ++k) CHECK((b.best_x[k] >= box.lower[k] && b.best_x[k] <= box.upper[k]));
    }
    CHECK(better >= 15);
}

namespace {

// A hat of height e: x -> relu(s + e) - 2 relu(s) + relu(s - e), s = a.x,
// in theta; theta' has the same hidden layer and a zero head, so |d| is the
// hat: e on the hyperplane a.x = 0, zero outside the slab |a.x| < e.
drawn_pair planted_hat(const std::vector<double>& a, double e) {
    const std::size_t d = a.size();
    net::network theta = net::make_mlp({d, 3, 1});
    const auto affine = theta.affine_nodes();
    std::vector<double> w;
    for (int r = 0; r < 3; ++r) w.insert(w.end(), a.begin(), a.end());
    theta.set_weights(affine[0], w);
    theta.set_bias(affine[0], {e, 0.0, -e});
    theta.set_weights(affine[1], {1.0, -2.0, 1.0});
    theta.set_bias(affine[1], {0.0});
    net::network quant = theta;
    quant.set_weights(affine[1], {0.0, 0.0, 0.0});
    return {theta, quant};
}

}  // namespace

TEST_CASE("search: line sweeps find a planted slab of width 2^-20 that uniform sampling misses", "[verify][search]") {
    // Positive: the sweep visits the kinks along the line, and the hat's peak is one of them.
    const double e = 0x1p-20;
    for (const auto& a : {std::vector<double>{1.0}, std::vector<double>{0.75, -0.5}, std::vector<double>{1.0, 0.125, -0.125, 0.0625, 0.125}}) {
        const auto p = planted_hat(a, e);
        const std::size_t d = a.size();
        const verify::input_box box{std::vector<double>(d, -1.0), std::vector<double>(d, 1.0)};
        INFO("dimension " << d);
        // Negative control: 4096 uniform points stay far below the peak.
        const auto sampled = verify::best_samples_per_output(p.theta, p.quant, box, 4096, 4, 7);
        REQUIRE(sampled.size() == 1);
        REQUIRE(sampled[0].size() == 4);
        const double best_sampled = verify::approximate_difference(p.theta, p.quant, sampled[0][0], 0);
        CHECK(best_sampled < 0.5 * e);
        // Samples come best first, inside the box.
        for (std::size_t i = 0; i + 1 < sampled[0].size(); ++i)
            REQUIRE(verify::approximate_difference(p.theta, p.quant, sampled[0][i], 0) >=
                    verify::approximate_difference(p.theta, p.quant, sampled[0][i + 1], 0));
        for (const auto& x : sampled[0])
            for (std::size_t j = 0; j < d; ++j) REQUIRE((x[j] >= -1.0 && x[j] <= 1.0));
        // One whole-line sweep along the first axis from any start crosses the slab
        // (|a_0| exceeds the sum of the other |a_j|).
        std::vector<double> u(d, 0.0);
        u[0] = 2.0;
        const auto s = verify::line_sweep(p.theta, p.quant, box, sampled[0][0], u, 100);
        CHECK(s.best[0] > 0.999 * e);
        CHECK(s.best[0] <= e * (1 + 1e-9));
        // So does the coordinate ascent, and the certified value at its point confirms it.
        const auto r = verify::sweep_ascent(p.theta, p.quant, box, sampled[0][0], 0, 2, 100, 1.0, 0.125);
        CHECK(r.best_value > 0.999 * e);
        const auto certified = verify::certify_difference(p.theta, p.quant, r.best_x, 256);
        CHECK(certified.lower > arith::rational(0.999 * e));
        // A sweep of zero length evaluates the start alone.
        const auto still = verify::line_sweep(p.theta, p.quant, box, sampled[0][0], std::vector<double>(d, 0.0), 100);
        CHECK(still.evaluations == 1);
    }
}

TEST_CASE("search: per-output samples are deterministic and every output gets its own best points", "[verify][search]") {
    net::network theta = net::make_mlp({3, 12, 12, 3});
    net::init_he_normal(theta, 5, 0.1);
    quant::options q;
    q.bits = 4;
    const net::network quant = quant::quantize(theta, q).network;
    const verify::input_box box{{-1, -0.5, 0}, {1, 0.5, 0.25}};
    const auto a = verify::best_samples_per_output(theta, quant, box, 500, 6, 3);
    const auto b = verify::best_samples_per_output(theta, quant, box, 500, 6, 3);
    REQUIRE(a == b);
    REQUIRE(a.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
        REQUIRE(a[k].size() == 6);
        // The first is the best of every drawn point for output k: no other point of a larger draw's prefix beats it.
        const double top = verify::approximate_difference(theta, quant, a[k][0], k);
        for (std::size_t j = 0; j < 3; ++j)
            for (const auto& x : a[j]) REQUIRE(verify::approximate_difference(theta, quant, x, k) <= top);
    }
    REQUIRE_THROWS_AS(verify::best_samples_per_output(theta, quant, verify::input_box{{0}, {1}}, 10, 2, 1), core::invalid_argument);
}
