// The residual-corrected point engine (see "Refined point mode" in
// include/qbound/fast/enclosure.hpp for the bound and its proof).
#include "qbound/fast/enclosure.hpp"

#include "kernels.hpp"

#include "qbound/arith/error_free.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/walk.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>

namespace qbound::fast {

using namespace detail;

namespace {

// ---- scalars: value in m + d_0 + ... + d_{C-1} +- r ----------------------------

constexpr int max_c = max_refined_corrections;

struct fine {
    double m = 0, r = 0;
    std::array<double, max_c> d{};  // only the first C are used
};

inline fine whole_line() {
    fine f;
    f.r = inf;
    return f;
}

inline fine constant(double v) {
    fine f;
    f.m = v;
    return f;
}

// A bound on the error of one rounding whose result is x: 2^-53 |x| (or half
// a subnormal step) in round-to-nearest, generously 2^-51 |x| + 2^-1073.
inline double rounding_error(double x) { return next_up(std::fabs(x) * 0x1p-51 + 0x1p-1073); }

// An error-free cascade of L TwoSum levels over a stream of terms: the sum
// of the terms equals level[0] + ... + level[L-1] plus the exact sum of the
// terms that fall through to level L, which is summed plainly (error at most
// gamma_N times the sum of their magnitudes, N the number of terms). Pushed
// largest first, level[0] is the rounded sum and each level is about 2^-53
// of the one before.
struct cascade {
    int L;
    std::array<double, max_c + 2> level{};
    double abs_last = 0;

    void push(double t) {
        for (int j = 0; j < L && t != 0; ++j) {
            const auto [s, e] = arith::two_sum(level[static_cast<std::size_t>(j)], t);
            level[static_cast<std::size_t>(j)] = s, t = e;
        }
        level[static_cast<std::size_t>(L)] += t;
        abs_last += std::fabs(t);
    }

    // Writes the L components (the last one absorbs level L) and returns a
    // bound on |sum of the terms - sum of the components|; `terms` bounds
    // the number of pushes.
    double finish(std::size_t terms, double* out) const {
        for (int j = 0; j + 1 < L; ++j) out[j] = level[static_cast<std::size_t>(j)];
        const double last = level[static_cast<std::size_t>(L - 1)] + level[static_cast<std::size_t>(L)];
        out[L - 1] = last;
        return add_up(last_level_bound(abs_last, terms), rounding_error(last));
    }

    // gamma_N * (sum |t|), where abs is fl(sum |t|) >= (1 - gamma_N) sum |t|.
    static double last_level_bound(double abs, std::size_t terms) {
        if (abs == 0) return 0;
        const double g = gamma_bound(std::max<std::size_t>(terms, 1));
        return mul_up(g, mul_up(abs, add_up(1.0, 2.0 * g)));
    }
};

struct scalar_ops {
    int C;

    bool usable(const fine& v) const {
        if (!std::isfinite(v.m) || !(v.r <= std::numeric_limits<double>::max())) return false;
        for (int j = 0; j < C; ++j)
            if (!std::isfinite(v.d[static_cast<std::size_t>(j)])) return false;
        return true;
    }
    fine checked(const fine& v) const { return usable(v) ? v : whole_line(); }

    interval to_interval(const fine& v) const {
        double tail = v.r;
        for (int j = 1; j < C; ++j)
            if (v.d[static_cast<std::size_t>(j)] != 0) tail = add_up(tail, std::fabs(v.d[static_cast<std::size_t>(j)]));
        if (tail == 0 && v.d[0] == 0) return {v.m, v.m};
        const double s = v.m + v.d[0];  // within one ulp of m + d_0
        return {next_down(next_down(s) - tail), next_up(next_up(s) + tail)};
    }

    fine from_interval(interval v) const {
        fine f;
        detail::from_interval(v, f.m, f.r);
        return f;
    }

    fine negate(const fine& a) const {
        fine f = a;
        f.m = -a.m;
        for (auto& x : f.d) x = -x;
        return f;
    }

