// Proof step 6 (THEOREMS.md section 4, step 6): the telescoping identity.
//
// Statement. Let theta = (W_l, b_l) and theta' = (W'_l, b_l) be MLPs with the
// same biases, and theta^(l) = (W'_1..W'_l, W_{l+1}..W_L) (theta^(0) = theta,
// theta^(L) = theta'). Let a'_{l-1} be the activation of the quantized
// network theta' before layer l (a'_0 = x), T_l the tail map of theta from
// the layer-l pre-activation to the output (step 5), Delta_l = max |W_l - W'_l|
// and nnz_l the largest number of non-zeros in a row of W_l - W'_l. Then
//   (a) R_theta'(x) - R_theta(x) = sum_{l=1..L} (R_theta^(l)(x) - R_theta^(l-1)(x)), exactly;
//   (b) term l = R_theta^(l)(x) - R_theta^(l-1)(x)
//              = T_l(W'_l a'_{l-1} + b_l) - T_l(W_l a'_{l-1} + b_l), exactly;
//   (c) ||term l||_inf <= prod_{j>l} ||W_j||_{inf->inf} * nnz_l * Delta_l * ||a'_{l-1}||_inf
//                      <= prod_{j>l} ||W_j||_{inf->inf} * N_{l-1} * Delta_l * ||a'_{l-1}||_inf;
//   (d) summing (c) with step 4 applied to theta' gives bound A: for x in [-D, D]^d,
//       ||R_theta'(x) - R_theta(x)||_inf <= max(D,1) sum_l N_{l-1} M_l Delta_l,
//       M_l = max_{1 <= i <= l-1} prod_{j=i..L, j != l} r_j (l >= 2), M_1 = prod_{j=2..L} r_j,
//       with r_j = max(rho_j(theta), rho_j(theta')).
// Proof sketch: (a) the sum telescopes. (b) theta^(l) and theta^(l-1) share
// layers 1..l-1 (those of theta', hence a'_{l-1}) and l+1..L (those of theta,
// hence T_l) and differ only in W_l. (c) step 5 gives prod_{j>l} ||W_j|| times
// ||(W'_l - W_l) a'_{l-1}||, and step 2 bounds that by
// nnz_l Delta_l ||a'_{l-1}|| <= N_{l-1} Delta_l ||a'_{l-1}||. (d) step 4 on
// theta' bounds ||a'_{l-1}|| by max(D,1) max_{i <= l-1} prod_{k=i}^{l-1} rho_k(theta')
// (x itself, <= D, for l = 1); multiply and sum over l.
//
// Checked exactly in rationals: R_theta, R_theta' and every R_theta^(l) come
// from the library's forward<rational>; the terms of (b) are computed
// separately, layer by layer. Generators: random MLP pairs with theta' = theta
// plus a small (dense or sparse) perturbation, or theta rounded to a
// power-of-two grid by floor or nearest (ties to even), written inline here;
// adversarial families: one dominant layer, norms < 1, zero rows (from
// draw_mlp), a single perturbed layer, L = 1, and a sign-aligned family
// (constant positive matrices, x = D 1) on which every inequality of (c) is
// an equality (checked: the bound is attained). Failures are shrunk (units
// removed, perturbations undone).
// Negative controls, each refuted on the same generators: (c) without the
// N_{l-1} factor; (c) with prod_{j>=l} in place of prod_{j>l}; (c) with the
// quantized network's tail norms ||W'_j||; (d) with M_1 read as the empty
// max (0).
#include "qbound/net/forward.hpp"

#include "mlp_support.hpp"

#include <cmath>
#include <optional>

using namespace qbound;
using namespace qbound::test;

