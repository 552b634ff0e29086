// The certified bound values are >= the exact value of each formula and
// agree with it to 1e-12 relative: against exact rationals on small random
// networks, and against a 256-bit MPFR evaluation (round to nearest) on deep
// and ImageNet-size networks, where values pass 1e300.
//
// The reference below re-derives each formula from THEOREMS.md section 3 with
// its own loops (no code shared with bounds.cpp), written once over T.
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"

#include "property_support.hpp"

#include <map>

using namespace qbound;
using arith::rational;

namespace {

template <class T>
T from(const rational& q) {
    if constexpr (std::is_same_v<T, rational>) return q;
    else return arith::mpfr_real(q, 256);
}

template <class T>
T larger(const T& a, const T& b) { return a < b ? b : a; }

template <class T>
T power(const T& x, std::size_t n) {
    T acc = from<T>(1);
    for (std::size_t i = 0; i < n; ++i) acc = acc * x;
    return acc;
}

using F = bounds::bound_family;
using R = bounds::r_source;
using key = bounds::variant_key;

// Reference values by bound variant, for r = max over theta and theta'
// (R::max) or r from theta (R::theta): every chain variant, residual-aware aside.
template <class T>
std::map<key, T> reference(const bounds::pair_ingredients& p, bool from_theta = false) {
    const std::size_t L = p.main_path.size();
    const auto pick = [from_theta](const std::array<rational, 2>& v) { return from_theta ? v[0] : arith::max(v[0], v[1]); };
    std::vector<T> rho(L + 1), conv(L + 1), entry(L + 1);
    for (std::size_t l = 1; l <= L; ++l) {
        const auto& layer = p.layers[p.main_path[l - 1]];
        rho[l] = from<T>(pick(layer.rho));
        conv[l] = from<T>(pick(layer.conv_norm));
        entry[l] = from<T>(pick(layer.max_entry));
    }
    const T D = from<T>(p.D_effective), D1 = from<T>(arith::max(p.D_effective, rational(1))), change = from<T>(p.max_change);
    const auto prod = [&](const std::vector<T>& r, std::size_t a, std::size_t b) {
        T acc = from<T>(1);
        for (std::size_t k = a; k <= b; ++k) acc = acc * r[k];
        return acc;
    };
    std::map<key, T> out;
    T r_max = from<T>(0), e_max = from<T>(0);
    for (std::size_t l = 1; l <= L; ++l) r_max = larger(r_max, rho[l]), e_max = larger(e_max, entry[l]);
    const T Lt = from<T>(rational(static_cast<long>(L)));
    const R r = from_theta ? R::theta : R::max;
    out[key{F::G, r}] = D1 * from<T>(rational(static_cast<long>(p.width))) * Lt * Lt * power(r_max, L - 1) * change;
    out[key{F::G_entrywise, r}] = D1 * from<T>(rational(static_cast<long>(p.width))) * Lt * Lt * power(e_max, L - 1) * change;
    T per_layer = from<T>(0), widths = from<T>(0), max_M = from<T>(0), per_layer_b = from<T>(0), widths_b = from<T>(0), max_Mb = from<T>(0);
    T b_widths = from<T>(0), b_max = from<T>(0), bb_widths = from<T>(0), bb_max = from<T>(0), bg_widths = from<T>(0), b1_widths = from<T>(0);
    for (std::size_t l = 1; l <= L; ++l) {
        const auto& layer = p.layers[p.main_path[l - 1]];
        // M_l = max_{1<=i<=l-1} prod_{j=i..L, j!=l} r_j (M_1 = prod_{j>=2} r_j); M'_l adds i = l.
        T M = l == 1 ? prod(rho, 2, L) : from<T>(0), Mb = from<T>(0), Mconv = from<T>(0);
        for (std::size_t i = 1; i <= l; ++i) {
            const T term = prod(rho, i, l - 1) * prod(rho, l + 1, L);
            if (i <= l - 1) M = larger(M, term);
            Mb = larger(Mb, term);
            Mconv = larger(Mconv, prod(conv, i, l - 1) * prod(conv, l + 1, L));
        }
        const T N = from<T>(rational(static_cast<long>(layer.n_in)));
        per_layer = per_layer + D1 * N * M * from<T>(layer.delta_weight);
        widths = widths + N;
        max_M = larger(max_M, M);
        per_layer_b = per_layer_b + D1 * (N + from<T>(1)) * Mb * from<T>(arith::max(layer.delta_weight, layer.delta_bias));
        widths_b = widths_b + N + from<T>(1);
        max_Mb = larger(max_Mb, Mb);
        b_widths = b_widths + from<T>(rational(static_cast<long>(layer.dense_count)));
        b_max = larger(b_max, prod(conv, 1, l - 1) * prod(conv, l + 1, L));
        bb_widths = bb_widths + from<T>(rational(static_cast<long>(layer.group_count + 1)));
        bg_widths = bg_widths + from<T>(rational(static_cast<long>(layer.group_count)));
        b1_widths = b1_widths + from<T>(rational(static_cast<long>(layer.dense_count + 1)));
        bb_max = larger(bb_max, Mconv);
    }
    out[key{F::A_per_layer, r}] = per_layer;
    out[key{F::A_collapsed, r}] = D1 * widths * max_M * change;
    out[key{F::A_prime_per_layer, r}] = per_layer_b;
    out[key{F::A_prime_collapsed, r}] = D1 * widths_b * max_Mb * change;
    out[key{F::B, r}] = D * b_widths * b_max * change;
    out[key{F::B_group, r}] = D * bg_widths * b_max * change;
    out[key{F::B_bias, r}] = D1 * b1_widths * bb_max * change;
    out[key{F::B_group_bias, r}] = D1 * bb_widths * bb_max * change;
    return out;
}

// residual-aware on an MLP chain (dense layers only, ReLU between them):
// forward m_l = max_o (sum_i |W_oi| m_{l-1} + |b_o|) from m_0 = D, backward
// Lip_l = prod_{j>l} ||W_j||, both from the networks' weights themselves.
rational residual_reference(const net::network& theta, const net::network& quant, const rational& D, bool from_theta) {
    std::vector<const net::node*> a, b;
    for (const auto& n : theta.nodes())
        if (n.is_affine()) a.push_back(&n);
    for (const auto& n : quant.nodes())
        if (n.is_affine()) b.push_back(&n);
    const std::size_t L = a.size();
    std::vector<rational> row_norm(L), m(L + 1);  // m[l] bounds the input of layer l
    m[0] = D;
    for (std::size_t l = 0; l < L; ++l) {
        rational best = 0, norm = 0;
        for (std::size_t o = 0; o < a[l]->out_features; ++o) {
            rational sa = 0, sb = 0;
            for (std::size_t i = 0; i < a[l]->in_features; ++i) {
                sa += arith::abs(arith::to_rational(a[l]->weight[o * a[l]->in_features + i]));
                sb += arith::abs(arith::to_rational(b[l]->weight[o * a[l]->in_features + i]));
            }
            const rational s = from_theta ? sa : arith::max(sa, sb);
            const rational bias = from_theta ? arith::abs(arith::to_rational(a[l]->bias[o]))
                                             : arith::max(arith::abs(arith::to_rational(a[l]->bias[o])), arith::abs(arith::to_rational(b[l]->bias[o])));
            best = arith::max(best, s * m[l] + bias);
            norm = arith::max(norm, s);
        }
        m[l + 1] = best;
        row_norm[l] = norm;
    }
    rational total = 0, lip = 1;
    for (std::size_t l = L; l-- > 0;) {
        rational dw = 0, db = 0;
        std::size_t rows = 0;
        for (std::size_t o = 0; o < a[l]->out_features; ++o) {
            std::size_t nonzero = 0;
            for (std::size_t i = 0; i < a[l]->in_features; ++i) {
                const std::size_t k = o * a[l]->in_features + i;
                dw = arith::max(dw, arith::abs(arith::to_rational(a[l]->weight[k]) - arith::to_rational(b[l]->weight[k])));
                nonzero += 1;
            }
            rows = std::max(rows, nonzero);
            db = arith::max(db, arith::abs(arith::to_rational(a[l]->bias[o]) - arith::to_rational(b[l]->bias[o])));
        }
        total += lip * (rational(static_cast<long>(rows)) * dw * m[l] + db);
        lip *= row_norm[l];
    }
    return total;
}

// For every variant of `ref` (bounds::find: a variant missing from `all`
// throws, failing the test): certified >= reference and (certified -
// reference) <= 1e-12 reference; for exact references also lower <= exact,
// within 1e-12.
template <class T>
void check_against(const std::vector<bounds::bound_result>& all, const std::map<key, T>& ref, std::string& failure) {
    for (const auto& [k, exact] : ref) {
        const bounds::bound_result& b = bounds::find(all, k);
        const T certified = from<T>(b.value.to_rational());
        const bool below = certified < exact;
        const bool loose = certified - exact > exact * from<T>(rational(1, 1000000000000LL));
        if ((below || loose) && failure.empty())
            failure = b.name + (below ? ": certified value below the reference" : ": certified value not within 1e-12");
        // The lower value: never above the exact value (checked against exact rationals only).
        if constexpr (std::is_same_v<T, rational>) {
            const rational lower = b.value_lower.to_rational();
            if ((lower > exact || exact - lower > exact * rational(1, 1000000000000LL)) && failure.empty())
                failure = b.name + ": certified lower value above the exact value or not within 1e-12";
        }
    }
}

}  // namespace

