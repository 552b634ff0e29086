#include "qbound/verify/evaluate.hpp"

#include "qbound/arith/interval_double.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/verify/point_difference.hpp"

#include <cmath>

namespace qbound::verify {

evaluation evaluate_point(const net::network& net, const std::vector<arith::rational>& x, std::size_t exact_limit) {
    const std::size_t d = net.input_shape().size();
    if (x.size() != d)
        throw core::invalid_argument("the point has " + std::to_string(x.size()) + " coordinates, the network '" + net.name() + "' takes " +
                                     std::to_string(d));
    evaluation e;
    std::vector<double> nearest(d);
    std::vector<arith::interval_double> boxed(d);
    for (std::size_t i = 0; i < d; ++i) {
        nearest[i] = static_cast<double>(x[i]);
        if (!std::isfinite(nearest[i])) throw core::invalid_argument("coordinate " + std::to_string(i) + " is beyond the double range");
        const int c = arith::compare(x[i], nearest[i]);
        e.point_is_double = e.point_is_double && c == 0;
        // the double interval around x_i: the nearest double and its neighbour on x_i's side
        const double other = c == 0 ? nearest[i] : std::nextafter(nearest[i], c < 0 ? -INFINITY : INFINITY);
        boxed[i] = arith::make_interval(std::min(nearest[i], other), std::max(nearest[i], other));
    }
    e.plain = net::forward<double>(net, nearest);
    if (forward_cost(net) <= exact_limit) {
        const auto y = net::forward<arith::rational>(net, x);
        e.lower = e.upper = y;
        e.arithmetic = "exact rational";
        return e;
    }
    const auto y = net::forward<arith::interval_double>(net, boxed);
    for (const auto& v : y) {
        e.lower.push_back(arith::to_rational(v.lower()));
        e.upper.push_back(arith::to_rational(v.upper()));
    }
    e.arithmetic = "interval double";
    return e;
}

difference_enclosure enclose_difference(const evaluation& theta, const evaluation& theta_quantized) {
    if (theta.lower.size() != theta_quantized.lower.size())
        throw core::invalid_argument("the networks have " + std::to_string(theta.lower.size()) + " and " +
                                     std::to_string(theta_quantized.lower.size()) + " outputs");
    difference_enclosure d;
    for (std::size_t k = 0; k < theta.lower.size(); ++k) {
        d.lower.push_back(theta_quantized.lower[k] - theta.upper[k]);
        d.upper.push_back(theta_quantized.upper[k] - theta.lower[k]);
    }
    return d;
}

}  // namespace qbound::verify
