// Proof step 8 (THEOREMS.md section 4, step 8): quantizer errors.
//
// Statement. 8. Quantizer errors: floor and AdaRound move a weight by less
// than eta, nearest by at most eta/2, and every quantized weight lies on the
// grid.
// In full, for every weight (and quantized bias) w with step eta > 0 and
// quantized value w' = Q(w):
//   grid        w' = k * eta exactly, for the integer code k the quantizer
//               stores (and the network's double weight is that value);
//   floor       0 <= w - w' < eta;
//   nearest     |w - w'| <= eta / 2, and at a tie (|w - w'| = eta / 2) the
//               code k is even (ties to even);
//   stochastic  |w - w'| < eta;
//   AdaRound    |w - w'| < eta.
// Proof sketch: with w / eta = F + f exactly (F integer, 0 <= f < 1), floor
// takes k = F (error f eta), nearest the closer of F, F + 1 (error at most
// eta / 2), stochastic and AdaRound one of floor(w/eta), ceil(w/eta) (error
// f eta or (1 - f) eta, both < eta; on the grid f = 0 and ceil = floor).
// The grid is exact because eta is chosen with few enough significant bits
// (quant/grid.hpp).
//
// Checked exactly in rationals on random and adversarial weights: values on
// grid points and half-way points and one ulp either side of both, huge
// (1e300) and tiny (subnormal) magnitudes, negative values, signed zeros,
// all-zero channels, per-channel ranges 2^100 apart; bit widths 1..32 and
// explicit steps (few-bit, many-bit that must be snapped, subnormal, huge);
// per tensor and per channel; weights and biases; dense and conv layers.
// AdaRound runs there with a short optimisation (the claims hold for any);
// its full optimisation is checked on He-initialised MLPs and CNNs.
// Negative controls: floor error < eta/2, floor error < eta (1 - 2^-40),
// nearest error < eta/2 strictly, ties away from zero, stochastic and
// AdaRound error <= eta/2, AdaRound (full optimisation on He-initialised
// networks) error <= 3 eta/4, and a naive grid (nearest with the unsnapped
// double step max|w| / q_max) must all be refuted.
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/grid.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"

#include <cfloat>
#include <cstring>
#include <optional>
#include <cmath>
#include <functional>
#include <limits>
#include <span>

using namespace qbound;
using arith::rational;