    // The expansion m + d_0 + ... + d_{C-1} of the sum of `terms` (largest
    // first) through a cascade of C + 1 levels; returns the bound on its error.
    double from_terms(const double* terms, std::size_t n, fine& out) const {
        cascade acc{C + 1};
        for (std::size_t k = 0; k < n; ++k) acc.push(terms[k]);
        std::array<double, max_c + 1> parts{};
        const double err = acc.finish(n, parts.data());
        out.m = parts[0];
        for (int j = 0; j < C; ++j) out.d[static_cast<std::size_t>(j)] = parts[static_cast<std::size_t>(j + 1)];
        return err;
    }

    // The same value with its head and corrections re-expanded (so that m +
    // d_0 is the rounded value and the tail is small).
    fine renormalized(const fine& v) const {
        std::array<double, max_c + 1> terms{};
        terms[0] = v.m;
        for (int j = 0; j < C; ++j) terms[static_cast<std::size_t>(j + 1)] = v.d[static_cast<std::size_t>(j)];
        fine out;
        out.r = add_up(v.r, from_terms(terms.data(), static_cast<std::size_t>(C + 1), out));
        return checked(out);
    }

    fine add(const fine& a, const fine& b) const {
        std::array<double, 2 * max_c + 2> terms{};
        terms[0] = a.m, terms[1] = b.m;
        for (int j = 0; j < C; ++j)
            terms[static_cast<std::size_t>(2 * j + 2)] = a.d[static_cast<std::size_t>(j)], terms[static_cast<std::size_t>(2 * j + 3)] = b.d[static_cast<std::size_t>(j)];
        fine out;
        const double err = from_terms(terms.data(), static_cast<std::size_t>(2 * C + 2), out);
        out.r = add_up(add_up(a.r, b.r), err);
        return checked(out);
    }

    // x c as p + e exactly (FMA residual), away from the underflow range;
    // there e = 0 and the rounding of p goes to `extra`.
    static void two_product(double x, double c, double& p, double& e, double& extra) {
        p = x * c;
        e = std::fma(x, c, -p);
        if (std::fabs(p) < 0x1p-960) e = 0, extra = add_up(extra, rounding_error(p));
    }

    fine scale(const fine& a, double c) const {
        std::array<double, 2 * max_c + 2> terms{};
        double extra = 0;
        two_product(a.m, c, terms[0], terms[1], extra);
        for (int j = 0; j < C; ++j)
            two_product(a.d[static_cast<std::size_t>(j)], c, terms[static_cast<std::size_t>(2 * j + 2)], terms[static_cast<std::size_t>(2 * j + 3)], extra);
        fine out;
        const double err = from_terms(terms.data(), static_cast<std::size_t>(2 * C + 2), out);
        out.r = add_up(add_up(mul_up(a.r, std::fabs(c)), err), extra);
        return checked(out);
    }

    // Long division of the expansion m + d by c: quotient digits q_0 = m',
    // q_1..q_C = d', each remainder R - q c exact by FMA (away from the
    // underflow range) and re-expanded by the cascade; the last remainder
    // and the cascades' errors, divided by |c|, go to the radius.
    fine divide(const fine& a, double c) const {
        double extra = 0, remainder_error = 0;
        const double q0 = a.m / c;
        double rem = std::fma(-q0, c, a.m);
        if (std::fabs(a.m) < 0x1p-960 || std::fabs(q0) < 0x1p-960) rem = 0, extra = rounding_error(q0);
        std::array<double, max_c> R{};
        {
            cascade acc{C};
            acc.push(rem);
            for (int j = 0; j < C; ++j) acc.push(a.d[static_cast<std::size_t>(j)]);
            remainder_error = acc.finish(static_cast<std::size_t>(C + 1), R.data());
        }
        fine out;
        out.m = q0;
        for (int j = 0; j < C; ++j) {
            const double q = R[0] / c;
            double left = std::fma(-q, c, R[0]);
            if (std::fabs(R[0]) < 0x1p-960 || std::fabs(q) < 0x1p-960) left = 0, remainder_error = add_up(remainder_error, mul_up(rounding_error(q), std::fabs(c)));
            out.d[static_cast<std::size_t>(j)] = q;
            cascade acc{C};
            acc.push(left);
            for (int i = 1; i < C; ++i) acc.push(R[static_cast<std::size_t>(i)]);
            remainder_error = add_up(remainder_error, acc.finish(static_cast<std::size_t>(C), R.data()));
        }
        double left = remainder_error;
        for (int i = 0; i < C; ++i) left = add_up(left, std::fabs(R[static_cast<std::size_t>(i)]));
        out.r = add_up(add_up(next_up(a.r / std::fabs(c)), next_up(left / std::fabs(c))), extra);
        return checked(out);
    }

