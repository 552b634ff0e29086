// The residual-corrected point engine (see "Refined point mode" in
// include/qbound/fast/enclosure.hpp for the bound and its proof).
#include "qbound/fast/enclosure.hpp"

#include "kernels.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/net/errors.hpp"

#include <algorithm>
#include <cmath>

namespace qbound::fast {

using namespace detail;

namespace {

// ---- scalars: value in m + d +- r ------------------------------------------------

struct fine {
    double m = 0, d = 0, r = 0;
};

constexpr fine whole_line{0, 0, inf};

// A bound on the error of one rounding whose result is x: 2^-53 |x| (or half
// a subnormal step) in round-to-nearest, generously 2^-51 |x| + 2^-1073.
inline double rounding_error(double x) { return next_up(std::fabs(x) * 0x1p-51 + 0x1p-1073); }

// s + e == a + b exactly (TwoSum; round-to-nearest, no overflow).
inline void two_sum(double a, double b, double& s, double& e) {
    s = a + b;
    const double bb = s - a;
    e = (a - (s - bb)) + (b - bb);
}

inline bool usable(const fine& v) { return std::isfinite(v.m) && std::isfinite(v.d) && v.r <= std::numeric_limits<double>::max(); }
inline fine checked(const fine& v) { return usable(v) ? v : whole_line; }

inline interval to_interval(const fine& v) {
    if (v.d == 0 && v.r == 0) return {v.m, v.m};
    const double s = v.m + v.d;  // within one ulp of m + d
    return {next_down(next_down(s) - v.r), next_up(next_up(s) + v.r)};
}

inline fine from_interval(interval v) {
    fine f;
    detail::from_interval(v, f.m, f.r);
    return f;
}

fine add(const fine& a, const fine& b) {
    double s, e;
    two_sum(a.m, b.m, s, e);
    if (!std::isfinite(s) || !std::isfinite(e)) return whole_line;
    const double t = a.d + b.d, d = t + e;
    return checked({s, d, add_up(add_up(add_up(a.r, b.r), rounding_error(t)), rounding_error(d))});
}

fine scale(const fine& a, double c) {
    const double p = a.m * c;
    double e = std::fma(a.m, c, -p), extra = 0;  // exact unless the product is near the underflow range
    if (std::fabs(p) < 0x1p-960) e = 0, extra = rounding_error(p);
    const double t = a.d * c, d = t + e;
    return checked({p, d, add_up(add_up(add_up(mul_up(a.r, std::fabs(c)), rounding_error(t)), rounding_error(d)), extra)});
}

fine divide(const fine& a, double c) {
    const double q = a.m / c;
    double rem = std::fma(-q, c, a.m), extra = 0;  // m - q c exactly, away from the underflow range
    if (std::fabs(a.m) < 0x1p-960 || std::fabs(q) < 0x1p-960) rem = 0, extra = rounding_error(q);
    const double t = rem + a.d, d = t / c;
    const double r = add_up(add_up(next_up(a.r / std::fabs(c)), next_up(rounding_error(t) / std::fabs(c))), rounding_error(d));
    return checked({q, d, add_up(r, extra)});
}

fine clamp(const fine& a, double top) {
    const interval v = to_interval(a);
    if (v.lo >= 0 && v.hi <= top) return a;
    if (v.hi <= 0) return {0, 0, 0};
    if (v.lo >= top) return {top, 0, 0};
    return checked(from_interval({std::clamp(v.lo, 0.0, top), std::clamp(v.hi, 0.0, top)}));
}

struct fine_tensor {
    std::vector<double> m, d, r;
    std::size_t size() const { return m.size(); }
    fine at(std::size_t k) const { return {m[k], d[k], r[k]}; }
    void resize(std::size_t n) { m.assign(n, 0), d.assign(n, 0), r.assign(n, 0); }
    void set(std::size_t k, const fine& v) { m[k] = v.m, d[k] = v.d, r[k] = v.r; }
};

// Smallest F with |v| <= 2^F for every entry (0 when all are zero).
int scale_exponent(const double* v, std::size_t n) {
    double top = 0;
    for (std::size_t k = 0; k < n; ++k) top = std::max(top, std::fabs(v[k]));
    return top == 0 ? 0 : std::ilogb(top) + 1;
}

// Splits v (|v| <= 2^F) into `levels` slices: slice t is an integer
// multiple of 2^(F - (t+1) beta) of absolute value <= 2^(F - t beta); the
// remainder after the last is <= 2^(F - levels beta) / 2. Extraction
// fl(fl(x + sigma) - sigma) with sigma = 1.5 * 2^52 * unit rounds x to a
// multiple of unit exactly, and x - slice is exact.
void split(const double* v, std::size_t n, int F, int beta, int levels, std::vector<std::vector<double>>& out, std::size_t offset) {
    double sigma[64];
    for (int t = 0; t < levels && t < 64; ++t) sigma[t] = std::ldexp(1.5, F - (t + 1) * beta + 52);
    for (std::size_t k = 0; k < n; ++k) {
        double rest = v[k];
        for (int t = 0; t < levels; ++t) {
            const double slice = (rest + sigma[t]) - sigma[t];
            rest -= slice;
            out[static_cast<std::size_t>(t)][offset + k] = slice;
        }
    }
}

struct refined_engine {
    unsigned threads;
    int target_bits;