namespace {

// An MLP pair: theta (W, b) and theta' (Wq, b), the same widths N_0..N_L.
struct pair_case {
    std::vector<std::size_t> widths;
    std::vector<std::vector<double>> W, Wq, b;  // W[l-1]: N_l x N_{l-1}, row-major
    std::vector<double> x;
    double D = 1;
    bool tight = false;  // the sign-aligned family: (c) must hold with equality
    std::string family;
    std::size_t layers() const { return widths.size() - 1; }
};

enum class weakening { none, drop_width, tail_from_l, quantized_tail, empty_max_l1 };

std::string to_string(weakening w) {
    switch (w) {
        case weakening::none: return "telescoping identity and term bounds";
        case weakening::drop_width: return "term bound without N_{l-1}";
        case weakening::tail_from_l: return "term bound with prod_{j>=l} ||W_j||";
        case weakening::quantized_tail: return "term bound with the quantized tail norms ||W'_j||";
        case weakening::empty_max_l1: return "bound A with M_1 = empty max = 0";
    }
    return "?";
}

net::network to_network(const pair_case& c, std::size_t quantized_layers) {
    net::network m = net::make_mlp(c.widths);
    std::size_t l = 0;
    for (std::size_t i : m.affine_nodes()) {
        m.set_weights(i, l < quantized_layers ? c.Wq[l] : c.W[l]);
        m.set_bias(i, c.b[l]);
        ++l;
    }
    return m;
}

std::vector<rational> exact(const std::vector<double>& v) {
    std::vector<rational> out;
    for (double e : v) out.push_back(arith::to_rational(e));
    return out;
}

// W x + b with W (rows x cols) from doubles, exactly.
std::vector<rational> affine_exact(const std::vector<double>& W, const std::vector<double>& b, const std::vector<rational>& x) {
    std::vector<rational> y(b.size());
    for (std::size_t o = 0; o < b.size(); ++o) {
        rational acc = arith::to_rational(b[o]);
        for (std::size_t i = 0; i < x.size(); ++i) acc += arith::to_rational(W[o * x.size() + i]) * x[i];
        y[o] = acc;
    }
    return y;
}

rational row_norm(const std::vector<double>& W, std::size_t rows, std::size_t cols) { return bounds::operator_norm_inf(W, rows, cols); }

rational rho_of(const std::vector<double>& W, const std::vector<double>& b, std::size_t cols) {
    return bounds::operator_norm_inf(W, b.size(), cols, b);
}

std::vector<rational> sub(const std::vector<rational>& u, const std::vector<rational>& v) {
    std::vector<rational> d(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) d[i] = u[i] - v[i];
    return d;
}

// The first failing claim of one case, or nothing.
std::optional<std::string> case_failure(const pair_case& c, weakening weak) {
    const std::size_t L = c.layers();
    const auto& N = c.widths;
    const std::vector<rational> x = exact(c.x);
    // (a), (b): the library's forward pass on theta^(0..L).
    std::vector<std::vector<rational>> R;
    for (std::size_t l = 0; l <= L; ++l) R.push_back(net::forward<rational>(to_network(c, l), x));
    std::vector<rational> sum_of_terms(N[L], rational(0));
    std::vector<rational> a = x;  // a'_{l-1}
    for (std::size_t l = 1; l <= L; ++l) {
        const auto& Wl = c.W[l - 1];
        const auto& Wql = c.Wq[l - 1];
        // term l from its formula: T_l(W'_l a' + b_l) - T_l(W_l a' + b_l), T_l with theta's layers.
        std::vector<rational> u = affine_exact(Wql, c.b[l - 1], a), v = affine_exact(Wl, c.b[l - 1], a);
        const std::vector<rational> pre_u = u, pre_v = v;
        for (std::size_t j = l + 1; j <= L; ++j) {
            u = affine_exact(c.W[j - 1], c.b[j - 1], relu(std::move(u)));
            v = affine_exact(c.W[j - 1], c.b[j - 1], relu(std::move(v)));
        }
        const std::vector<rational> term = sub(u, v);
        if (term != sub(R[l], R[l - 1])) return "(b) term " + std::to_string(l) + " differs from R_theta^(l) - R_theta^(l-1)";
        for (std::size_t i = 0; i < term.size(); ++i) sum_of_terms[i] += term[i];
        // (c): Delta_l, nnz_l and the tail product, exact.
        rational delta = 0;
        std::size_t nnz = 0;
        for (std::size_t o = 0; o < N[l]; ++o) {
            std::size_t row = 0;
            for (std::size_t i = 0; i < N[l - 1]; ++i) {
                const rational d = arith::abs(arith::to_rational(Wql[o * N[l - 1] + i]) - arith::to_rational(Wl[o * N[l - 1] + i]));
                delta = arith::max(delta, d);
                row += d != 0;
            }
            nnz = std::max(nnz, row);
        }
        rational tail = 1;
        for (std::size_t j = l + 1; j <= L; ++j)
            tail *= row_norm(weak == weakening::quantized_tail ? c.Wq[j - 1] : c.W[j - 1], N[j], N[j - 1]);
        if (weak == weakening::tail_from_l) tail *= row_norm(Wl, N[l], N[l - 1]);
        const rational norm_a = inf_norm(a);
        const rational term_norm = inf_norm(term);
        if (weak == weakening::none) {
            // the steps of the proof, each checked: step 5, then step 2.
            if (term_norm > tail * inf_norm(sub(pre_u, pre_v))) return "(c) step 5 fails for term " + std::to_string(l);
            if (term_norm > tail * rational(nnz) * delta * norm_a) return "(c) nnz form fails for term " + std::to_string(l);
        }
        const rational width = weak == weakening::drop_width ? rational(1) : rational(N[l - 1]);
        if (weak != weakening::empty_max_l1 && term_norm > tail * width * delta * norm_a)
            return "(c) ||term " + std::to_string(l) + "|| = " + arith::to_decimal(term_norm) + " > " +
                   arith::to_decimal(tail * width * delta * norm_a);
        if (weak == weakening::none && c.tight && term_norm != tail * width * delta * norm_a)
            return "(c) the sign-aligned family does not attain the bound for term " + std::to_string(l);
        a = affine_exact(Wql, c.b[l - 1], a);
        if (l < L) a = relu(std::move(a));
    }
    const std::vector<rational> difference = sub(R[L], R[0]);
    if (sum_of_terms != difference) return std::string("(a) the terms do not sum to R_theta' - R_theta");
    // (d): bound A with r_j = max(rho_j(theta), rho_j(theta')).
    std::vector<rational> r(L + 1);
    for (std::size_t j = 1; j <= L; ++j)
        r[j] = arith::max(rho_of(c.W[j - 1], c.b[j - 1], N[j - 1]), rho_of(c.Wq[j - 1], c.b[j - 1], N[j - 1]));
    rational bound = 0;
    for (std::size_t l = 1; l <= L; ++l) {
        rational M = 0;
        if (l == 1) {
            if (weak != weakening::empty_max_l1) {
                M = 1;
                for (std::size_t j = 2; j <= L; ++j) M *= r[j];
            }
        } else {
            for (std::size_t i = 1; i <= l - 1; ++i) {
                rational prod = 1;
                for (std::size_t j = i; j <= L; ++j)
                    if (j != l) prod *= r[j];
                M = arith::max(M, prod);
            }
        }
        rational delta = 0;
        for (std::size_t k = 0; k < c.W[l - 1].size(); ++k)
            delta = arith::max(delta, arith::abs(arith::to_rational(c.Wq[l - 1][k]) - arith::to_rational(c.W[l - 1][k])));
        bound += rational(N[l - 1]) * M * delta;
    }
    bound *= arith::max(arith::to_rational(c.D), rational(1));
    if (inf_norm(difference) > bound)
        return "(d) ||R_theta' - R_theta|| = " + arith::to_decimal(inf_norm(difference)) + " > bound A " + arith::to_decimal(bound);
    return std::nullopt;
}

// ---- generators --------------------------------------------------------------

// theta rounded to the grid eta_l Z per layer (eta_l a power of two below the
// layer's largest entry): floor, or nearest with ties to even. Exact in double.
void quantize_to_grid(pair_case& c, testing::operand_generator& gen, bool floor_rounding) {
    for (std::size_t l = 0; l < c.layers(); ++l) {
        double largest = 0;
        for (double w : c.W[l]) largest = std::max(largest, std::fabs(w));
        if (largest == 0) continue;
        const int k = std::ilogb(largest) - static_cast<int>(gen.uniform_int(0, 8));  // eta = 2^k
        for (std::size_t i = 0; i < c.W[l].size(); ++i) {
            const double steps = std::ldexp(c.W[l][i], -k);
            c.Wq[l][i] = std::ldexp(floor_rounding ? std::floor(steps) : std::nearbyint(steps), k);
        }
    }
}

void perturb(pair_case& c, testing::operand_generator& gen) {
    const bool sparse = gen.chance(0.5), one_layer = gen.chance(0.3);
    const auto chosen = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(c.layers()) - 1));
    const int magnitude = static_cast<int>(gen.uniform_int(-12, -2));
    for (std::size_t l = 0; l < c.layers(); ++l) {
        if (one_layer && l != chosen) continue;
        for (std::size_t i = 0; i < c.W[l].size(); ++i) {
            if (sparse && gen.chance(0.7)) continue;
            // a relative change of about 2^magnitude, or an absolute one where w = 0
            const double w = c.W[l][i];
            const double eps = std::ldexp(static_cast<double>(gen.uniform_int(-7, 7)), magnitude);
            c.Wq[l][i] = w == 0 ? eps : w + eps * w;
        }
    }
    if (sparse) c.family += ", sparse";
    if (one_layer) c.family += ", one layer perturbed";
}

