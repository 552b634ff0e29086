#pragma once
// Operator norms computed exactly (THEOREMS.md section 1):
//   ||A||_{inf->inf} = max_i sum_j |A_ij|   (largest absolute row sum)
//   rho(A, b)        = max_i (sum_j |A_ij| + |b_i|)   (the augmented form)
// All values are exact rationals from the double entries.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace qbound::bounds {

// A sparse matrix by rows: row i holds (column, value) pairs.
struct sparse_matrix {
    std::size_t rows = 0, cols = 0;
    std::vector<std::vector<std::pair<std::size_t, double>>> entries;
};

// Dense row-major A (rows x cols), optional bias (empty: none).
arith::rational operator_norm_inf(std::span<const double> A, std::size_t rows, std::size_t cols,
                                  std::span<const double> bias = {});
arith::rational operator_norm_inf(const sparse_matrix& A, std::span<const double> bias = {});

// The largest number of non-zero entries in a row (actual values, not structure).
std::size_t max_row_nonzeros(std::span<const double> A, std::size_t rows, std::size_t cols);
std::size_t max_row_nonzeros(const sparse_matrix& A);

// The largest absolute entry, exact.
arith::rational max_abs_entry(std::span<const double> A);

// The explicit matrix of a conv2d node acting on its flattened CHW input
// (every kernel tap that lands inside the input, including zero weights, so
// the structure is that of the layer, not of its values). Throws for a node
// that is not conv2d or has no weights.
sparse_matrix conv_as_matrix(const net::node& conv, const net::shape3& input);

// The augmented conv norm bound max_o (sum |k_o| + |bias_o|), exact.
arith::rational conv_kernel_norm(const net::node& conv, bool with_bias);

}  // namespace qbound::bounds
