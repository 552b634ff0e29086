#include "qbound/arith/linalg.hpp"

#include <string>

namespace qbound::arith {

void check_matvec_sizes(std::size_t matrix, std::size_t rows, std::size_t cols, std::size_t x, std::size_t bias) {
    if (cols != 0 && rows > matrix / cols)
        throw core::invalid_argument("matvec: " + std::to_string(rows) + " x " + std::to_string(cols) + " does not fit a matrix of " + std::to_string(matrix) + " entries");
    if (matrix != rows * cols)
        throw core::invalid_argument("matvec: matrix has " + std::to_string(matrix) + " entries, expected " + std::to_string(rows) + " x " + std::to_string(cols));
    if (x != cols) throw core::invalid_argument("matvec: input has " + std::to_string(x) + " entries, expected " + std::to_string(cols));
    if (bias != 0 && bias != rows) throw core::invalid_argument("matvec: bias has " + std::to_string(bias) + " entries, expected " + std::to_string(rows));
}

}  // namespace qbound::arith