// Constant positive matrices c_l and x = D 1: every activation is a constant
// positive vector and every inequality of (c) holds with equality.
pair_case draw_tight(testing::operand_generator& gen) {
    pair_case c;
    c.family = "sign-aligned tight";
    c.tight = true;
    const auto L = static_cast<std::size_t>(gen.uniform_int(1, 4));
    for (std::size_t l = 0; l <= L; ++l) c.widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 6)));
    const bool one_layer = gen.chance(0.3);
    const auto chosen = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(L) - 1));
    for (std::size_t l = 0; l < L; ++l) {
        // c_l N_{l-1} from 2^-4 to 2^4: norms below and above 1
        const double value = std::ldexp(static_cast<double>(gen.uniform_int(8, 15)), static_cast<int>(gen.uniform_int(-10, 1)));
        const bool unperturbed = (one_layer && l != chosen) || gen.chance(0.15);
        const double step = unperturbed ? 0.0 : std::ldexp(gen.chance(0.5) ? 1.0 : -1.0, static_cast<int>(gen.uniform_int(-16, -7)));
        c.W.emplace_back(c.widths[l + 1] * c.widths[l], value);
        c.Wq.emplace_back(c.widths[l + 1] * c.widths[l], value + step);
        c.b.emplace_back(c.widths[l + 1], gen.chance(0.5) ? 0.0 : std::ldexp(1.0, static_cast<int>(gen.uniform_int(-4, 2))));
    }
    c.D = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-2, 2)));
    c.x.assign(c.widths[0], c.D);
    if (one_layer) c.family += ", one layer perturbed";
    return c;
}

