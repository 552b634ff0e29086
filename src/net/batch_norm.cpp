#include "qbound/net/batch_norm.hpp"

#include "qbound/arith/scalar.hpp"
#include "qbound/net/errors.hpp"

#include <mpfi.h>

#include <cmath>
#include <optional>
#include <span>
#include <string>

namespace qbound::net {

namespace {

using arith::rational;

// sqrt(q) when it is rational (numerator and denominator perfect squares).
std::optional<rational> exact_sqrt(const rational& q) {
    if (q < 0) return std::nullopt;
    const mpq_srcptr v = q.backend().data();
    if (!mpz_perfect_square_p(mpq_numref(v)) || !mpz_perfect_square_p(mpq_denref(v))) return std::nullopt;
    rational r;
    mpz_sqrt(mpq_numref(r.backend().data()), mpq_numref(v));
    mpz_sqrt(mpq_denref(r.backend().data()), mpq_denref(v));
    mpq_canonicalize(r.backend().data());
    return r;
}

// One channel's fold: folded(x) = scale * x + shift for the weights (shift 0)
// and for the bias; scale = gamma / sigma.
class channel_fold {
public:
    channel_fold(const batch_norm_params& bn, std::size_t c, const std::string& what) {
        variance_ = arith::to_rational(bn.var[c]) + arith::to_rational(bn.eps);
        if (!(variance_ > 0)) throw model_error(what + ": var + eps <= 0 at channel " + std::to_string(c));
        gamma_ = arith::to_rational(bn.gamma[c]);
        sigma_ = exact_sqrt(variance_);
    }

    // The nearest double to gamma * t / sigma + add (t, add exact), and the rounding's relative size.
    std::pair<double, double> round(const rational& t, const rational& add) const {
        if (sigma_ || gamma_ * t == 0) {
            const rational exact = gamma_ * t == 0 ? add : gamma_ * t / *sigma_ + add;
            const double d = arith::nearest_double(exact);
            const rational error = abs(arith::to_rational(d) - exact);
            return {d, exact == 0 ? 0.0 : arith::nearest_double(error / abs(exact))};
        }
        // sigma irrational and gamma t != 0: the value is irrational, never a double.
        for (mpfr_prec_t bits : {128, 512, 4096}) {
            mpfi_t v, s;
            mpfi_init2(v, bits);
            mpfi_init2(s, bits);
            mpfi_set_q(s, variance_.backend().data());
            mpfi_sqrt(s, s);
            mpfi_set_q(v, gamma_.backend().data());
            rational tq = t;
            mpfi_mul_q(v, v, tq.backend().data());
            mpfi_div(v, v, s);
            rational aq = add;
            mpfi_add_q(v, v, aq.backend().data());
            mpfr_t lo, hi;
            mpfr_inits2(bits, lo, hi, static_cast<mpfr_ptr>(nullptr));
            mpfi_get_left(lo, v);
            mpfi_get_right(hi, v);
            const double dl = mpfr_get_d(lo, MPFR_RNDN), dh = mpfr_get_d(hi, MPFR_RNDN);
            double relative = 0;
            if (dl == dh) {
                // |d - exact| / |exact| <= max over the enclosure's ends.
                mpfr_t e;
                mpfr_init2(e, 64);
                mpfr_sub_d(lo, lo, dl, MPFR_RNDN);
                mpfr_sub_d(hi, hi, dl, MPFR_RNDN);
                mpfr_abs(lo, lo, MPFR_RNDU);
                mpfr_abs(hi, hi, MPFR_RNDU);
                mpfr_max(e, lo, hi, MPFR_RNDU);
                relative = mpfr_get_d(e, MPFR_RNDU) / std::fabs(dl);
                mpfr_clear(e);
            }
            mpfr_clears(lo, hi, static_cast<mpfr_ptr>(nullptr));
            mpfi_clear(v);
            mpfi_clear(s);
            if (dl == dh) return {dl, std::max(relative, 0x1p-1074)};  // irrational: always a rounding
        }
        throw model_error("batch norm folding: could not round a folded parameter correctly at 4096 bits");
    }

    // gamma * t / sigma + add exactly (sigma rational).
    rational exact(const rational& t, const rational& add) const { return gamma_ * t == 0 ? add : gamma_ * t / *sigma_ + add; }

