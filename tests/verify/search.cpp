// The activation-aware line search (verify/search.hpp, last phase): it only
// adds evaluations after the other phases, so the certified lower side never
// drops when it is switched on, and on plain ascent from few starts it finds
// larger differences than sampling alone.
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
