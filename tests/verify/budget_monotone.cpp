// More work never gives a worse answer (issue item 4): over a sweep of
// counted budgets, check_pair's certified upper never rises and its
// certified lower never falls, and lower <= upper always:
//   branch-and-bound boxes 0, 1, 2, 5, 10, 50, 100, 200, 500 (search fixed);
//   search evaluations 1, 2, 5, 20, 100, 500, 2000, 10000 (boxes fixed).
// Pairs: random MLPs and small CNNs (He-normal, quantized), and adversarial
// ones: identical networks (sup 0), a single changed weight, and mirror-
// symmetric networks whose boxes tie on their bounds (the pop order must not
// depend on the budget). Every budget is a count; the time caps are set so
// far out that they never bind.
#include "qbound/verify/check.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"

#include <random>

using namespace qbound;
using arith::rational;

namespace {

struct drawn_pair {
    std::string what;
    net::network theta, quant;
    rational D;
};

net::network quantized(const net::network& m, std::mt19937_64& g) {
    quant::options q;
    q.kind = g() % 2 ? quant::method::nearest : quant::method::floor;
    q.bits = static_cast<unsigned>(3 + g() % 3);
    return quant::quantize(m, q).network;
}

drawn_pair random_mlp(std::mt19937_64& g) {
    std::vector<std::size_t> widths{1 + g() % 5};
    const std::size_t L = 2 + g() % 3;
    for (std::size_t l = 1; l < L; ++l) widths.push_back(3 + g() % 10);
    widths.push_back(1 + g() % 3);
    net::network m = net::make_mlp(widths);
    net::init_he_normal(m, g(), 0.1);
    return {"random MLP", m, quantized(m, g), rational(static_cast<long>(1 + g() % 4), 2)};
}

drawn_pair small_cnn(std::mt19937_64& g) {
    net::cnn_config c;
    c.input = {1, 4, 4};
    c.convs = {{2, {3, 3, 1, 1, 1, 1}, true}};
    c.dense = {1 + g() % 3};
    net::network m = net::make_cnn(c);
    net::init_he_normal(m, g(), 0.1);
    return {"small CNN", m, quantized(m, g), rational(1, 2)};
}

drawn_pair identical(std::mt19937_64& g) {
    drawn_pair p = random_mlp(g);
    p.what = "identical networks";
    p.quant = p.theta;
    return p;
}

drawn_pair one_weight(std::mt19937_64& g) {
    drawn_pair p = random_mlp(g);
    p.what = "one changed weight";
    p.quant = p.theta;
    const auto w = p.quant.weights(1);
    w[g() % w.size()] += 0x1p-6;
    return p;
}

// Inputs x0, x1 enter with the same weights: boxes mirrored in x0 <-> x1 tie.
drawn_pair mirrored(std::mt19937_64& g) {
    net::network m = net::make_mlp({2, 4 + g() % 4, 1});
    net::init_he_normal(m, g(), 0.1);
    const auto first = m.weights(1);
    for (std::size_t o = 0; o < m.at(1).out_features; ++o) first[o * 2 + 1] = first[o * 2];
    net::network q = m;
    for (std::size_t i : q.affine_nodes())
        for (double& w : q.weights(i)) w = std::floor(w * 8) / 8;
    return {"mirror-symmetric", m, q, 1};
}

drawn_pair draw(std::size_t c, std::mt19937_64& g) {
    switch (c % 6) {
    case 0:
    case 1: return random_mlp(g);
    case 2: return small_cnn(g);
    case 3: return identical(g);
    case 4: return one_weight(g);
    default: return mirrored(g);
    }
}

verify::check_options counted(const drawn_pair& p, std::size_t nodes, std::size_t evaluations, std::uint64_t seed) {
    verify::check_options o;
    o.D = p.D;
    o.search = verify::counted_search(p.theta.input_shape().size(), 0.25, seed);
    o.search.max_seconds = 1e6;
    o.search.max_evaluations = evaluations;
    o.branch.max_nodes = nodes;
    o.branch.max_seconds = 1e6;
    return o;
}

struct sweep_point {
    std::size_t budget;
    rational lower, upper;
};

std::string describe(const std::vector<sweep_point>& s) {
    std::string out;
    for (const auto& p : s)
        out += "\n  budget " + std::to_string(p.budget) + ": [" + arith::to_decimal(p.lower, 17) + ", " + arith::to_decimal(p.upper, 17) + "]";
    return out;
}

void require_monotone(const std::vector<sweep_point>& s) {
    for (std::size_t k = 0; k < s.size(); ++k) {
        REQUIRE(s[k].lower <= s[k].upper);
        if (k == 0) continue;
        REQUIRE(s[k].upper <= s[k - 1].upper);
        REQUIRE(s[k].lower >= s[k - 1].lower);
    }
}

}  // namespace

