#include "qbound/verify/linear_relaxation.hpp"

#include "linear_relaxation_state.hpp"

#include "qbound/arith/error_free.hpp"
#include "qbound/arith/outward.hpp"
#include "qbound/arith/interval_double.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

namespace qbound::verify {

// Internal to src/verify (a named namespace: linear_relaxation::prepared holds its plans; the
// plans and node states are declared in linear_relaxation_state.hpp for the linear program).
namespace linrelax {

// Per count K: gamma_K = fast::gamma_bound(K), and the two constants of
// nonneg_bound, up(2K eta) and up(1 + up(2 gamma_K)), from a table for the
// counts a pass meets most (the same values: the table is filled by the same
// expressions once).
// zero_eta: dot_error_with(0, these constants) / eta (exact: a double >= eta
// is a multiple of eta), the error of a sum whose computed magnitudes are
// all zero, in units of eta, so that callers sum it without subnormal
// operands (about 100 cycles per product on x86).
struct count_constants {
    double gamma, under, factor, zero_eta;
};
inline count_constants constants_of(std::size_t K) {
    count_constants k{fast::gamma_bound(K), up(static_cast<double>(2 * K) * eta), up(1.0 + up(2.0 * fast::gamma_bound(K))), 0};
    const double zero_error = up(up(k.gamma * up(up(0.0 + k.under) * k.factor)) + k.under);  // dot_error_with(0, k)
    k.zero_eta = zero_error / eta;
    return k;
}
constexpr std::size_t count_table_size = 16384;
// Filled during static initialization (nothing runs a pass before main).
const std::vector<count_constants> count_table = [] {
    std::vector<count_constants> t(count_table_size);
    for (std::size_t k = 0; k < count_table_size; ++k) t[k] = constants_of(k);
    return t;
}();
[[gnu::always_inline]] inline count_constants count_of(std::size_t K) { return K < count_table_size ? count_table[K] : constants_of(K); }
inline double gamma_of(std::size_t K) { return count_of(K).gamma; }

// An upper bound on the exact sum of K non-negative products whose floating
// point sum (any order) is a: (a + 2K eta)(1 + 2 gamma_K), rounded upward.
// k = count_of(K), hoisted by callers that bound many sums of the same count.
// a + 2K eta is raised to at least error_floor (a larger bound, still
// sound): for a = 0 (a sum of exact zeros, e.g. the error terms of exact
// inputs) it is subnormal, and a product with a subnormal operand or
// result costs x86 about 100 cycles; 2^-960 keeps this product and the
// gamma multiples of it (dot_error_with, finish_bound) normal.
inline constexpr double error_floor = 0x1p-960;
[[gnu::always_inline]] inline double nonneg_bound_with(double a, const count_constants& k) {
    return up(std::max(up(a + k.under), error_floor) * k.factor);
}
[[gnu::always_inline]] inline double nonneg_bound(double a, std::size_t K) { return K == 0 ? a : nonneg_bound_with(a, count_of(K)); }

// An upper bound on |fl(sum of K products) - exact| given a = fl(sum of the
// magnitudes of the COMPUTED products): gamma_{2K} covers the products'
// own rounding in a (|exact| <= (1 + u)|fl| + eta) as well. k2 = count_of(2K)
// (its `under` is up(4K eta)), hoisted by callers that bound many sums of
// the same count.
[[gnu::always_inline]] inline double dot_error_with(double a, const count_constants& k2) {
    return up(up(k2.gamma * nonneg_bound_with(a, k2)) + k2.under);
}
[[gnu::always_inline]] inline double dot_error(double a, std::size_t K) {
    if (K == 0) return 0.0;
    return dot_error_with(a, count_of(2 * K));
}

// A split's constraint g >= 0 with its linear upper bound g <= a.x + c on
// the split subdomain S (c includes every error term).
struct constraint {
    std::vector<double> a;
    double c = 0;
};

// Thrown inside the pass when S (the box under the splits) is proven empty.
struct infeasible_subdomain {};

struct context {
    const input_box& box;
    std::size_t n;
    std::vector<double> m;  // max(|lo_j|, |hi_j|)
    double mass = 1;        // >= 1 + sum_j m_j
    bool drop = false;
    bool intermediate = false;
    const std::vector<differential_values>* intervals;  // the interval pass, or null when not run
    const net::network& theta;
    const std::vector<node_plan>& plans;
    const std::vector<relu_split>* splits = nullptr;     // empty or null: none
    std::size_t first_split_node = static_cast<std::size_t>(-1);
    std::vector<constraint>* constraints = nullptr;       // the splits' constraints, as the walk reaches them
    bool relu_candidate = false;                          // score ReLU elements (linear_options::relu_candidate)
    bool keep_pre_activations = false;                    // fill node_state::pre (the linear program reads it)
    std::size_t intermediate_sweep_bytes = 0;             // linear_options::intermediate_sweep_bytes
    // >= 4 eta mass (the underflow of one product, over the box), raised to
    // the smallest normal double: a subnormal operand costs x86 about 100
    // cycles per multiplication, and this term enters every error bound.
    double underflow = std::numeric_limits<double>::min();

