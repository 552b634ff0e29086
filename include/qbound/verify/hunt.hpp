#pragma once
// The hunt (issue 18): a search of the space of pairs (theta, theta') for
// those that maximize  sup_{x in [-D, D]^d} ||R_theta(x) - R_theta'(x)||_inf / bound,
// for every bound variant (bounds/bounds.hpp) at once, instead of drawing
// pairs from a menu of families. Each variant is hunted on two tracks: pairs
// on which its hypotheses hold (a violation there refutes a theorem) and any
// pair (a violation there refutes a reading).
//
// A candidate is a pair with its D: theta, and theta' either theta + delta
// (free signs and magnitudes: weights move by at most eps_w, biases by at
// most eps_b or not at all, eps down to 2^-60) or a
// quantizer's grid applied to theta (floor, nearest or stochastic, 2 to 8
// bits, per tensor or per channel). Its score for variant V is
//   err / V's certified upper value (nearest double),
// err = the float-sound lower end (fast/enclosure.hpp, refined mode) of
// ||d(x)||_inf at the search's best x (verify/search.hpp), so rounding noise
// never scores. A run is a hill climb from one start:
//   - gradient steps: for a fixed activation pattern d_k(x) is differentiable
//     in the weights (verify/gradient.hpp: parameters_gradient), so theta
//     and delta move along the gradient of log |d_k(x*)| at the current
//     witness x*, each step size tried and scored in full (the bound moves
//     with the weights; the score is never a linearization);
//   - delta <- eps sign(grad_delta |d_k(x*)|), the maximizer of the linearized error;
//   - mutations: Gaussian noise on one layer, one sign flipped, one layer
//     scaled, one layer's weights set to one magnitude (signs kept), biases zeroed or moved, D (a step or a jump), eps_w or eps_b
//     (a step or a jump), part of a layer's perturbation zeroed or set to
//     +-eps, the bit width, the method, per channel, free or grid;
// a move is kept when it raises the run's target score (one variant on one
// track; off the track, 0). Runs come in blocks: one run per target from a
// random pair of the space, then one per target from the best pairs of all
// earlier runs for that target, mutated (the evolutionary step across
// activation patterns). Every scored candidate updates every target's
// archive, so one run serves all.
//
// Budgets are counts (candidates scored), and every run is seeded by (seed,
// run index) and depends only on the runs before it: the result is a
// function of the options only, whatever `threads` is, and a larger budget's
// runs extend a smaller one's, so the best scores never fall as it grows. At the end each variant's best pairs are re-certified with
// the usual bracket (verify/check.hpp): certified ratio = certified lower /
// the bound's certified upper value (a certified lower end of the pair's
// true ratio). A certified ratio above 1 is a violation: it is shrunk and
// saved as a replayable case (verify/shrink.hpp, verify/case_file.hpp).
#include "qbound/bounds/variant.hpp"
#include "qbound/verify/check.hpp"
#include "qbound/verify/shrink.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qbound::verify {

enum class hunt_architecture { mlp, cnn, residual };
std::string to_string(hunt_architecture a);  // "mlp", "cnn", "residual"

// Which perturbations theta' - theta a hunt may use.
enum class hunt_perturbation { any, free, grid };
std::string to_string(hunt_perturbation p);  // "any", "free", "grid"

// A closed range of counts.
struct count_range {
    std::size_t lo = 1, hi = 1;
    bool contains(std::size_t v) const { return lo <= v && v <= hi; }
};

// "1-8" or "4" as a range; throws core::invalid_argument naming `option` and the text.
count_range parse_count_range(const std::string& text, const std::string& option);

// The declared search space.
//   mlp:      `depth` affine layers, `inputs` inputs, hidden widths in `width`, 1 to `outputs` outputs;
//   cnn:      a c x side x side input (c in `inputs` capped at 3, side 3 to 6), `depth` - 1
//             convolutions (kernel 1 to max_kernel, stride 1 or 2, padding 0 or 1) of
//             `width` channels, then flatten and a dense head;
//   residual: a dense stem, depth - 2 >= 1 residual blocks x -> relu(x + fc2(relu(fc1 x))) of `width`
//             units, a dense head (depth counts the main path's affine layers).
// Weights: He-normal draws, their signs kept, made all positive or one sign
// per row, each layer scaled by 2^k (k in -2..2, a quarter of the time in
// -16..4), then free (initializer = true: the He-normal draws, only their
// scale moves).
struct hunt_space {
    hunt_architecture architecture = hunt_architecture::mlp;
    count_range depth{1, 8}, width{1, 16}, inputs{1, 4};
    std::size_t outputs = 2;
    std::size_t max_kernel = 3;
    hunt_perturbation perturbation = hunt_perturbation::any;
    bool initializer = false;     // true: weights stay He-normal draws (only their scale moves)
    // D = 2^e, e in min_D_exponent..max_D_exponent (at most max_D_exponent_magnitude either way).
    int min_D_exponent = -24, max_D_exponent = 4;
    // Or a fixed input region Omega (region_boxes of an io::input_region;
    // empty: [-D, D]^d with D searched). With a region, every pair has its
    // dimension as inputs (mlp and residual spaces only), the bounds' D is
    // region_D (the smallest D with Omega in [-D, D]^d) and is not searched,
    // the search and the witnesses stay in its boxes, and certification
    // brackets the sup over Omega.
    std::vector<region_box> region;
    arith::rational region_D;
    std::string region_described;
};
inline constexpr int max_D_exponent_magnitude = 40;

