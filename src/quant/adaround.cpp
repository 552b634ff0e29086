#include "qbound/quant/adaround.hpp"

#include "qbound/core/errors.hpp"

#include "text.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace qbound::quant {

namespace {

using detail::text;

// The receptive fields of one group of a layer (dense: one group, one field
// per sample; conv: one field per sample and output pixel), scaled by a
// common factor so that their largest entry is about 1, with a trailing
// constant entry (the bias input) when biases are quantized.
struct receptive_fields {
    std::size_t dim = 0;          // entries per field (including the bias entry)
    std::size_t count = 0;        // number of fields
    std::vector<double> entries;  // count x dim, row-major
    double scale = 1;             // the true fields are entries * scale
    bool finite = true;
};

receptive_fields gather_fields(const rounding_problem& p, std::size_t group, bool with_bias) {
    const net::node& n = *p.layer;
    const net::shape3& in = p.input_shape;
    receptive_fields f;
    if (n.kind == net::op::dense) {
        f.dim = n.in_features + (with_bias ? 1 : 0);
        f.count = p.inputs.size();
        f.entries.reserve(f.dim * f.count);
        for (const auto& x : p.inputs) {
            f.entries.insert(f.entries.end(), x.begin(), x.end());
            if (with_bias) f.entries.push_back(1.0);
        }
    } else {
        const auto& g = n.conv;
        const std::size_t in_per_group = in.channels / g.groups;
        const std::size_t k = in_per_group * g.kernel_h * g.kernel_w;
        f.dim = k + (with_bias ? 1 : 0);
        f.count = p.inputs.size() * n.output.height * n.output.width;
        f.entries.assign(f.dim * f.count, 0.0);
        std::size_t row = 0;
        for (const auto& x : p.inputs) {
            for (std::size_t oh = 0; oh < n.output.height; ++oh) {
                for (std::size_t ow = 0; ow < n.output.width; ++ow, ++row) {
                    double* out = f.entries.data() + row * f.dim;
                    for (std::size_t ic = 0; ic < in_per_group; ++ic) {
                        const std::size_t c = group * in_per_group + ic;
                        for (std::size_t kh = 0; kh < g.kernel_h; ++kh) {
                            const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.top);
                            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(in.height)) continue;
                            for (std::size_t kw = 0; kw < g.kernel_w; ++kw) {
                                const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw * g.dilation) - static_cast<std::ptrdiff_t>(g.padding.left);
                                if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(in.width)) continue;
                                out[(ic * g.kernel_h + kh) * g.kernel_w + kw] =
                                    x[(c * in.height + static_cast<std::size_t>(ih)) * in.width + static_cast<std::size_t>(iw)];
                            }
                        }
                    }
                    if (with_bias) out[k] = 1.0;
                }
            }
        }
    }
    double largest = 0;
    for (double v : f.entries) {
        if (!std::isfinite(v)) f.finite = false;
        largest = std::max(largest, std::fabs(v));
    }
    if (f.finite && largest > 0) {
        int e = 0;
        std::frexp(largest, &e);
        f.scale = std::ldexp(1.0, e);  // a power of two: the scaling is exact
        for (double& v : f.entries) v /= f.scale;
    }
    return f;
}

// v -> C v with C = (1/n) sum over fields of field field^T (n = samples):
// kept as an explicit Gram matrix, or as the fields themselves when there
// are fewer fields than half the dimension (then C v costs 2 count dim).
class gram_operator {
public:
    gram_operator(const receptive_fields& f, std::size_t samples)
        : dim_(f.dim), count_(f.count), inv_n_(1.0 / static_cast<double>(samples)) {
        explicit_ = 2 * f.count >= f.dim;
        if (explicit_) {
            gram_.assign(dim_ * dim_, 0.0);
            for (std::size_t r = 0; r < count_; ++r) {
                const double* x = f.entries.data() + r * dim_;
                for (std::size_t i = 0; i < dim_; ++i) {
                    if (x[i] == 0) continue;
                    double* row = gram_.data() + i * dim_;
                    for (std::size_t j = i; j < dim_; ++j) row[j] += x[i] * x[j];
                }
            }
            for (std::size_t i = 0; i < dim_; ++i)
                for (std::size_t j = i; j < dim_; ++j) gram_[j * dim_ + i] = gram_[i * dim_ + j] *= inv_n_;
        } else {
            fields_ = &f.entries;
            tmp_.resize(count_);
        }
    }

    std::size_t dim() const { return dim_; }

    double diagonal(std::size_t i) const {
        if (explicit_) return gram_[i * dim_ + i];
        double s = 0;
        for (std::size_t r = 0; r < count_; ++r) s += (*fields_)[r * dim_ + i] * (*fields_)[r * dim_ + i];
        return s * inv_n_;
    }

