#include "qbound/verify/point_difference.hpp"

#include "qbound/arith/mpfi_interval.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/net/forward.hpp"

#include <cmath>

namespace qbound::verify {

std::size_t forward_cost(const net::network& net) {
    std::size_t cost = 0;
    for (const auto& n : net.nodes())
        if (n.is_affine()) cost += n.weight.size() * (n.kind == net::op::conv2d ? n.output.height * n.output.width : 1);
    return cost;
}

point_difference certify_difference(const net::network& theta, const net::network& quant, const std::vector<double>& x, long bits,
                                    std::size_t exact_limit) {
    point_difference p;
    p.x = x;
    if (forward_cost(theta) <= exact_limit) {
        const auto in = net::input_from_doubles<arith::rational>(x);
        const auto y = net::forward<arith::rational>(theta, in), yq = net::forward<arith::rational>(quant, in);
        for (std::size_t i = 0; i < y.size(); ++i) {
            const arith::rational d = arith::abs(yq[i] - y[i]);
            if (d > p.lower) p.lower = d, p.output = i;
        }
        p.upper = p.lower;
        p.arithmetic = "exact rational";
        return p;
    }
    const arith::precision_scope scope(bits);
    const auto in = net::input_from_doubles<arith::mpfi_interval>(x);
    const auto y = net::forward<arith::mpfi_interval>(theta, in), yq = net::forward<arith::mpfi_interval>(quant, in);
    for (std::size_t i = 0; i < y.size(); ++i) {
        const arith::mpfi_interval d = yq[i] - y[i];
        const arith::rational lo = d.lower().to_rational(), hi = d.upper().to_rational();
        // |d| >= its mignitude (0 when the enclosure straddles 0), <= its magnitude.
        const arith::rational mig = lo > 0 ? lo : (hi < 0 ? arith::rational(-hi) : arith::rational(0));
        const arith::rational mag = arith::max(arith::abs(lo), arith::abs(hi));
        if (mig > p.lower) p.lower = mig, p.output = i;
        p.upper = arith::max(p.upper, mag);
    }
    p.arithmetic = "MPFI " + std::to_string(bits) + "-bit";
    return p;
}

double approximate_difference(const net::network& theta, const net::network& quant, const std::vector<double>& x) {
    const auto y = net::forward<double>(theta, x), yq = net::forward<double>(quant, x);
    double best = 0;
    for (std::size_t i = 0; i < y.size(); ++i) best = std::max(best, std::fabs(yq[i] - y[i]));
    return best;
}

}  // namespace qbound::verify
