#include "qbound/quant/quantize.hpp"

#include "qbound/arith/error_free.hpp"
#include "qbound/arith/errors.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/quant/calibration.hpp"
#include "qbound/quant/grid.hpp"

#include "text.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <span>
#include <stdexcept>

namespace qbound::quant {

namespace {

using detail::text;

constexpr std::string_view method_names[] = {"floor", "nearest", "stochastic", "adaround"};

// The steps of one tensor (weights or biases), split into groups of
// `per_group` consecutive entries: one group, or one per output channel.
struct tensor_steps {
    std::vector<double> eta;  // one per group
    std::size_t per_group = 0;
    bool snapped = false;
    std::size_t zero_groups = 0;
    double step(std::size_t i) const { return eta[i / per_group]; }
};

tensor_steps choose_steps(const std::vector<double>& values, std::size_t groups, const options& opt) {
    tensor_steps s;
    s.per_group = values.size() / groups;
    for (std::size_t g = 0; g < groups; ++g) {
        double max_abs = 0;
        for (std::size_t i = g * s.per_group; i < (g + 1) * s.per_group; ++i) max_abs = std::max(max_abs, std::fabs(values[i]));
        if (max_abs == 0) ++s.zero_groups;
        if (opt.bits) {
            s.eta.push_back(step_for_bits(max_abs, *opt.bits, opt.significand_bits));
        } else {
            const explicit_step e = step_for_explicit(max_abs, *opt.eta, opt.significand_bits);
            s.eta.push_back(e.eta);
            s.snapped = s.snapped || e.snapped;
        }
    }
    return s;
}

// Per entry: the exact split w / eta = floor + frac and what each method needs.
struct entry_split {
    std::int64_t floor = 0, ceil = 0, nearest = 0;
    double fraction = 0;  // approximate, AdaRound's start
    bool stochastic_up = false;
};

std::vector<entry_split> split_entries(const std::vector<double>& values, const tensor_steps& steps, method kind,
                                       std::mt19937_64& engine) {
    std::vector<entry_split> out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        entry_split& e = out[i];
        const exact_quotient q = divide(values[i], steps.step(i));
        e.floor = to_code(q.floor);
        e.ceil = to_code(q.ceil());
        e.nearest = to_code(q.nearest());
        if (kind == method::stochastic) e.stochastic_up = q.fraction_exceeds(engine() >> 11);  // one draw per entry
        if (kind == method::adaround) e.fraction = q.fraction();
    }
    return out;
}

// Floor or nearest codes straight from the values: double arithmetic where
// round_codes_fast decides, the exact quotient elsewhere; no per-entry split.
// Entries go in chunks over all threads (each entry on its own, so the
// result does not depend on them); an error is raised again in entry order.
constexpr std::size_t quantize_chunk = std::size_t{1} << 16;

std::vector<std::int64_t> direct_codes(const std::vector<double>& values, const tensor_steps& steps, method kind) {
    std::vector<std::int64_t> codes(values.size());
    const auto code_of = [&](std::size_t i) {
        const double eta = steps.eta[i / steps.per_group];
        rounded_codes fast;
        if (std::isfinite(values[i]) && round_codes_fast(values[i], eta, fast)) return kind == method::floor ? fast.floor : fast.nearest;
        const exact_quotient q = divide(values[i], eta);
        return to_code(kind == method::floor ? q.floor : q.nearest());
    };
    std::atomic<bool> failed{false};
    core::parallel_for((values.size() + quantize_chunk - 1) / quantize_chunk, 0, [&](std::size_t chunk, unsigned) {
        try {
            for (std::size_t i = chunk * quantize_chunk; i < std::min(values.size(), (chunk + 1) * quantize_chunk); ++i) codes[i] = code_of(i);
        } catch (const std::exception&) {
            failed = true;
        }
    });
    if (failed)
        for (std::size_t i = 0; i < values.size(); ++i) codes[i] = code_of(i);  // throws the first error
    return codes;
}

std::int64_t pick(const entry_split& e, method kind, bool adaround_up) {
    switch (kind) {
        case method::floor: return e.floor;
        case method::nearest: return e.nearest;
        case method::stochastic: return e.stochastic_up ? e.ceil : e.floor;
        case method::adaround: return adaround_up ? e.ceil : e.floor;
    }
    throw std::logic_error("unknown quantization method");
}

// Writes the grid points into `values` (checked exact) and returns max |w - w'| exactly.
// Rationals only where double cannot show exactness: the grid point by the
// fma residual, the change w - w' by TwoSum (exact when its error is 0).
arith::rational apply_codes(std::span<double> values, const std::vector<std::int64_t>& codes, const tensor_steps& steps) {
    const std::size_t chunks = (values.size() + quantize_chunk - 1) / quantize_chunk;
    std::vector<arith::rational> largest_slow(chunks, arith::rational(0));
    std::vector<double> largest_fast(chunks, 0.0);
    core::parallel_for(chunks, 0, [&](std::size_t chunk, unsigned) {
        for (std::size_t i = chunk * quantize_chunk; i < std::min(values.size(), (chunk + 1) * quantize_chunk); ++i) {
            const double eta = steps.eta[i / steps.per_group];
            double q = 0;
            if (!grid_point_fast(codes[i], eta, q)) q = grid_point(codes[i], eta);
            const auto [difference, error] = arith::two_sum(values[i], -q);
            if (error == 0 && std::isfinite(difference)) {
                largest_fast[chunk] = std::max(largest_fast[chunk], std::fabs(difference));
            } else {
                const arith::rational change = arith::abs(arith::to_rational(values[i]) - arith::to_rational(q));
                if (change > largest_slow[chunk]) largest_slow[chunk] = change;
            }
            values[i] = q;
        }
    });
    arith::rational largest = 0;  // a maximum: the same in any order
    for (std::size_t c = 0; c < chunks; ++c) largest = arith::max(largest, arith::max(largest_slow[c], arith::to_rational(largest_fast[c])));
    return largest;
}

double round_up(const arith::rational& q) { return arith::round_to_double(q, MPFR_RNDU); }

}  // namespace