    void apply(const std::vector<double>& v, std::vector<double>& out) {
        if (explicit_) {
            for (std::size_t i = 0; i < dim_; ++i) {
                const double* row = gram_.data() + i * dim_;
                double s = 0;
                for (std::size_t j = 0; j < dim_; ++j) s += row[j] * v[j];
                out[i] = s;
            }
            return;
        }
        const double* x = fields_->data();
        for (std::size_t r = 0; r < count_; ++r) {
            double s = 0;
            for (std::size_t j = 0; j < dim_; ++j) s += x[r * dim_ + j] * v[j];
            tmp_[r] = s;
        }
        std::fill(out.begin(), out.end(), 0.0);
        for (std::size_t r = 0; r < count_; ++r)
            for (std::size_t j = 0; j < dim_; ++j) out[j] += x[r * dim_ + j] * tmp_[r];
        for (double& o : out) o *= inv_n_;
    }

    double quadratic(const std::vector<double>& d) {
        std::vector<double> cd(dim_);
        apply(d, cd);
        double s = 0;
        for (std::size_t j = 0; j < dim_; ++j) s += d[j] * cd[j];
        return s;
    }

private:
    std::size_t dim_, count_;
    double inv_n_;
    bool explicit_ = true;
    std::vector<double> gram_;
    const std::vector<double>* fields_ = nullptr;
    std::vector<double> tmp_;
};

// One output row: entries' fractions f, scales s (the entry's eta over the
// row's weight eta), and the soft choice h, optimised with Adam.
struct row_problem {
    std::vector<double> fraction, scale;
};

double rectified_sigmoid(double v, double& slope) {
    const double sig = 1.0 / (1.0 + std::exp(-v));
    const double raw = sig * (adaround_zeta - adaround_gamma) + adaround_gamma;
    if (raw <= 0) {
        slope = 0;
        return 0;
    }
    if (raw >= 1) {
        slope = 0;
        return 1;
    }
    slope = (adaround_zeta - adaround_gamma) * sig * (1 - sig);
    return raw;
}

// The soft choices h in [0, 1] after optimisation (NaN entries mean failure).
std::vector<double> optimise_row(const row_problem& r, gram_operator& gram, double normaliser, const adaround_options& opt) {
    const std::size_t dim = r.fraction.size();
    std::vector<double> v(dim), m(dim, 0.0), s2(dim, 0.0), h(dim), slope(dim), d(dim), cd(dim);
    for (std::size_t j = 0; j < dim; ++j) {
        // h(V) = f  <=>  sigmoid(V) = (f - gamma) / (zeta - gamma), in (1/12, 11/12) for f in [0, 1)
        const double sig = (r.fraction[j] - adaround_gamma) / (adaround_zeta - adaround_gamma);
        v[j] = std::log(sig / (1 - sig));
    }
    constexpr double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    double beta1_t = 1, beta2_t = 1;
    const auto warmup = static_cast<std::size_t>(opt.warmup * static_cast<double>(opt.iterations));
    for (std::size_t t = 0; t < opt.iterations; ++t) {
        for (std::size_t j = 0; j < dim; ++j) {
            h[j] = rectified_sigmoid(v[j], slope[j]);
            d[j] = r.scale[j] * (h[j] - r.fraction[j]);
        }
        gram.apply(d, cd);
        const bool regularise = t >= warmup;
        double beta = opt.beta_start;
        if (regularise) {
            const double progress = static_cast<double>(t - warmup) / static_cast<double>(opt.iterations - warmup);
            beta = opt.beta_end + (opt.beta_start - opt.beta_end) * (1 - progress);
        }
        beta1_t *= beta1;
        beta2_t *= beta2;
        for (std::size_t j = 0; j < dim; ++j) {
            double grad_h = 2 * r.scale[j] * cd[j] / normaliser;
            if (regularise) {
                const double u = 2 * h[j] - 1;  // d/dh (1 - |u|^beta) = -2 beta |u|^(beta-1) sign(u)
                if (u != 0) grad_h -= opt.lambda * 2 * beta * std::pow(std::fabs(u), beta - 1) * (u > 0 ? 1 : -1);
            }
            const double g = grad_h * slope[j];
            m[j] = beta1 * m[j] + (1 - beta1) * g;
            s2[j] = beta2 * s2[j] + (1 - beta2) * g * g;
            v[j] -= opt.learning_rate * (m[j] / (1 - beta1_t)) / (std::sqrt(s2[j] / (1 - beta2_t)) + epsilon);
        }
    }
    for (std::size_t j = 0; j < dim; ++j) h[j] = rectified_sigmoid(v[j], slope[j]);
    return h;
}

}  // namespace