    fine_tensor affine(const net::node& n, const net::shape3& in_shape, const fine_tensor& x) const {
        // Dense is a 1x1 convolution of a {K, 1, 1} input.
        net::conv_geometry g = n.conv;
        net::shape3 in = in_shape;
        if (n.kind == net::op::dense) g = {}, in = {n.in_features, 1, 1};
        const std::size_t groups = g.groups, ipg = in.channels / groups, opg = n.out_features / groups;
        const std::size_t K = ipg * g.kernel_h * g.kernel_w;
        const std::size_t OW = n.kind == net::op::dense ? 1 : n.output.width, P = n.kind == net::op::dense ? 1 : n.output.height * n.output.width;
        const std::size_t outputs = n.out_features * P;

        // Exact split products: 2 beta + ceil(log2 K) <= 53 bits.
        const int log2K = K <= 1 ? 0 : static_cast<int>(std::ceil(std::log2(static_cast<double>(K))));
        const int beta = std::min(26, (53 - log2K) / 2);
        const int levels = std::clamp((target_bits + beta - 1) / beta, 1, 64);
        const int F = scale_exponent(x.m.data(), x.size());
        std::vector<int> row_exponent(n.out_features);
        for (std::size_t o = 0; o < n.out_features; ++o) row_exponent[o] = scale_exponent(n.weight.data() + o * K, K);
        for (std::size_t o = 0; o < n.out_features; ++o) {
            const int e = row_exponent[o];
            const bool ok = e + F + log2K + 2 <= 1020 && e + 53 <= 1020 && F + 53 <= 1020 && e + F - (levels + 1) * beta >= -1070 &&
                            e - levels * beta + 52 >= -1020 && F - levels * beta + 52 >= -1020;
            if (!ok) throw refinement_not_applicable("node '" + n.name + "': values or weights too far from 1 for exact split products");
        }
        std::vector<std::vector<double>> w_slices(static_cast<std::size_t>(levels), std::vector<double>(n.weight.size()));
        for (std::size_t o = 0; o < n.out_features; ++o) split(n.weight.data() + o * K, K, row_exponent[o], beta, levels, w_slices, o * K);
        std::vector<std::vector<double>> m_slices(static_cast<std::size_t>(levels), std::vector<double>(x.size()));
        split(x.m.data(), x.size(), F, beta, levels, m_slices, 0);

        const double gamma = gamma_bound(K), c_rad = add_up(1.0, 2.0 * gamma), under = next_up(2.0 * static_cast<double>(K) * eta);
        const std::size_t terms = static_cast<std::size_t>(levels * (levels + 1) / 2 + 2);
        const double gamma_terms = gamma_bound(terms), c_terms = add_up(1.0, 2.0 * gamma_terms);
        std::vector<double> z(x.size()), absw(n.weight.size());
        for (std::size_t k = 0; k < x.size(); ++k) z[k] = add_up(x.r[k], mul_up(gamma, std::fabs(x.d[k])));
        for (std::size_t i = 0; i < absw.size(); ++i) absw[i] = std::fabs(n.weight[i]);

        fine_tensor y;
        y.resize(outputs);
        constexpr std::size_t chunk = 128;
        constexpr std::size_t row_block = 64;  // rows are independent: any split gives the same bits
        const std::size_t row_blocks = (opg + row_block - 1) / row_block;
        const std::size_t chunks = (P + chunk - 1) / chunk, tasks = groups * chunks * row_blocks;
        const double macs = static_cast<double>(n.weight.size()) * static_cast<double>(P);
        const unsigned used = macs >= 1e5 ? threads : 1u;
        struct buffers {
            std::vector<double> packed, mid, delta, rad, product, sum, err, abs_err;
        };
        std::vector<buffers> work(used);
        parallel_for(tasks, used, [&](std::size_t task, unsigned worker) {
            const std::size_t rb = task % row_blocks, column_task = task / row_blocks;
            const std::size_t group = column_task / chunks, p0 = (column_task % chunks) * chunk, width = std::min(chunk, P - p0);
            const std::size_t r0 = rb * row_block, rows = std::min(row_block, opg - r0), first_row = group * opg + r0;
            const std::size_t tiles = (width + 7) / 8, ldc = tiles * 8, cells = rows * ldc;
            buffers& b = work[worker];
            for (auto* v : {&b.mid, &b.delta, &b.rad, &b.product, &b.sum, &b.err, &b.abs_err}) v->assign(cells, 0.0);
            const auto product = [&](const std::vector<double>& A, const std::vector<double>& v, std::vector<double>& C) {
                pack_columns(v, in, g, OW, group, p0, width, b.packed);
                gemm_packed(A.data() + first_row * K, rows, K, b.packed.data(), tiles, C.data(), ldc);
            };
            product(n.weight, x.m, b.mid);
            product(n.weight, x.d, b.delta);
            product(absw, z, b.rad);
            // The residual sum W m + b - fl(W m + b) from exact split products,
            // accumulated by TwoSum in a fixed order: C_00, -m_out, b, then the others.
            for (int t = 0; t < levels; ++t) {
                pack_columns(m_slices[static_cast<std::size_t>(t)], in, g, OW, group, p0, width, b.packed);
                for (int s = 0; s + t < levels; ++s) {
                    gemm_packed(w_slices[static_cast<std::size_t>(s)].data() + first_row * K, rows, K, b.packed.data(), tiles, b.product.data(), ldc);
                    for (std::size_t o = 0; o < rows; ++o) {
                        const double bias = n.bias[first_row + o];
                        for (std::size_t col = 0; col < width; ++col) {
                            const std::size_t c = o * ldc + col;
                            double sum = b.sum[c], e;
                            const auto push = [&](double term) {
                                two_sum(sum, term, sum, e);
                                b.err[c] += e;
                                b.abs_err[c] += std::fabs(e);
                            };
                            if (s == 0 && t == 0) {
                                sum = b.product[c];
                                push(-(b.mid[c] + bias));
                                push(bias);
                            } else {
                                push(b.product[c]);
                            }
                            b.sum[c] = sum;
                        }
                    }
                }
            }
            for (std::size_t o = 0; o < rows; ++o) {
                const std::size_t oc = first_row + o;
                const double bias = n.bias[oc];
                // Omitted split products and the remainders of both splits.
                const double truncation = mul_up(mul_up(static_cast<double>(K), std::ldexp(1.0, row_exponent[oc] + F - levels * beta)),
                                                 static_cast<double>(2 * levels + 2));
                for (std::size_t col = 0; col < width; ++col) {
                    const std::size_t c = o * ldc + col;
                    const double m_out = b.mid[c] + bias;
                    const double residual = b.sum[c] + b.err[c];
                    const double d = residual + b.delta[c];
                    double r = add_up(mul_up(add_up(b.rad[c], under), c_rad), under);      // |W| (r + gamma |d_in|) and W d_in's rounding
                    r = add_up(r, mul_up(gamma_terms, mul_up(b.abs_err[c], c_terms)));       // fl(sum of TwoSum errors)
                    r = add_up(add_up(r, rounding_error(residual)), rounding_error(d));
                    r = add_up(r, truncation);
                    y.set(oc * P + p0 + col, checked({m_out, d, r}));
                }
            }
        });
        return y;
    }

