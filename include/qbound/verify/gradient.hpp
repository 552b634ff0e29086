#pragma once
// The exact gradient (up to double rounding) of the piecewise-linear map
//   g(x) = sign * (R_theta'(x)_i - R_theta(x)_i)
// at a point x where no ReLU input is exactly at a kink (at a kink, the
// one-sided derivative of the active side is returned: ReLU'(0) = 0,
// ReLU6'(0) = ReLU6'(6) = 0; max pooling routes to the first maximum).
// Used by the worst-case search; not part of any certificate.
#include "qbound/net/network.hpp"

#include <vector>

namespace qbound::verify {

// The vector-Jacobian product v^T J_R(x) of one network, in double.
std::vector<double> input_gradient(const net::network& net, const std::vector<double>& x, const std::vector<double>& output_weights);

// The gradient of v^T R_theta(x) with respect to every parameter: per node,
// arrays laid out as node::weight and node::bias (empty for nodes without
// parameters). For the hunt (verify/hunt.hpp), which moves the weights.
struct parameter_gradient {
    std::vector<std::vector<double>> weight, bias;
};
parameter_gradient parameters_gradient(const net::network& net, const std::vector<double>& x, const std::vector<double>& output_weights);

// grad_x of sign * (R_theta'(x)_i - R_theta(x)_i).
std::vector<double> difference_gradient(const net::network& theta, const net::network& theta_quantized, const std::vector<double>& x,
                                        std::size_t output, double sign);

}  // namespace qbound::verify