pair_case draw_case(testing::operand_generator& gen) {
    if (gen.chance(0.25)) return draw_tight(gen);
    pair_case c;
    const net::network m = draw_mlp(gen, c.family);
    for (const auto* n : affine_layers(m)) {
        if (c.widths.empty()) c.widths.push_back(n->in_features);
        c.widths.push_back(n->out_features);
        c.W.push_back(n->weight);
        c.b.push_back(n->bias);
    }
    if (c.layers() >= 2 && gen.chance(0.15)) {  // more L = 1 (draw_mlp has it a fifth of the time)
        c.widths.resize(2);
        c.W.resize(1);
        c.b.resize(1);
        c.family += ", L = 1";
    }
    if (c.layers() >= 2 && gen.chance(0.2)) {  // one dominant layer
        const auto l = static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(c.layers()) - 1));
        for (auto& w : c.W[l]) w = std::ldexp(w, 20);
        c.family += ", layer " + std::to_string(l + 1) + " dominant";
    }
    c.Wq = c.W;
    const auto kind = gen.uniform_int(0, 2);
    if (kind == 0) {
        c.family += ", perturbed";
        perturb(c, gen);
    } else {
        c.family += kind == 1 ? ", floor grid" : ", nearest grid";
        quantize_to_grid(c, gen, kind == 1);
    }
    c.D = std::ldexp(1.0, static_cast<int>(gen.uniform_int(-2, 2)));
    const bool vertex = gen.chance(0.5);
    for (std::size_t i = 0; i < c.widths[0]; ++i)
        c.x.push_back(vertex ? (gen.chance(0.5) ? c.D : -c.D) : c.D * (2 * std::ldexp(static_cast<double>(gen.uniform_int(0, 1024)), -10) - 1));
    return c;
}

// ---- shrinking ---------------------------------------------------------------

