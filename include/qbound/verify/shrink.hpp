#pragma once
// Counterexample shrinking (property-based testing's "shrink" step): from a
// pair (theta, theta') on Omega = [-D, D]^d whose certified difference at a
// witness exceeds one bound variant, find a smaller pair that still
// CERTIFIABLY violates the same variant. Candidates, tried greedily (the
// first one that still violates is kept, then the passes start again):
//   1. drop a layer: a hidden dense layer with its activation (the next
//      layer's columns truncated or zero-padded to the new input width), or
//      a residual block (the addition replaced by its skip input);
//   2. drop units: chunks of hidden units, inputs or outputs, removed from
//      every layer that produces or reads them (rows and columns alike in
//      theta and theta'; units tied by residual additions go together);
//   3. simplify weights, in theta and in the perturbation theta' - theta
//      alike (w -> s(w), w' -> s(w) + s(w' - w)): biases to zero, entries to
//      powers of two or to 2, 4, 8 significant bits, small entries to zero;
//   4. shrink D (to 1, then halving).
// Steps 1 and 2 apply to networks of dense layers, activations, flattens of
// vectors and additions (MLPs, residual MLPs); convolutional networks get
// steps 3 and 4 only.
//
// A candidate is accepted only when its difference at a witness (the
// transformed previous witness, else the best point of a short search) is
// certified (verify/point_difference.hpp: exact rationals or 256-bit MPFI)
// to exceed the variant's certified upper value on the candidate pair: the
// same test as check_pair's VIOLATED. So the result always violates.
#include "qbound/verify/point_difference.hpp"

#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace qbound::verify {

struct case_size {
    std::size_t layers = 0;             // affine nodes
    std::size_t inputs = 0;             // d
    std::size_t hidden_units = 0;       // outputs of affine nodes other than the network output
    std::size_t parameters = 0;         // weights and biases of theta
    std::size_t nonzero_parameters = 0; // non-zero weights and biases of theta
    friend bool operator==(const case_size&, const case_size&) = default;
};

case_size size_of(const net::network& theta);

struct shrink_options {
    std::size_t max_candidates = 300;  // candidate pairs tried (each one re-certified)
    double max_seconds = 600;  // a safety net: max_candidates decides (reproducible)
    std::uint64_t seed = 1;            // the short searches for new witnesses
    long certify_bits = 256;
};

struct shrink_result {
    net::network theta, quantized;
    arith::rational D;
    point_difference witness;        // certified; witness.lower > the variant's certified upper value
    bool hypotheses_hold = false;    // the variant's hypotheses on the shrunk pair
    case_size original, shrunk;
    std::size_t candidates = 0, accepted = 0;
};

// Throws core::invalid_argument when the given witness does not certifiably
// violate `bound` (a name of bounds::compute_bounds, e.g. "G-entrywise[r=max]")
// on the given pair.
shrink_result shrink_counterexample(const net::network& theta, const net::network& quantized, const arith::rational& D,
                                    const std::vector<double>& witness, const std::string& bound, const shrink_options& opt = {});

// A folder name for a variant: "G-entrywise[r=max]" -> "G-entrywise-r-max",
// "A'-per-layer[r=max]" -> "Aprime-per-layer-r-max".
std::string case_folder_name(const std::string& bound);

// A counterexample as saved: the (shrunk) pair, its certified witness, its
// sizes before and after shrinking, and the folder ("" when not saved).
struct saved_counterexample {
    std::string folder;
    net::network theta, quantized;
    arith::rational D;
    point_difference witness;
    case_size original, shrunk;
};

// Shrinks the pair for `bound` (unless opt.max_candidates is 0) and, when
// `folder` is not empty, saves it there (case_file.hpp) with the note
// "<note>; shrunk for <bound> from <size> to <size>".
saved_counterexample save_shrunk_counterexample(const std::filesystem::path& folder, const net::network& theta, const net::network& quantized,
                                                const arith::rational& D, const point_difference& witness, const std::string& bound,
                                                const shrink_options& opt, const std::string& note);

}  // namespace qbound::verify