    // An empty intersection at `node`: a bug before the first split node,
    // an empty subdomain at or after it.
    bool may_be_empty(std::size_t node) const { return node >= first_split_node; }
};

// Completes bound b of element e of `out` whose coefficients were summed
// from `terms` terms of total magnitude abs_mag (over the box) and whose
// error terms sum to err_sum (err_terms of them): the error bound of the
// header, the bound's magnitude, or (0, +inf) on overflow.
inline void finish_bound(const context& ctx, node_state& out, std::size_t e, std::size_t b, double abs_mag, double err_sum, std::size_t terms,
                  std::size_t err_terms) {
    double* c = out.c(e, b);
    double a = 0;
    for (std::size_t j = 0; j + 1 < out.n1; ++j) a += std::fabs(c[j]) * ctx.m[j];
    a += std::fabs(c[out.n1 - 1]);
    // Every m_j is >= 0 or NaN, so an infinite or NaN coefficient makes
    // a infinite or NaN (inf * 0 is NaN): a finite a proves every c_j finite.
    const bool finite = std::isfinite(a);
    const count_constants k2 = count_of(2 * std::max<std::size_t>(terms, 1));  // gamma_{2 terms}, and nonneg_bound's constants at 2 terms
    const double abs_bound = terms == 0 ? abs_mag : nonneg_bound_with(abs_mag, k2);  // nonneg_bound(abs_mag, 2 terms)
    const double err = ctx.drop ? err_sum
                                : up(nonneg_bound(err_sum, err_terms) +
                                     up(up(k2.gamma * abs_bound) + up(static_cast<double>(terms) * ctx.underflow)));
    if (!finite || !(err <= std::numeric_limits<double>::max())) {  // overflow: sound, uninformative
        std::fill(c, c + out.n1, 0.0);
        out.err[out.at(e, b)] = inf;
        out.mag[out.at(e, b)] = 0;
        return;
    }
    out.err[out.at(e, b)] = err;
    out.mag[out.at(e, b)] = nonneg_bound(a, out.n1);
}

// out = sum_t a_t B_t + constants, with the error bound of the header.
class combiner {
public:
    combiner(const context& ctx, node_state& out, std::size_t e, std::size_t b) : ctx_(ctx), out_(out), e_(e), b_(b), c_(out.c(e, b)) {
        std::fill(c_, c_ + out.n1, 0.0);
    }
    void add(double a, const node_state& s, std::size_t e, std::size_t b) {
        if (a == 0) return;
        const double* src = s.c(e, b);
        for (std::size_t j = 0; j < out_.n1; ++j) c_[j] += a * src[j];
        abs_mag_ += std::fabs(a) * s.mag[s.at(e, b)];
        err_sum_ += std::fabs(a) * s.err[s.at(e, b)];
        ++terms_;
        ++err_terms_;
    }
    void constant(double v) {
        if (v == 0) return;
        c_[out_.n1 - 1] += v;
        abs_mag_ += std::fabs(v);
        ++terms_;
    }
    // A non-negative error product x y (computed here, counted as one product).
    void extra(double x, double y) {
        if (x == 0 || y == 0 || ctx_.drop) return;
        err_sum_ += x * y;
        ++err_terms_;
    }
    void finish() { finish_bound(ctx_, out_, e_, b_, abs_mag_, err_sum_, terms_, err_terms_); }

private:
    const context& ctx_;
    node_state& out_;
    std::size_t e_, b_;
    double* c_;
    double abs_mag_ = 0, err_sum_ = 0;
    std::size_t terms_ = 0, err_terms_ = 0;
};

// min (lower) or max (upper) over the box of c.x + c_0, minus / plus err, rounded outward.
double concretize(const context& ctx, const double* c, double err, bool lower) {
    if (err == inf) return lower ? -inf : inf;
    double acc = c[ctx.n];
    for (std::size_t j = 0; j < ctx.n; ++j) {
        const double x = (c[j] >= 0) == lower ? ctx.box.lower[j] : ctx.box.upper[j];
        const double t = c[j] * x;
        acc = lower ? down(acc + down(t)) : up(acc + up(t));
    }
    const double r = lower ? down(acc - err) : up(acc + err);
    return std::isnan(r) ? (lower ? -inf : inf) : r;
}

// [lo, hi] (the linear bounds of element k of node `node`) intersected with
// [known_lo, known_hi], another certified enclosure of the same value (named
// by `source`); an empty intersection proves a bug: core::unsound_error
// naming the node, the element and both enclosures.
void intersect(double& lo, double& hi, double known_lo, double known_hi, const char* source, const context& ctx, std::size_t node,
               std::size_t k, const char* what) {
    const double l = std::max(lo, known_lo), h = std::min(hi, known_hi);
    if (l > h && ctx.may_be_empty(node)) throw infeasible_subdomain{};
    if (l > h)
        throw core::unsound_error("linear relaxation pass, node " + std::to_string(node) + " ('" + ctx.theta.at(node).name + "'), element " +
                                  std::to_string(k) + " of " + what + ": the linear bounds give " + core::interval_text(lo, hi) + ", " +
                                  source + " " + core::interval_text(known_lo, known_hi) + "; they do not overlap over the box " +
                                  core::box_text(ctx.box.lower, ctx.box.upper));
    lo = l;
    hi = h;
}
void intersect(double& lo, double& hi, const arith::interval_double& known, const context& ctx, std::size_t node, std::size_t k,
               const char* what) {
    intersect(lo, hi, known.lower(), known.upper(), "the interval pass", ctx, node, k, what);
}

// Interval bounds of a node's elements computed from its inputs' concrete
// bounds (not from the linear bounds): intersected with those, they keep
// the pass never looser than interval propagation of its own bounds.
struct interval_bounds {
    std::vector<double> zlo, zhi, dlo, dhi;
};

// Concrete bounds of every element of s (node `node`), intersected with the
// interval pass (when run) and with `fused` (when given).
void finish_concrete(const context& ctx, node_state& s, std::size_t node, const interval_bounds* fused = nullptr) {
    const differential_values* iv = ctx.intervals ? &(*ctx.intervals)[node] : nullptr;
    constexpr const char* propagated = "interval propagation of the inputs' bounds";
    for (std::size_t e = 0; e < s.elements; ++e) {
        s.zlo[e] = concretize(ctx, s.c(e, zL), s.err[s.at(e, zL)], true);
        s.zhi[e] = concretize(ctx, s.c(e, zU), s.err[s.at(e, zU)], false);
        s.dlo[e] = concretize(ctx, s.c(e, dL), s.err[s.at(e, dL)], true);
        s.dhi[e] = concretize(ctx, s.c(e, dU), s.err[s.at(e, dU)], false);
        if (iv) {
            intersect(s.zlo[e], s.zhi[e], iv->a[e], ctx, node, e, "theta");
            intersect(s.dlo[e], s.dhi[e], iv->delta[e], ctx, node, e, "the difference");
        } else if (s.zlo[e] > s.zhi[e] || s.dlo[e] > s.dhi[e]) {
            if (ctx.may_be_empty(node)) throw infeasible_subdomain{};
            throw core::unsound_error("linear relaxation pass, node " + std::to_string(node) + " ('" + ctx.theta.at(node).name + "'), element " +
                                      std::to_string(e) + ": the lower linear bound exceeds the upper one over the box " +
                                      core::box_text(ctx.box.lower, ctx.box.upper));
        }
        if (fused) {
            intersect(s.zlo[e], s.zhi[e], fused->zlo[e], fused->zhi[e], propagated, ctx, node, e, "theta");
            intersect(s.dlo[e], s.dhi[e], fused->dlo[e], fused->dhi[e], propagated, ctx, node, e, "the difference");
        }
        s.zabs[e] = std::max(std::fabs(s.zlo[e]), std::fabs(s.zhi[e]));
        s.dabs[e] = std::max(std::fabs(s.dlo[e]), std::fabs(s.dhi[e]));
    }
}

// theta''s value z + d of element e: linear bounds zL + dL, zU + dU
// (joint), intersected with z's and d's concrete sums and the interval pass.
// `tmp` is scratch space of one element (allocated once per node by the caller).
std::pair<double, double> quantized_range(const context& ctx, const node_state& s, std::size_t node, std::size_t e, node_state& tmp) {
    for (std::size_t b : {zL, zU}) {
        combiner k(ctx, tmp, 0, b);
        k.add(1.0, s, e, b);
        k.add(1.0, s, e, b + 2);
        k.finish();
    }
    double lo = concretize(ctx, tmp.c(0, zL), tmp.err[0], true), hi = concretize(ctx, tmp.c(0, zU), tmp.err[1], false);
    lo = std::max(lo, down(s.zlo[e] + s.dlo[e]));
    hi = std::min(hi, up(s.zhi[e] + s.dhi[e]));
    if (ctx.intervals) intersect(lo, hi, (*ctx.intervals)[node].aq[e], ctx, node, e, "theta'");
    return {lo, hi};
}

constexpr std::size_t npos = static_cast<std::size_t>(-1);

// The forward linear upper bound of sign z (quantized: sign (z + d)) of
// element e of s, as a constraint line (sign = -1 bounds -z from z's lower bound).
constraint split_line(const context& ctx, const node_state& s, std::size_t e, bool quantized, double sign, node_state& tmp) {
    const std::size_t bz = sign > 0 ? zU : zL;
    const double* c = s.c(e, bz);
    double err = s.err[s.at(e, bz)];
    if (quantized) {
        combiner k(ctx, tmp, 0, bz);
        k.add(1.0, s, e, bz);
        k.add(1.0, s, e, bz + 2);
        k.finish();
        c = tmp.c(0, bz);
        err = tmp.err[tmp.at(0, bz)];
    }
    constraint r;
    r.a.resize(ctx.n);
    for (std::size_t j = 0; j < ctx.n; ++j) r.a[j] = sign * c[j];  // negation: exact
    r.c = err == inf ? inf : up(sign * c[ctx.n] + err);
    return r;
}

// max over the box of a.x + c, rounded upward (inf when not finite).
double constraint_max(const context& ctx, const constraint& g) {
    double acc = g.c;
    for (std::size_t j = 0; j < ctx.n; ++j)
        if (g.a[j] != 0) acc = up(acc + up(g.a[j] * (g.a[j] >= 0 ? ctx.box.upper[j] : ctx.box.lower[j])));
    return std::isfinite(acc) ? acc : inf;
}

// The four relaxation lines of a ReLU element (z's lower, upper; d's lower, upper).
// zl_before_split: z's lower bound before a ReLU split made it >= 0 (= zl
// otherwise): relu(z) = z >= 0 holds only on the split's part of the box, so
// the lower line may be 0 instead of z, chosen by the area rule as if
// unstable. split: the element is split (in either network).
std::array<line, 4> relu_lines(double zl, double zu, double ql, double qu, double dl, double du, double zl_before_split, bool split) {
    std::array<line, 4> r{};
    // theta: relu(z)
    if (zl >= 0) {
        r[0] = r[1] = {1, 0, 0};
        if (zl_before_split < 0 && zu < -zl_before_split) r[0] = {0, 0, 0};
    } else if (zu <= 0) {
        r[0] = r[1] = {0, 0, 0};
    } else {
        r[0] = zu >= -zl ? line{1, 0, 0} : line{0, 0, 0};
        r[1] = upper_chord(zl, zu);
    }
    // the difference relu(z + d) - relu(z)
    const bool z_active = zl >= 0, z_inactive = zu <= 0, q_active = ql >= 0, q_inactive = qu <= 0;
    const line zero{0, 0, 0}, same_d{0, 1, 0};
    if (z_active && q_active) {
        r[2] = r[3] = same_d;
    } else if (z_inactive && q_inactive) {
        r[2] = r[3] = zero;
    } else if (z_active && q_inactive) {
        r[2] = r[3] = {-1, 0, 0};
        // -z exactly; also d <= -z <= 0 (z >= 0 >= z + d). Under a split (where the
        // exact line holds only on part of the box) the narrower side of each.
        if (split) {
            if (dl > -zu) r[2] = same_d;
            if ((du - dl) < (zu - zl)) r[3] = zero;
        }
    } else if (z_inactive && q_active) {
        r[2] = r[3] = {1, 1, 0};
        // z + d exactly; also 0 <= z + d <= d (z <= 0 <= z + d); the same choice under a split.
        if (split) {
            if (du < qu) r[3] = same_d;
            if ((du - dl) < (qu - ql)) r[2] = zero;
        }
    } else {
        if (dl >= 0) {
            r[3] = same_d, r[2] = zero;
        } else if (du <= 0) {
            r[3] = zero, r[2] = same_d;
        } else {
            const line chord = upper_chord(dl, du);
            r[3] = {0, chord.az, chord.c};
            r[2] = lower_chord_in_d(dl, du);
        }
        if (z_active) r[2] = same_d;
        if (q_active) r[3] = same_d;
        if (z_inactive) r[2] = zero;
        if (q_inactive) r[3] = zero;
        // The two networks' own relaxations, subtracted: relu(z') <= U'(z') and
        // relu(z) >= L(z) give relu(z + d) - relu(z) <= U'(z + d) - L(z), and
        // relu(z') >= L'(z'), relu(z) <= U(z) give >= L'(z + d) - U(z); their
        // gap is that of the triangles (about the widths of z and z'), where the
        // lines above lose about |d|: each side keeps the line that is tighter
        // at the centre of the element's (z, d) box. Every slope is 0, 1 or a
        // chord's multiple of 2^-52 in [0, 1], so both coefficients are exact.
        const auto upper_of = [&zero](double l, double u) { return l >= 0 ? line{1, 0, 0} : u <= 0 ? zero : upper_chord(l, u); };
        const auto lower_slope = [](double l, double u) { return l >= 0 ? 1.0 : u <= 0 ? 0.0 : (l / 2 + u / 2 > 0 ? 1.0 : 0.0); };
        const line uq = upper_of(ql, qu), &uz = r[1];  // uz: theta's own upper line, above
        const double lz = lower_slope(zl, zu), lq = lower_slope(ql, qu);
        const line above{uq.az - lz, uq.az, uq.c}, below{lq - uz.az, lq, -uz.c};
        const double zc = zl / 2 + zu / 2, dc = dl / 2 + du / 2;
        const auto at_centre = [zc, dc](const line& l) { return l.az * zc + l.ad * dc + l.c; };
        if (at_centre(above) < at_centre(r[3])) r[3] = above;
        if (at_centre(below) > at_centre(r[2])) r[2] = below;
    }
    return r;
}

// Per relaxation line of a ReLU element, an estimate of its largest gap to
// the function it bounds over the element's bounds (used only to score
// elements for splitting, never for a bound): the chords' constants, the
// lower line of z's triangle (-zl for slope 1, zu for slope 0), and the
// difference's range for a difference line of an unstable element.
void relu_losses(double zl, double zu, double ql, double qu, double dl, double du, const std::array<line, 4>& lines, double* out) {
    const bool z_unstable = zl < 0 && zu > 0, q_unstable = ql < 0 && qu > 0;
    out[zL] = z_unstable ? (lines[zL].az == 1 ? -zl : zu) : 0.0;
    out[zU] = z_unstable ? std::fabs(lines[zU].c) : 0.0;
    const double range = std::max(std::fabs(dl), std::fabs(du));
    for (std::size_t b : {dL, dU})
        out[b] = !(z_unstable || q_unstable) ? 0.0 : lines[b].c != 0 ? std::fabs(lines[b].c) : range;
    for (std::size_t b = 0; b < 4; ++b)
        if (!std::isfinite(out[b])) out[b] = std::numeric_limits<double>::max();
}

// Forward bounds of an affine-like node from its plan: the four bounds of
// each output in one sweep over its taps. Every tap adds its products
// (a zero weight adds exact zeros, which change no sum), but only non-zero
// weights count as terms of the error bound, as a combiner counts them.
// N: the coefficient count n + 1 when known at compile time (0: s.n1).
template <std::size_t N>
void forward_affine_kernel(const context& ctx, node_state& s, const node_plan& plan, const std::vector<const node_state*>& in) {
    const std::size_t n1 = N ? N : s.n1;
    // |a| times a bound's error: zero for a zero weight even when that error is infinite.
    const auto scaled = [](double a, double e) { return a != 0 ? std::fabs(a) * e : 0.0; };
    // Local accumulators (no aliasing with the inputs' coefficients), copied out at the end.
    std::vector<double> heap_acc(N ? 0 : 4 * n1);
    for (std::size_t o = 0; o < s.elements; ++o) {
        double fixed_acc[N ? 4 * N : 1];
        double* const acc = N ? fixed_acc : heap_acc.data();
        std::fill(acc, acc + 4 * n1, 0.0);
        double* const zl = acc;
        double* const zu = acc + n1;
        double* const dl = acc + 2 * n1;
        double* const du = acc + 3 * n1;
        double mag[4] = {0, 0, 0, 0}, err[4] = {0, 0, 0, 0};
        double extra_z = 0, extra_d = 0;  // error products shared by both sides
        std::size_t nz_w = 0, nz_d = 0, n_extra_z = 0, n_extra_d = 0;
        const auto extra = [&ctx](double x, double y, double& sum, std::size_t& count) {
            if (x == 0 || y == 0 || ctx.drop) return;
            sum += x * y;
            ++count;
        };
        for (std::size_t t = plan.start[o]; t < plan.start[o + 1]; ++t) {
            const tap& p = plan.taps[t];
            const node_state& x = *in[p.slot];
            const std::size_t e = p.idx;
            const double* c = x.c(e, zL);  // the element's four bounds, contiguous
            const double* xm = x.mag.data() + 4 * e;
            const double* xe = x.err.data() + 4 * e;
            // theta: lower += w (w >= 0 ? zL : zU), upper += w (w >= 0 ? zU : zL)
            const std::size_t lo = p.w >= 0 ? zL : zU, hi = zL + zU - lo;
            // the difference: lower += wq (wq >= 0 ? dL : dU) + s (s >= 0 ? zL : zU), upper likewise
            const std::size_t qlo = p.wq >= 0 ? dL : dU, qhi = dL + dU - qlo;
            const std::size_t slo = p.s >= 0 ? zL : zU, shi = zL + zU - slo;
            const double *cl = c + lo * n1, *ch = c + hi * n1, *ql = c + qlo * n1, *qh = c + qhi * n1, *sl = c + slo * n1, *sh = c + shi * n1;
            for (std::size_t j = 0; j < n1; ++j) {
                zl[j] += p.w * cl[j];
                zu[j] += p.w * ch[j];
                dl[j] += p.wq * ql[j];
                du[j] += p.wq * qh[j];
                dl[j] += p.s * sl[j];
                du[j] += p.s * sh[j];
            }
            const double aw = std::fabs(p.w), aq = std::fabs(p.wq), as = std::fabs(p.s);
            mag[zL] += aw * xm[lo], mag[zU] += aw * xm[hi];
            mag[dL] += aq * xm[qlo] + as * xm[slo], mag[dU] += aq * xm[qhi] + as * xm[shi];
            err[zL] += scaled(p.w, xe[lo]), err[zU] += scaled(p.w, xe[hi]);
            err[dL] += scaled(p.wq, xe[qlo]) + scaled(p.s, xe[slo]);
            err[dU] += scaled(p.wq, xe[qhi]) + scaled(p.s, xe[shi]);
            nz_w += p.w != 0;
            nz_d += (p.wq != 0) + (p.s != 0);
            extra(p.r, x.zabs[e], extra_z, n_extra_z);
            extra(std::fabs(p.es), x.zabs[e], extra_d, n_extra_d);
            extra(p.r, x.dabs[e], extra_d, n_extra_d);
        }
        std::copy(acc, acc + 4 * n1, s.c(o, zL));
        extra(plan.rbz[o], 1.0, extra_z, n_extra_z);
        extra(plan.rbd[o], 1.0, extra_d, n_extra_d);
        std::size_t terms[4] = {nz_w, nz_w, nz_d, nz_d};
        for (std::size_t b = 0; b < 4; ++b) {
            const double v = b < dL ? plan.bz[o] : plan.bd[o];
            if (v != 0) {
                s.c(o, b)[n1 - 1] += v;
                mag[b] += std::fabs(v);
                ++terms[b];
            }
            const bool on_z = b < dL;
            // A sum of terms counts (terms + extra products) error terms; the
            // non-zero weights' products, the constant and the extras, as a combiner counts them.
            const std::size_t err_terms = (on_z ? nz_w + n_extra_z : nz_d + n_extra_d);
            finish_bound(ctx, s, o, b, mag[b], err[b] + (on_z ? extra_z : extra_d), terms[b], err_terms);
        }
    }
}

void forward_affine(const context& ctx, node_state& s, const node_plan& plan, const std::vector<const node_state*>& in) {
    switch (s.n1) {
        case 2: return forward_affine_kernel<2>(ctx, s, plan, in);
        case 3: return forward_affine_kernel<3>(ctx, s, plan, in);
        case 4: return forward_affine_kernel<4>(ctx, s, plan, in);
        case 5: return forward_affine_kernel<5>(ctx, s, plan, in);
        case 6: return forward_affine_kernel<6>(ctx, s, plan, in);
        case 7: return forward_affine_kernel<7>(ctx, s, plan, in);
        case 8: return forward_affine_kernel<8>(ctx, s, plan, in);
        case 9: return forward_affine_kernel<9>(ctx, s, plan, in);
        default: return forward_affine_kernel<0>(ctx, s, plan, in);
    }
}

// Interval bounds of an affine-like node from its inputs' concrete bounds:
// the forward kernel on interval views of the inputs (each bound a constant,
// one coefficient), so the same error analysis holds.
interval_bounds interval_affine(const context& ctx, const node_plan& plan, const std::vector<const node_state*>& in, std::size_t elements) {
    std::vector<node_state> views(in.size());
    std::vector<const node_state*> view_ptr;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const node_state& x = *in[i];
        node_state& v = views[i];
        v.allocate(x.elements, 1);
        for (std::size_t e = 0; e < x.elements; ++e) {
            const double b[4] = {x.zlo[e], x.zhi[e], x.dlo[e], x.dhi[e]};
            for (std::size_t k = 0; k < 4; ++k) {
                if (std::isfinite(b[k])) {
                    v.c(e, k)[0] = b[k];
                    v.mag[v.at(e, k)] = std::fabs(b[k]);
                } else {
                    v.err[v.at(e, k)] = inf;  // (0, inf): unbounded
                }
            }
            v.zlo[e] = x.zlo[e], v.zhi[e] = x.zhi[e], v.dlo[e] = x.dlo[e], v.dhi[e] = x.dhi[e];
            v.zabs[e] = x.zabs[e], v.dabs[e] = x.dabs[e];
        }
        view_ptr.push_back(&v);
    }
    node_state out;
    out.allocate(elements, 1);
    forward_affine_kernel<1>(ctx, out, plan, view_ptr);
    interval_bounds r;
    for (auto* v : {&r.zlo, &r.zhi, &r.dlo, &r.dhi}) v->resize(elements);
    const auto lower = [&](std::size_t e, std::size_t b) {
        const double err = out.err[out.at(e, b)];
        return err == inf ? -inf : down(out.c(e, b)[0] - err);
    };
    const auto upper = [&](std::size_t e, std::size_t b) {
        const double err = out.err[out.at(e, b)];
        return err == inf ? inf : up(out.c(e, b)[0] + err);
    };
    // (finish_bound leaves finite coefficients and an error in [0, max] or
    // inf, so no end is NaN.)
    for (std::size_t e = 0; e < elements; ++e)
        r.zlo[e] = lower(e, zL), r.zhi[e] = upper(e, zU), r.dlo[e] = lower(e, dL), r.dhi[e] = upper(e, dU);
    return r;
}

// Interval bounds of a ReLU's output from its input's bounds z in [zl, zu],
// z' in [ql, qu], d in [dl, du]: relu(z), and relu(z') - relu(z) by the
// exact cases, else within [min(0, dl), max(0, du)] and within
// [relu(ql) - relu(zu), relu(qu) - relu(zl)].
void interval_relu(double zl, double zu, double ql, double qu, double dl, double du, interval_bounds& r, std::size_t e) {
    const auto relu = [](double v) { return v > 0 ? v : 0.0; };
    r.zlo[e] = relu(zl), r.zhi[e] = relu(zu);
    double lo, hi;
    if (zl >= 0 && ql >= 0) lo = dl, hi = du;
    else if (zu <= 0 && qu <= 0) lo = hi = 0;
    else if (zl >= 0 && qu <= 0) lo = -zu, hi = -zl;
    else if (zu <= 0 && ql >= 0) lo = ql, hi = qu;
    else {
        lo = std::max(std::min(0.0, dl), down(relu(ql) - relu(zu)));
        hi = std::min(std::max(0.0, du), up(relu(qu) - relu(zl)));
    }
    r.dlo[e] = lo, r.dhi[e] = hi;
}

// A double weight w~ for the real w = num / den, and r >= |w - w~|.
std::pair<double, double> rounded_quotient(double num, double den) {
    const double w = num / den;
    if (std::fma(w, den, -num) == 0) return {w, 0.0};
    return {w, up(up(0x1p-51 * std::fabs(w)) + eta)};
}

// One objective of the backward pass: cz z_k + cd d_k of node `last`'s element k.
struct objective {
    std::size_t k;
    double cz, cd;
};

// The backward state of one node for R objectives at once (element-major:
// row r of element e at e * R + r): objective_r <= sum (cz z + cd d) + C_r + E_r.
struct back_node {
    std::vector<double> cz, cd, az, ad;  // coefficients and the sums of their terms' magnitudes
    std::vector<std::size_t> kz, kd;     // terms per element (an upper bound for every row)
    bool active = false;
    void activate(std::size_t elements, std::size_t R) {
        if (active) return;
        active = true;
        cz.assign(elements * R, 0.0), cd.assign(elements * R, 0.0), az.assign(elements * R, 0.0), ad.assign(elements * R, 0.0);
        kz.assign(elements, 0), kd.assign(elements, 0);
    }
};

struct linear_in_x {
    double bound = inf;          // certified upper bound of the objective over the box
    std::vector<double> coef;    // objective <= coef.x + constant + error over the box, in real arithmetic
    double constant = 0;
    double error = 0;            // >= 0, inf on overflow
};

// Upper bounds over the box of each objective of node `last` by
// back-substitution, all objectives in one sweep; v(i) is node i's state
// for i <= last. The rounding analysis is the header's, per objective
// (a term counted for an element counts for every objective: more terms,
// a larger and still valid error bound).
template <class States>
std::vector<linear_in_x> backward_upper(const context& ctx, const States& v, std::size_t last, const std::vector<objective>& goals,
                                        std::vector<std::vector<double>>* relu_scores = nullptr) {
    const auto& nodes = ctx.theta.nodes();
    const std::size_t R = goals.size();
    std::vector<linear_in_x> result(R);
    if (R == 0) return result;
    std::vector<back_node> st(last + 1);
    st[last].activate(v(last).elements, R);
    for (std::size_t r = 0; r < R; ++r) {
        st[last].cz[goals[r].k * R + r] = goals[r].cz;
        st[last].cd[goals[r].k * R + r] = goals[r].cd;
    }
    std::vector<double> C(R, 0.0), E(R, 0.0);
    std::vector<std::size_t> e_terms(R, 0);
    const auto add_e = [&](std::size_t r, double a, double b) {
        if (a == 0 || b == 0 || ctx.drop) return;
        E[r] += a * b;
        ++e_terms[r];
    };
    // A sum's error times b: dot_error_with(a, k2) b. When a = 0 (every
    // computed product zero, e.g. a row that does not read the element) the
    // error is subnormal: it goes, in units of eta and rounded upward, to
    // E_eta, added to E once at the end.
    std::vector<double> E_eta(R, 0.0);
    const auto add_dot_error = [&](std::size_t r, double a, const count_constants& k2, double b) {
        if (a != 0) return add_e(r, dot_error_with(a, k2), b);
        if (b != 0 && !ctx.drop) E_eta[r] = up(E_eta[r] + up(k2.zero_eta * b));
    };
    // to[e] += a * from[o] for every row, with the magnitudes.
    const auto contribute = [R](double* __restrict to, double* __restrict mag_to, const double* __restrict from, double a) {
        for (std::size_t r = 0; r < R; ++r) {
            const double t = a * from[r];
            to[r] += t;
            mag_to[r] += std::fabs(t);
        }
    };
    for (std::size_t i = last; i >= 1; --i) {
        back_node& b = st[i];
        if (!b.active) continue;
        const node_state& s = v(i);
        const node_plan& plan = ctx.plans[i];
        for (std::size_t e = 0; e < s.elements; ++e) {
            if (b.kz[e] && s.zabs[e] != 0) {
                const count_constants k2 = count_of(2 * b.kz[e]);
                for (std::size_t r = 0; r < R; ++r) add_dot_error(r, b.az[e * R + r], k2, s.zabs[e]);
            }
            if (b.kd[e] && s.dabs[e] != 0) {
                const count_constants k2 = count_of(2 * b.kd[e]);
                for (std::size_t r = 0; r < R; ++r) add_dot_error(r, b.ad[e * R + r], k2, s.dabs[e]);
            }
        }
        const auto& inputs = nodes[i].inputs;
        const auto nonzero = [R](const double* row) {
            for (std::size_t r = 0; r < R; ++r)
                if (row[r] != 0) return true;
            return false;
        };
        switch (plan.kind) {
            case record_kind::affine:
                for (std::size_t in : inputs) st[in].activate(v(in).elements, R);
                for (std::size_t o = 0; o < s.elements; ++o) {
                    const double* czo = b.cz.data() + o * R;
                    const double* cdo = b.cd.data() + o * R;
                    const bool has_z = nonzero(czo), has_d = nonzero(cdo);
                    if (!has_z && !has_d) continue;
                    for (std::size_t t = plan.start[o]; t < plan.start[o + 1]; ++t) {
                        const tap& p = plan.taps[t];
                        back_node& to = st[inputs[p.slot]];
                        const node_state& x = v(inputs[p.slot]);
                        const std::size_t e = p.idx;
                        if (has_z) {
                            contribute(to.cz.data() + e * R, to.az.data() + e * R, czo, p.w);
                            ++to.kz[e];
                            if (p.r != 0)
                                for (std::size_t r = 0; r < R; ++r) {
                                    add_e(r, std::fabs(czo[r]) * p.r, x.zabs[e]);  // two products: counted twice
                                    e_terms[r] += czo[r] != 0;
                                }
                        }
                        if (has_d) {
                            contribute(to.cz.data() + e * R, to.az.data() + e * R, cdo, p.s);
                            to.kz[e] += p.es != 0 ? 2 : 1;  // |es cd| <= u |s cd|: one more term
                            contribute(to.cd.data() + e * R, to.ad.data() + e * R, cdo, p.wq);
                            ++to.kd[e];
                            if (p.r != 0)
                                for (std::size_t r = 0; r < R; ++r) {
                                    add_e(r, std::fabs(cdo[r]) * p.r, x.dabs[e]);
                                    e_terms[r] += cdo[r] != 0;
                                }
                        }
                    }
                    for (std::size_t r = 0; r < R; ++r) {
                        if (czo[r] != 0 && plan.bz[o] != 0) C[r] = up(C[r] + up(czo[r] * plan.bz[o]));
                        if (cdo[r] != 0 && plan.bd[o] != 0) C[r] = up(C[r] + up(cdo[r] * plan.bd[o]));
                        add_e(r, std::fabs(czo[r]), plan.rbz[o]);
                        add_e(r, std::fabs(cdo[r]), plan.rbd[o]);
                    }
                }
                break;
            case record_kind::relu:
            case record_kind::select: {
                // Each element's four lines, on one input element (relu: the same
                // element; select: the line's source).
                const bool relu = plan.kind == record_kind::relu;
                const std::size_t in = inputs.at(0);
                st[in].activate(v(in).elements, R);
                back_node& to = st[in];
                for (std::size_t e = 0; e < s.elements; ++e) {
                    bool any = false;
                    for (int side = 0; side < 2; ++side) {
                        const double* cf = (side == 0 ? b.cz : b.cd).data() + e * R;
                        for (std::size_t r = 0; r < R; ++r) {
                            if (cf[r] == 0) continue;
                            any = true;
                            const std::size_t which = side == 0 ? (cf[r] >= 0 ? zU : zL) : (cf[r] >= 0 ? dU : dL);
                            const line& l = s.lines[4 * e + which];
                            if (relu_scores && relu) (*relu_scores)[i][e] += std::fabs(cf[r]) * s.loss[4 * e + which];
                            const std::size_t f = relu ? e : s.source[4 * e + which];
                            const double tz = cf[r] * l.az, td = cf[r] * l.ad;
                            to.cz[f * R + r] += tz;
                            to.az[f * R + r] += std::fabs(tz);
                            to.cd[f * R + r] += td;
                            to.ad[f * R + r] += std::fabs(td);
                            if (l.c != 0) C[r] = up(C[r] + up(cf[r] * l.c));
                        }
                    }
                    if (!any) continue;
                    // Terms per row: relu, one from each side on element e; select, one
                    // per line at most on each line's source (every row reads <= 2 lines).
                    if (relu) {
                        // A line with a zero slope adds an exact zero (no rounding: not a
                        // term). An inactive element's lines all do; counting them gave its
                        // error bound a subnormal part, about 100 cycles per product on x86.
                        const line* ln = s.lines.data() + 4 * e;
                        to.kz[e] += static_cast<unsigned>((ln[zU].az != 0 || ln[zL].az != 0) + (ln[dU].az != 0 || ln[dL].az != 0));
                        to.kd[e] += static_cast<unsigned>((ln[zU].ad != 0 || ln[zL].ad != 0) + (ln[dU].ad != 0 || ln[dL].ad != 0));
                    } else {
                        for (std::size_t w = 0; w < 4; ++w) ++to.kz[s.source[4 * e + w]], ++to.kd[s.source[4 * e + w]];
                    }
                }
                break;
            }
            case record_kind::constant:
                for (std::size_t e = 0; e < s.elements; ++e)
                    for (std::size_t r = 0; r < R; ++r) {
                        const double cz = b.cz[e * R + r], cd = b.cd[e * R + r];
                        if (cz != 0) C[r] = up(C[r] + up(cz * (cz >= 0 ? s.zhi[e] : s.zlo[e])));
                        if (cd != 0) C[r] = up(C[r] + up(cd * (cd >= 0 ? s.dhi[e] : s.dlo[e])));
                    }
                break;
            case record_kind::none: throw core::invalid_argument("linear relaxation: internal error, node without a record");
        }
        b = back_node{};  // release
    }
    const back_node& b0 = st[0];
    for (std::size_t r = 0; r < R; ++r) {
        linear_in_x& out = result[r];
        out.constant = C[r];
        out.coef.assign(ctx.n, 0.0);
        double total = C[r];
        if (b0.active) {
            for (std::size_t j = 0; j < ctx.n; ++j) {
                if (b0.kz[j]) add_dot_error(r, b0.az[j * R + r], count_of(2 * b0.kz[j]), ctx.m[j]);  // d = 0 at the input: cd drops out exactly
                const double cj = b0.cz[j * R + r];
                out.coef[j] = cj;
                if (cj != 0) total = up(total + up(cj * (cj >= 0 ? ctx.box.upper[j] : ctx.box.lower[j])));
            }
        }
        if (E_eta[r] != 0) E[r] += up(E_eta[r] * eta), ++e_terms[r];
        out.error = ctx.drop ? 0.0 : nonneg_bound(E[r], e_terms[r]);
        if (std::isnan(out.error)) out.error = inf;
        total = up(total + out.error);
        out.bound = std::isnan(total) ? inf : total;
    }
    return result;
}

// backward_upper with at most `budget` bytes of backward state per sweep
// (at least one objective): the objectives go in consecutive chunks
// (linear_options::intermediate_sweep_bytes). Each bound is valid on its
// own; within a sweep the objectives share the elements' term counts, so a
// chunk's error terms may be smaller than one sweep's.
template <class States>
std::vector<linear_in_x> backward_upper_in_chunks(const context& ctx, const States& v, std::size_t last, const std::vector<objective>& goals,
                                                  std::size_t budget) {
    std::size_t elements = 0;
    for (std::size_t i = 0; i <= last; ++i) elements += v(i).elements;
    const std::size_t per_goal = std::max<std::size_t>(1, elements * 4 * sizeof(double));
    const std::size_t chunk = std::max<std::size_t>(1, budget / per_goal);
    if (goals.size() <= chunk) return backward_upper(ctx, v, last, goals);
    std::vector<linear_in_x> all;
    all.reserve(goals.size());
    for (std::size_t g = 0; g < goals.size(); g += chunk) {
        const std::vector<objective> part(goals.begin() + static_cast<std::ptrdiff_t>(g),
                                          goals.begin() + static_cast<std::ptrdiff_t>(std::min(goals.size(), g + chunk)));
        for (auto& r : backward_upper(ctx, v, last, part)) all.push_back(std::move(r));
    }
    return all;
}

// The Lagrangian bound of the header's "ReLU splits": an upper bound of the
// objective f over S = {x in the box : every g_i >= 0}, given f <= f.coef.x +
// f.constant + f.error over S and g_i <= a_i.x + c_i over S:
//   max over the box of f(x) + sum_i beta_i (a_i.x + c_i),  any beta_i >= 0.
// beta by coordinate descent (3 sweeps; each step minimizes the convex
// piecewise-linear function of one beta_i exactly over its breakpoints);
// then the bound is evaluated rigorously: the combined coefficient h_j is
// a sum of K = 1 + (non-zero betas) products, within dot_error(its computed
// magnitudes, K) of the exact one, which times m_j bounds its effect.
double lagrangian_upper(const context& ctx, const linear_in_x& f, const std::vector<constraint>& cons) {
    if (!std::isfinite(f.bound) || !std::isfinite(f.error) || !std::isfinite(f.constant) || f.coef.size() != ctx.n) return f.bound;
    const std::size_t n = ctx.n, m = cons.size();
    const auto& lo = ctx.box.lower;
    const auto& hi = ctx.box.upper;
    std::vector<char> usable(m, 0);
    for (std::size_t i = 0; i < m; ++i) {
        bool ok = std::isfinite(cons[i].c);
        for (std::size_t j = 0; j < n && ok; ++j) ok = std::isfinite(cons[i].a[j]);
        usable[i] = ok;
    }
    std::vector<double> beta(m, 0.0), a(f.coef);
    std::vector<std::pair<double, double>> breaks;
    for (int sweep = 0; sweep < 3; ++sweep)
        for (std::size_t i = 0; i < m; ++i) {
            if (!usable[i]) continue;
            const constraint& g = cons[i];
            if (beta[i] != 0)
                for (std::size_t j = 0; j < n; ++j) a[j] -= beta[i] * g.a[j];
            // Right slope at beta_i = 0 of max over the box of (a + t a_i).x + t c_i, and its breakpoints.
            double slope = g.c;
            breaks.clear();
            for (std::size_t j = 0; j < n; ++j) {
                const double gj = g.a[j];
                if (gj == 0) continue;
                slope += gj * ((a[j] > 0 || (a[j] == 0 && gj > 0)) ? hi[j] : lo[j]);
                const double t = -a[j] / gj;
                if (t > 0 && std::isfinite(t)) breaks.emplace_back(t, std::fabs(gj) * (hi[j] - lo[j]));
            }
            double t = 0;
            if (slope < 0) {
                std::sort(breaks.begin(), breaks.end());
                for (const auto& [bt, rise] : breaks) {
                    t = bt;
                    slope += rise;
                    if (slope >= 0) break;
                }
            }
            beta[i] = t;
            if (t != 0)
                for (std::size_t j = 0; j < n; ++j) a[j] += t * g.a[j];
        }
    // Rigorous evaluation from scratch.
    std::size_t K = 1;
    double total = up(f.constant + f.error);
    for (std::size_t i = 0; i < m; ++i)
        if (beta[i] > 0) {
            ++K;
            total = up(total + up(beta[i] * cons[i].c));
        }
    if (K == 1) return f.bound;
    double err = 0;
    for (std::size_t j = 0; j < n; ++j) {
        double h = f.coef[j], mag = std::fabs(h);
        for (std::size_t i = 0; i < m; ++i)
            if (beta[i] > 0) {
                const double t = beta[i] * cons[i].a[j];
                h += t;
                mag += std::fabs(t);
            }
        if (h != 0) total = up(total + up(h * (h >= 0 ? hi[j] : lo[j])));
        if (!ctx.drop && mag != 0) err = up(err + up(dot_error(mag, K) * ctx.m[j]));
    }
    total = up(total + err);
    return std::isnan(total) ? inf : total;
}

// Builds each node's plan once per pair of networks (a visitor of the walk:
// the value of a node is its plan).
struct plan_builder {
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<node_plan>;

