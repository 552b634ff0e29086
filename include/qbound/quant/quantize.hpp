#pragma once
// Weight quantizers (THEOREMS.md section 2): floor, nearest, stochastic and
// AdaRound, per tensor or per output channel, with an exactly known result.
//
// Every quantized weight is w' = k * eta with an integer code k and a double
// step eta such that the product is an exact double (grid.hpp), and the
// network's double weight IS that exact value: the quantized network is
// known exactly in rationals. The codes and steps are kept in the result.
//
// Step size, per tensor or (per_channel) per output channel:
//   bits b in 1..32  eta = max|w| / q_max, q_max = 2^(b-1) - 1 (1 for b = 1),
//                    rounded UP to a double of at most 53 - bits(q_max)
//                    significant bits. Then |w / eta| <= q_max, so codes stay
//                    in [-q_max, q_max] for every method and are never
//                    clamped (clamping would break the error guarantees).
//                    An all-zero tensor or channel gets eta = 1, codes 0.
//   eta E            used as given when every k * E with |k| <= ceil(max|w|/E)
//                    is exact; otherwise rounded up to the nearest double
//                    with few enough significant bits ("snapped", reported
//                    in layer_report, never silent). No code range.
// Methods (w / eta = floor + frac, exactly):
//   floor       k = floor(w / eta)                     0 <= w - w' < eta
//   nearest     k = round(w / eta), ties to even       |w - w'| <= eta / 2
//   stochastic  ceil with probability frac (seeded)    |w - w'| < eta
//   adaround    floor or ceil chosen per layer by AdaRound (adaround.hpp)
//                                                      |w - w'| < eta
// (On the grid, frac = 0 and floor = ceil = w / eta: the weight is kept.)
// Biases stay exact unless quantize_biases, which applies the same method
// and rule with their own steps (one per tensor, or one per channel).
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"
#include "qbound/quant/adaround.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qbound::quant {

enum class method { floor, nearest, stochastic, adaround };

// "floor", "nearest", "stochastic", "adaround"; throws std::invalid_argument
// (core::invalid_argument) listing the valid names otherwise.
method parse_method(std::string_view name);
std::string_view to_string(method m);

struct options {
    method kind = method::nearest;
    std::optional<double> eta;      // exactly one of eta and bits
    std::optional<unsigned> bits;
    bool per_channel = false;       // one step per output channel
    bool quantize_biases = false;
    // Significant bits of every grid point k * eta: 53 (double); 24 makes the
    // quantized weights floats too (exponent range permitting), for float32
    // ONNX files that ONNX Runtime can run.
    int significand_bits = 53;
    // false: result::codes keeps each layer's steps but not its integer codes
    // (freed layer by layer), so quantizing costs one network's memory more,
    // not two (bounds and check need only the network).
    bool keep_codes = true;
    std::uint64_t seed = 20261127;  // stochastic rounding; calibration sampling
    // AdaRound calibration: inputs (one per row, in the network's CHW input
    // order) from a CSV or .npy file, or else calib_samples points drawn
    // uniformly from Omega = [-D, D]^d with the seed.
    std::string calib_file;
    std::size_t calib_samples = 64;
    double D = 1;
    adaround_options adaround;
};

// Throws core::invalid_argument (a std::invalid_argument) naming the
// option: eta <= 0 or not finite, bits outside 1..32, neither or both of
// eta and bits, calib_samples == 0, D <= 0 or not finite, bad AdaRound knobs.
void validate(const options& opt);

// The exact content of one quantized affine node: weight[i] equals
// codes[i] * eta[channel of i] exactly (channel = i / (weights per output)
// when per channel, else 0); likewise for biases when quantized.
struct quantized_layer {
    std::size_t node = 0;
    std::string name;
    std::vector<double> eta;                 // 1 (per tensor) or out_features
    std::vector<std::int64_t> codes;         // one per weight, in weight order (empty unless options::keep_codes)
    std::vector<double> bias_eta;            // empty: biases kept exact
    std::vector<std::int64_t> bias_codes;

    double weight_step(std::size_t i) const;  // eta of weight i
    double bias_step(std::size_t o) const;    // eta of bias o (biases quantized)
};

struct layer_report {
    std::size_t node = 0;
    std::string name;
    net::op kind = net::op::dense;
    std::vector<double> eta;       // as used (after snapping)
    std::vector<double> bias_eta;  // empty: biases kept exact
    bool eta_snapped = false;      // an explicit eta was snapped (weights or biases)
    std::size_t zero_groups = 0;   // all-zero tensors / channels (eta = 1 with bits)
    std::int64_t min_code = 0, max_code = 0;
    // ||W - W'||_max and max |b - b'| (0 when biases are kept): exact
    // rationals, and the same rounded UP to a double (upper bounds).
    arith::rational max_weight_change_exact, max_bias_change_exact;
    double max_weight_change = 0, max_bias_change = 0;
    // AdaRound only: mean over calibration inputs of ||(W~ - W) x + (b~ - b)||_2^2
    // with x this layer's input in the quantized network, for AdaRound's
    // choice and for nearest rounding on the same grid (double, approximate).
    std::optional<double> reconstruction_error, nearest_reconstruction_error;
    std::size_t adaround_soft_choices = 0;   // still soft (0 < h < 1) before the final threshold
    std::size_t adaround_fallback_rows = 0;  // rows left at nearest (non-finite data)
};

struct result {
    net::network network;                 // weights are the exact doubles k * eta
    std::vector<layer_report> layers;     // one per affine node, in node order
    std::vector<quantized_layer> codes;   // likewise
    arith::rational max_change;           // ||theta - theta'||_inf (weights, and biases if quantized)
    double max_change_upper = 0;          // max_change rounded up to a double
    std::size_t calibration_samples = 0;  // AdaRound: inputs used
    std::string calibration_source;       // AdaRound: file, or "uniform on [-D, D]^d, seed S"
};

// Quantizes every affine node (dense, conv2d) of `original` (batch norm
// folded, finite weights). Throws core::invalid_argument for bad options
// or calibration data, net::model_error for a network without weights.
result quantize(const net::network& original, const options& opt);

// The same quantization one affine node at a time, for callers that read
// each quantized layer once (the bounds' ingredients): sink(i, node,
// report) gets a copy of affine node i holding its quantized weights and
// biases (the same bits as quantize(original, opt).network.at(i)), then it
// is freed, so no second network is ever held. Returns ||theta -
// theta'||_inf exactly (weights, and biases if quantized). Floor, nearest
// and stochastic rounding; AdaRound (which calibrates each layer on the
// network quantized so far) is a core::invalid_argument.
using layer_sink = std::function<void(std::size_t node, const net::node& quantized, const layer_report& report)>;
arith::rational quantize_each(const net::network& original, const options& opt, const layer_sink& sink);

}  // namespace qbound::quant