method parse_method(std::string_view name) {
    for (std::size_t k = 0; k < std::size(method_names); ++k)
        if (name == method_names[k]) return static_cast<method>(k);
    throw core::invalid_argument("unknown quantization method '" + std::string(name) +
                                  "' (valid: floor, nearest, stochastic, adaround)");
}

std::string_view to_string(method m) { return method_names[static_cast<std::size_t>(m)]; }

void validate(const options& opt) {
    if (opt.eta && opt.bits) throw core::invalid_argument("give either --eta or --bits, not both");
    if (!opt.eta && !opt.bits) throw core::invalid_argument("give a step: --eta E or --bits B");
    if (opt.eta && (!std::isfinite(*opt.eta) || !(*opt.eta > 0)))
        throw core::invalid_argument(text("--eta must be positive and finite (got ", *opt.eta, ")"));
    if (opt.bits) max_code_for_bits(*opt.bits);  // throws outside 1..32
    if (opt.significand_bits != 53 && opt.significand_bits != 24)
        throw core::invalid_argument(text("significand_bits must be 53 (double) or 24 (float), got ", opt.significand_bits));
    if (opt.bits && opt.significand_bits == 24 && *opt.bits > 24)
        throw core::invalid_argument(text("--float32 with --bits ", *opt.bits, ": float32 holds codes of at most 24 bits"));
    if (opt.calib_samples == 0) throw core::invalid_argument("--calib-samples must be at least 1");
    if (!std::isfinite(opt.D) || !(opt.D > 0)) throw core::invalid_argument(text("--D must be positive and finite (got ", opt.D, ")"));
    if (opt.kind == method::adaround) validate(opt.adaround);
}

double quantized_layer::weight_step(std::size_t i) const {
    return eta.size() == 1 ? eta[0] : eta.at(i / (codes.size() / eta.size()));
}

