#pragma once
// A self-contained, replayable case: a folder holding
//   theta.onnx, theta_q.onnx   both networks, float64 ONNX (weights bit-exact)
//   witness.json               Omega's D (exact), the witness x (hex floats),
//                              its certified difference, and the bound values
// `qbound replay FOLDER` re-reads it, re-certifies the difference at x in
// exact or 256-bit arithmetic, recomputes every bound and prints which ones
// the witness violates.
#include "qbound/arith/rational.hpp"
#include "qbound/net/network.hpp"
#include "qbound/verify/point_difference.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace qbound::verify {

struct replay_case {
    net::network theta, quantized;
    arith::rational D;
    std::vector<double> x;
    std::string note;  // what produced it (family, pair, command)
};

// Writes the folder (created if needed). `note` is stored as-is.
void save_case(const std::filesystem::path& folder, const net::network& theta, const net::network& quantized,
               const arith::rational& D, const point_difference& witness, const std::string& note);

// Reads a folder (or its witness.json). Throws invalid_argument naming the
// file and the field that is missing or malformed.
replay_case load_case(const std::filesystem::path& folder_or_witness);

}  // namespace qbound::verify
