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

// Per output k, starting points from a uniform draw of the box: the draw
// has N points, the largest power of two <= samples, and output k gets the
// `keep` best points of the whole draw and of each of its prefixes of
// 2^j >= sample_block points, best first within each, without repeats. So
// for budgets of at least sample_block a larger budget's list holds every
// point of a smaller one's (its draw has the smaller draw as a prefix), and
// ascents from them can only add candidates. Every output is read off the
// same two forward passes; the draw depends only on the seed and the counts.
inline constexpr std::size_t sample_block = 1024;
std::vector<std::vector<std::vector<double>>> best_samples_per_output(const net::network& theta, const net::network& theta_quantized,
                                                                      const input_box& box, std::size_t samples, std::size_t keep,
                                                                      std::uint64_t seed);

// Along the segment {x + t u : t in [-1, 1]} within the box, every output's difference is
// piecewise linear in t, with kinks only where a ReLU (ReLU6) input of either
// network crosses 0 (6): its maximum over the segment lies at a kink or an
// end. line_sweep visits the kinks in order from one end of the segment to
// the other (each located by the difference quotient of both networks'
// pre-activations over a short step, as the line search does: a heuristic,
// only the evaluated points count) and returns, per output, the best point
// met, so it finds the thin slabs between the two networks' kinks where the
// largest differences of a quantized copy often lie. At most max_steps
// kinks are visited.
struct sweep_result {
    std::vector<std::vector<double>> best_x;  // per output
    std::vector<double> best;                 // per output, approximate |d_k| at best_x[k]
    std::size_t evaluations = 0;              // points evaluated (each: both networks, twice)
};
sweep_result line_sweep(const net::network& theta, const net::network& theta_quantized, const input_box& box, const std::vector<double>& x,
                        const std::vector<double>& u, std::size_t max_steps);

inline constexpr std::size_t sweep_max_axes = 32;       // sweep_ascent's default max_axes
inline constexpr std::size_t high_dimension_lines = 4;  // sweep_ascent's lines per round above max_axes inputs

// The lines one sweep_ascent round sweeps at most: the axes and (low
// dimension) the slab's projected axes, or high_dimension_lines.
constexpr std::size_t sweep_lines_per_round(std::size_t inputs, std::size_t max_axes = sweep_max_axes) {
    return inputs <= max_axes ? 2 * inputs : high_dimension_lines;
}

// Coordinate ascent with exact line maximization for output k: `rounds`
// times (fewer when a round gains nothing), a line_sweep along each input
// axis through x over +-first_span (the first round) or +-span (the others)
// of the box's width, in input order, moving x to the line's best point for
// output k; then (low dimension) up to `rounds` rounds of slab following:
// the lines along each axis projected on the level set of the ReLU input
// whose values in the two networks differ in sign the most at x (x lies in
// the thin slab between its kinks), over +-first_span. In high dimension (more
// than max_axes inputs) the axes are replaced by high_dimension_lines
// directions: the sign of the gradient, then seeded random sign vectors, and
// there is no slab following. Deterministic.
search_result sweep_ascent(const net::network& theta, const net::network& theta_quantized, const input_box& box, std::vector<double> x,
                           std::size_t output, std::size_t rounds, std::size_t max_steps, double first_span, double span,
                           std::size_t max_axes = sweep_max_axes);

// Local ascent from one start, without randomness: the start, the
// sign-gradient ascent from it (gradient_steps), then the activation-aware
// line search from where the ascent ended (kink_steps; none when 0). The
// result depends only on the start and the counts, so ascents from a growing
// list of starts only add points. max_evaluations and max_seconds apply.
search_result ascend_from(const net::network& theta, const net::network& theta_quantized, const input_box& box,
                          const std::vector<double>& start, const search_options& opt);

}  // namespace qbound::verify