    fine clamp(const fine& a, double top) const {
        const interval v = to_interval(a);
        if (v.lo >= 0 && v.hi <= top) return a;
        if (v.hi <= 0) return constant(0);
        if (v.lo >= top) return constant(top);
        return checked(from_interval({std::clamp(v.lo, 0.0, top), std::clamp(v.hi, 0.0, top)}));
    }
};

struct fine_tensor {
    int C = 1;
    std::vector<double> m, r;
    std::vector<std::vector<double>> d;
    std::size_t size() const { return m.size(); }
    fine at(std::size_t k) const {
        fine f;
        f.m = m[k], f.r = r[k];
        for (int j = 0; j < C; ++j) f.d[static_cast<std::size_t>(j)] = d[static_cast<std::size_t>(j)][k];
        return f;
    }
    void resize(std::size_t n, int corrections) {
        C = corrections;
        m.assign(n, 0), r.assign(n, 0);
        d.assign(static_cast<std::size_t>(C), std::vector<double>(n, 0.0));
    }
    void set(std::size_t k, const fine& v) {
        m[k] = v.m, r[k] = v.r;
        for (int j = 0; j < C; ++j) d[static_cast<std::size_t>(j)][k] = v.d[static_cast<std::size_t>(j)];
    }
};

// Smallest F with |v| <= 2^F for every entry of every array (0 when all are zero).
int scale_exponent(std::initializer_list<const std::vector<double>*> arrays) {
    double top = 0;
    for (const auto* v : arrays)
        for (double x : *v) top = std::max(top, std::fabs(x));
    return top == 0 ? 0 : std::ilogb(top) + 1;
}
int scale_exponent(const double* v, std::size_t n) {
    double top = 0;
    for (std::size_t k = 0; k < n; ++k) top = std::max(top, std::fabs(v[k]));
    return top == 0 ? 0 : std::ilogb(top) + 1;
}

// Splits v (|v| <= 2^F) into `levels` slices and ADDS them to out[t][offset
// + k] when `accumulate` (else stores them): slice t is an integer multiple
// of 2^(F - (t+1) beta) of absolute value <= 2^(F - t beta); the remainder
// after the last is <= 2^(F - levels beta) / 2. Extraction fl(fl(x + sigma)
// - sigma) with sigma = 1.5 * 2^52 * unit rounds x to a multiple of unit
// exactly, and x - slice is exact.
void split(const double* v, std::size_t n, int F, int beta, int levels, std::vector<std::vector<double>>& out, std::size_t offset,
           bool accumulate = false) {
    double sigma[64];
    for (int t = 0; t < levels && t < 64; ++t) sigma[t] = std::ldexp(1.5, F - (t + 1) * beta + 52);
    for (std::size_t k = 0; k < n; ++k) {
        double rest = v[k];
        for (int t = 0; t < levels; ++t) {
            const double slice = (rest + sigma[t]) - sigma[t];
            rest -= slice;
            double& target = out[static_cast<std::size_t>(t)][offset + k];
            target = accumulate ? target + slice : slice;
        }
    }
}

struct refined_engine {
    unsigned threads;
    int target_bits;
    int C;  // correction components
    scalar_ops ops{C};

    fine_tensor empty(std::size_t n) const {
        fine_tensor t;
        t.resize(n, C);
        return t;
    }

