#pragma once
// AdaRound (Nagel et al., ICML 2020) for one affine node: for each weight,
// learn whether it goes to floor(w/eta) or ceil(w/eta) by minimising the
// reconstruction error of the layer output on calibration inputs.
//
// With w / eta = F + f (F integer, f in [0, 1)) and a soft choice
// h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1), zeta = 1.1,
// gamma = -0.1, the quantized weight is eta (F + h) and the loss is
//   rec(h) + lambda * sum_j (1 - |2 h_j - 1|^beta),
//   rec(h) = mean_x ||(W~ - W) x + (b~ - b)||_2^2 / (eta_o^2 c),
// summed over output rows o, where x runs over the layer's inputs (for a
// conv: every receptive field, i.e. the conv output), and c is the mean
// squared input entry (mean diagonal of the input Gram matrix), so that
// lambda means the same at every weight and input scale. beta is held at
// beta_start during the warm-up (regulariser off) and then decays linearly
// to beta_end. V starts where h(V) = f, and is optimised with Adam in
// double. The final choice is hard: ceil where h >= 1/2, else floor.
//
// The optimisation is plain double: it only picks floor or ceil, and the
// quantizer checks the resulting grid points exactly afterwards. Rows whose
// data are not finite (e.g. overflowed activations) keep nearest rounding.
#include "qbound/net/network.hpp"

#include <cstddef>
#include <vector>

namespace qbound::quant {

struct adaround_options {
    std::size_t iterations = 1000;
    double learning_rate = 0.05;  // Adam on V
    double lambda = 1;            // weight of the rounding regulariser (normalised loss)
    double warmup = 0.2;          // fraction of iterations without the regulariser
    double beta_start = 20, beta_end = 2;
};

inline constexpr double adaround_zeta = 1.1, adaround_gamma = -0.1;

// One affine node's rounding problem; entry order is the node's weight
// order, then (when biases are quantized) one bias per output row.
struct rounding_problem {
    const net::node* layer = nullptr;
    net::shape3 input_shape;                   // shape of the node's input
    std::vector<std::vector<double>> inputs;   // the node's input, one per calibration sample
    std::vector<double> weight_fraction;       // f = frac(w / eta) per weight
    std::vector<bool> weight_nearest_up;       // nearest rounding takes the ceil
    std::vector<double> weight_eta;            // per output row
    std::vector<double> bias_fraction;         // empty: biases kept exact
    std::vector<bool> bias_nearest_up;
    std::vector<double> bias_eta;              // per output row
};

struct rounding_choice {
    std::vector<bool> weight_up, bias_up;  // true: ceil, false: floor
    // mean_x ||(W~ - W) x + (b~ - b)||^2 for this choice and for nearest
    // rounding (in double; approximate)
    double reconstruction_error = 0, nearest_reconstruction_error = 0;
    std::size_t soft_choices = 0;   // h strictly inside (0, 1) before the final threshold
    std::size_t fallback_rows = 0;  // rows left at nearest rounding (non-finite data)
};

// Throws core::invalid_argument for bad knobs (iterations 0, learning rate
// or lambda negative or not finite, warmup outside [0, 1), beta_end <= 0 or
// beta_start < beta_end).
void validate(const adaround_options& opt);

rounding_choice adaround_layer(const rounding_problem& problem, const adaround_options& opt);

}  // namespace qbound::quant