// Remove unit `u` of layer k (k = 0: an input coordinate; k = L: an output).
pair_case remove_unit(const pair_case& c, std::size_t k, std::size_t u) {
    pair_case s = c;
    const std::size_t L = c.layers();
    s.widths[k] -= 1;
    auto drop_row = [&](std::vector<double>& W, std::size_t cols) {
        W.erase(W.begin() + static_cast<std::ptrdiff_t>(u * cols), W.begin() + static_cast<std::ptrdiff_t>((u + 1) * cols));
    };
    auto drop_col = [&](std::vector<double>& W, std::size_t rows, std::size_t cols) {
        for (std::size_t o = rows; o-- > 0;) W.erase(W.begin() + static_cast<std::ptrdiff_t>(o * cols + u));
    };
    if (k == 0) s.x.erase(s.x.begin() + static_cast<std::ptrdiff_t>(u));
    if (k >= 1) {  // rows of layer k
        drop_row(s.W[k - 1], c.widths[k - 1]);
        drop_row(s.Wq[k - 1], c.widths[k - 1]);
        s.b[k - 1].erase(s.b[k - 1].begin() + static_cast<std::ptrdiff_t>(u));
    }
    if (k < L) {  // columns of layer k + 1
        drop_col(s.W[k], c.widths[k + 1], c.widths[k]);
        drop_col(s.Wq[k], c.widths[k + 1], c.widths[k]);
    }
    return s;
}

pair_case shrink(pair_case c, weakening weak) {
    bool progress = true;
    while (progress) {
        progress = false;
        for (std::size_t k = 0; k <= c.layers() && !progress; ++k)
            for (std::size_t u = 0; u < c.widths[k] && c.widths[k] > 1 && !progress; ++u) {
                pair_case s = remove_unit(c, k, u);
                if (case_failure(s, weak)) c = std::move(s), progress = true;
            }
        for (std::size_t l = 0; l < c.layers() && !progress && !c.tight; ++l)
            for (std::size_t i = 0; i < c.W[l].size() && !progress; ++i) {
                if (c.Wq[l][i] == c.W[l][i]) continue;
                pair_case s = c;
                s.Wq[l][i] = s.W[l][i];
                if (case_failure(s, weak)) c = std::move(s), progress = true;
            }
    }
    return c;
}

std::string describe(const pair_case& c) {
    std::string out = "widths";
    for (std::size_t n : c.widths) out += " " + std::to_string(n);
    out += ", D = " + testing::describe(c.D) + ", x =";
    for (double v : c.x) out += " " + testing::describe(v);
    for (std::size_t l = 0; l < c.layers(); ++l) {
        out += "; layer " + std::to_string(l + 1) + ": W =";
        for (double w : c.W[l]) out += " " + testing::describe(w);
        out += ", W' =";
        for (double w : c.Wq[l]) out += " " + testing::describe(w);
        out += ", b =";
        for (double v : c.b[l]) out += " " + testing::describe(v);
    }
    return out;
}

testing::property_result check_telescoping(weakening weak, std::size_t cases, std::uint64_t seed) {
    auto res = testing::start_result(to_string(weak), "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t k = 0; k < cases; ++k) {
        const pair_case c = draw_case(gen);
        ++res.cases;
        if (!case_failure(c, weak)) continue;
        if (res.failures++ == 0) {
            const pair_case small = shrink(c, weak);
            res.counterexample = testing::failure_header(seed, k, c.family) + describe(small) + ": " + *case_failure(small, weak);
        }
    }
    return res;
}

}  // namespace

TEST_CASE("step 6: telescoping identity (exact), term formula, term bounds and bound A", "[proofs][step6]") {
    QBOUND_REQUIRE_PROPERTY(check_telescoping(weakening::none, property_cases(10000), property_seed()));
}

TEST_CASE("step 6 negative control: the term bound without N_{l-1} is refuted", "[proofs][step6][negative]") {
    QBOUND_REQUIRE_REFUTED(check_telescoping(weakening::drop_width, 1000, property_seed()));
}

TEST_CASE("step 6 negative control: prod_{j>=l} in place of prod_{j>l} is refuted (norms < 1)", "[proofs][step6][negative]") {
    QBOUND_REQUIRE_REFUTED(check_telescoping(weakening::tail_from_l, 1000, property_seed()));
}

TEST_CASE("step 6 negative control: the quantized network's tail norms are refuted", "[proofs][step6][negative]") {
    QBOUND_REQUIRE_REFUTED(check_telescoping(weakening::quantized_tail, 1000, property_seed()));
}

TEST_CASE("step 6 negative control: M_1 as the empty max is refuted", "[proofs][step6][negative]") {
    QBOUND_REQUIRE_REFUTED(check_telescoping(weakening::empty_max_l1, 1000, property_seed()));
}