    fine_tensor affine(const net::node& n, const net::shape3& in_shape, const fine_tensor& x) const {
        // Dense is a 1x1 convolution of a {K, 1, 1} input.
        net::conv_geometry g = n.conv;
        net::shape3 in = in_shape;
        if (n.kind == net::op::dense) g = {}, in = {n.in_features, 1, 1};
        const std::size_t groups = g.groups, ipg = in.channels / groups, opg = n.out_features / groups;
        const std::size_t K = ipg * g.kernel_h * g.kernel_w;
        const std::size_t OW = n.kind == net::op::dense ? 1 : n.output.width, P = n.kind == net::op::dense ? 1 : n.output.height * n.output.width;
        const std::size_t outputs = n.out_features * P;

        // Exact split products: each slice of the input sums C + 1 component
        // slices, so 2 beta + ceil(log2 K) + ceil(log2 (C + 1)) <= 53 bits.
        const int log2K = K <= 1 ? 0 : static_cast<int>(std::ceil(std::log2(static_cast<double>(K))));
        const int log2parts = static_cast<int>(std::ceil(std::log2(static_cast<double>(C + 1))));
        const int beta = std::min(26, (53 - log2K - log2parts) / 2);
        if (beta < 4) throw refinement_not_applicable("node '" + n.name + "': dot products too long for exact split products");
        const int levels = std::clamp((target_bits + beta - 1) / beta, 1, 64);
        int F = scale_exponent({&x.m});
        for (const auto& dj : x.d) F = std::max(F, scale_exponent({&dj}));
        std::vector<int> row_exponent(n.out_features);
        for (std::size_t o = 0; o < n.out_features; ++o) row_exponent[o] = scale_exponent(n.weight.data() + o * K, K);
        for (std::size_t o = 0; o < n.out_features; ++o) {
            const int e = row_exponent[o];
            const bool ok = e + F + log2K + log2parts + 2 <= 1020 && e + 53 <= 1020 && F + 53 <= 1020 && e + F - (levels + 1) * beta >= -1070 &&
                            e - levels * beta + 52 >= -1020 && F - levels * beta + 52 >= -1020;
            if (!ok) throw refinement_not_applicable("node '" + n.name + "': values or weights too far from 1 for exact split products");
        }
        std::vector<std::vector<double>> w_slices(static_cast<std::size_t>(levels), std::vector<double>(n.weight.size()));
        // Slices past a row's last non-zero one are zero (a weight has 53 bits,
        // a quantized one a few): their products are skipped, not bounded.
        std::vector<int> row_slices(n.out_features, 0);
        for (std::size_t o = 0; o < n.out_features; ++o) {
            split(n.weight.data() + o * K, K, row_exponent[o], beta, levels, w_slices, o * K);
            for (int sl = levels; sl > 0 && row_slices[o] == 0; --sl) {
                const double* w = w_slices[static_cast<std::size_t>(sl - 1)].data() + o * K;
                if (std::any_of(w, w + K, [](double v) { return v != 0; })) row_slices[o] = sl;
            }
        }
        // Slices of the whole value m + d_0 + ... + d_{C-1} on one grid.
        std::vector<std::vector<double>> x_slices(static_cast<std::size_t>(levels), std::vector<double>(x.size()));
        split(x.m.data(), x.size(), F, beta, levels, x_slices, 0);
        for (const auto& dj : x.d) split(dj.data(), x.size(), F, beta, levels, x_slices, 0, true);

        const double gamma = gamma_bound(K), c_rad = add_up(1.0, 2.0 * gamma), under = next_up(2.0 * static_cast<double>(K) * eta);
        const std::size_t terms = static_cast<std::size_t>(levels * (levels + 1) / 2 + 2);
        const bool any_radius = std::any_of(x.r.begin(), x.r.end(), [](double v) { return v != 0; });

        fine_tensor y = empty(outputs);
        constexpr std::size_t chunk = 128;
        const std::size_t chunks = (P + chunk - 1) / chunk;
        const double macs = static_cast<double>(n.weight.size()) * static_cast<double>(P);
        const unsigned used = macs >= 1e5 ? threads : 1u;
        const std::size_t row_block = conv_row_block(opg, groups * chunks, used);
        const std::size_t row_blocks = (opg + row_block - 1) / row_block, tasks = groups * chunks * row_blocks;
        struct buffers {
            std::vector<double> packed, mid, rad, term, abs_last;
            std::vector<std::vector<double>> level;
        };
        std::vector<buffers> work(used);
        parallel_for(tasks, used, [&](std::size_t task, unsigned worker) {
            const std::size_t rb = task % row_blocks, column_task = task / row_blocks;
            const std::size_t group = column_task / chunks, p0 = (column_task % chunks) * chunk, width = std::min(chunk, P - p0);
            const std::size_t r0 = rb * row_block, rows = std::min(row_block, opg - r0), first_row = group * opg + r0;
            const std::size_t tiles = (width + 7) / 8, ldc = tiles * 8, cells = rows * ldc;
            buffers& b = work[worker];
            for (auto* v : {&b.mid, &b.rad, &b.term, &b.abs_last}) v->assign(cells, 0.0);
            b.level.resize(static_cast<std::size_t>(C + 1));
            for (auto& v : b.level) v.assign(cells, 0.0);
            const auto product = [&](const std::vector<double>& v, std::vector<double>& out, gemm_a a_form) {
                pack_columns(v, in, g, OW, group, p0, width, b.packed);
                gemm_packed(n.weight.data() + first_row * K, rows, K, b.packed.data(), tiles, out.data(), ldc, a_form);
            };
            // One term per cell through the cascade (error-free TwoSum levels, then a plain level).
            const auto push = [&](double* t) {
                for (int j = 0; j < C; ++j) {
                    double* s = b.level[static_cast<std::size_t>(j)].data();
                    for (std::size_t c = 0; c < cells; ++c) {
                        const auto [sum, error] = arith::two_sum(s[c], t[c]);
                        t[c] = error, s[c] = sum;
                    }
                }
                double* last = b.level[static_cast<std::size_t>(C)].data();
                for (std::size_t c = 0; c < cells; ++c) last[c] += t[c], b.abs_last[c] += std::fabs(t[c]);
            };
            const int slices = *std::max_element(row_slices.begin() + static_cast<std::ptrdiff_t>(first_row),
                                                 row_slices.begin() + static_cast<std::ptrdiff_t>(first_row + rows));
            product(x.m, b.mid, gemm_a::as_is);
            if (any_radius) product(x.r, b.rad, gemm_a::absolute);  // |W| r
            // The residual W (m + d) + b - fl(W m + b) from exact split products,
            // pushed in a fixed order: C_00, -m_out, b, then the others.
            for (int t = 0; t < levels; ++t) {
                pack_columns(x_slices[static_cast<std::size_t>(t)], in, g, OW, group, p0, width, b.packed);
                for (int s = 0; s + t < levels && (s < slices || (s == 0 && t == 0)); ++s) {
                    gemm_packed(w_slices[static_cast<std::size_t>(s)].data() + first_row * K, rows, K, b.packed.data(), tiles, b.term.data(), ldc);
                    push(b.term.data());
                    if (s == 0 && t == 0) {
                        for (std::size_t o = 0; o < rows; ++o)
                            for (std::size_t col = 0; col < ldc; ++col) b.term[o * ldc + col] = -(b.mid[o * ldc + col] + n.bias[first_row + o]);
                        push(b.term.data());
                        for (std::size_t o = 0; o < rows; ++o)
                            for (std::size_t col = 0; col < ldc; ++col) b.term[o * ldc + col] = n.bias[first_row + o];
                        push(b.term.data());
                    }
                }
            }
            for (std::size_t o = 0; o < rows; ++o) {
                const std::size_t oc = first_row + o;
                const double bias = n.bias[oc];
                // Omitted split products and the remainders of both splits.
                const double truncation = mul_up(mul_up(static_cast<double>(K), std::ldexp(1.0, row_exponent[oc] + F - levels * beta)),
                                                 static_cast<double>((C + 1) * (2 * levels + 2)));
                for (std::size_t col = 0; col < width; ++col) {
                    const std::size_t c = o * ldc + col;
                    fine v;
                    v.m = b.mid[c] + bias;
                    cascade acc{C};
                    for (int j = 0; j <= C; ++j) acc.level[static_cast<std::size_t>(j)] = b.level[static_cast<std::size_t>(j)][c];
                    acc.abs_last = b.abs_last[c];
                    double r = any_radius ? add_up(mul_up(add_up(b.rad[c], under), c_rad), under) : 0.0;  // |W| r_in
                    r = add_up(r, acc.finish(terms, v.d.data()));
                    v.r = add_up(r, truncation);
                    y.set(oc * P + p0 + col, ops.renormalized(v));
                }
            }
        });
        return y;
    }