    template <class Map>
    fine_tensor map(const fine_tensor& x, const Map& f) const {
        fine_tensor y;
        y.resize(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y.set(k, f(x.at(k), k));
        return y;
    }

    fine_tensor pool(const net::node& n, const net::shape3& in, const fine_tensor& x) const {
        const auto& g = n.pool;
        const bool is_max = n.kind == net::op::max_pool;
        fine_tensor y;
        y.resize(n.output.size());
        std::size_t out = 0;
        std::vector<std::size_t> window;
        for (std::size_t ch = 0; ch < in.channels; ++ch)
            for (std::size_t oh = 0; oh < n.output.height; ++oh)
                for (std::size_t ow = 0; ow < n.output.width; ++ow, ++out) {
                    window.clear();
                    for (std::size_t kh = 0; kh < g.kernel; ++kh)
                        for (std::size_t kw = 0; kw < g.kernel; ++kw) {
                            const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh) - static_cast<std::ptrdiff_t>(g.padding);
                            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw) - static_cast<std::ptrdiff_t>(g.padding);
                            if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(in.height) || iw >= static_cast<std::ptrdiff_t>(in.width))
                                continue;
                            window.push_back((ch * in.height + static_cast<std::size_t>(ih)) * in.width + static_cast<std::size_t>(iw));
                        }
                    if (is_max) {
                        y.set(out, maximum(x, window));
                    } else {
                        fine acc = x.at(window.front());
                        for (std::size_t j = 1; j < window.size(); ++j) acc = add(acc, x.at(window[j]));
                        y.set(out, divide(acc, static_cast<double>(g.count_include_pad ? g.kernel * g.kernel : window.size())));
                    }
                }
        return y;
    }