namespace {

// The claim on one quantized entry: original w, error w - w', step, code.
using entry_claim = std::function<bool(const rational& w, const rational& error, const rational& eta, std::int64_t code)>;

struct quant_case {
    net::network network;
    quant::options opt;
    std::string family;
};

double unit(testing::operand_generator& gen) { return static_cast<double>(gen.bits() >> 11) * 0x1p-53; }  // [0, 1)

// A positive magnitude of the case's family.
double magnitude(testing::operand_generator& gen, int family) {
    switch (family) {
        case 1: return 1e300 * (0.5 + unit(gen) / 2);                                   // huge
        case 2: return std::fabs(gen.subnormal());                                     // tiny (subnormal)
        default: return std::ldexp(1 + unit(gen), static_cast<int>(gen.uniform_int(-20, 20)));  // moderate
    }
}

// One adversarial entry relative to the grid of step eta: a grid point, a
// half-way point, one ulp either side of either, a random value or a signed
// zero; |entry| <= bound.
double adversarial_entry(testing::operand_generator& gen, double eta, std::int64_t max_k, double bound, bool negative) {
    const std::int64_t k = gen.uniform_int(-max_k, max_k);
    double w = 0;
    switch (gen.uniform_int(0, 6)) {
        case 0: w = arith::nearest_double(rational(k) * arith::to_rational(eta)); break;                      // grid
        case 1: w = arith::nearest_double(rational(2 * k + 1) * arith::to_rational(eta) / 2); break;          // half-way
        case 2: w = std::nextafter(arith::nearest_double(rational(k) * arith::to_rational(eta)), gen.chance(0.5) ? HUGE_VAL : -HUGE_VAL); break;
        case 3: w = std::nextafter(arith::nearest_double(rational(2 * k + 1) * arith::to_rational(eta) / 2), gen.chance(0.5) ? HUGE_VAL : -HUGE_VAL); break;
        case 4: w = gen.chance(0.5) ? 0.0 : -0.0; break;                                                        // signed zero
        default: w = bound * (2 * unit(gen) - 1); break;                                                        // random
    }
    if (!(std::fabs(w) <= bound)) w = std::copysign(bound, w);
    if (negative && w > 0) w = -w;
    return w;
}

// Fills one tensor (weights or biases of `channels` output channels).
void fill_tensor(testing::operand_generator& gen, std::span<double> values, std::size_t channels, const quant::options& opt,
                 int magnitude_family, bool channels_apart, bool negative) {
    const std::size_t per_channel = values.size() / channels;
    const std::size_t groups = opt.per_channel ? channels : 1, per_group = values.size() / groups;
    std::vector<double> channel_max(channels);
    const double base = magnitude(gen, magnitude_family);
    for (std::size_t c = 0; c < channels; ++c) {
        const int shift = channels_apart ? static_cast<int>(100 * (c % 3)) * (magnitude_family == 1 ? -1 : 1) : 0;
        channel_max[c] = std::ldexp(gen.chance(0.5) ? base : magnitude(gen, magnitude_family), shift);
        if (gen.chance(0.1)) channel_max[c] = 0;  // an all-zero channel
    }
    for (std::size_t g = 0; g < groups; ++g) {
        double group_max = 0;
        for (std::size_t i = g * per_group; i < (g + 1) * per_group; ++i) group_max = std::max(group_max, channel_max[i / per_channel]);
        // The step the quantizer will use for a group whose largest entry is group_max.
        double eta = 1;
        std::int64_t max_k = 1;
        if (opt.bits) {
            eta = quant::step_for_bits(group_max, *opt.bits);
            max_k = quant::max_code_for_bits(*opt.bits);
        } else {
            eta = *opt.eta;
            max_k = std::int64_t{1} << 12;
        }
        for (std::size_t i = g * per_group; i < (g + 1) * per_group; ++i) {
            const double bound = opt.bits ? channel_max[i / per_channel] : eta * static_cast<double>(max_k);
            values[i] = bound == 0 ? (gen.chance(0.5) ? 0.0 : -0.0) : adversarial_entry(gen, eta, max_k, bound, negative);
        }
        if (opt.bits && group_max > 0) {  // make the group's largest magnitude exactly group_max
            for (std::size_t i = g * per_group; i < (g + 1) * per_group; ++i) {
                if (channel_max[i / per_channel] == group_max) {
                    values[i] = negative || gen.chance(0.5) ? -group_max : group_max;
                    break;
                }
            }
        }
    }
}

net::network draw_network(testing::operand_generator& gen) {
    switch (gen.uniform_int(0, 2)) {
        case 0:
            return net::make_mlp({static_cast<std::size_t>(gen.uniform_int(1, 8)), static_cast<std::size_t>(gen.uniform_int(1, 6))});
        case 1:
            return net::make_mlp({static_cast<std::size_t>(gen.uniform_int(1, 5)), static_cast<std::size_t>(gen.uniform_int(1, 5)),
                                  static_cast<std::size_t>(gen.uniform_int(1, 4))});
        default: {
            const std::size_t groups = gen.chance(0.3) ? 2 : 1;
            net::network n("conv", {2 * groups, 4, 4});
            const std::size_t x = n.conv2d(0, groups * static_cast<std::size_t>(gen.uniform_int(1, 3)), {3, 3, 1, 1, 1, groups}, "conv");
            n.activation(x, net::op::relu);
            return n;
        }
    }
}

quant_case draw_case(testing::operand_generator& gen, quant::method kind) {
    quant_case c{draw_network(gen), {}, {}};
    quant::options& opt = c.opt;
    opt.kind = kind;
    opt.per_channel = gen.chance(0.5);
    opt.quantize_biases = gen.chance(0.5);
    opt.seed = gen.bits();
    opt.calib_samples = 4;           // AdaRound: the claims hold for any optimisation,
    opt.adaround.iterations = 20;    // so a short one keeps the property fast
    const int magnitude_family = static_cast<int>(gen.uniform_int(0, 2));
    const bool negative = gen.chance(0.2), channels_apart = gen.chance(0.3);
    if (gen.chance(0.6)) {
        constexpr unsigned common[] = {1, 2, 3, 4, 8, 16, 31, 32};
        opt.bits = gen.chance(0.5) ? common[gen.uniform_int(0, 7)] : static_cast<unsigned>(gen.uniform_int(1, 32));
        c.family = "bits " + std::to_string(*opt.bits);
    } else {
        // few-bit (exact grid and half-way points), many-bit (snapped), subnormal, huge
        const auto kind_of_step = gen.uniform_int(0, 3);
        const double m = static_cast<double>(gen.uniform_int(1, 15));
        if (kind_of_step == 0) opt.eta = std::ldexp(m, static_cast<int>(gen.uniform_int(-30, 10)));
        if (kind_of_step == 1) opt.eta = std::ldexp(1 + unit(gen), static_cast<int>(gen.uniform_int(-30, 10)));
        if (kind_of_step == 2) opt.eta = std::ldexp(m, static_cast<int>(gen.uniform_int(-1070, -1040)));
        if (kind_of_step == 3) opt.eta = std::ldexp(m, static_cast<int>(gen.uniform_int(880, 900)));
        const char* names[] = {"few-bit eta", "many-bit eta", "subnormal eta", "huge eta"};
        c.family = names[kind_of_step];
    }
    if (opt.bits) c.family += magnitude_family == 1 ? ", huge" : magnitude_family == 2 ? ", subnormal" : ", moderate";
    if (negative) c.family += ", negative";
    if (channels_apart) c.family += ", channels 2^100 apart";
    c.family += opt.per_channel ? ", per channel" : ", per tensor";
    if (opt.quantize_biases) c.family += ", biases quantized";
    for (std::size_t i : c.network.affine_nodes()) {
        const std::size_t channels = c.network.at(i).out_features;
        fill_tensor(gen, c.network.weights(i), channels, opt, magnitude_family, channels_apart, negative);
        fill_tensor(gen, c.network.bias(i), channels, opt, magnitude_family, channels_apart, negative);
    }
    return c;
}

std::string describe_entry(const std::string& what, std::size_t node, std::size_t i, double w, double wq, double eta, std::int64_t code) {
    return what + " " + std::to_string(i) + " of node " + std::to_string(node) + ": w = " + testing::describe(w) +
           ", Q(w) = " + testing::describe(wq) + ", eta = " + testing::describe(eta) + ", code " + std::to_string(code);
}

// Checks every entry of one case; returns the first failure, if any.
std::optional<std::string> case_failure(const quant_case& c, const quant::result& r, const entry_claim& claim) {
    const std::int64_t q_max = c.opt.bits ? quant::max_code_for_bits(*c.opt.bits) : std::numeric_limits<std::int64_t>::max();
    auto check = [&](const std::string& what, std::size_t node, std::size_t i, double w, double wq, double eta,
                     std::int64_t code) -> std::optional<std::string> {
        const std::string entry = describe_entry(what, node, i, w, wq, eta, code);
        if (!(eta > 0)) return entry + ": step not positive";
        const rational eta_q = arith::to_rational(eta), wq_q = arith::to_rational(wq);
        if (wq_q != rational(code) * eta_q) return entry + ": not on the grid (Q(w) != code * eta)";
        if (code > q_max || code < -q_max) return entry + ": code outside [-q_max, q_max]";
        const rational w_q = arith::to_rational(w);
        if (!claim(w_q, w_q - wq_q, eta_q, code))
            return entry + ": error w - Q(w) = " + arith::to_decimal(w_q - wq_q) + " (" + arith::to_decimal((w_q - wq_q) / eta_q) + " eta)";
        return std::nullopt;
    };
    for (const auto& q : r.codes) {
        const net::node& before = c.network.at(q.node);
        const net::node& after = r.network.at(q.node);
        for (std::size_t i = 0; i < before.weight.size(); ++i)
            if (auto f = check("weight", q.node, i, before.weight[i], after.weight[i], q.weight_step(i), q.codes[i])) return f;
        for (std::size_t o = 0; o < before.bias.size(); ++o) {
            if (q.bias_codes.empty()) {
                if (std::memcmp(&before.bias[o], &after.bias[o], sizeof(double)) != 0) return "bias changed although kept exact";
            } else if (auto f = check("bias", q.node, o, before.bias[o], after.bias[o], q.bias_step(o), q.bias_codes[o])) {
                return f;
            }
        }
    }
    return std::nullopt;
}

testing::property_result check_quantizer(quant::method kind, const std::string& claim_name, const entry_claim& claim,
                                              std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result(std::string(quant::to_string(kind)) + ": " + claim_name, "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t i = 0; i < cases; ++i) {
        const quant_case c = draw_case(gen, kind);
        const quant::result r = quant::quantize(c.network, c.opt);
        ++res.cases;
        if (const auto failure = case_failure(c, r, claim); failure && res.failures++ == 0)
            res.counterexample = "seed " + std::to_string(seed) + ", case " + std::to_string(i) + " (" + c.family + "): " + *failure;
    }
    return res;
}

// AdaRound with its full optimisation (default knobs, 64 sampled
// calibration inputs) on He-initialised MLPs and CNNs, where it really
// departs from nearest rounding.
testing::property_result check_adaround_full(const std::string& claim_name, const entry_claim& claim, std::size_t networks,
                                                  std::uint64_t seed) {
    auto res = testing::start_result("adaround (full optimisation): " + claim_name, "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t i = 0; i < networks; ++i) {
        quant_case c{i % 2 == 0 ? net::make_mlp({8, 32, 32, 4})
                                : net::make_cnn({{1, 8, 8}, {{4, {3, 3, 1, 1, 1, 1}, true}, {8, {3, 3, 1, 1, 1, 1}, false}}, true, {10}}),
                     {}, {}};
        const std::uint64_t init_seed = gen.bits();
        net::init_he_normal(c.network, init_seed, 0.1);
        c.opt.kind = quant::method::adaround;
        c.opt.bits = static_cast<unsigned>(gen.uniform_int(2, 8));
        c.opt.per_channel = gen.chance(0.5);
        c.opt.quantize_biases = gen.chance(0.5);
        c.opt.seed = gen.bits();
        c.family = c.network.name() + " He-normal seed " + std::to_string(init_seed) + ", bits " + std::to_string(*c.opt.bits);
        const quant::result r = quant::quantize(c.network, c.opt);
        ++res.cases;
        if (const auto failure = case_failure(c, r, claim); failure && res.failures++ == 0)
            res.counterexample = "seed " + std::to_string(seed) + ", case " + std::to_string(i) + " (" + c.family + "): " + *failure;
    }
    return res;
}

// The claims of step 8 and their weakened forms.
const entry_claim floor_claim = [](const rational&, const rational& e, const rational& eta, std::int64_t) { return e >= 0 && e < eta; };
const entry_claim nearest_claim = [](const rational&, const rational& e, const rational& eta, std::int64_t code) {
    const rational a = arith::abs(e);
    return a <= eta / 2 && (a != eta / 2 || code % 2 == 0);
};
const entry_claim below_eta = [](const rational&, const rational& e, const rational& eta, std::int64_t) { return arith::abs(e) < eta; };
const entry_claim within_half = [](const rational&, const rational& e, const rational& eta, std::int64_t) { return arith::abs(e) <= eta / 2; };
const entry_claim below_half = [](const rational&, const rational& e, const rational& eta, std::int64_t) { return arith::abs(e) < eta / 2; };

std::size_t cases_for(quant::method kind) {
    return qbound::test::property_cases(kind == quant::method::adaround ? 600 : 3000);
}

}  // namespace