    static node_plan affine(std::size_t outputs) {
        node_plan s;
        s.kind = record_kind::affine;
        s.start.assign(1, 0);
        s.bz.assign(outputs, 0.0);
        s.rbz.assign(outputs, 0.0);
        s.bd.assign(outputs, 0.0);
        s.rbd.assign(outputs, 0.0);
        return s;
    }

    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    node_plan visit(net::op_tag<K>, const visit_t& c) const {
        const net::node &n = c.n, &nq = c.paired();
        const std::size_t outputs = n.output.size();
        node_plan s = affine(outputs);
        const std::size_t pixels = K == net::op::conv2d ? n.output.height * n.output.width : 1;
        const auto begin = [&](std::size_t o) {
            const std::size_t ch = o / pixels;
            s.bz[o] = n.bias[ch];
            const auto [sum, error] = arith::two_sum(nq.bias[ch], -n.bias[ch]);
            if (!std::isfinite(sum)) throw net::model_error("linear relaxation: bias difference overflows the double range");
            s.bd[o] = sum;
            s.rbd[o] = std::fabs(error);
        };
        const auto add_tap = [&](std::size_t w, std::size_t in) {
            const auto [sum, error] = arith::two_sum(nq.weight[w], -n.weight[w]);
            if (!std::isfinite(sum)) throw net::model_error("linear relaxation: weight difference overflows the double range");
            s.taps.push_back({in, n.weight[w], nq.weight[w], sum, error, 0.0, 0});
        };
        const auto end = [&](std::size_t) { s.start.push_back(s.taps.size()); };
        if constexpr (K == net::op::conv2d) {
            net::detail::for_each_conv_tap(n, c.input_shape(), begin, add_tap, end);
        } else {
            s.taps.reserve(n.weight.size());
            for (std::size_t o = 0; o < n.out_features; ++o) {
                begin(o);
                for (std::size_t k = 0; k < n.in_features; ++k) add_tap(o * n.in_features + k, k);
                end(o);
            }
        }
        return s;
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    node_plan visit(net::op_tag<K>, const visit_t& c) const {
        const std::size_t outputs = c.n.output.size();
        node_plan s = affine(outputs);
        for (std::size_t o = 0; o < outputs; ++o) {
            s.taps.push_back({o, 1.0, 1.0, 0.0, 0.0, 0.0, 0});
            s.start.push_back(s.taps.size());
        }
        return s;
    }
    node_plan visit(net::op_tag<net::op::add>, const visit_t& c) const {
        const std::size_t outputs = c.n.output.size();
        node_plan s = affine(outputs);
        for (std::size_t o = 0; o < outputs; ++o) {
            s.taps.push_back({o, 1.0, 1.0, 0.0, 0.0, 0.0, 0});
            s.taps.push_back({o, 1.0, 1.0, 0.0, 0.0, 0.0, 1});
            s.start.push_back(s.taps.size());
        }
        return s;
    }
    template <net::op K>
        requires(K == net::op::avg_pool || K == net::op::global_avg_pool)
    node_plan visit(net::op_tag<K>, const visit_t& c) const {
        const net::node& n = c.n;
        const net::shape3& in = c.input_shape();
        node_plan s = affine(n.output.size());
        const auto window = [&](const std::vector<std::size_t>& taps, double divisor) {
            const auto [w, r] = rounded_quotient(1.0, divisor);
            for (std::size_t t : taps) s.taps.push_back({t, w, w, 0.0, 0.0, r, 0});
            s.start.push_back(s.taps.size());
        };
        if constexpr (K == net::op::global_avg_pool) {
            const std::size_t hw = in.height * in.width;
            std::vector<std::size_t> taps(hw);
            for (std::size_t ch = 0; ch < in.channels; ++ch) {
                for (std::size_t k = 0; k < hw; ++k) taps[k] = ch * hw + k;
                window(taps, static_cast<double>(hw));
            }
        } else {
            net::for_each_pool_window(n, in, [&](std::size_t, const std::vector<std::size_t>& taps) { window(taps, net::pool_divisor(n, taps.size())); });
        }
        return s;
    }
    node_plan visit(net::op_tag<net::op::normalize>, const visit_t& c) const {
        const net::node& n = c.n;
        const std::size_t outputs = n.output.size();
        node_plan s = affine(outputs);
        for (std::size_t k = 0; k < outputs; ++k) {
            // (v - mean) scale / divisor + offset = f v + (offset - f mean), f = scale / divisor real.
            const auto [w, r] = rounded_quotient(n.norm_scale[k], n.norm_divisor[k]);
            s.taps.push_back({k, w, w, 0.0, 0.0, r, 0});
            s.start.push_back(s.taps.size());
            const auto f = arith::make_interval(n.norm_scale[k]) / arith::make_interval(n.norm_divisor[k]);
            const auto shift = arith::make_interval(n.norm_offset[k]) - arith::make_interval(n.norm_mean[k]) * f;
            const double mid = 0.5 * shift.lower() + 0.5 * shift.upper();
            s.bz[k] = mid;
            s.rbz[k] = std::max(up(shift.upper() - mid), up(mid - shift.lower()));
        }
        return s;
    }
    node_plan visit(net::op_tag<net::op::relu>, const visit_t&) const { return node_plan{record_kind::relu, {}, {}, {}, {}, {}, {}}; }
    node_plan visit(net::op_tag<net::op::max_pool>, const visit_t&) const { return node_plan{record_kind::select, {}, {}, {}, {}, {}, {}}; }
    template <net::op K>
        requires(K == net::op::relu6)
    node_plan visit(net::op_tag<K>, const visit_t&) const {
        return node_plan{record_kind::constant, {}, {}, {}, {}, {}, {}};
    }
};

// The forward pass over one box (a visitor of the walk, using the plans).
struct linear_walk {
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<node_state>;
    const context& ctx;

