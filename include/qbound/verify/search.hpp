#pragma once
// The lower side: search for inputs x in a box where ||R_theta'(x) -
// R_theta(x)||_inf is large (plain double; the best point is certified
// afterwards with verify/point_difference.hpp). Strategies, within a time
// budget: the box's centre and given candidates, uniform random points,
// local search over the box's vertices (flip one coordinate to its other
// bound while that increases the difference) from random vertices, and
// projected sign-gradient ascent with the exact gradient of the
// piecewise-linear difference (verify/gradient.hpp) and a halving step,
// from the best points found; last, an activation-aware line search: from
// the best point (and a few random ones) move along the sign-gradient
// direction exactly to the next ReLU kink of either network or to the box
// face, where the piecewise-linear difference stops being linear, and repeat
// while the difference grows. The last phase only adds evaluations, so it
// never lowers the best value of the phases before it.
#include "qbound/verify/differential.hpp"

#include <cstdint>
#include <vector>

namespace qbound::verify {

struct search_options {
    std::size_t random_samples = 256;
    std::size_t vertex_restarts = 16;
    std::size_t max_passes = 8;  // over all coordinates, per restart
    std::size_t gradient_starts = 8;
    std::size_t gradient_steps = 60;
    std::size_t kink_starts = 4;   // activation-aware line search: the best point, then random ones
    std::size_t kink_steps = 40;   // moves per start (0: no line search)
    double max_seconds = 5;
    std::uint64_t seed = 1;
};

struct search_result {
    std::vector<double> best_x;
    double best_value = -1;  // approximate ||difference|| at best_x
    std::size_t evaluations = 0;
};

// Budgets in evaluations only, so that a seed gives the same result on any
// machine (max_seconds is a 10-minute safety net that budgets this size never
// reach). Vertex local search costs restarts x passes x inputs evaluations, so
// it gets fewer restarts and passes in high dimension; sampling is cheap and
// effective in low dimension and gets more points there. effort = 1 is about
// the default budgets in low dimension; 0.25 is a quick look.
search_options counted_search(std::size_t inputs, double effort = 1, std::uint64_t seed = 1);

search_result search_worst_case(const net::network& theta, const net::network& theta_quantized, const input_box& box,
                                const search_options& opt, const std::vector<std::vector<double>>& candidates = {});

}  // namespace qbound::verify
