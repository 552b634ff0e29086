#pragma once
// Section 6 of `qbound demo`: cross-layer equalization (proof step 7). A
// positive per-channel rescaling leaves the function unchanged but changes
// the layer norms r_l and with them every bound: the zoo `cnn`, an
// imbalanced copy (exact 2^k channel rescalings) and its equalized copy,
// each quantized (nearest, 8 bits) and checked.
#include "qbound/arith/rational.hpp"
#include "qbound/experiments/progress.hpp"
#include "qbound/net/network.hpp"
#include "qbound/net/rescale.hpp"
#include "qbound/verify/check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qbound::experiments {

struct equalization_options {
    std::uint64_t seed = 1;
    std::size_t inputs = 8, nodes = 300;  // inputs compared in exact rationals; boxes per check
    double search_scale = 1;
    unsigned threads = 1;
    std::filesystem::path out;            // the plot out/equalization_norms
};

struct cle_stage {
    std::string name;
    net::network network;
    std::vector<arith::rational> rho;  // per affine layer of the main path
    arith::rational max_change;        // of its nearest 8-bit copy
    verify::check_result check;
};

struct equalization_section {
    std::vector<std::string> layer_names;
    std::vector<cle_stage> stages;  // He-normal, imbalanced, equalized
    net::cle_report report;
    std::size_t inputs_compared = 0;
    bool outputs_identical = true;
};

equalization_section run_equalization(const equalization_options& opt, const progress_sink& progress);

nlohmann::json to_json(const equalization_section& s);
std::string to_markdown(const equalization_section& s);
std::string summary_row(const equalization_section& s);

}  // namespace qbound::experiments