TEST_CASE("check: the certified upper never rises and the lower never falls as the box budget grows", "[verify][monotone]") {
    const std::uint64_t seed = test::property_seed();
    std::mt19937_64 g(seed);
    const std::size_t cases = test::property_cases(12);
    std::size_t changed = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const drawn_pair p = draw(c, g);
        const std::uint64_t search_seed = g();
        std::vector<sweep_point> sweep;
        for (std::size_t nodes : {0, 1, 2, 5, 10, 50, 100, 200, 500}) {
            const auto r = verify::check_pair(p.theta, p.quant, counted(p, nodes, 400, search_seed));
            sweep.push_back({nodes, r.witness.lower, r.upper});
        }
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << " (" << p.what << ", D = " << arith::to_decimal(p.D)
                     << "), boxes:" << describe(sweep));
        require_monotone(sweep);
        changed += sweep.front().upper != sweep.back().upper || sweep.front().lower != sweep.back().lower;
    }
    // The sweep must exercise budgets that change the bracket, or it proves nothing.
    CHECK(changed * 2 >= cases);
}

TEST_CASE("check: the certified bracket never widens as the search's evaluation budget grows", "[verify][monotone]") {
    const std::uint64_t seed = test::property_seed() + 1;
    std::mt19937_64 g(seed);
    const std::size_t cases = test::property_cases(12);
    std::size_t changed = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        const drawn_pair p = draw(c, g);
        const std::uint64_t search_seed = g();
        // The root box only (the lower side is the search's alone), and 40 boxes
        // (the upper side depends on the lower through the dropped boxes).
        for (std::size_t nodes : {0, 40}) {
            std::vector<sweep_point> sweep;
            for (std::size_t evaluations : {1, 2, 5, 20, 100, 500, 2000, 10000}) {
                auto o = counted(p, nodes, evaluations, search_seed);
                o.use_branch_points = nodes > 0;
                const auto r = verify::check_pair(p.theta, p.quant, o);
                sweep.push_back({evaluations, r.witness.lower, r.upper});
            }
            INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << " (" << p.what << ", D = "
                         << arith::to_decimal(p.D) << "), " << nodes << " boxes, evaluations:" << describe(sweep));
            require_monotone(sweep);
            if (nodes == 0) changed += sweep.front().lower != sweep.back().lower;
        }
    }
    CHECK(changed * 2 >= cases);
}

TEST_CASE("search: an evaluation budget of N does the first N evaluations of a larger one", "[verify][monotone]") {
    std::mt19937_64 g(test::property_seed() + 2);
    for (std::size_t c = 0; c < 10; ++c) {
        const drawn_pair p = draw(c, g);
        const auto box = verify::centered_box(p.theta.input_shape().size(), 1.0);
        verify::search_options o = verify::counted_search(p.theta.input_shape().size(), 0.25, g());
        o.max_seconds = 1e6;
        o.record_incumbents = true;
        const auto full = verify::search_worst_case(p.theta, p.quant, box, o);
        for (std::size_t n : {std::size_t{1}, std::size_t{3}, full.evaluations / 3, full.evaluations - 1}) {
            INFO("case " << c << " (" << p.what << "), budget " << n << " of " << full.evaluations);
            o.max_evaluations = n;
            const auto part = verify::search_worst_case(p.theta, p.quant, box, o);
            REQUIRE(part.evaluations == n);
            REQUIRE(part.best_value <= full.best_value);
            REQUIRE(part.incumbents.size() <= full.incumbents.size());
            for (std::size_t k = 0; k < part.incumbents.size(); ++k) REQUIRE(part.incumbents[k] == full.incumbents[k]);
        }
    }
}