    // Bound b of element e of s from the relaxation line l on element `src`
    // of the input x (recorded for the backward pass).
    void emit_line(node_state& s, std::size_t e, std::size_t b, const line& l, const node_state& x, std::size_t src) const {
        s.lines[4 * e + b] = l;
        if (!s.source.empty()) s.source[4 * e + b] = src;
        const bool lower = b == zL || b == dL;
        // The zero line: the bound stays zero. An exact copy (slope 1
        // on z or on d, no constant) keeps the input's bound as it is.
        if (l.c == 0 && l.az == 0 && l.ad == 0) return;
        const bool copies_z = l.az == 1 && l.ad == 0, copies_d = l.az == 0 && l.ad == 1;
        if (l.c == 0 && (copies_z || copies_d)) {
            const std::size_t from_b = copies_z ? (lower ? zL : zU) : (lower ? dL : dU);
            std::copy(x.c(src, from_b), x.c(src, from_b) + s.n1, s.c(e, b));
            s.err[s.at(e, b)] = x.err[x.at(src, from_b)];
            s.mag[s.at(e, b)] = x.mag[x.at(src, from_b)];
            return;
        }
        combiner k(ctx, s, e, b);
        if (!std::isfinite(l.c)) {
            k.constant(l.c);  // an infinite constant: finish() makes the bound unbounded
            k.finish();
            return;
        }
        k.add(l.az, x, src, (l.az >= 0) == lower ? zL : zU);
        k.add(l.ad, x, src, (l.ad >= 0) == lower ? dL : dU);
        k.constant(l.c);
        k.finish();
    }

    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d || K == net::op::identity || K == net::op::flatten || K == net::op::add ||
                 K == net::op::avg_pool || K == net::op::global_avg_pool || K == net::op::normalize)
    node_state visit(net::op_tag<K>, const visit_t& c) const {
        node_state s;
        s.allocate(c.n.output.size(), ctx.n + 1);
        std::vector<const node_state*> in;
        for (std::size_t k = 0; k < c.n.inputs.size(); ++k) in.push_back(&c.input(k));
        forward_affine(ctx, s, ctx.plans[c.index], in);
        const interval_bounds fused = interval_affine(ctx, ctx.plans[c.index], in, s.elements);
        finish_concrete(ctx, s, c.index, &fused);
        return s;
    }
    node_state visit(net::op_tag<net::op::relu>, const visit_t& c) const {
        const node_state& x = c.input();
        const std::size_t from = c.n.inputs.at(0);
        node_state s;
        s.allocate(x.elements, ctx.n + 1);
        s.lines.resize(4 * x.elements);
        if (ctx.relu_candidate) {
            s.loss.assign(4 * x.elements, 0.0);
            s.unstable.assign(x.elements, 0);
        }
        node_state scratch;
        scratch.allocate(1, x.n1);
        std::vector<double> zl(x.elements), zu(x.elements), ql(x.elements), qu(x.elements), dl(x.elements), du(x.elements);
        std::vector<objective> goals;
        std::vector<std::size_t> goal_of(x.elements, npos);
        for (std::size_t e = 0; e < x.elements; ++e) {
            std::tie(ql[e], qu[e]) = quantized_range(ctx, x, from, e, scratch);
            zl[e] = x.zlo[e], zu[e] = x.zhi[e], dl[e] = x.dlo[e], du[e] = x.dhi[e];
            if (ctx.intermediate && ((zl[e] < 0 && zu[e] > 0) || (ql[e] < 0 && qu[e] > 0))) {
                // Back-substitution to the input for an element whose relaxation is not exact:
                // upper bounds of z, -z, d, -d, z + d, -(z + d).
                goal_of[e] = goals.size();
                for (const auto& [az, ad] : {std::pair{1.0, 0.0}, {-1.0, 0.0}, {0.0, 1.0}, {0.0, -1.0}, {1.0, 1.0}, {-1.0, -1.0}})
                    goals.push_back({e, az, ad});
            }
        }
        std::vector<linear_in_x> b;
        if (!goals.empty()) {
            const auto state = [&c](std::size_t i) -> const node_state& { return c.earlier(i); };
            b = backward_upper_in_chunks(ctx, state, from, goals, ctx.intermediate_sweep_bytes);
            if (ctx.constraints && !ctx.constraints->empty())
                for (auto& r : b) r.bound = std::min(r.bound, lagrangian_upper(ctx, r, *ctx.constraints));
            for (std::size_t g = 0; g < goals.size(); g += 6) {
                const std::size_t e = goals[g].k;
                zu[e] = std::min(zu[e], b[g].bound);
                zl[e] = std::max(zl[e], -b[g + 1].bound);
                du[e] = std::min(du[e], b[g + 2].bound);
                dl[e] = std::max(dl[e], -b[g + 3].bound);
                qu[e] = std::min(qu[e], b[g + 4].bound);
                ql[e] = std::max(ql[e], -b[g + 5].bound);
                if ((zl[e] > zu[e] || dl[e] > du[e] || ql[e] > qu[e]) && ctx.may_be_empty(c.index)) throw infeasible_subdomain{};
                if (zl[e] > zu[e] || dl[e] > du[e] || ql[e] > qu[e])
                    throw core::unsound_error("linear relaxation pass, node " + std::to_string(from) + " ('" + ctx.theta.at(from).name +
                                              "'), element " + std::to_string(e) + ": back-substitution's bounds " +
                                              core::interval_text(-b[g + 1].bound, b[g].bound) + " (theta), " +
                                              core::interval_text(-b[g + 3].bound, b[g + 2].bound) + " (difference), " +
                                              core::interval_text(-b[g + 5].bound, b[g + 4].bound) +
                                              " (theta') do not overlap the forward bounds over the box " +
                                              core::box_text(ctx.box.lower, ctx.box.upper));
            }
        }
        const std::vector<double> zl_before_split = zl;
        std::vector<char> split(x.elements, 0);
        if (ctx.splits)
            for (const relu_split& sp : *ctx.splits) {
                if (sp.node != c.index) continue;
                const std::size_t e = sp.element;
                if (e >= x.elements)
                    throw core::invalid_argument("linear relaxation pass: split of element " + std::to_string(e) + " of node " +
                                                 std::to_string(c.index) + ", which has " + std::to_string(x.elements));
                split[e] = 1;
                // g = +-z or +-(z + d) >= 0 on S: its tightest linear upper bound, forward or back-substituted.
                const double sign = sp.active ? 1.0 : -1.0;
                constraint con = split_line(ctx, x, e, sp.quantized, sign, scratch);
                if (goal_of[e] != npos) {
                    const linear_in_x& alt = b[goal_of[e] + (sp.quantized ? 4 : 0) + (sp.active ? 0 : 1)];
                    constraint back{alt.coef, up(alt.constant + alt.error)};
                    if (std::isfinite(back.c) && constraint_max(ctx, back) < constraint_max(ctx, con)) con = std::move(back);
                }
                if (constraint_max(ctx, con) < 0) throw infeasible_subdomain{};  // g < 0 everywhere on the box
                ctx.constraints->push_back(std::move(con));
                double &lo = sp.quantized ? ql[e] : zl[e], &hi = sp.quantized ? qu[e] : zu[e];
                if (sp.active)
                    lo = std::max(lo, 0.0);
                else
                    hi = std::min(hi, 0.0);
                // z' = z + d: each of the three from the other two.
                dl[e] = std::max(dl[e], down(ql[e] - zu[e])), du[e] = std::min(du[e], up(qu[e] - zl[e]));
                zl[e] = std::max(zl[e], down(ql[e] - du[e])), zu[e] = std::min(zu[e], up(qu[e] - dl[e]));
                ql[e] = std::max(ql[e], down(zl[e] + dl[e])), qu[e] = std::min(qu[e], up(zu[e] + du[e]));
                if (zl[e] > zu[e] || dl[e] > du[e] || ql[e] > qu[e]) throw infeasible_subdomain{};
            }
        interval_bounds fused;
        for (auto* v : {&fused.zlo, &fused.zhi, &fused.dlo, &fused.dhi}) v->resize(x.elements);
        if (ctx.keep_pre_activations) s.pre.resize(6 * x.elements);
        for (std::size_t e = 0; e < x.elements; ++e) {
            if (ctx.keep_pre_activations) std::copy_n(std::array{zl[e], zu[e], ql[e], qu[e], dl[e], du[e]}.begin(), 6, s.pre.begin() + 6 * e);
            interval_relu(zl[e], zu[e], ql[e], qu[e], dl[e], du[e], fused, e);
            const auto lines = relu_lines(zl[e], zu[e], ql[e], qu[e], dl[e], du[e], zl_before_split[e], split[e] != 0);
            if (ctx.relu_candidate) {
                relu_losses(zl[e], zu[e], ql[e], qu[e], dl[e], du[e], lines, s.loss.data() + 4 * e);
                s.unstable[e] = static_cast<unsigned char>((zl[e] < 0 && zu[e] > 0 ? 1 : 0) | (ql[e] < 0 && qu[e] > 0 ? 2 : 0));
            }
            for (std::size_t b = 0; b < 4; ++b) emit_line(s, e, b, lines[b], x, e);
        }
        finish_concrete(ctx, s, c.index, &fused);
        return s;
    }
    // Max pooling: per window, t the tap with the largest lower bound of z.
    // z_out >= z_t always; z_out = z_t when t dominates (its lower bound is
    // at least every other tap's upper bound), and d_out = d_t when t
    // dominates in both networks; otherwise constant bounds: z_out in
    // [max zl, max zu], z'_out likewise, d_out = max z' - max z in
    // [min dl, max dh] and in [max ql - max zu, max qu - max zl].
    node_state visit(net::op_tag<net::op::max_pool>, const visit_t& c) const {
        const node_state& x = c.input();
        const std::size_t from = c.n.inputs.at(0);
        node_state s;
        s.allocate(c.n.output.size(), ctx.n + 1);
        s.lines.resize(4 * s.elements);
        s.source.assign(4 * s.elements, 0);
        node_state scratch;
        scratch.allocate(1, x.n1);
        std::vector<double> ql(x.elements), qu(x.elements);
        for (std::size_t e = 0; e < x.elements; ++e) std::tie(ql[e], qu[e]) = quantized_range(ctx, x, from, e, scratch);
        interval_bounds fused;
        for (auto* v : {&fused.zlo, &fused.zhi, &fused.dlo, &fused.dhi}) v->resize(s.elements);
        net::for_each_pool_window(c.n, c.input_shape(), [&](std::size_t o, const std::vector<std::size_t>& taps) {
            if (taps.empty()) throw core::invalid_argument("linear relaxation pass: an empty max pooling window at node " + std::to_string(c.index));
            std::size_t t = taps[0];
            double zlo = -inf, zhi = -inf, qlo = -inf, qhi = -inf, dlo = inf, dhi = -inf;
            for (const std::size_t k : taps) {
                if (x.zlo[k] > x.zlo[t]) t = k;
                zlo = std::max(zlo, x.zlo[k]), zhi = std::max(zhi, x.zhi[k]);
                qlo = std::max(qlo, ql[k]), qhi = std::max(qhi, qu[k]);
                dlo = std::min(dlo, x.dlo[k]), dhi = std::max(dhi, x.dhi[k]);
            }
            dlo = std::max(dlo, down(qlo - zhi));
            dhi = std::min(dhi, up(qhi - zlo));
            bool z_dominates = true, q_dominates = true;
            for (const std::size_t k : taps) {
                if (k == t) continue;
                z_dominates = z_dominates && x.zhi[k] <= x.zlo[t];
                q_dominates = q_dominates && qu[k] <= ql[t];
            }
            fused.zlo[o] = zlo, fused.zhi[o] = zhi, fused.dlo[o] = dlo, fused.dhi[o] = dhi;
            const line copy_z{1, 0, 0}, copy_d{0, 1, 0};
            emit_line(s, o, zL, copy_z, x, t);
            emit_line(s, o, zU, z_dominates ? copy_z : line{0, 0, zhi}, x, t);
            const bool exact_d = z_dominates && q_dominates;
            emit_line(s, o, dL, exact_d ? copy_d : line{0, 0, dlo}, x, t);
            emit_line(s, o, dU, exact_d ? copy_d : line{0, 0, dhi}, x, t);
        });
        finish_concrete(ctx, s, c.index, &fused);
        return s;
    }
    // ReLU6: constant bounds from the interval pass.
    template <net::op K>
        requires(K == net::op::relu6)
    node_state visit(net::op_tag<K>, const visit_t& c) const {
        const auto& iv = (*ctx.intervals)[c.index];  // always run for networks with these nodes
        node_state s;
        s.allocate(iv.a.size(), ctx.n + 1);
        for (std::size_t e = 0; e < s.elements; ++e) {
            const double v[4] = {iv.a[e].lower(), iv.a[e].upper(), iv.delta[e].lower(), iv.delta[e].upper()};
            for (std::size_t b = 0; b < 4; ++b) {
                if (std::isfinite(v[b])) {
                    s.c(e, b)[ctx.n] = v[b];
                    s.mag[s.at(e, b)] = std::fabs(v[b]);
                } else {
                    s.err[s.at(e, b)] = inf;
                }
            }
            s.zlo[e] = v[0], s.zhi[e] = v[1], s.dlo[e] = v[2], s.dhi[e] = v[3];
            s.zabs[e] = std::max(std::fabs(v[0]), std::fabs(v[1]));
            s.dabs[e] = std::max(std::fabs(v[2]), std::fabs(v[3]));
        }
        return s;
    }
};

}  // namespace linrelax

