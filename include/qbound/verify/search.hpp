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
#include <limits>
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
    double max_seconds = 5;       // a cap; the counts decide when it does not bind
    // Evaluations in all (the search stops there, whatever phase it is in): a
    // budget of N does exactly the first N evaluations of any larger budget
    // with the same seed and counts, so the best value never falls as it grows.
    std::size_t max_evaluations = std::numeric_limits<std::size_t>::max();
    // The objective: |d_output(x)| for one output, or (npos) max over outputs.
    std::size_t output = static_cast<std::size_t>(-1);
    bool record_incumbents = false;  // keep every point that improved the best value (search_result::incumbents)
    std::uint64_t seed = 1;
};

struct search_result {
    std::vector<double> best_x;
    double best_value = -1;  // approximate ||difference|| at best_x
    std::size_t evaluations = 0;
    // With record_incumbents: every point that raised best_value, in order
    // (the last is best_x); a prefix of a larger evaluation budget's list.
    std::vector<std::vector<double>> incumbents;
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

// Local ascent from one start, without randomness: the start, the
// sign-gradient ascent from it (gradient_steps), then the activation-aware
// line search from where the ascent ended (kink_steps; none when 0). The
// result depends only on the start and the counts, so ascents from a growing
// list of starts only add points. max_evaluations and max_seconds apply.
search_result ascend_from(const net::network& theta, const net::network& theta_quantized, const input_box& box,
                          const std::vector<double>& start, const search_options& opt);

}  // namespace qbound::verify
