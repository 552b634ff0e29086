// The r_mean properties of bound A (THEOREMS.md section 3, "A"):
//
//   M_l = max_{1 <= i <= l-1} prod_{j=i..L, j != l} r_j  (l >= 2),  M_1 = prod_{j=2..L} r_j,
//   r_mean^(L-1) = max_l M_l.
//
// (P1) If every r_j >= 1 then r_mean^(L-1) = prod_j r_j / min_j r_j.
// (P2) r_mean <= max_j r_j whenever max_j r_j >= 1.
// (P3) When all r_j < 1 the bound does not shrink like r^(L-1): M_L >= r_{L-1},
//      so r_mean^(L-1) >= r_{L-1}; with all r_j = r < 1 and L >= 3 that is
//      > r^(L-1). (The stronger "r_mean^(L-1) > (max_j r_j)^(L-1)" is false:
//      r = (0.22, 0.14, 0.5) has r_mean^2 = 0.14 < 0.25; this file's first
//      version claimed it and was refuted by its own generator.)
// The l = 1 term: the published "max over i = 1..l-1" is empty for l = 1;
// the proof needs M_1 = prod_{j>=2} r_j. Reading the empty max as 0 drops
// layer 1 from the bound, which a tight construction refutes: constant
// positive matrices, only layer 1 perturbed, x = D 1, where the output moves
// by exactly max(D,1) N_0 M_1 Delta_1 (D >= 1).
//
// Checked exactly in rationals on r vectors drawn from the layer norms of
// random hostile MLPs (proofs/mlp_support.hpp) and directly (all >= 1, all
// < 1, mixed, one dominant); the library's multipliers (bounds.hpp, computed
// at 4096 bits: exact here) must equal these definitions. Negative
// controls: P1 and P2 without their hypotheses, and the "r^(L-1)" reading of
// P3, are refuted; so is the l = 1 term read as 0.
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/forward.hpp"

#include "mlp_support.hpp"

#include <algorithm>

using namespace qbound;
using namespace qbound::test;