struct linear_relaxation::prepared {
    std::vector<linrelax::node_plan> plans;
    bool needs_intervals = false;  // ReLU6: its bounds come from the interval pass
};

linear_relaxation::linear_relaxation(const net::network& theta, const net::network& theta_quantized)
    : theta_(theta), quant_(theta_quantized) {
    using namespace linrelax;
    auto p = std::make_shared<prepared>();
    const plan_builder builder;
    p->plans = net::walk_pair(theta, theta_quantized, node_plan{}, builder, {"linear relaxation bound", false});
    for (const auto& n : theta.nodes()) p->needs_intervals = p->needs_intervals || n.kind == net::op::relu6;
    prepared_ = std::move(p);
}

std::size_t linear_pass_bytes(const net::network& theta) {
    const std::size_t n = theta.input_shape().size();
    std::size_t elements = n;
    for (const auto& node : theta.nodes()) elements += node.output.size();
    // Per element: four bounds of n + 1 coefficients, their errors and magnitudes,
    // six concrete bounds, four relaxation lines and their sources.
    const std::size_t per_element = (4 * (n + 1) + 8 + 6 + 12 + 4 + 6) * sizeof(double);
    return elements * per_element + linear_options{}.intermediate_sweep_bytes;
}

box_bounds linear_difference_bounds(const net::network& theta, const net::network& quant, const input_box& box, const linear_options& opt) {
    return linear_relaxation(theta, quant).bounds(box, opt);
}

