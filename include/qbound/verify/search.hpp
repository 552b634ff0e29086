#pragma once
// The lower side: search for inputs x in a box where ||R_theta'(x) -
// R_theta(x)||_inf is large (plain double; the best point is certified
// afterwards with verify/point_difference.hpp). Strategies, within a time
// budget: the box's centre and given candidates, uniform random points,
// local search over the box's vertices (flip one coordinate to its other
// bound while that increases the difference) from random vertices, and
// projected sign-gradient ascent with the exact gradient of the
// piecewise-linear difference (verify/gradient.hpp) and a halving step,
// from the best points found.
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
    double max_seconds = 5;
    std::uint64_t seed = 1;
};

struct search_result {
    std::vector<double> best_x;
    double best_value = -1;  // approximate ||difference|| at best_x
    std::size_t evaluations = 0;
};

search_result search_worst_case(const net::network& theta, const net::network& theta_quantized, const input_box& box,
                                const search_options& opt, const std::vector<std::vector<double>>& candidates = {});

}  // namespace qbound::verify