    template <class Map>
    fine_tensor map(const fine_tensor& x, const Map& f) const {
        fine_tensor y = empty(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y.set(k, f(x.at(k), k));
        return y;
    }

    fine_tensor pool(const net::node& n, const net::shape3& in, const fine_tensor& x) const {
        const bool is_max = n.kind == net::op::max_pool;
        fine_tensor y = empty(n.output.size());
        net::for_each_pool_window(n, in, [&](std::size_t out, const std::vector<std::size_t>& taps) {
            if (taps.empty()) return;  // builders keep padding <= kernel / 2: never
            if (is_max) {
                y.set(out, maximum(x, taps));
            } else {
                fine acc = x.at(taps.front());
                for (std::size_t j = 1; j < taps.size(); ++j) acc = ops.add(acc, x.at(taps[j]));
                y.set(out, ops.divide(acc, net::pool_divisor(n, taps.size())));
            }
        });
        return y;
    }

    // The exact maximum when one value provably dominates the others, else
    // the interval of the maximum.
    fine maximum(const fine_tensor& x, const std::vector<std::size_t>& window) const {
        std::size_t best = window.front();
        interval top = ops.to_interval(x.at(best));
        double highest = top.hi;
        for (std::size_t j : window) {
            const interval v = ops.to_interval(x.at(j));
            if (v.lo > top.lo) best = j, top = v;
            highest = std::max(highest, v.hi);
        }
        bool dominates = true;
        for (std::size_t j : window)
            if (j != best && ops.to_interval(x.at(j)).hi > top.lo) dominates = false;
        if (dominates) return x.at(best);
        return ops.checked(ops.from_interval({top.lo, highest}));
    }

    fine_tensor global_avg_pool(const net::shape3& in, const fine_tensor& x) const {
        const std::size_t hw = in.height * in.width;
        fine_tensor y = empty(in.channels);
        for (std::size_t ch = 0; ch < in.channels; ++ch) {
            fine acc = x.at(ch * hw);
            for (std::size_t k = 1; k < hw; ++k) acc = ops.add(acc, x.at(ch * hw + k));
            y.set(ch, ops.divide(acc, static_cast<double>(hw)));
        }
        return y;
    }

    // The node handlers of the walk (net/walk.hpp).
    static constexpr net::op_set refused{net::op::batch_norm};
    using visit_t = net::node_visit<fine_tensor>;
    template <net::op K>
        requires(K == net::op::dense || K == net::op::conv2d)
    fine_tensor visit(net::op_tag<K>, const visit_t& c) const { return affine(c.n, c.input_shape(), c.input()); }
    fine_tensor visit(net::op_tag<net::op::relu>, const visit_t& c) const {
        return map(c.input(), [&](const fine& v, std::size_t) { return ops.clamp(v, inf); });
    }
    fine_tensor visit(net::op_tag<net::op::relu6>, const visit_t& c) const {
        return map(c.input(), [&](const fine& v, std::size_t) { return ops.clamp(v, 6.0); });
    }
    template <net::op K>
        requires(K == net::op::identity || K == net::op::flatten)
    fine_tensor visit(net::op_tag<K>, const visit_t& c) const { return c.take_input(); }
    template <net::op K>
        requires(K == net::op::max_pool || K == net::op::avg_pool)
    fine_tensor visit(net::op_tag<K>, const visit_t& c) const { return pool(c.n, c.input_shape(), c.input()); }
    fine_tensor visit(net::op_tag<net::op::global_avg_pool>, const visit_t& c) const { return global_avg_pool(c.input_shape(), c.input()); }
    fine_tensor visit(net::op_tag<net::op::add>, const visit_t& c) const {
        const fine_tensor& z = c.input(1);
        if (z.size() != c.input().size()) throw net::model_error("node '" + c.n.name + "': add of different sizes");
        return map(c.input(), [&](const fine& v, std::size_t k) { return ops.add(v, z.at(k)); });
    }
    fine_tensor visit(net::op_tag<net::op::normalize>, const visit_t& c) const {
        const net::node& n = c.n;
        return map(c.input(), [&](const fine& v, std::size_t k) {
            const fine centred = ops.add(v, constant(-n.norm_mean[k]));
            return ops.add(ops.divide(ops.scale(centred, n.norm_scale[k]), n.norm_divisor[k]), constant(n.norm_offset[k]));
        });
    }

    fine_tensor run(const net::network& net, fine_tensor input) const {
        net::check_evaluation_input(net, input.size());
        auto values = net::walk(net, std::move(input), *this, {"the fast refined engine", true});
        return std::move(values.back());
    }
};

refined_engine make_engine(const options& opt) {
    const int C = refined_corrections(opt.refined_bits);
    return refined_engine{thread_count(opt), opt.refined_bits, C, scalar_ops{C}};
}

fine_tensor refined_output(const refined_engine& e, const net::network& net, const std::vector<double>& x) {
    fine_tensor in = e.empty(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
        if (!std::isfinite(x[k])) throw core::invalid_argument("fast enclosure: input " + std::to_string(k) + " is not finite");
        in.m[k] = x[k];
    }
    return e.run(net, std::move(in));
}

enclosure to_enclosure(const scalar_ops& ops, const fine_tensor& y) {
    enclosure out;
    for (std::size_t k = 0; k < y.size(); ++k) {
        const fine v = y.at(k);
        if (!ops.usable(v)) {
            out.lower.push_back(-inf), out.upper.push_back(inf);
            continue;
        }
        const interval iv = ops.to_interval(v);
        out.lower.push_back(iv.lo), out.upper.push_back(iv.hi);
    }
    return out;
}

}  // namespace

int refined_corrections(int bits) {
    if (bits < 53 || bits > max_refined_bits)
        throw core::invalid_argument("fast enclosure: refined bits must be in [53, " + std::to_string(max_refined_bits) + "], got " + std::to_string(bits));
    return std::clamp((bits + 49) / 50 - 1, 1, max_refined_corrections);
}

enclosure enclose_point_refined(const net::network& net, const std::vector<double>& x, const options& opt) {
    const refined_engine e = make_engine(opt);
    return to_enclosure(e.ops, refined_output(e, net, x));
}

enclosure enclose_difference_refined(const net::network& theta, const net::network& quant, const std::vector<double>& x, const options& opt) {
    // Two independent walks: only the outputs must correspond.
    if (theta.nodes().size() != quant.nodes().size() || theta.output_shape() != quant.output_shape())
        throw net::model_error("fast pair mode: the networks differ in structure");
    const refined_engine e = make_engine(opt);
    const fine_tensor a = refined_output(e, theta, x), aq = refined_output(e, quant, x);
    fine_tensor d = e.empty(a.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        const fine v = a.at(k), vq = aq.at(k);
        d.set(k, (e.ops.usable(v) && e.ops.usable(vq)) ? e.ops.add(vq, e.ops.negate(v)) : whole_line());
    }
    return to_enclosure(e.ops, d);
}

}  // namespace qbound::fast