TEST_CASE("certified values bracket the exact formula on random networks", "[bounds][certified]") {
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(40);
    for (std::size_t c = 0; c < cases; ++c) {
        std::vector<std::size_t> widths;
        const auto L = static_cast<std::size_t>(gen.uniform_int(1, 6));
        for (std::size_t l = 0; l <= L; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 9)));
        auto theta = net::make_mlp(widths);
        net::init_he_normal(theta, gen.bits(), gen.chance(0.5) ? 0.1 : 0.0);
        if (gen.chance(0.3)) net::scale_to_operator_norms(theta, {0.5});  // all r_l < 1
        auto quant = theta;
        for (std::size_t i : quant.affine_nodes())
            for (double& w : quant.weights(i)) w = std::nearbyint(w * 16) / 16;  // a power-of-two grid
        bounds::bound_options opt;
        opt.D = gen.chance(0.5) ? rational(1) : rational(gen.uniform_int(1, 9), 4);
        const auto p = bounds::collect_ingredients(theta, quant, opt.D);
        const auto all = bounds::compute_bounds(p, theta, opt);
        std::string failure;
        check_against(all, reference<rational>(p), failure);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", L = " << L);
        REQUIRE(failure.empty());
    }
}

TEST_CASE("every variant: value_lower <= exact <= value, one evaluation", "[bounds][certified]") {
    // Non-dyadic D and 64-bit evaluations make the two ends differ; the exact
    // references are rationals (small integer powers), for both sources of r.
    const std::uint64_t seed = test::property_seed();
    testing::operand_generator gen(seed);
    const std::size_t cases = test::property_cases(60);
    std::size_t proper_ranges = 0;
    for (std::size_t c = 0; c < cases; ++c) {
        std::vector<std::size_t> widths;
        const auto L = static_cast<std::size_t>(gen.uniform_int(1, 5));
        for (std::size_t l = 0; l <= L; ++l) widths.push_back(static_cast<std::size_t>(gen.uniform_int(1, 6)));
        auto theta = net::make_mlp(widths);
        net::init_he_normal(theta, gen.bits(), gen.chance(0.5) ? 0.1 : 0.0);
        auto quant = theta;
        const bool bias_change = gen.chance(0.3);
        for (std::size_t i : quant.affine_nodes()) {
            for (double& w : quant.weights(i)) w = std::nearbyint(w * 16) / 16;
            if (bias_change)
                for (double& b : quant.bias(i)) b = std::nearbyint(b * 8) / 8;
        }
        bounds::bound_options opt;
        opt.D = gen.chance(0.2) ? rational(1) : rational(gen.uniform_int(1, 40), 3 * gen.uniform_int(1, 7));
        opt.precision = gen.chance(0.5) ? 64 : 128;
        const auto p = bounds::collect_ingredients(theta, quant, opt.D);
        const auto all = bounds::compute_bounds(p, theta, opt);
        auto ref = reference<rational>(p, false);
        for (auto& [k, v] : reference<rational>(p, true)) ref[k] = v;
        ref[{F::residual_aware, R::max}] = residual_reference(theta, quant, opt.D, false);
        ref[{F::residual_aware, R::theta}] = residual_reference(theta, quant, opt.D, true);
        INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << "), case " << c << ", L = " << L << ", D = " << arith::to_decimal(opt.D, 8)
                     << ", " << opt.precision << " bits");
        REQUIRE(all.size() == 22);
        for (const auto& b : all) {
            INFO(b.name);
            REQUIRE(ref.count(b.key) == 1);
            const rational& exact = ref.at(b.key);
            const rational lo = b.value_lower.to_rational(), hi = b.value.to_rational();
            CHECK(lo <= exact);
            CHECK(exact <= hi);
            CHECK(hi - lo <= exact * rational(1, 1000000000000LL));  // and close: the two ends of one 64+ bit evaluation
            proper_ranges += lo < hi ? 1 : 0;
        }
    }
    // The ends must actually differ on most pairs, else the check is vacuous.
    WARN("proper ranges (lo < hi): " << proper_ranges << " of " << cases * 22);
    CHECK(proper_ranges > cases * 22 / 4);
}