TEST_CASE("step 8: floor puts every weight on the grid with 0 <= w - Q(w) < eta", "[proofs][step8]") {
    QBOUND_REQUIRE_PROPERTY(check_quantizer(quant::method::floor, "grid, 0 <= w - Q(w) < eta", floor_claim,
                                            cases_for(quant::method::floor), qbound::test::property_seed()));
}

TEST_CASE("step 8: nearest puts every weight on the grid with |w - Q(w)| <= eta/2, ties to even", "[proofs][step8]") {
    QBOUND_REQUIRE_PROPERTY(check_quantizer(quant::method::nearest, "grid, |w - Q(w)| <= eta/2, ties to even", nearest_claim,
                                            cases_for(quant::method::nearest), qbound::test::property_seed()));
}

TEST_CASE("step 8: stochastic rounding puts every weight on the grid with |w - Q(w)| < eta", "[proofs][step8]") {
    QBOUND_REQUIRE_PROPERTY(check_quantizer(quant::method::stochastic, "grid, |w - Q(w)| < eta", below_eta,
                                            cases_for(quant::method::stochastic), qbound::test::property_seed()));
}

TEST_CASE("step 8: AdaRound puts every weight on the grid with |w - Q(w)| < eta", "[proofs][step8]") {
    QBOUND_REQUIRE_PROPERTY(check_quantizer(quant::method::adaround, "grid, |w - Q(w)| < eta", below_eta,
                                            cases_for(quant::method::adaround), qbound::test::property_seed()));
}