    // The exact maximum when one value provably dominates the others, else
    // the interval of the maximum.
    static fine maximum(const fine_tensor& x, const std::vector<std::size_t>& window) {
        std::size_t best = window.front();
        interval top = to_interval(x.at(best));
        double highest = top.hi;
        for (std::size_t j : window) {
            const interval v = to_interval(x.at(j));
            if (v.lo > top.lo) best = j, top = v;
            highest = std::max(highest, v.hi);
        }
        bool dominates = true;
        for (std::size_t j : window)
            if (j != best && to_interval(x.at(j)).hi > top.lo) dominates = false;
        if (dominates) return x.at(best);
        return checked(from_interval({top.lo, highest}));
    }

    fine_tensor global_avg_pool(const net::shape3& in, const fine_tensor& x) const {
        const std::size_t hw = in.height * in.width;
        fine_tensor y;
        y.resize(in.channels);
        for (std::size_t ch = 0; ch < in.channels; ++ch) {
            fine acc = x.at(ch * hw);
            for (std::size_t k = 1; k < hw; ++k) acc = add(acc, x.at(ch * hw + k));
            y.set(ch, divide(acc, static_cast<double>(hw)));
        }
        return y;
    }

    fine_tensor run(const net::network& net, fine_tensor input) const {
        if (!net.has_weights()) throw net::model_error(net.name() + ": a shape-only network cannot be evaluated");
        if (input.size() != net.input_shape().size()) throw net::model_error(net.name() + ": input has the wrong size");
        const auto& nodes = net.nodes();
        std::vector<std::size_t> last_use(nodes.size(), 0);
        for (std::size_t i = 1; i < nodes.size(); ++i)
            for (std::size_t j : nodes[i].inputs) last_use.at(j) = i;
        last_use.back() = nodes.size();
        std::vector<fine_tensor> values(nodes.size());
        values[0] = std::move(input);
        for (std::size_t i = 1; i < nodes.size(); ++i) {
            const net::node& n = nodes[i];
            const fine_tensor& x = values[n.inputs.at(0)];
            const net::shape3& in = nodes[n.inputs.at(0)].output;
            switch (n.kind) {
            case net::op::dense:
            case net::op::conv2d: values[i] = affine(n, in, x); break;
            case net::op::relu: values[i] = map(x, [](const fine& v, std::size_t) { return clamp(v, inf); }); break;
            case net::op::relu6: values[i] = map(x, [](const fine& v, std::size_t) { return clamp(v, 6.0); }); break;
            case net::op::identity:
            case net::op::flatten: values[i] = x; break;
            case net::op::max_pool:
            case net::op::avg_pool: values[i] = pool(n, in, x); break;
            case net::op::global_avg_pool: values[i] = global_avg_pool(in, x); break;
            case net::op::add: {
                const fine_tensor& z = values[n.inputs.at(1)];
                if (z.size() != x.size()) throw net::model_error("node '" + n.name + "': add of different sizes");
                values[i] = map(x, [&](const fine& v, std::size_t k) { return add(v, z.at(k)); });
                break;
            }
            case net::op::normalize:
                values[i] = map(x, [&](const fine& v, std::size_t k) {
                    const fine centred = add(v, {-n.norm_mean[k], 0, 0});
                    return add(divide(scale(centred, n.norm_scale[k]), n.norm_divisor[k]), {n.norm_offset[k], 0, 0});
                });
                break;
            case net::op::batch_norm:
                throw net::model_error(net.name() + ": batch_norm '" + n.name + "' must be folded before evaluation (fold_batch_norm)");
            case net::op::input: throw net::model_error(net.name() + ": second input node '" + n.name + "'");
            }
            for (std::size_t j : n.inputs)
                if (last_use[j] == i) values[j] = fine_tensor{};
        }
        return std::move(values.back());
    }
};