double quantized_layer::bias_step(std::size_t o) const { return bias_eta.size() == 1 ? bias_eta.at(0) : bias_eta.at(o); }

namespace {

// Quantizes affine node n (node i): weight_out and bias_out hold copies of
// its weights and biases on entry, their grid points on exit. `current`:
// the network quantized up to node i, which AdaRound's calibration runs.
std::pair<layer_report, quantized_layer> quantize_node(std::size_t i, const net::node& n, std::span<double> weight_out, std::span<double> bias_out,
                                                       const net::network& current, const options& opt, std::mt19937_64& engine,
                                                       const std::vector<std::vector<double>>& calibration) {
    const std::size_t channels = n.out_features;
    // Floor and nearest need only the codes; stochastic rounding and AdaRound the exact split.
    const bool direct = opt.kind == method::floor || opt.kind == method::nearest;
    const tensor_steps w_steps = choose_steps(n.weight, opt.per_channel ? channels : 1, opt);
    const auto w_split = direct ? std::vector<entry_split>{} : split_entries(n.weight, w_steps, opt.kind, engine);
    tensor_steps b_steps;
    std::vector<entry_split> b_split;
    if (opt.quantize_biases) {
        b_steps = choose_steps(n.bias, opt.per_channel ? channels : 1, opt);
        if (!direct) b_split = split_entries(n.bias, b_steps, opt.kind, engine);
    }

    layer_report rep;
    rep.node = i;
    rep.name = n.name;
    rep.kind = n.kind;
    rep.eta = w_steps.eta;
    rep.bias_eta = b_steps.eta;
    rep.eta_snapped = w_steps.snapped || b_steps.snapped;
    rep.zero_groups = w_steps.zero_groups;

    std::vector<bool> weight_up, bias_up;
    if (opt.kind == method::adaround) {
        rounding_problem p;
        p.layer = &n;
        p.input_shape = current.at(n.inputs.at(0)).output;
        const std::size_t per_row = n.weight.size() / channels;
        for (std::size_t k = 0; k < n.weight.size(); ++k) {
            p.weight_fraction.push_back(w_split[k].fraction);
            p.weight_nearest_up.push_back(w_split[k].nearest != w_split[k].floor);
        }
        for (std::size_t o = 0; o < channels; ++o) p.weight_eta.push_back(w_steps.step(o * per_row));
        for (std::size_t o = 0; o < b_split.size(); ++o) {
            p.bias_fraction.push_back(b_split[o].fraction);
            p.bias_nearest_up.push_back(b_split[o].nearest != b_split[o].floor);
            p.bias_eta.push_back(b_steps.step(o));
        }
        // The layer's input in the network whose earlier layers are already quantized.
        bool inputs_finite = true;
        for (const auto& x : calibration) {
            try {
                auto values = net::forward_all<double>(current, x);
                p.inputs.push_back(std::move(values[n.inputs.at(0)]));
            } catch (const arith::domain_error&) {  // NaN from overflowed activations
                inputs_finite = false;
                break;
            }
        }
        if (inputs_finite) {
            const rounding_choice choice = adaround_layer(p, opt.adaround);
            weight_up = choice.weight_up;
            bias_up = choice.bias_up;
            rep.reconstruction_error = choice.reconstruction_error;
            rep.nearest_reconstruction_error = choice.nearest_reconstruction_error;
            rep.adaround_soft_choices = choice.soft_choices;
            rep.adaround_fallback_rows = choice.fallback_rows;
        } else {
            weight_up = p.weight_nearest_up;
            bias_up = p.bias_nearest_up;
            rep.adaround_fallback_rows = channels;
        }
    }

    quantized_layer q;
    q.node = i;
    q.name = n.name;
    q.eta = w_steps.eta;
    if (direct) {
        q.codes = direct_codes(n.weight, w_steps, opt.kind);
    } else {
        q.codes.reserve(n.weight.size());
        for (std::size_t k = 0; k < n.weight.size(); ++k) q.codes.push_back(pick(w_split[k], opt.kind, !weight_up.empty() && weight_up[k]));
    }
    rep.max_weight_change_exact = apply_codes(weight_out, q.codes, w_steps);
    if (opt.quantize_biases) {
        q.bias_eta = b_steps.eta;
        if (direct) q.bias_codes = direct_codes(n.bias, b_steps, opt.kind);
        else
            for (std::size_t o = 0; o < n.bias.size(); ++o) q.bias_codes.push_back(pick(b_split[o], opt.kind, !bias_up.empty() && bias_up[o]));
        rep.max_bias_change_exact = apply_codes(bias_out, q.bias_codes, b_steps);
    }
    if (!q.codes.empty()) {
        const auto [lo, hi] = std::minmax_element(q.codes.begin(), q.codes.end());
        rep.min_code = *lo;
        rep.max_code = *hi;
    }
    if (!opt.keep_codes) {  // layer_report keeps the code range
        std::vector<std::int64_t>().swap(q.codes);
        std::vector<std::int64_t>().swap(q.bias_codes);
    }
    rep.max_weight_change = round_up(rep.max_weight_change_exact);
    rep.max_bias_change = round_up(rep.max_bias_change_exact);
    return {std::move(rep), std::move(q)};
}

void check_quantizable(const net::network& original, const options& opt) {
    validate(opt);
    if (!original.has_weights()) throw net::model_error(original.name() + ": a shape-only network cannot be quantized");
    net::check_finite_weights(original);
}

}  // namespace