box_bounds linear_relaxation::bounds(const input_box& box, const linear_options& opt) const {
    using namespace linrelax;
    const net::network &theta = theta_, &quant = quant_;
    if (box.lower.size() != theta.input_shape().size() || box.upper.size() != box.lower.size())
        throw core::invalid_argument("linear relaxation pass: the box has " + std::to_string(box.lower.size()) + " inputs, the network " +
                                     std::to_string(theta.input_shape().size()));
    const bool needs_intervals = opt.interval_pass || prepared_->needs_intervals;
    std::vector<differential_values> intervals;
    if (needs_intervals) intervals = differential_intervals(theta, quant, box);
    context ctx{box, box.lower.size(), {}, 1.0, opt.drop_rounding_terms_for_test, opt.intermediate,
                needs_intervals ? &intervals : nullptr, theta, prepared_->plans};
    double mass = 1;
    for (std::size_t j = 0; j < ctx.n; ++j) {
        ctx.m.push_back(std::max(std::fabs(box.lower[j]), std::fabs(box.upper[j])));
        mass = up(mass + ctx.m[j]);
    }
    ctx.mass = mass;
    ctx.underflow = std::max(up(up(4 * eta) * mass), std::numeric_limits<double>::min());
    ctx.relu_candidate = opt.relu_candidate;
    ctx.keep_pre_activations = opt.lp;
    ctx.intermediate_sweep_bytes = opt.intermediate_sweep_bytes;
    std::vector<constraint> constraints;
    if (!opt.splits.empty()) {
        ctx.splits = &opt.splits;
        ctx.constraints = &constraints;
        for (const relu_split& sp : opt.splits) {
            if (sp.node >= theta.nodes().size() || theta.at(sp.node).kind != net::op::relu)
                throw core::invalid_argument("linear relaxation pass: split of node " + std::to_string(sp.node) + ", which is not a ReLU");
            ctx.first_split_node = std::min(ctx.first_split_node, sp.node);
        }
    }
    try {
        return bounds_under_splits(ctx, opt, constraints);
    } catch (const infeasible_subdomain&) {
        box_bounds empty;
        const std::size_t K = theta.output_shape().size();
        empty.infeasible = true;
        empty.lower.assign(K, 0.0);
        empty.upper.assign(K, 0.0);
        empty.split_score.assign(ctx.n, 0.0);
        return empty;
    }
}