namespace {

rational product(const std::vector<rational>& r, std::size_t a, std::size_t b) {  // r[1..L]
    rational acc = 1;
    for (std::size_t k = a; k <= b; ++k) acc *= r[k];
    return acc;
}

std::vector<rational> multipliers(const std::vector<rational>& r) {
    const std::size_t L = r.size() - 1;
    std::vector<rational> M(L + 1, 0);
    for (std::size_t l = 1; l <= L; ++l) {
        if (l == 1) {
            M[1] = product(r, 2, L);
            continue;
        }
        for (std::size_t i = 1; i <= l - 1; ++i) M[l] = arith::max(M[l], product(r, i, l - 1) * product(r, l + 1, L));
    }
    return M;
}

rational rational_power(const rational& x, std::size_t n) {
    rational acc = 1;
    for (std::size_t i = 0; i < n; ++i) acc *= x;
    return acc;
}

enum class variant { all_at_least_one, any, all_below_one };

std::vector<rational> draw_r(testing::operand_generator& gen, variant v, std::string& family) {
    const auto L = static_cast<std::size_t>(gen.uniform_int(1, 7));
    std::vector<rational> r(L + 1, 0);
    const bool dominant = gen.chance(0.3);
    family = std::string(v == variant::all_at_least_one ? "all r >= 1" : v == variant::all_below_one ? "all r < 1" : "mixed") +
             (dominant ? ", one dominant layer" : "");
    for (std::size_t l = 1; l <= L; ++l) {
        const rational u(gen.uniform_int(1, 64), 16);  // (0, 4]
        r[l] = v == variant::all_at_least_one ? 1 + u : v == variant::all_below_one ? u / 8 : u;  // dyadic: exact as a double
    }
    if (dominant) r[static_cast<std::size_t>(gen.uniform_int(1, static_cast<std::int64_t>(L)))] *= v == variant::all_below_one ? 1 : 1000;
    if (!dominant && gen.chance(0.3)) {
        family += ", all equal";
        for (std::size_t l = 2; l <= L; ++l) r[l] = r[1];
    }
    return r;
}

// The library's A multipliers for an MLP whose layer norms are r (layers
// scaled by exact powers of two would not hit arbitrary r, so build
// 1 x 1 layers with weight r_l).
std::vector<rational> library_multipliers(const std::vector<rational>& r) {
    const std::size_t L = r.size() - 1;
    net::network theta = net::make_mlp(std::vector<std::size_t>(L + 1, 1));
    std::size_t l = 0;
    for (std::size_t i : theta.affine_nodes()) theta.weights(i)[0] = static_cast<double>(r[++l]);  // r has <= 16 significant bits: exact
    bounds::bound_options opt;
    opt.precision = 4096;
    std::vector<rational> out(L + 1, 0);
    const auto all = bounds::compute_bounds(theta, theta, opt);
    const auto& b = bounds::find(all, {bounds::bound_family::A_per_layer, bounds::r_source::theta});
    for (std::size_t k = 0; k < b.terms.size(); ++k) out[k + 1] = b.terms[k].multiplier.to_rational();
    return out;
}

enum class property { P1, P2, P3, P1_without_hypothesis, P2_without_hypothesis, P3_power_reading };

testing::property_result check_rmean(property p, std::size_t cases, std::uint64_t seed) {
    const char* names[] = {"P1", "P2", "P3", "P1 without r >= 1", "P2 without max r >= 1", "r_mean^(L-1) <= r^(L-1) for r < 1"};
    auto res = testing::start_result(names[static_cast<int>(p)], "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        const variant v = p == property::P1 ? variant::all_at_least_one
                          : p == property::P3 || p == property::P3_power_reading || p == property::P2_without_hypothesis
                              ? variant::all_below_one
                              : variant::any;
        std::string family;
        const auto r = draw_r(gen, v, family);
        const std::size_t L = r.size() - 1;
        const auto M = multipliers(r);
        rational max_M = 0, max_r = 0, min_r = r[1];
        for (std::size_t l = 1; l <= L; ++l) {
            max_M = arith::max(max_M, M[l]);
            max_r = arith::max(max_r, r[l]);
            min_r = r[l] < min_r ? r[l] : min_r;
        }
        bool ok = true;
        switch (p) {
        case property::P1:
        case property::P1_without_hypothesis: ok = max_M == product(r, 1, L) / min_r; break;
        case property::P2:
            if (max_r < 1) continue;  // outside the hypothesis
            ok = max_M <= rational_power(max_r, L - 1);
            break;
        case property::P2_without_hypothesis: ok = max_M <= rational_power(max_r, L - 1); break;
        case property::P3: {
            const bool all_equal = std::all_of(r.begin() + 1, r.end(), [&](const rational& x) { return x == r[1]; });
            ok = L < 2 || (M[L] >= r[L - 1] && max_M >= r[L - 1] && (!all_equal || L < 3 || max_M > rational_power(r[1], L - 1)));
            break;
        }
        case property::P3_power_reading: ok = L < 3 || max_M <= rational_power(max_r, L - 1); break;
        }
        // The library computes the same multipliers.
        if (ok && (p == property::P1 || p == property::P3) && library_multipliers(r) != M) ok = false;
        ++res.cases;
        if (!ok && res.failures++ == 0) {
            std::string rs;
            for (std::size_t l = 1; l <= L; ++l) rs += (l > 1 ? ", " : "") + arith::to_decimal(r[l], 6);
            res.counterexample = testing::failure_header(seed, c, family) + "r = (" + rs + "), max_l M_l = " + arith::to_decimal(max_M);
        }
    }
    return res;
}

// The l = 1 term: constant positive layers, only layer 1 perturbed by delta.
testing::property_result check_first_term(bool read_as_zero, std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result(read_as_zero ? "A with the l = 1 term read as 0" : "A with M_1 = prod_{j>=2} r_j",
                                          "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t c = 0; c < cases; ++c) {
        std::vector<std::size_t> widths;
        const auto L = static_cast<std::size_t>(gen.uniform_int(1, 5));
        for (std::size_t l = 0; l <= L; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 5)));
        net::network theta = net::make_mlp(widths);
        for (std::size_t i = 0; i < theta.nodes().size(); ++i) {
            const double value = std::ldexp(static_cast<double>(gen.uniform_int(1, 8)), -2);
            if (theta.at(i).is_affine())
                for (double& w : theta.weights(i)) w = value;
        }
        net::network quant = theta;
        const double delta = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-8, -3)));
        for (double& w : quant.weights(1)) w += delta;
        const rational D(gen.uniform_int(1, 12), gen.chance(0.5) ? 1 : 2);
        const rational Dm = arith::max(D, rational(1));
        bounds::bound_options opt;
        opt.D = Dm;  // D >= 1: the construction is tight there
        opt.precision = 4096;
        const auto all = bounds::compute_bounds(theta, quant, opt);
        const auto& b = bounds::find(all, {bounds::bound_family::A_per_layer, bounds::r_source::max});
        rational bound = b.value.to_rational();
        if (read_as_zero) bound -= b.terms.at(0).term.to_rational();
        const std::vector<rational> x(widths[0], Dm);
        const auto y = net::forward<rational>(theta, x), yq = net::forward<rational>(quant, x);
        std::vector<rational> diff(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) diff[i] = yq[i] - y[i];
        ++res.cases;
        if (inf_norm(diff) > bound && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, c, "constant positive layers") + "L = " + std::to_string(L) +
                                 ", change at x = D 1: " + arith::to_decimal(inf_norm(diff)) + " > bound " + arith::to_decimal(bound);
    }
    return res;
}

}  // namespace

TEST_CASE("r_mean P1: all r_j >= 1 gives prod / min", "[proofs][rmean]") {
    QBOUND_REQUIRE_PROPERTY(check_rmean(property::P1, property_cases(2000), property_seed()));
}

TEST_CASE("r_mean P2: r_mean <= max r_j when that max is >= 1", "[proofs][rmean]") {
    QBOUND_REQUIRE_PROPERTY(check_rmean(property::P2, property_cases(5000), property_seed()));
}

TEST_CASE("r_mean P3: with all r_j < 1, M_L >= r_{L-1} and no r^(L-1) decay", "[proofs][rmean]") {
    QBOUND_REQUIRE_PROPERTY(check_rmean(property::P3, property_cases(2000), property_seed()));
}

TEST_CASE("r_mean negative controls: P1, P2 without hypotheses, P3's power reading", "[proofs][rmean][negative]") {
    QBOUND_REQUIRE_REFUTED(check_rmean(property::P1_without_hypothesis, 2000, property_seed()));
    QBOUND_REQUIRE_REFUTED(check_rmean(property::P2_without_hypothesis, 2000, property_seed()));
    QBOUND_REQUIRE_REFUTED(check_rmean(property::P3_power_reading, 2000, property_seed()));
}

TEST_CASE("the l = 1 term: M_1 = prod_{j>=2} r_j is needed and sufficient", "[proofs][rmean]") {
    QBOUND_REQUIRE_PROPERTY(check_first_term(false, property_cases(2000), property_seed()));
    QBOUND_REQUIRE_REFUTED(check_first_term(true, 500, property_seed()));
}