TEST_CASE("step 8: AdaRound with its full optimisation keeps |w - Q(w)| < eta on trained-like networks", "[proofs][step8]") {
    QBOUND_REQUIRE_PROPERTY(check_adaround_full("grid, |w - Q(w)| < eta", below_eta, 4, qbound::test::property_seed()));
}

TEST_CASE("step 8 negative controls: weakened error claims are refuted", "[proofs][step8][negative]") {
    const auto seed = qbound::test::property_seed();
    SECTION("floor error < eta/2") {
        QBOUND_REQUIRE_REFUTED(check_quantizer(quant::method::floor, "w - Q(w) < eta/2", below_half, 500, seed));
    }
    SECTION("floor error < eta (1 - 2^-40): the bound eta is tight") {
        const rational almost = rational(1) - rational(1) / (arith::integer(1) << 40);
        QBOUND_REQUIRE_REFUTED(check_quantizer(quant::method::floor, "w - Q(w) < eta (1 - 2^-40)",
                                               [&](const rational&, const rational& e, const rational& eta, std::int64_t) { return e < eta * almost; },
                                               500, seed));
    }
    SECTION("nearest error < eta/2 strictly: refuted by ties") {
        QBOUND_REQUIRE_REFUTED(check_quantizer(quant::method::nearest, "|w - Q(w)| < eta/2", below_half, 500, seed));
    }
    SECTION("nearest ties away from zero: refuted by ties to even") {
        QBOUND_REQUIRE_REFUTED(check_quantizer(quant::method::nearest, "at a tie |Q(w)| > |w|",
                                               [](const rational& w, const rational& e, const rational& eta, std::int64_t) {
                                                   return arith::abs(e) != eta / 2 || arith::abs(w - e) > arith::abs(w);
                                               },
                                               500, seed));
    }
    SECTION("stochastic error <= eta/2") {
        QBOUND_REQUIRE_REFUTED(check_quantizer(quant::method::stochastic, "|w - Q(w)| <= eta/2", within_half, 500, seed));
    }
    SECTION("AdaRound error <= eta/2 (it is not nearest rounding)") {
        QBOUND_REQUIRE_REFUTED(check_quantizer(quant::method::adaround, "|w - Q(w)| <= eta/2", within_half, 200, seed));
    }
    SECTION("AdaRound error <= 3 eta/4: its full optimisation goes well past the half-way point") {
        QBOUND_REQUIRE_REFUTED(check_adaround_full("|w - Q(w)| <= 3 eta/4",
                                                   [](const rational&, const rational& e, const rational& eta, std::int64_t) {
                                                       return 4 * arith::abs(e) <= 3 * eta;
                                                   },
                                                   2, seed));
    }
}

