#include "qbound/verify/point_difference.hpp"

#include "qbound/arith/mpfi_interval.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/net/forward.hpp"

#include <cmath>

namespace qbound::verify {

std::size_t forward_cost(const net::network& net) {
    std::size_t cost = 0;
    for (const auto& n : net.nodes())
        if (n.is_affine()) cost += n.weight.size() * (n.kind == net::op::conv2d ? n.output.height * n.output.width : 1);
    return cost;
}

namespace {

// The certified bracket from an enclosure [lo_i, hi_i] of each output difference:
// |d| >= its mignitude (0 when the enclosure straddles 0), <= its magnitude.
void bracket_from_enclosures(point_difference& p, const std::vector<arith::rational>& lo, const std::vector<arith::rational>& hi) {
    for (std::size_t i = 0; i < lo.size(); ++i) {
        const arith::rational mig = lo[i] > 0 ? lo[i] : (hi[i] < 0 ? arith::rational(-hi[i]) : arith::rational(0));
        const arith::rational mag = arith::max(arith::abs(lo[i]), arith::abs(hi[i]));
        if (mig > p.lower) p.lower = mig, p.output = i;
        p.upper = arith::max(p.upper, mag);
        p.output_lower.push_back(mig);
        p.output_upper.push_back(mag);
    }
}

// The refined bits worth another try after an enclosure at `bits` that
// certifies no non-zero difference: the width of the output whose midpoint
// is largest must shrink below that midpoint, and the width scales as
// 2^-bits. Returns `bits` when another try is pointless (a difference is
// certified, every midpoint is 0, or the maximum is reached).
int refined_bits_needed(const fast::enclosure& d, int bits) {
    double best_mid = 0, width = 0;
    bool finite = true;
    for (std::size_t i = 0; i < d.lower.size(); ++i) {
        if (d.lower[i] > 0 || d.upper[i] < 0) return bits;  // certified
        if (!std::isfinite(d.lower[i]) || !std::isfinite(d.upper[i])) {
            finite = false;
            continue;
        }
        const double mid = std::fabs(d.lower[i] * 0.5 + d.upper[i] * 0.5);
        if (mid > best_mid) best_mid = mid, width = d.upper[i] - d.lower[i];
    }
    if (bits >= fast::max_refined_bits) return bits;
    int next = bits + 150;  // an overflowed radius says nothing about the growth
    if (finite) {
        if (best_mid == 0) return bits;
        next = bits + std::max(32, static_cast<int>(std::ceil(std::log2(width / best_mid))) + 16);
    }
    return std::min(next, fast::max_refined_bits);
}

}  // namespace

point_difference certify_difference(const net::network& theta, const net::network& quant, const std::vector<double>& x, long bits,
                                    std::size_t exact_limit, std::size_t fast_limit) {
    point_difference p;
    p.x = x;
    const std::size_t cost = forward_cost(theta);
    if (cost > fast_limit && cost > exact_limit) {
        // Refined mode first (tight on deep networks), at 100 bits and then,
        // while the difference is not certified, at the bits its width asks
        // for; the a-priori mode when the weights or values are too far from 1
        // to split exactly.
        fast::enclosure d;
        std::string name;
        try {
            int bits = 100;
            for (;;) {
                d = fast::enclose_difference_refined(theta, quant, x, fast::options{0, bits});
                name = std::string(fast::refined_arithmetic_name) + ", " + std::to_string(bits) + " bits";
                const int next = refined_bits_needed(d, bits);
                if (next <= bits) break;
                bits = next;
            }
        } catch (const fast::refinement_not_applicable&) {
            d = fast::enclose_difference(theta, quant, x);
            name = std::string(fast::arithmetic_name);
        }
        bool finite = true;
        for (std::size_t i = 0; i < d.lower.size(); ++i) finite = finite && std::isfinite(d.lower[i]) && std::isfinite(d.upper[i]);
        if (finite) {
            std::vector<arith::rational> lo, hi;
            for (std::size_t i = 0; i < d.lower.size(); ++i) lo.push_back(arith::to_rational(d.lower[i])), hi.push_back(arith::to_rational(d.upper[i]));
            bracket_from_enclosures(p, lo, hi);
            p.arithmetic = name;
            if (p.lower > 0 || cost > mpfi_limit) {
                if (p.lower == 0) p.arithmetic += "; too wide at this depth to certify a non-zero lower value";
                return p;
            }
            p = point_difference{};
            p.x = x;
        }
        // Overflowed, or uninformative on a network MPFI can still afford: MPFI below.
    }
    if (cost <= exact_limit) {
        const auto in = net::input_from_doubles<arith::rational>(x);
        const auto y = net::forward<arith::rational>(theta, in), yq = net::forward<arith::rational>(quant, in);
        for (std::size_t i = 0; i < y.size(); ++i) {
            const arith::rational d = arith::abs(yq[i] - y[i]);
            if (d > p.lower) p.lower = d, p.output = i;
            p.output_lower.push_back(d);
        }
        p.output_upper = p.output_lower;
        p.upper = p.lower;
        p.arithmetic = "exact rational";
        return p;
    }
    const arith::precision_scope scope(bits);
    const auto in = net::input_from_doubles<arith::mpfi_interval>(x);
    const auto y = net::forward<arith::mpfi_interval>(theta, in), yq = net::forward<arith::mpfi_interval>(quant, in);
    std::vector<arith::rational> lo, hi;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const arith::mpfi_interval d = yq[i] - y[i];
        lo.push_back(d.lower().to_rational());
        hi.push_back(d.upper().to_rational());
    }
    bracket_from_enclosures(p, lo, hi);
    p.arithmetic = "MPFI " + std::to_string(bits) + "-bit";
    return p;
}

double approximate_difference(const net::network& theta, const net::network& quant, const std::vector<double>& x, std::size_t output) {
    const bool large = forward_cost(theta) > 200000;
    const auto y = large ? fast::forward_plain(theta, x) : net::forward<double>(theta, x);
    const auto yq = large ? fast::forward_plain(quant, x) : net::forward<double>(quant, x);
    if (output < y.size()) return std::fabs(yq[output] - y[output]);
    double best = 0;
    for (std::size_t i = 0; i < y.size(); ++i) best = std::max(best, std::fabs(yq[i] - y[i]));
    return best;
}

}  // namespace qbound::verify