TEST_CASE("certified values match 256-bit MPFR on deep and ImageNet-size networks", "[bounds][certified]") {
    std::vector<net::network> models;
    models.push_back(net::make_mlp(std::vector<std::size_t>(201, 24)));  // L = 200: r^199 far beyond 1e300
    net::init_he_normal(models.back(), 7, 0.01);
    net::scale_to_operator_norms(models.back(), {50.0});
    models.push_back(net::make_resnet18(64));
    net::init_he_normal(models.back(), 3, 0.01);
    models.push_back(net::make_mobilenet_v2(64));
    net::init_he_normal(models.back(), 5, 0.01);
    for (const auto& theta : models) {
        auto quant = theta;
        for (std::size_t i : quant.affine_nodes())
            for (double& w : quant.weights(i)) w = std::floor(w * 256) / 256;
        const auto p = bounds::collect_ingredients(theta, quant, 1);
        const auto all = bounds::compute_bounds(p, theta);
        std::string failure;
        check_against(all, reference<arith::mpfr_real>(p), failure);
        INFO(theta.name());
        CHECK(failure.empty());
        if (theta.name().rfind("mlp", 0) == 0) {
            CHECK(std::stod(bounds::log10_text(bounds::find(all, {F::G, R::max}).value)) > 300);
        }
    }
}