box_bounds linear_relaxation::bounds_under_splits(linrelax::context& ctx, const linear_options& opt,
                                                  std::vector<linrelax::constraint>& constraints) const {
    using namespace linrelax;
    const net::network &theta = theta_, &quant = quant_;
    const input_box& box = ctx.box;
    node_state start;
    start.allocate(ctx.n, ctx.n + 1);
    for (std::size_t j = 0; j < ctx.n; ++j) {
        start.c(j, zL)[j] = start.c(j, zU)[j] = 1.0;
        start.mag[start.at(j, zL)] = start.mag[start.at(j, zU)] = ctx.m[j];
        start.zlo[j] = box.lower[j];
        start.zhi[j] = box.upper[j];
        start.zabs[j] = ctx.m[j];
    }
    const linear_walk engine{ctx};
    const auto v = net::walk_pair(theta, quant, std::move(start), engine, {"linear relaxation bound", false});
    const std::size_t last = v.size() - 1;
    const node_state& out = v[last];
    box_bounds result;
    const std::size_t K = out.elements;
    if (opt.output != linear_options::npos && opt.output >= K)
        throw core::invalid_argument("linear relaxation pass: output " + std::to_string(opt.output) + " requested, the network has " +
                                     std::to_string(K));
    std::vector<std::vector<double>> lower_coef(K), upper_coef(K);
    std::vector<double> lower_const(K), upper_const(K);
    std::vector<objective> goals;
    for (std::size_t k = 0; k < K; ++k)
        if (opt.backward && (opt.output == linear_options::npos || opt.output == k)) {
            goals.push_back({k, 0.0, 1.0});
            goals.push_back({k, 0.0, -1.0});
        }
    const auto state = [&v](std::size_t i) -> const node_state& { return v[i]; };
    std::vector<std::vector<double>> scores(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!v[i].unstable.empty()) scores[i].assign(v[i].elements, 0.0);
    auto back = backward_upper(ctx, state, last, goals, opt.relu_candidate ? &scores : nullptr);
    if (!constraints.empty())
        for (auto& r : back) r.bound = std::min(r.bound, lagrangian_upper(ctx, r, constraints));
    std::vector<lp_outcome> lp;
    if (opt.lp && !goals.empty()) {
        std::vector<lp_goal> lp_goals;
        for (std::size_t g = 0; g < goals.size(); ++g) lp_goals.push_back({goals[g].k, goals[g].cd, back[g].bound});
        lp = lp_upper(box, theta, prepared_->plans, state, last, lp_goals, opt.lp_magnitude_only, opt.lp_drop_column_term_for_test);
        if (!lp.empty() && lp[0].infeasible) {
            if (ctx.first_split_node != npos) throw infeasible_subdomain{};
            throw core::unsound_error("linear relaxation pass: the linear program over the pass's certified bounds is infeasible "
                                      "(certified by its Farkas ray) over the box " + core::box_text(box.lower, box.upper));
        }
        for (std::size_t g = 0; g < lp.size(); ++g) back[g].bound = std::min(back[g].bound, lp[g].bound);
    }
    const lp_outcome* lp_candidate = nullptr;  // the program's split candidate for opt.output
    for (std::size_t k = 0, g = 0; k < K; ++k) {
        double lo = out.dlo[k], hi = out.dhi[k];  // forward, intersected with the interval pass
        lower_coef[k].assign(out.c(k, dL), out.c(k, dL) + ctx.n);
        upper_coef[k].assign(out.c(k, dU), out.c(k, dU) + ctx.n);
        lower_const[k] = out.c(k, dL)[ctx.n];
        upper_const[k] = out.c(k, dU)[ctx.n];
        const lp_outcome* lp_side = nullptr;  // the program of the side with the larger bound
        if (opt.backward && (opt.output == linear_options::npos || opt.output == k)) {
            if (!lp.empty() && (lp[g].bounded || lp[g + 1].bounded))
                lp_side = !lp[g + 1].bounded || (lp[g].bounded && std::fabs(lp[g].bound) >= std::fabs(lp[g + 1].bound)) ? &lp[g] : &lp[g + 1];
            if (lp_side && lp_side->has_split && k == opt.output) lp_candidate = lp_side;
            const auto& up_side = back[g++];
            const auto& low_side = back[g++];
            if (up_side.bound < hi) {
                hi = up_side.bound;
                upper_coef[k] = up_side.coef;
                upper_const[k] = up_side.constant;
            }
            if (-low_side.bound > lo) {
                lo = -low_side.bound;
                for (double& c : lower_coef[k] = low_side.coef) c = -c;
                lower_const[k] = -low_side.constant;
            }
            if (lo > hi && ctx.may_be_empty(last)) throw infeasible_subdomain{};
            if (lo > hi)
                throw core::unsound_error("linear relaxation pass, output " + std::to_string(k) + ": the backward bounds " +
                                          core::interval_text(-low_side.bound, up_side.bound) + " and the forward bounds " +
                                          core::interval_text(out.dlo[k], out.dhi[k]) + " do not overlap over the box " +
                                          core::box_text(box.lower, box.upper));
        }
        result.lower.push_back(lo);
        result.upper.push_back(hi);
        // Candidates: the vertex maximizing the lower bound and the one minimizing the upper bound.
        std::vector<double> xl(ctx.n), xu(ctx.n);
        double vl = lower_const[k], vu = upper_const[k];
        for (std::size_t j = 0; j < ctx.n; ++j) {
            xl[j] = lower_coef[k][j] >= 0 ? box.upper[j] : box.lower[j];
            xu[j] = upper_coef[k][j] >= 0 ? box.lower[j] : box.upper[j];
            vl += lower_coef[k][j] * xl[j];
            vu += upper_coef[k][j] * xu[j];
        }
        result.candidates.push_back(std::fabs(vl) >= std::fabs(vu) ? xl : xu);
        if (!lp.empty()) {
            result.more_candidates.resize(K);
            if (lp_side) result.more_candidates[k] = lp_side->x;
        }
    }
    // Split score: the smear of the chosen output, or of the one with the largest magnitude.
    std::size_t worst = opt.output == linear_options::npos ? 0 : opt.output;
    for (std::size_t k = 1; k < K && opt.output == linear_options::npos; ++k)
        if (result.magnitude(k) > result.magnitude(worst)) worst = k;
    const auto smear = [&](std::size_t k) {
        std::vector<double> score(ctx.n);
        for (std::size_t j = 0; j < ctx.n; ++j)
            score[j] = (std::fabs(lower_coef[k][j]) + std::fabs(upper_coef[k][j])) * (box.upper[j] - box.lower[j]);
        return score;
    };
    result.split_score = K > 0 ? smear(worst) : std::vector<double>(ctx.n, 0.0);
    if (opt.output == linear_options::npos)
        for (std::size_t k = 0; k < K; ++k) result.output_split_score.push_back(smear(k));
    // The ReLU split candidate: the unstable element with the largest score
    // (theta's z when it is unstable, else theta''s), first in network order on ties.
    double best = 0;
    for (std::size_t i = 0; i < v.size(); ++i)
        for (std::size_t e = 0; e < scores[i].size(); ++e) {
            if (v[i].unstable[e] && scores[i][e] > best) {
                best = scores[i][e];
                result.has_relu_candidate = true;
                result.relu_candidate = relu_split{i, e, !(v[i].unstable[e] & 1), false};
            }
        }
    if (lp_candidate && opt.relu_candidate) {
        result.has_relu_candidate = true;
        result.relu_candidate = lp_candidate->split;
    }
    return result;
}

}  // namespace qbound::verify
