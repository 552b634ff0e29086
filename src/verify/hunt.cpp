#include "qbound/verify/hunt.hpp"

#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/verify/campaign.hpp"
#include "qbound/verify/case_file.hpp"
#include "qbound/verify/gradient.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>

namespace qbound::verify {

std::string to_string(hunt_architecture a) {
    switch (a) {
        case hunt_architecture::mlp: return "mlp";
        case hunt_architecture::cnn: return "cnn";
        case hunt_architecture::residual: return "residual";
    }
    return "?";
}

std::string to_string(hunt_perturbation p) {
    switch (p) {
        case hunt_perturbation::any: return "any";
        case hunt_perturbation::free: return "free";
        case hunt_perturbation::grid: return "grid";
    }
    return "?";
}

hunt_space default_hunt_space(std::string_view name) {
    hunt_space s;
    if (name == "mlp") return s;
    if (name == "cnn") {
        s.architecture = hunt_architecture::cnn;
        s.depth = {1, 3};
        s.width = {1, 4};
        s.inputs = {1, 2};
        return s;
    }
    if (name == "residual") {
        s.architecture = hunt_architecture::residual;
        s.depth = {3, 6};
        s.width = {1, 6};
        s.inputs = {1, 3};
        return s;
    }
    throw core::invalid_argument("--space: unknown space '" + std::string(name) + "' (valid: mlp, cnn, residual)");
}

void validate(const hunt_space& s) {
    const auto check_range = [](const count_range& r, const char* field, std::size_t min) {
        if (r.lo > r.hi) throw core::invalid_argument(std::string(field) + ": empty range " + std::to_string(r.lo) + "-" + std::to_string(r.hi));
        if (r.lo < min) throw core::invalid_argument(std::string(field) + ": must be at least " + std::to_string(min) + ", got " + std::to_string(r.lo));
        if (r.hi > 64) throw core::invalid_argument(std::string(field) + ": at most 64, got " + std::to_string(r.hi));
    };
    check_range(s.depth, "--depth", s.architecture == hunt_architecture::residual ? 3 : 1);
    check_range(s.width, "--width", 1);
    check_range(s.inputs, "--inputs", 1);
    if (s.outputs == 0 || s.outputs > 64) throw core::invalid_argument("--outputs: must be in 1..64, got " + std::to_string(s.outputs));
    if (s.max_kernel == 0 || s.max_kernel > 5) throw core::invalid_argument("max_kernel: must be in 1..5");
    if (!s.region.empty()) {
        const std::size_t d = s.region.front().inside.lower.size();
        if (s.architecture == hunt_architecture::cnn)
            throw core::invalid_argument("--box/--vnnlib/--center: the cnn space draws image inputs; hunt a region with --space mlp or residual");
        for (const auto& b : s.region)
            if (b.inside.lower.size() != d) throw core::invalid_argument("hunt region: boxes of different dimensions");
        if (s.inputs.lo != d || s.inputs.hi != d)
            throw core::invalid_argument("--inputs: a region of " + std::to_string(d) + " inputs needs --inputs " + std::to_string(d) + ", got " +
                                         std::to_string(s.inputs.lo) + "-" + std::to_string(s.inputs.hi));
    }
    if (s.min_D_exponent > s.max_D_exponent || s.min_D_exponent < -max_D_exponent_magnitude || s.max_D_exponent > max_D_exponent_magnitude)
        throw core::invalid_argument("D exponents: need -" + std::to_string(max_D_exponent_magnitude) + " <= min <= max <= " +
                                     std::to_string(max_D_exponent_magnitude) + ", got " + std::to_string(s.min_D_exponent) + ", " +
                                     std::to_string(s.max_D_exponent));
}

count_range parse_count_range(const std::string& text, const std::string& option) {
    const auto number = [&](const std::string& part) {
        if (part.empty() || part.size() > 6 || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
            throw core::invalid_argument(option + ": expected N or LO-HI (whole numbers), got '" + text + "'");
        return static_cast<std::size_t>(std::stoul(part));
    };
    const auto dash = text.find('-');
    if (dash == std::string::npos) {
        const std::size_t v = number(text);
        return {v, v};
    }
    return {number(text.substr(0, dash)), number(text.substr(dash + 1))};
}

bool hunt_result::theorem_violated() const {
    return std::any_of(variants.begin(), variants.end(),
                       [](const hunt_variant_result& v) { return v.holding.result == verdict::violated && v.holding.hypotheses_hold; });
}

double frontier_result::at(std::size_t depth_index, std::size_t width_index, std::size_t variant) const {
    return cells.at(depth_index * widths.size() + width_index).certified_ratio.at(variant);
}

namespace {

constexpr int min_eps_exponent_magnitude = 60;  // free perturbations: eps down to 2^-60

// ---- random draws (our own mappings from mt19937_64: the same on every platform) ----

double uniform01(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1p-53; }
std::size_t pick_count(std::mt19937_64& g, std::size_t lo, std::size_t hi) { return lo + static_cast<std::size_t>(g() % (hi - lo + 1)); }
int pick_int(std::mt19937_64& g, int lo, int hi) { return lo + static_cast<int>(g() % static_cast<std::uint64_t>(hi - lo + 1)); }
double normal(std::mt19937_64& g) {
    const double u = std::max(uniform01(g), 0x1p-60), v = uniform01(g);
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
}

// ---- the state of one candidate --------------------------------------------------

struct state {
    net::network theta{"hunt", {1, 1, 1}}, quant{"hunt", {1, 1, 1}}, delta{"hunt", {1, 1, 1}};  // delta: free perturbations (theta' = theta + delta)
    int D_exponent = 0;
    bool grid = false;
    quant::method method = quant::method::nearest;
    unsigned bits = 4;
    bool per_channel = false;
    std::uint64_t quant_seed = 1;
    int eps_exponent = -6;       // free: weights move by at most 2^eps_exponent
    int bias_eps_exponent = -6;  // free: biases by at most 2^bias_eps_exponent (when perturbed)
    bool perturb_biases = false;
    std::vector<double> witness;
    double error = 0;
    std::vector<double> scores;  // per objective: 2 v (variant v, hypotheses holding, else 0) and 2 v + 1 (any pair)
};

// 2^e exactly (|e| <= 40 here, far inside the double range).
arith::rational power_of_two(int e) { return arith::to_rational(std::ldexp(1.0, e)); }

std::string perturbation_text(const state& s) {
    if (s.grid)
        return std::string(quant::to_string(s.method)) + " " + std::to_string(s.bits) + " bits " + (s.per_channel ? "per channel" : "per tensor");
    return "free, weights eps 2^" + std::to_string(s.eps_exponent) +
           (s.perturb_biases ? ", biases eps 2^" + std::to_string(s.bias_eps_exponent) : std::string(", biases shared"));
}

// theta' from theta and the perturbation genes.
void rebuild_quant(state& s) {
    if (s.grid) {
        quant::options q;
        q.kind = s.method;
        q.bits = s.bits;
        q.per_channel = s.per_channel;
        q.seed = s.quant_seed;
        q.keep_codes = false;
        s.quant = quant::quantize(s.theta, q).network;
        return;
    }
    s.quant = s.theta;
    for (std::size_t i : s.theta.affine_nodes()) {
        auto w = s.quant.weights(i);
        const auto dw = s.delta.weights(i);
        for (std::size_t k = 0; k < w.size(); ++k) w[k] += dw[k];
        if (s.perturb_biases) {
            auto b = s.quant.bias(i);
            const auto db = s.delta.bias(i);
            for (std::size_t k = 0; k < b.size(); ++k) b[k] += db[k];
        }
    }
}

// A random delta with entries in [-eps, eps] (each a sign times eps, or uniform).
void draw_delta(state& s, std::mt19937_64& g) {
    s.delta = s.theta;
    const double eps = std::ldexp(1.0, s.eps_exponent), bias_eps = std::ldexp(1.0, s.bias_eps_exponent);
    const bool signs_only = g() % 2 == 0;
    const auto draw = [&](double e) { return signs_only ? (g() % 2 ? e : -e) : e * (2 * uniform01(g) - 1); };
    for (std::size_t i : s.delta.affine_nodes()) {
        for (double& w : s.delta.weights(i)) w = draw(eps);
        for (double& b : s.delta.bias(i)) b = draw(bias_eps);
    }
}

// The architecture of the space, with zero weights.
net::network draw_architecture(const hunt_space& sp, std::mt19937_64& g) {
    const std::size_t L = pick_count(g, sp.depth.lo, sp.depth.hi);
    switch (sp.architecture) {
        case hunt_architecture::mlp: {
            std::vector<std::size_t> widths{pick_count(g, sp.inputs.lo, sp.inputs.hi)};
            for (std::size_t l = 1; l < L; ++l) widths.push_back(pick_count(g, sp.width.lo, sp.width.hi));
            widths.push_back(pick_count(g, 1, sp.outputs));
            return net::make_mlp(widths);
        }
        case hunt_architecture::cnn: {
            net::cnn_config cfg;
            std::size_t side = pick_count(g, 3, 6);
            cfg.input = {pick_count(g, std::min<std::size_t>(sp.inputs.lo, 3), std::min<std::size_t>(sp.inputs.hi, 3)), side, side};
            cfg.convs.clear();
            for (std::size_t k = 0; k + 1 < L; ++k) {
                const std::size_t pad = pick_count(g, 0, 1);
                const std::size_t kernel = std::min(pick_count(g, 1, sp.max_kernel), side + 2 * pad);
                const std::size_t stride = side + 2 * pad - kernel >= 2 ? pick_count(g, 1, 2) : 1;
                cfg.convs.push_back({pick_count(g, sp.width.lo, sp.width.hi), {kernel, kernel, stride, pad, 1, 1}, false});
                side = (side + 2 * pad - kernel) / stride + 1;
            }
            cfg.global_pool = false;
            cfg.dense = {pick_count(g, 1, sp.outputs)};
            return net::make_cnn(cfg);
        }
        case hunt_architecture::residual: {
            const std::size_t d = pick_count(g, sp.inputs.lo, sp.inputs.hi), n = pick_count(g, sp.width.lo, sp.width.hi);
            net::network m("residual", {d, 1, 1});
            std::size_t x = m.activation(m.dense(m.flatten(0), n, "stem"), net::op::relu);
            for (std::size_t b = 0; b + 2 < L; ++b) {
                const std::string p = "block" + std::to_string(b + 1);
                const auto branch = m.dense(m.activation(m.dense(x, n, p + ".fc1"), net::op::relu), n, p + ".fc2");
                x = m.activation(m.add(branch, x, p + ".add"), net::op::relu);
            }
            m.dense(x, pick_count(g, 1, sp.outputs), "head");
            return m;
        }
    }
    throw core::invalid_argument("hunt: unknown architecture");
}

// Weights: He-normal or random signs, at a random scale per layer; with
// `initializer` only He-normal. Biases zero or small, at random.
void draw_weights(net::network& m, const hunt_space& sp, std::mt19937_64& g) {
    const bool biases = g() % 2 == 0;
    net::init_he_normal(m, g(), biases ? 0.1 : 0.0);
    if (sp.initializer) return;
    const int sign_mode = pick_int(g, 0, 2);  // 0: He-normal signs, 1: all positive, 2: a sign per row
    for (std::size_t i : m.affine_nodes()) {
        const double scale = std::ldexp(1.0, g() % 4 ? pick_int(g, -2, 2) : pick_int(g, -16, 4));
        auto w = m.weights(i);
        const std::size_t rows = m.at(i).out_features, per_row = w.size() / std::max<std::size_t>(rows, 1);
        std::vector<double> row_sign(rows, 1.0);
        for (double& r : row_sign) r = g() % 2 ? 1.0 : -1.0;
        for (std::size_t k = 0; k < w.size(); ++k) {
            if (sign_mode == 1) w[k] = std::abs(w[k]);
            if (sign_mode == 2) w[k] = std::abs(w[k]) * row_sign[k / std::max<std::size_t>(per_row, 1)];
            w[k] *= scale;
        }
        for (double& b : m.bias(i)) b *= scale;
    }
}

state draw_state(const hunt_space& sp, std::mt19937_64& g) {
    state s;
    s.theta = draw_architecture(sp, g);
    draw_weights(s.theta, sp, g);
    s.D_exponent = pick_int(g, sp.min_D_exponent, sp.max_D_exponent);
    s.grid = sp.perturbation == hunt_perturbation::grid || (sp.perturbation == hunt_perturbation::any && g() % 2 == 0);
    s.method = g() % 2 ? quant::method::nearest : quant::method::floor;
    s.bits = static_cast<unsigned>(pick_count(g, 2, 8));
    s.per_channel = g() % 2 == 0;
    s.quant_seed = g();
    s.eps_exponent = pick_int(g, -10, -3);
    s.bias_eps_exponent = g() % 2 ? s.eps_exponent : pick_int(g, -10, -3);
    s.perturb_biases = g() % 2 == 0;
    draw_delta(s, g);
    rebuild_quant(s);
    return s;
}

// ---- scoring -------------------------------------------------------------------

std::vector<input_box> inside_boxes(const std::vector<region_box>& region) {
    std::vector<input_box> out;
    for (const auto& b : region) out.push_back(b.inside);
    return out;
}

struct scorer {
    const hunt_options& opt;
    const std::vector<bounds::variant_key>& variants;

    // Searches x, computes every bound (a pair a bound refuses throws: hunt_run's attempt() scores it nothing).
    bool score(state& s, std::uint64_t seed) const {  // true: scored
        const std::size_t d = s.theta.input_shape().size();
        const auto& region = opt.space.region;
        const std::vector<input_box> boxes =
            region.empty() ? std::vector<input_box>{centered_box(d, std::ldexp(1.0, s.D_exponent))} : inside_boxes(region);
        search_result best;
        for (std::size_t b = 0; b < boxes.size(); ++b) {
            std::vector<std::vector<double>> starts;
            if (s.witness.size() == d) {
                std::vector<double> x = s.witness;
                for (std::size_t k = 0; k < d; ++k) x[k] = std::clamp(x[k], boxes[b].lower[k], boxes[b].upper[k]);
                starts.push_back(std::move(x));
            }
            search_result sr = search_worst_case(s.theta, s.quant, boxes[b], counted_search(d, opt.search_effort, seed + b), starts);
            if (b == 0 || sr.best_value > best.best_value) best = std::move(sr);
        }
        s.witness = best.best_x;
        // The error at the witness is scored by its float-sound lower end (the
        // refined fast path, else the a-priori one): a plain double difference
        // of two nearly equal outputs can be all rounding noise, and a tiny
        // perturbation would then score as a huge ratio.
        fast::options fo;
        fo.threads = 1;
        fast::enclosure e;
        try {
            e = fast::enclose_difference_refined(s.theta, s.quant, s.witness, fo);
        } catch (const fast::refinement_not_applicable&) {
            e = fast::enclose_difference(s.theta, s.quant, s.witness, fo);
        }
        s.error = 0;
        for (std::size_t k = 0; k < e.lower.size(); ++k) s.error = std::max({s.error, e.lower[k], -e.upper[k]});
        bounds::bound_options bo;
        bo.D = region.empty() ? power_of_two(s.D_exponent) : opt.space.region_D;
        const std::vector<bounds::bound_result> all = bounds::compute_bounds(s.theta, s.quant, bo);
        s.scores.assign(2 * variants.size(), 0.0);
        for (std::size_t v = 0; v < variants.size(); ++v) {
            const bounds::bound_result& b = bounds::find(all, variants[v]);
            const double value = b.value.to_double();
            if (!std::isfinite(s.error)) continue;
            s.scores[2 * v + 1] = value > 0 ? s.error / value : (s.error > 0 ? std::numeric_limits<double>::infinity() : 0.0);
            if (b.hypotheses_hold()) s.scores[2 * v] = s.scores[2 * v + 1];
        }
        return true;
    }
};

// ---- moves ---------------------------------------------------------------------

// The largest |entry| of each affine node's weights (at least a tiny floor, so a zero layer can move).
double layer_scale(std::span<const double> w) {
    double m = 0;
    for (double v : w) m = std::max(m, std::abs(v));
    return std::max(m, 0x1p-20);
}

// The gradients, in both networks, of sign * d_k at the witness x* for the
// output k of the largest |d_k(x*)| (sign its sign): what every step size of
// a gradient move uses. None when there is no witness or no difference.
struct witness_gradients {
    parameter_gradient theta, quant;
};

std::optional<witness_gradients> gradients_at_witness(const state& s) {
    if (s.witness.empty() || s.error <= 0) return std::nullopt;
    const auto y = net::forward<double>(s.theta, s.witness), yq = net::forward<double>(s.quant, s.witness);
    std::size_t k = 0;
    for (std::size_t o = 0; o < y.size(); ++o)
        if (std::abs(yq[o] - y[o]) > std::abs(yq[k] - y[k])) k = o;
    std::vector<double> e(y.size(), 0.0);
    e[k] = yq[k] >= y[k] ? 1.0 : -1.0;
    return witness_gradients{parameters_gradient(s.theta, s.witness, e), parameters_gradient(s.quant, s.witness, e)};
}

// theta (or, free, delta) along the gradient of log |d_k(x*)|, step t (relative, per layer).
state gradient_move(const state& s, const witness_gradients& wg, double t, bool move_delta) {
    const parameter_gradient &g = wg.theta, &gq = wg.quant;
    state n = s;
    const double eps = std::ldexp(1.0, s.eps_exponent), bias_eps = std::ldexp(1.0, s.bias_eps_exponent);
    for (std::size_t i : s.theta.affine_nodes()) {
        // d/dtheta of sign (R_theta'(x) - R_theta(x)): free, theta' = theta + delta moves with theta;
        // grid, theta' is locally constant.
        auto w = n.theta.weights(i);
        std::vector<double> dir(w.size());
        double m = 0;
        for (std::size_t j = 0; j < w.size(); ++j) {
            dir[j] = (s.grid ? 0.0 : gq.weight[i][j]) - g.weight[i][j];
            m = std::max(m, std::abs(dir[j]));
        }
        if (m > 0 && !move_delta) {
            const double step = t * layer_scale(s.theta.at(i).weight) / m;
            for (std::size_t j = 0; j < w.size(); ++j) w[j] += step * dir[j];
        }
        if (move_delta && !s.grid) {
            auto dw = n.delta.weights(i);
            for (std::size_t j = 0; j < dw.size(); ++j)
                if (gq.weight[i][j] != 0) dw[j] = std::clamp(dw[j] + t * eps * (gq.weight[i][j] > 0 ? 1 : -1), -eps, eps);
            auto db = n.delta.bias(i);
            for (std::size_t j = 0; j < db.size(); ++j)
                if (gq.bias[i][j] != 0) db[j] = std::clamp(db[j] + t * bias_eps * (gq.bias[i][j] > 0 ? 1 : -1), -bias_eps, bias_eps);
        }
    }
    rebuild_quant(n);
    return n;
}

// One random change of the candidate (the evolutionary step).
state mutate(const state& s, const hunt_space& sp, std::mt19937_64& g) {
    state n = s;
    const auto affine = n.theta.affine_nodes();
    const std::size_t layer = affine[pick_count(g, 0, affine.size() - 1)];
    const int kind = pick_int(g, 0, 10);
    switch (kind) {
        case 0: {  // Gaussian noise on a third of one layer's weights
            auto w = n.theta.weights(layer);
            const double scale = 0.25 * layer_scale(w);
            for (double& v : w)
                if (g() % 3 == 0) v += scale * normal(g);
            break;
        }
        case 1: {  // one sign flipped
            auto w = n.theta.weights(layer);
            double& v = w[pick_count(g, 0, w.size() - 1)];
            v = -v;
            break;
        }
        case 2: {  // one layer scaled by 2^(+-1/2), or by 2^(+-k), k <= 8
            const double f = g() % 4 ? (g() % 2 ? std::sqrt(2.0) : std::sqrt(0.5)) : std::ldexp(1.0, (g() % 2 ? 1 : -1) * pick_int(g, 1, 8));
            for (double& v : n.theta.weights(layer)) v *= f;
            for (double& v : n.theta.bias(layer)) v *= f;
            break;
        }
        case 3:  // D: a step, or a jump (a fixed region keeps its D)
            if (sp.region.empty())
                n.D_exponent = std::clamp(n.D_exponent + (g() % 2 ? 1 : -1) * (g() % 4 ? 1 : pick_int(g, 2, 12)), sp.min_D_exponent, sp.max_D_exponent);
            break;
        case 4:  // biases: zero, or one bias moved
            if (g() % 2) {
                for (double& b : n.theta.bias(layer)) b = 0;
            } else {
                auto b = n.theta.bias(layer);
                b[pick_count(g, 0, b.size() - 1)] += 0.25 * layer_scale(n.theta.weights(layer)) * normal(g);
            }
            break;
        case 5:  // the perturbation's size or bit width
            if (n.grid) {
                n.bits = static_cast<unsigned>(std::clamp<int>(static_cast<int>(n.bits) + (g() % 2 ? 1 : -1), 2, 8));
            } else {
                // the weights' or the biases' eps: a step, or a jump
                // (or the biases' eps set to the weights': one eps for every parameter)
                const int step = (g() % 2 ? 1 : -1) * (g() % 4 ? 1 : pick_int(g, 2, 16));
                const bool biases = g() % 2 == 0, tie = biases && g() % 3 == 0;
                int& e = biases ? n.bias_eps_exponent : n.eps_exponent;
                const int old = e;
                e = tie ? n.eps_exponent : std::clamp(e + step, -min_eps_exponent_magnitude, 0);
                const double f = std::ldexp(1.0, e - old);
                for (std::size_t i : n.delta.affine_nodes())
                    for (double& v : biases ? n.delta.bias(i) : n.delta.weights(i)) v *= f;
            }
            break;
        case 6:  // the perturbation's form
            if (n.grid) {
                if (g() % 2) {
                    n.per_channel = !n.per_channel;
                } else {
                    n.method = n.method == quant::method::nearest ? quant::method::floor : quant::method::nearest;
                }
            } else if (g() % 2) {
                n.perturb_biases = !n.perturb_biases;
            } else {
                auto dw = n.delta.weights(layer);
                double& v = dw[pick_count(g, 0, dw.size() - 1)];
                v = -v;
            }
            break;
        case 7:  // switch between a free perturbation and a grid, when the space has both
            if (sp.perturbation == hunt_perturbation::any) n.grid = !n.grid;
            break;
        case 8:  // one layer's weights to one magnitude (its largest), signs kept
        {
            auto w = n.theta.weights(layer);
            const double m = layer_scale(w);
            for (double& v : w) v = v < 0 ? -m : m;
            break;
        }
        case 9:  // free: one layer's weights unperturbed
            for (double& v : n.delta.weights(layer)) v = 0;
            break;
        default: {  // free: a third of one layer's perturbations set to zero, or to +-eps
            const double eps = std::ldexp(1.0, n.eps_exponent);
            const bool zero = g() % 2 == 0;
            for (double& v : n.delta.weights(layer))
                if (g() % 3 == 0) v = zero ? 0.0 : (g() % 2 ? eps : -eps);
            break;
        }
    }
    if (sp.initializer && (kind == 1 || kind == 4)) n = s;  // an initializer's draw keeps its signs and biases
    rebuild_quant(n);
    return n;
}

// ---- runs ------------------------------------------------------------------------

struct run_best {
    std::vector<double> score;                 // per objective (state::scores)
    std::vector<std::optional<state>> pair;    // per objective: the run's best-scoring candidate
};

struct run_output {
    run_best best;
    std::size_t evaluations = 0;
};

// Weights and biases far inside the double range (2^256: products and squares
// of the bounds and of the search stay finite).
bool sane(const state& s) {
    for (const net::network* m : {&s.theta, &s.quant})
        for (std::size_t i : m->affine_nodes()) {
            for (double v : m->at(i).weight)
                if (!(std::abs(v) <= 0x1p256)) return false;
            for (double v : m->at(i).bias)
                if (!(std::abs(v) <= 0x1p256)) return false;
        }
    return true;
}

// make(), or its result type's empty value (nullopt, false) when it throws:
// a move that cannot be made or a pair that cannot be scored (the quantizer
// refuses a weight, say). Contradictions of certified values are never swallowed.
template <class F>
auto attempt(F&& make) -> decltype(make()) {
    try {
        return make();
    } catch (const core::unsound_error&) {
        throw;
    } catch (const std::exception&) {
        return {};
    }
}

run_output hunt_run(const hunt_options& opt, const std::vector<bounds::variant_key>& variants, std::size_t target, std::size_t length,
                    std::uint64_t seed, const state* start) {
    std::mt19937_64 g(seed);
    const scorer sc{opt, variants};
    run_output out;
    out.best.score.assign(2 * variants.size(), -1.0);
    out.best.pair.resize(2 * variants.size());
    const auto record = [&](const state& s) {
        for (std::size_t v = 0; v < s.scores.size(); ++v)
            if (s.scores[v] > out.best.score[v]) out.best.score[v] = s.scores[v], out.best.pair[v] = s;
    };
    // Every candidate made counts as one evaluation, scored or not (an insane
    // or unscorable one scores nothing), so the budget is the same count on
    // every machine.
    const auto scored = [&](std::optional<state>& s) {
        ++out.evaluations;
        const std::uint64_t seed = g();
        if (!s || !sane(*s) || !attempt([&] { return sc.score(*s, seed); })) return false;
        record(*s);
        return true;
    };
    std::optional<state> current;
    bool have = false;
    while (!have && out.evaluations < length) {
        current = attempt([&] { return std::optional<state>(start ? mutate(*start, opt.space, g) : draw_state(opt.space, g)); });
        have = scored(current);
    }
    while (have && out.evaluations < length) {
        const int move = pick_int(g, 0, 9);
        std::vector<std::optional<state>> tries;
        const bool move_delta = move == 4 && !current->grid;
        if (move <= 3 || move_delta) {
            // gradient: theta with step sizes 2^-2, 2^-4, 2^-6, or (free) delta with 2 and 1/2
            // (fewer when the budget ends), all from one gradient at the witness
            if (const auto wg = attempt([&] { return gradients_at_witness(*current); }))
                for (double t : move_delta ? std::vector<double>{2.0, 0.5} : std::vector<double>{0x1p-2, 0x1p-4, 0x1p-6})
                    if (auto n = attempt([&] { return std::optional<state>(gradient_move(*current, *wg, t, move_delta)); })) tries.push_back(std::move(n));
        }
        if (tries.empty()) tries.push_back(attempt([&] { return std::optional<state>(mutate(*current, opt.space, g)); }));
        for (auto& n : tries) {
            if (out.evaluations >= length) break;
            if (scored(n) && n->scores[target] > current->scores[target]) current = std::move(n);
        }
    }
    return out;
}

hunt_candidate to_candidate(const state& s, const hunt_space& sp) {
    return {s.theta, s.quant, sp.region.empty() ? power_of_two(s.D_exponent) : sp.region_D, perturbation_text(s), s.witness, s.error};
}

// Certifies one pair for variant `key`: check_pair's bracket, raised by the hunt's own witness.
struct certification {
    check_result check;
    point_difference witness;  // the better certified witness
    bounds::bound_result bound;
};

certification certify_pair(const hunt_candidate& c, const bounds::variant_key& key, const hunt_options& opt, std::uint64_t seed) {
    check_options co;
    co.D = c.D;
    co.region = opt.space.region;
    co.branch.max_nodes = opt.nodes;
    co.branch.max_seconds = 600;  // a safety net: the node budget decides
    co.search = counted_search(c.theta.input_shape().size(), 0.25, seed);
    certification r;
    r.check = check_pair(c.theta, c.quantized, co);
    r.witness = r.check.witness;
    if (!c.witness.empty()) {
        point_difference own = certify_difference(c.theta, c.quantized, c.witness);
        if (own.lower > r.witness.lower) r.witness = std::move(own);
    }
    if (r.check.upper_computed && r.witness.lower > r.check.upper)
        throw core::unsound_error("hunt: the certified difference " + arith::to_decimal(r.witness.lower, 17) + " at the hunt's witness exceeds check's certified upper " +
                                  arith::to_decimal(r.check.upper, 17));
    bounds::bound_options bo;
    bo.D = c.D;
    r.bound = bounds::find(bounds::compute_bounds(c.theta, c.quantized, bo), key);
    return r;
}

// num / den rounded to a double in direction `rnd` (MPFR_RNDD for a certified
// lower end, MPFR_RNDU for an upper end); 0 over an infinite den, +inf for a
// positive num over a zero den.
double ratio_rounded(const arith::rational& num, const bounds::upper& den, mpfr_rnd_t rnd) {
    if (!std::isfinite(den.to_double())) return 0;
    const arith::rational q = den.to_rational();
    if (q == 0) return num > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    return arith::round_to_double(num / q, rnd);
}

}  // namespace

hunt_result run_hunt(const hunt_options& opt) {
    validate(opt.space);
    if (opt.budget == 0) throw core::invalid_argument("--budget: must be at least 1");
    if (opt.run_length == 0) throw core::invalid_argument("hunt run_length: must be at least 1");
    const std::vector<bounds::variant_key> variants = opt.variants.empty() ? bounds::all_variants() : opt.variants;
    hunt_result r;
    r.space = opt.space;
    r.budget = opt.budget;
    r.seed = opt.seed;
    const std::size_t length = std::min(opt.run_length, opt.budget);
    const std::size_t runs = std::max<std::size_t>(1, opt.budget / length);
    r.runs = runs;
    std::vector<run_output> outputs(runs);
    std::mutex progress_mutex;
    std::size_t done = 0;
    const std::string seed_name = "hunt:" + to_string(opt.space.architecture);
    const auto note = [&] {
        if (!opt.progress) return;
        std::lock_guard lock(progress_mutex);
        opt.progress(++done, runs);
    };
    const std::size_t objectives = 2 * variants.size(), keep = std::max<std::size_t>(opt.keep, 1);
    // Per objective, the best pairs of distinct runs merged so far, best first
    // (ties: the lower run index), at most `keep`. Runs are merged in index
    // order after each phase and then drop their pairs, so memory stays
    // bounded by the runs of one phase.
    struct archived {
        double score;
        state pair;
    };
    std::vector<std::vector<archived>> archive(objectives);
    const auto merge = [&](std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to; ++i) {
            for (std::size_t o = 0; o < objectives; ++o) {
                auto& best = outputs[i].best;
                if (!best.pair[o] || !(best.score[o] > 0)) continue;
                auto& a = archive[o];
                const auto at = std::find_if(a.begin(), a.end(), [&](const archived& e) { return best.score[o] > e.score; });
                if (static_cast<std::size_t>(at - a.begin()) < keep) a.insert(at, {best.score[o], std::move(*best.pair[o])});
                if (a.size() > keep) a.pop_back();
            }
            outputs[i].best.pair.clear();
        }
    };
    // Blocks of 2 O runs (O objectives: each variant on each track): O runs
    // from random pairs of the space (objective k for the k-th), then O runs
    // from the best pairs of all earlier runs for each objective, mutated (the
    // b-th block starts from the (b mod keep)-th best). A run depends only on
    // the runs before it, so a larger budget's runs extend a smaller one's.
    for (std::size_t block = 0; block * 2 * objectives < runs; ++block) {
        const std::size_t first = block * 2 * objectives;
        const std::size_t explore_end = std::min(runs, first + objectives), exploit_end = std::min(runs, first + 2 * objectives);
        core::parallel_for(explore_end - first, opt.threads, [&](std::size_t k, unsigned) {
            outputs[first + k] = hunt_run(opt, variants, k, length, campaign_pair_seed(opt.seed, seed_name, first + k), nullptr);
            note();
        });
        merge(first, explore_end);
        if (exploit_end <= explore_end) break;
        std::vector<const state*> starts(exploit_end - explore_end, nullptr);
        for (std::size_t k = 0; k < starts.size(); ++k)
            if (!archive[k].empty()) starts[k] = &archive[k][block % archive[k].size()].pair;
        core::parallel_for(starts.size(), opt.threads, [&](std::size_t k, unsigned) {
            const std::size_t i = explore_end + k;
            outputs[i] = hunt_run(opt, variants, k, length, campaign_pair_seed(opt.seed, seed_name, i), starts[k]);
            note();
        });
        merge(explore_end, exploit_end);
    }

    // History (cumulative in run order) and the archives.
    std::vector<double> best(objectives, 0.0);
    std::vector<std::vector<hunt_history_point>> history(objectives);
    const std::size_t every = std::max<std::size_t>(1, runs / std::max<std::size_t>(opt.history_points, 1));
    for (std::size_t i = 0; i < runs; ++i) {
        r.evaluations += outputs[i].evaluations;
        for (std::size_t o = 0; o < objectives; ++o) best[o] = std::max(best[o], outputs[i].best.score[o]);
        if ((i + 1) % every == 0 || i + 1 == runs)
            for (std::size_t o = 0; o < objectives; ++o) history[o].push_back({r.evaluations, best[o]});
    }
    r.archive.resize(objectives);
    for (std::size_t o = 0; o < objectives; ++o)
        for (const archived& e : archive[o]) r.archive[o].push_back(to_candidate(e.pair, opt.space));
    for (std::size_t v = 0; v < variants.size(); ++v) {
        hunt_variant_result vr;
        vr.key = variants[v];
        vr.name = bounds::to_string(variants[v]);
        vr.holding.best_score = best[2 * v];
        vr.holding.history = std::move(history[2 * v]);
        vr.any.best_score = best[2 * v + 1];
        vr.any.history = std::move(history[2 * v + 1]);
        r.variants.push_back(std::move(vr));
    }
    if (!opt.certify) return r;

    // Certification: each target's kept pairs, the best certified ratio wins.
    for (std::size_t o = 0; o < objectives; ++o) {
        const std::size_t v = o / 2;
        const bool holding = o % 2 == 0;
        hunt_variant_result& vr = r.variants[v];
        hunt_track& t = holding ? vr.holding : vr.any;
        point_difference witness;  // the winning pair's certified witness (saved with a violation)
        for (std::size_t c = 0; c < r.archive[o].size(); ++c) {
            const hunt_candidate& cand = r.archive[o][c];
            const certification cert = certify_pair(cand, variants[v], opt, campaign_pair_seed(opt.seed, "hunt-certify:" + vr.name, o * 64 + c));
            if (holding && !cert.bound.hypotheses_hold())
                throw core::unsound_error("hunt: the pair kept for " + vr.name + " on the holding track fails a hypothesis when certified");
            const double ratio = ratio_rounded(cert.witness.lower, cert.bound.value, MPFR_RNDD);
            if (t.certified && ratio <= t.certified_ratio) continue;
            t.certified = true;
            t.certified_ratio = ratio;
            t.ratio_upper = cert.check.upper_computed ? ratio_rounded(cert.check.upper, cert.bound.value_lower, MPFR_RNDU) : std::numeric_limits<double>::infinity();
            t.lower = arith::round_to_double(cert.witness.lower, MPFR_RNDD);
            t.upper = cert.check.upper_computed ? arith::round_to_double(cert.check.upper, MPFR_RNDU) : std::numeric_limits<double>::infinity();
            t.bound = cert.bound.value.to_double();
            t.result = cert.witness.lower > cert.bound.value.to_rational() ? verdict::violated
                       : cert.check.upper_computed && cert.check.upper <= cert.bound.value_lower.to_rational() ? verdict::holds
                                                                                                            : verdict::undecided;
            t.hypotheses_hold = cert.bound.hypotheses_hold();
            t.failed_hypotheses.clear();
            for (const auto& h : cert.bound.hypotheses)
                if (!h.holds) t.failed_hypotheses.push_back(h.name);
            t.size = size_of(cand.theta);
            t.perturbation = cand.perturbation;
            t.D = static_cast<double>(cand.D);
            t.witness = cert.witness.x;
            t.pair = cand;
            t.pair->witness = cert.witness.x;
            witness = cert.witness;
        }
        if (t.result == verdict::violated && !opt.out.empty()) {
            const hunt_candidate& p = *t.pair;
            shrink_options so;
            so.max_candidates = opt.shrink_candidates;
            so.seed = opt.seed;
            const saved_counterexample s = save_shrunk_counterexample(
                opt.out / ("hunt-" + to_string(opt.space.architecture) + "-" + case_folder_name(vr.name) + (holding ? "-holding" : "-any")), p.theta,
                p.quantized, p.D, witness, vr.name, so,
                "qbound hunt --variant " + vr.name + " --space " + to_string(opt.space.architecture) + ", seed " + std::to_string(opt.seed) + ", budget " +
                    std::to_string(opt.budget) + ", " + (holding ? "hypotheses holding" : "any pair") + " (" + p.perturbation + ")");
            t.saved = s.folder;
            t.saved_size = s.shrunk;
        }
    }
    return r;
}

frontier_result hunt_frontier(const hunt_options& opt, std::size_t budget_per_cell) {
    validate(opt.space);
    const std::vector<bounds::variant_key> variants = opt.variants.empty() ? bounds::all_variants() : opt.variants;
    frontier_result f;
    f.budget_per_cell = budget_per_cell;
    for (const auto& k : variants) f.variants.push_back(bounds::to_string(k));
    for (std::size_t d = opt.space.depth.lo; d <= opt.space.depth.hi; ++d) f.depths.push_back(d);
    for (std::size_t w = 1; w <= opt.space.width.hi; w *= 2)
        if (w >= opt.space.width.lo) f.widths.push_back(w);
    if (f.widths.empty() || f.widths.back() != opt.space.width.hi) f.widths.push_back(opt.space.width.hi);
    for (std::size_t d : f.depths)
        for (std::size_t w : f.widths) {
            hunt_options o = opt;
            o.space.depth = {d, d};
            o.space.width = {w, w};
            o.budget = budget_per_cell;
            o.certify = false;
            o.keep = 1;
            o.progress = {};
            o.seed = campaign_pair_seed(opt.seed, "frontier", d * 1000 + w);
            const hunt_result r = run_hunt(o);
            frontier_cell cell{d, w, std::vector<double>(variants.size(), 0.0)};
            for (std::size_t v = 0; v < variants.size(); ++v) {
                if (r.archive[2 * v].empty()) continue;  // the holding track: where the theorem claims the bound
                const hunt_candidate& c = r.archive[2 * v].front();
                const point_difference pd = certify_difference(c.theta, c.quantized, c.witness);
                bounds::bound_options bo;
                bo.D = c.D;
                cell.certified_ratio[v] = ratio_rounded(pd.lower, bounds::find(bounds::compute_bounds(c.theta, c.quantized, bo), variants[v]).value, MPFR_RNDD);
            }
            f.cells.push_back(std::move(cell));
        }
    return f;
}

namespace {

nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json space_json(const hunt_space& s) {
    return {{"architecture", to_string(s.architecture)},
            {"depth", {s.depth.lo, s.depth.hi}},
            {"width", {s.width.lo, s.width.hi}},
            {"inputs", {s.inputs.lo, s.inputs.hi}},
            {"outputs", s.outputs},
            {"perturbation", to_string(s.perturbation)},
            {"initializer", s.initializer},
            {"D_exponents", {s.min_D_exponent, s.max_D_exponent}},
            {"region", s.region.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.region_described)}};
}

nlohmann::json track_json(const hunt_track& t) {
    nlohmann::json e{{"best_score", finite_or_null(t.best_score)}, {"certified", t.certified}};
    nlohmann::json h = nlohmann::json::array();
    for (const auto& p : t.history) h.push_back({{"evaluations", p.evaluations}, {"best_score", finite_or_null(p.best_score)}});
    e["history"] = h;
    if (!t.certified) return e;
    e["certified_ratio"] = finite_or_null(t.certified_ratio);
    e["ratio_upper"] = finite_or_null(t.ratio_upper);
    e["lower"] = finite_or_null(t.lower);
    e["upper"] = finite_or_null(t.upper);
    e["bound"] = finite_or_null(t.bound);
    e["verdict"] = to_string(t.result);
    e["hypotheses_hold"] = t.hypotheses_hold;
    e["failed_hypotheses"] = t.failed_hypotheses;
    e["size"] = {{"layers", t.size.layers}, {"inputs", t.size.inputs}, {"hidden_units", t.size.hidden_units}, {"parameters", t.size.parameters}};
    e["perturbation"] = t.perturbation;
    e["D"] = t.D;
    e["witness"] = t.witness;
    if (!t.saved.empty()) e["saved"] = t.saved;
    return e;
}

}  // namespace

nlohmann::json hunt_to_json(const hunt_result& r) {
    nlohmann::json j;
    j["space"] = space_json(r.space);
    j["budget"] = r.budget;
    j["evaluations"] = r.evaluations;
    j["runs"] = r.runs;
    j["seed"] = r.seed;
    j["theorem_violated"] = r.theorem_violated();
    j["variants"] = nlohmann::json::array();
    for (const auto& v : r.variants) j["variants"].push_back({{"variant", v.name}, {"holding", track_json(v.holding)}, {"any", track_json(v.any)}});
    return j;
}

nlohmann::json frontier_to_json(const frontier_result& f) {
    nlohmann::json j{{"budget_per_cell", f.budget_per_cell}, {"variants", f.variants}, {"depths", f.depths}, {"widths", f.widths}};
    j["cells"] = nlohmann::json::array();
    for (const auto& c : f.cells) {
        nlohmann::json r = nlohmann::json::array();
        for (double v : c.certified_ratio) r.push_back(finite_or_null(v));
        j["cells"].push_back({{"depth", c.depth}, {"width", c.width}, {"certified_ratio", r}});
    }
    return j;
}

}  // namespace qbound::verify