    const std::optional<rational>& sigma() const { return sigma_; }
    const rational& gamma() const { return gamma_; }

private:
    rational variance_, gamma_;
    std::optional<rational> sigma_;
};

// Folds every batch norm; with `exact`, also records the exact folded
// parameters (and requires rational sigmas).
fold_report fold(network& net, exact_parameters* exact) {
    fold_report report;
    const auto& nodes = net.nodes();
    if (exact && net.has_weights()) {
        exact->weight.assign(nodes.size(), {});
        exact->bias.assign(nodes.size(), {});
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (!nodes[i].is_affine()) continue;
            for (double w : nodes[i].weight) exact->weight[i].push_back(arith::to_rational(w));
            for (double b : nodes[i].bias) exact->bias[i].push_back(arith::to_rational(b));
        }
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].kind != op::batch_norm) continue;
        const node& bn = nodes[i];
        const std::size_t src = bn.inputs.at(0);
        const node& affine = nodes[src];
        std::size_t readers = 0;
        for (const auto& other : nodes)
            for (std::size_t in : other.inputs) readers += in == src;
        const std::string what = net.name() + ": batch_norm '" + bn.name + "'";
        if (!affine.is_affine() || readers != 1) throw model_error(what + " does not follow an affine node used only by it");
        if (net.has_weights()) {
            const std::size_t out = affine.out_features;
            const std::size_t per_out = affine.weight.size() / out;
            const std::span<double> weight = net.weights(src), bias = net.bias(src);
            for (std::size_t o = 0; o < out; ++o) {
                const channel_fold f(bn.bn, o, what);
                if (exact) {
                    if (!f.sigma())
                        throw model_error(what + ": sqrt(var + eps) is irrational at channel " + std::to_string(o) +
                                          "; the folded parameters have no exact rational value (fold_batch_norm rounds them)");
                    const rational t = arith::to_rational(affine.bias[o]) - arith::to_rational(bn.bn.mean[o]);
                    exact->bias[src][o] = f.exact(t, arith::to_rational(bn.bn.beta[o]));
                    for (std::size_t k = 0; k < per_out; ++k)
                        exact->weight[src][o * per_out + k] = f.exact(arith::to_rational(affine.weight[o * per_out + k]), 0);
                }
                const auto account = [&](const std::pair<double, double>& r) {
                    ++report.parameters;
                    if (r.second > 0) {
                        ++report.rounded;
                        report.max_relative_rounding = std::max(report.max_relative_rounding, r.second);
                    }
                    return r.first;
                };
                for (std::size_t k = 0; k < per_out; ++k) {
                    double& w = weight[o * per_out + k];
                    w = account(f.round(arith::to_rational(w), 0));
                }
                const rational t = arith::to_rational(bias[o]) - arith::to_rational(bn.bn.mean[o]);
                bias[o] = account(f.round(t, arith::to_rational(bn.bn.beta[o])));
            }
        }
        // The batch norm node becomes an identity on the folded output.
        net.batch_norm_to_identity(i);
        ++report.folded;
    }
    return report;
}

}  // namespace

fold_report fold_batch_norm(network& net) { return fold(net, nullptr); }

exact_fold fold_batch_norm_exact(network& net) {
    if (!net.has_weights()) throw model_error(net.name() + ": a shape-only network has no parameters to fold exactly");
    exact_fold result;
    network work = net;  // all or nothing: net is unchanged when a sigma is irrational
    result.report = fold(work, &result.parameters);
    net = std::move(work);
    return result;
}

void exact_parameters::check(const network& net) const {
    const auto& nodes = net.nodes();
    if (weight.size() != nodes.size() || bias.size() != nodes.size())
        throw model_error(net.name() + ": exact parameters are for a network of " + std::to_string(weight.size()) + " nodes, not " +
                          std::to_string(nodes.size()));
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const std::size_t w = nodes[i].is_affine() ? nodes[i].weight.size() : 0, b = nodes[i].is_affine() ? nodes[i].bias.size() : 0;
        if (weight[i].size() != w || bias[i].size() != b)
            throw model_error(net.name() + ": exact parameters do not fit node '" + nodes[i].name + "'");
    }
}

std::vector<arith::rational> batch_norm_exact(const node& bn, const shape3& in, const std::vector<arith::rational>& x) {
    const std::size_t hw = in.height * in.width;
    std::vector<rational> y(x.size());
    for (std::size_t c = 0; c < in.channels; ++c) {
        const channel_fold f(bn.bn, c, "batch_norm '" + bn.name + "'");
        if (!f.sigma())
            throw model_error("batch_norm '" + bn.name + "': sqrt(var + eps) is irrational at channel " + std::to_string(c) +
                              "; it cannot be evaluated in exact rationals (fold it: fold_batch_norm)");
        const rational scale = f.gamma() / *f.sigma(), mean = arith::to_rational(bn.bn.mean[c]), beta = arith::to_rational(bn.bn.beta[c]);
        for (std::size_t k = 0; k < hw; ++k) y[c * hw + k] = scale * (x[c * hw + k] - mean) + beta;
    }
    return y;
}

}  // namespace qbound::net
