#pragma once
// Calibration inputs for AdaRound: read from a file or sampled from Omega.
//
// Files (by extension):
//   .npy  NumPy array, little-endian float32 ('<f4') or float64 ('<f8'),
//         C order, shape [n, d] or [n, C, H, W] with C*H*W = d (format
//         versions 1.0, 2.0, 3.0). float32 values widen exactly.
//   else  CSV text: one input per line, d comma-separated decimal numbers
//         (each parsed to the nearest double); blank lines and lines
//         starting with '#' are skipped.
// Inputs are in the network's input order (CHW, the order qbound's network
// takes, also for files whose graph takes NHWC).
#include "qbound/io/limits.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qbound::quant {

// Throws core::invalid_argument naming the file (and the row and column,
// or the header field) for: a missing or unreadable file, no inputs, a row
// with the wrong number of values, a non-numeric, NaN or infinite value, an
// unsupported dtype, Fortran order or shape, or truncated .npy data; and for
// files beyond `lim` (file size, max_calibration_samples inputs; see
// io/limits.hpp), before allocating for them.
std::vector<std::vector<double>> read_calibration(const std::string& path, std::size_t expected_dim,
                                                  const io::limits& lim = io::limits_from_environment());

// n inputs uniform on [-D, D]^dim (53-bit uniform draws from std::mt19937_64
// with `seed`, the same on every platform). Throws invalid_argument for
// n == 0, dim == 0, or D not positive and finite.
std::vector<std::vector<double>> sample_calibration(std::size_t dim, std::size_t n, double D, std::uint64_t seed);

}  // namespace qbound::quant