fine_tensor refined_output(const net::network& net, const std::vector<double>& x, const options& opt) {
    fine_tensor in;
    in.resize(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
        if (!std::isfinite(x[k])) throw arith::invalid_argument("fast enclosure: input " + std::to_string(k) + " is not finite");
        in.m[k] = x[k];
    }
    const refined_engine e{thread_count(opt), opt.refined_bits};
    return e.run(net, std::move(in));
}

enclosure to_enclosure(const fine_tensor& y) {
    enclosure out;
    for (std::size_t k = 0; k < y.size(); ++k) {
        const fine v = y.at(k);
        if (!usable(v)) {
            out.lower.push_back(-inf), out.upper.push_back(inf);
            continue;
        }
        const interval iv = to_interval(v);
        out.lower.push_back(iv.lo), out.upper.push_back(iv.hi);
    }
    return out;
}

}  // namespace

enclosure enclose_point_refined(const net::network& net, const std::vector<double>& x, const options& opt) {
    return to_enclosure(refined_output(net, x, opt));
}

enclosure enclose_difference_refined(const net::network& theta, const net::network& quant, const std::vector<double>& x, const options& opt) {
    if (theta.nodes().size() != quant.nodes().size() || theta.output_shape() != quant.output_shape())
        throw net::model_error("fast pair mode: the networks differ in structure");
    const fine_tensor a = refined_output(theta, x, opt), aq = refined_output(quant, x, opt);
    fine_tensor d;
    d.resize(a.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        const fine v = a.at(k);
        d.set(k, (usable(v) && usable(aq.at(k))) ? add(aq.at(k), {-v.m, -v.d, v.r}) : whole_line);
    }
    return to_enclosure(d);
}

}  // namespace qbound::fast