void validate(const adaround_options& opt) {
    if (opt.iterations == 0) throw core::invalid_argument("AdaRound: iterations must be at least 1");
    if (!std::isfinite(opt.learning_rate) || !(opt.learning_rate > 0))
        throw core::invalid_argument(text("AdaRound: learning rate must be positive and finite (got ", opt.learning_rate, ")"));
    if (!std::isfinite(opt.lambda) || opt.lambda < 0)
        throw core::invalid_argument(text("AdaRound: lambda must be >= 0 and finite (got ", opt.lambda, ")"));
    if (!(opt.warmup >= 0 && opt.warmup < 1))
        throw core::invalid_argument(text("AdaRound: warm-up fraction must be in [0, 1) (got ", opt.warmup, ")"));
    if (!std::isfinite(opt.beta_start) || !std::isfinite(opt.beta_end) || !(opt.beta_end > 0) || opt.beta_start < opt.beta_end)
        throw core::invalid_argument(text("AdaRound: need beta_start >= beta_end > 0 (got ", opt.beta_start, " -> ", opt.beta_end, ")"));
}

rounding_choice adaround_layer(const rounding_problem& p, const adaround_options& opt) {
    validate(opt);
    if (p.layer == nullptr || !p.layer->is_affine()) throw std::logic_error("adaround_layer: not an affine node");
    if (p.inputs.empty()) throw core::invalid_argument("AdaRound: no calibration inputs");
    const net::node& n = *p.layer;
    const std::size_t rows = n.out_features, per_row = n.weight.size() / rows;
    const bool with_bias = !p.bias_fraction.empty();
    const std::size_t groups = n.kind == net::op::conv2d ? n.conv.groups : 1, rows_per_group = rows / groups;

    rounding_choice out;
    out.weight_up.assign(p.weight_nearest_up.begin(), p.weight_nearest_up.end());
    if (with_bias) out.bias_up.assign(p.bias_nearest_up.begin(), p.bias_nearest_up.end());

    for (std::size_t group = 0; group < groups; ++group) {
        const receptive_fields fields = gather_fields(p, group, with_bias);
        if (!fields.finite) {
            out.fallback_rows += rows_per_group;
            out.reconstruction_error = out.nearest_reconstruction_error = HUGE_VAL;
            continue;
        }
        gram_operator gram(fields, p.inputs.size());
        double mean_diag = 0;
        for (std::size_t j = 0; j < per_row; ++j) mean_diag += gram.diagonal(j);
        mean_diag /= static_cast<double>(per_row);
        const double normaliser = mean_diag > 0 ? mean_diag : 1.0;

        for (std::size_t o = group * rows_per_group; o < (group + 1) * rows_per_group; ++o) {
            row_problem r;
            r.fraction.assign(p.weight_fraction.begin() + static_cast<std::ptrdiff_t>(o * per_row),
                              p.weight_fraction.begin() + static_cast<std::ptrdiff_t>((o + 1) * per_row));
            r.scale.assign(per_row, 1.0);
            if (with_bias) {
                r.fraction.push_back(p.bias_fraction[o]);
                r.scale.push_back(p.bias_eta[o] / p.weight_eta[o]);
            }
            // Reconstruction error of a hard choice, in the layer's units.
            const double unit = p.weight_eta[o] * fields.scale;
            auto hard_error = [&](const std::vector<bool>& up) {
                std::vector<double> d(r.fraction.size());
                for (std::size_t j = 0; j < d.size(); ++j)
                    d[j] = r.fraction[j] == 0 ? 0.0 : r.scale[j] * ((up[j] ? 1.0 : 0.0) - r.fraction[j]);
                return gram.quadratic(d) * unit * unit;
            };
            std::vector<bool> nearest(per_row + (with_bias ? 1 : 0));
            for (std::size_t j = 0; j < per_row; ++j) nearest[j] = p.weight_nearest_up[o * per_row + j];
            if (with_bias) nearest[per_row] = p.bias_nearest_up[o];
            const double nearest_error = hard_error(nearest);
            out.nearest_reconstruction_error += nearest_error;

            bool usable = std::isfinite(r.scale.back()) && r.scale.back() > 0;
            std::vector<double> h;
            if (usable) {
                h = optimise_row(r, gram, normaliser, opt);
                for (double v : h) usable = usable && std::isfinite(v);
            }
            if (!usable) {
                ++out.fallback_rows;
                out.reconstruction_error += nearest_error;
                continue;
            }
            std::vector<bool> up(h.size());
            for (std::size_t j = 0; j < h.size(); ++j) {
                up[j] = h[j] >= 0.5;
                if (h[j] > 0 && h[j] < 1) ++out.soft_choices;
            }
            for (std::size_t j = 0; j < per_row; ++j) out.weight_up[o * per_row + j] = up[j];
            if (with_bias) out.bias_up[o] = up[per_row];
            out.reconstruction_error += hard_error(up);
        }
    }
    return out;
}

}  // namespace qbound::quant