result quantize(const net::network& original, const options& opt) {
    check_quantizable(original, opt);
    result res{original, {}, {}, 0, 0, 0, {}};

    std::vector<std::vector<double>> calibration;
    if (opt.kind == method::adaround) {
        const std::size_t d = original.input_shape().size();
        if (!opt.calib_file.empty()) {
            calibration = read_calibration(opt.calib_file, d);
            res.calibration_source = opt.calib_file;
        } else {
            // A stream of its own, so that changing the method does not move stochastic draws.
            calibration = sample_calibration(d, opt.calib_samples, opt.D, opt.seed ^ 0x9e3779b97f4a7c15ULL);
            res.calibration_source = text("uniform on [-", opt.D, ", ", opt.D, "]^", d, ", seed ", opt.seed);
        }
        res.calibration_samples = calibration.size();
    }

    std::mt19937_64 engine(opt.seed);
    for (std::size_t i = 0; i < original.nodes().size(); ++i) {
        if (!original.at(i).is_affine()) continue;
        auto [rep, q] = quantize_node(i, original.at(i), res.network.weights(i), res.network.bias(i), res.network, opt, engine, calibration);
        res.max_change = arith::max(res.max_change, arith::max(rep.max_weight_change_exact, rep.max_bias_change_exact));
        res.layers.push_back(std::move(rep));
        res.codes.push_back(std::move(q));
    }
    res.max_change_upper = round_up(res.max_change);
    return res;
}

arith::rational quantize_each(const net::network& original, const options& opt, const layer_sink& sink) {
    check_quantizable(original, opt);
    if (opt.kind == method::adaround)
        throw core::invalid_argument("quantize_each: AdaRound calibrates each layer on the network quantized so far; use quantize");
    std::mt19937_64 engine(opt.seed);
    arith::rational largest = 0;
    for (std::size_t i = 0; i < original.nodes().size(); ++i) {
        if (!original.at(i).is_affine()) continue;
        net::node scratch = original.at(i);  // a copy outside any network: its values are quantized in place
        const auto [rep, q] = quantize_node(i, original.at(i), scratch.weight, scratch.bias, original, opt, engine, {});
        largest = arith::max(largest, arith::max(rep.max_weight_change_exact, rep.max_bias_change_exact));
        sink(i, scratch, rep);
    }
    return largest;
}

}  // namespace qbound::quant
