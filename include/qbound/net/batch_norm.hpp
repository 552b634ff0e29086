#pragma once
// Batch norm (inference form) y = gamma (z - mu) / sigma + beta,
// sigma = sqrt(var + eps), with every parameter the exact value of its double.
//
// fold_batch_norm merges each batch_norm node into the affine node it follows:
//   W <- (gamma / sigma) W,   b <- beta + gamma (b - mu) / sigma.
// Each folded parameter is the exact real value rounded to the nearest double
// ONCE (correctly rounded: computed in exact rationals when sigma is rational,
// otherwise in MPFI with enough bits that both ends of the enclosure round to
// the same double). When every folded parameter is representable the folded
// network computes exactly the function of the unfolded one; the report says
// whether that is the case and, if not, how large the roundings are.
//
// fold_batch_norm_exact folds the same way and also returns the folded
// parameters exactly, as rationals: the folded network in exact arithmetic,
// whose output (forward_exact) equals the unfolded network's rational output
// for every input, whether or not the folded values are doubles. It needs a
// rational sigma in every channel and throws naming the node and channel
// otherwise. The double network it leaves is the same as fold_batch_norm's
// (each exact value rounded to nearest once).
//
// batch_norm_exact evaluates an unfolded batch_norm node in exact rationals
// (forward<rational> uses it), when sigma is rational for every channel (var +
// eps a square of a rational); otherwise it throws naming the channel.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"

#include <cstddef>
#include <vector>

namespace qbound::net {

struct fold_report {
    std::size_t folded = 0;            // batch_norm nodes merged
    std::size_t parameters = 0;        // weights and biases rewritten
    std::size_t rounded = 0;           // of those, not representable: rounded to nearest, once
    double max_relative_rounding = 0;  // largest |folded - exact| / |exact| (at most 2^-53)
    bool exact() const { return rounded == 0; }
};

// The exact parameters of every affine node, by node index (empty vectors for
// the other nodes).
struct exact_parameters {
    std::vector<std::vector<arith::rational>> weight, bias;
    // Throws model_error unless these fit `net` node by node.
    void check(const network& net) const;
};

struct exact_fold {
    fold_report report;
    exact_parameters parameters;
};

// Throws model_error when a batch norm does not directly follow an affine
// node used only by it, or when var + eps <= 0 for some channel.
fold_report fold_batch_norm(network& net);
exact_fold fold_batch_norm_exact(network& net);

// The batch_norm node's output for its input x (C x H x W, `in`), exactly.
std::vector<arith::rational> batch_norm_exact(const node& bn, const shape3& in, const std::vector<arith::rational>& x);

}  // namespace qbound::net