// "mlp", "cnn" or "residual" with the default ranges of each (residual: depth 3..6).
// Throws core::invalid_argument naming `name` and the valid ones.
hunt_space default_hunt_space(std::string_view name);
// Throws core::invalid_argument naming the field when a range is empty, a
// depth is 0 (residual: below 3), a width, input or output count is 0 or
// above 64, the D exponents are out of [-40, 40] or reversed, or a region is
// given with the cnn space, with an input range other than its dimension, or
// with boxes of different dimensions.
void validate(const hunt_space& s);

struct hunt_options {
    std::vector<bounds::variant_key> variants;  // empty: every variant
    hunt_space space;
    std::size_t budget = 4000;       // candidates scored in all
    std::size_t run_length = 100;    // candidates scored per run
    std::size_t keep = 3;            // best distinct pairs kept per variant for certification
    double search_effort = 0.1;      // verify::counted_search effort of each candidate's x search
    std::uint64_t seed = 1;
    unsigned threads = 0;            // 0: all cores; results do not depend on it
    bool certify = true;             // re-certify each variant's best with check_pair
    std::size_t nodes = 300;         // branch-and-bound boxes of that check
    std::filesystem::path out;       // where violations are saved (empty: not saved)
    std::size_t shrink_candidates = 300;
    std::size_t history_points = 20; // best score against budget, this many points
    // (runs done, runs in all); called from the worker threads, one call at a time.
    std::function<void(std::size_t, std::size_t)> progress;
};

// One scored pair.
struct hunt_candidate {
    net::network theta, quantized;
    arith::rational D;
    std::string perturbation;  // e.g. "free eps 2^-7, biases shared" or "nearest 4 bits per channel"
    std::vector<double> witness;
    double error = 0;          // approximate ||d(witness)||_inf
};

struct hunt_history_point {
    std::size_t evaluations = 0;
    double best_score = 0;  // approximate: the search's error / the bound's upper value
};

// One variant's best pairs on one track: `holding` counts only pairs on which
// the variant's hypotheses hold (a violation refutes the theorem), `any`
// every pair (a violation there refutes that reading of it).
struct hunt_track {
    double best_score = 0;            // approximate, over every scored candidate of the track
    std::vector<hunt_history_point> history;
    // Certification of the best pairs (hunt_options::certify):
    bool certified = false;
    double certified_ratio = 0;       // certified lower / the bound's certified upper value, rounded down
    double ratio_upper = 0;           // certified upper / the bound's certified lower value, rounded up (inf: no upper side)
    double lower = 0, upper = 0;      // the pair's certified bracket on the sup, rounded outward
    double bound = 0;                 // the bound's certified upper value (nearest double)
    verdict result = verdict::undecided;
    bool hypotheses_hold = true;
    std::vector<std::string> failed_hypotheses;
    case_size size;                   // of the certified pair's theta
    std::string perturbation;
    double D = 1;
    std::vector<double> witness;
    std::optional<hunt_candidate> pair;  // the certified pair (for campaign --hunt and the demo)
    std::string saved;                // folder of the saved counterexample (violations, with `out`)
    case_size saved_size;             // after shrinking
};

struct hunt_variant_result {
    bounds::variant_key key;
    std::string name;                 // e.g. "A-per-layer[r=max]"
    hunt_track holding, any;
};

struct hunt_result {
    hunt_space space;
    std::size_t budget = 0, evaluations = 0, runs = 0;
    std::uint64_t seed = 1;
    std::vector<hunt_variant_result> variants;  // in the order of the options (all_variants() when empty)
    // Per variant and track (index 2 v for holding, 2 v + 1 for any): the
    // best pairs of distinct runs, best first (at most hunt_options::keep).
    std::vector<std::vector<hunt_candidate>> archive;
    bool theorem_violated() const;   // a certified violation on a holding track
};

hunt_result run_hunt(const hunt_options& opt);

// The tightness frontier: for each depth of the space's range and each width
// (powers of two in the space's width range, and its upper end), a hunt
// restricted to that depth and width with budget_per_cell candidates; per
// variant the largest certified ratio found (certified at the cell's best
// witness: exact or 256-bit difference over the bound's certified upper value).
struct frontier_cell {
    std::size_t depth = 0, width = 0;
    std::vector<double> certified_ratio;  // per variant of frontier_result::variants
};
struct frontier_result {
    std::size_t budget_per_cell = 0;
    std::vector<std::string> variants;
    std::vector<std::size_t> depths, widths;
    std::vector<frontier_cell> cells;  // depth-major
    double at(std::size_t depth_index, std::size_t width_index, std::size_t variant) const;
};
frontier_result hunt_frontier(const hunt_options& opt, std::size_t budget_per_cell);

nlohmann::json hunt_to_json(const hunt_result& r);
nlohmann::json frontier_to_json(const frontier_result& f);

}  // namespace qbound::verify