TEST_CASE("step 8 negative control: a naive grid (unsnapped step max|w| / q_max in double) is refuted", "[proofs][step8][negative]") {
    // Q(w) = round(w / eta0) * eta0 in double with eta0 = max|w| / q_max rounded to nearest:
    // the products are rounded, so "Q(w) = code * eta0 exactly" fails.
    const auto seed = qbound::test::property_seed();
    auto res = testing::start_result("naive grid: Q(w) = code * eta0 exactly", "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t i = 0; i < 2000; ++i) {
        const auto bits = static_cast<unsigned>(gen.uniform_int(2, 32));
        const double q_max = static_cast<double>(quant::max_code_for_bits(bits));
        std::vector<double> w(16);
        for (auto& v : w) v = gen.moderate();
        double max_abs = 0;
        for (double v : w) max_abs = std::max(max_abs, std::fabs(v));
        const double eta0 = max_abs / q_max;
        for (double v : w) {
            const double code = std::nearbyint(v / eta0), q = code * eta0;
            ++res.cases;
            if (arith::to_rational(q) != rational(static_cast<std::int64_t>(code)) * arith::to_rational(eta0) && res.failures++ == 0)
                res.counterexample = "seed " + std::to_string(seed) + ", case " + std::to_string(i) + ": w = " + testing::describe(v) +
                                     ", eta0 = " + testing::describe(eta0) + ", code " + std::to_string(static_cast<std::int64_t>(code)) +
                                     ": code * eta0 is not a double";
        }
    }
    QBOUND_REQUIRE_REFUTED(res);
}
