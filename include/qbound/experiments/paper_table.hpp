#pragma once
// Section 3 of `qbound demo` and `qbound table`: the paper's comparison
// (THEOREMS.md section 5) of G and B on MobileNetV2, ResNet18 and ResNet50
// at 224 x 224, (a) with the paper's rounded norms, (b) with norms computed
// from weights.
#include "qbound/bounds/paper_table.hpp"
#include "qbound/experiments/progress.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qbound::experiments {

struct paper_table_options {
    std::vector<std::string> files;  // ONNX/NNet files for part (b); default: the zoo models
    std::uint64_t seed = 1;          // He-normal seed of zoo models
    double bias_std = 0;
};

struct paper_table {
    std::vector<bounds::gain_row> rows_a;        // (a)
    std::vector<std::optional<double>> paper_a;  // the paper's log10 gains for (a)
    std::vector<bounds::gain_row> rows_b;        // (b)
    std::vector<std::string> sources;            // where (b)'s weights come from
    std::string matches;                         // the width convention the paper's gains follow
    double miss_best = 0, miss_other = 0;        // its total |log10| miss on the ResNets, and the other's
};

// progress.status names each model of (b) as its norms are computed.
paper_table run_paper_table(const paper_table_options& opt, const progress_sink& progress);

nlohmann::json to_json(const paper_table& t);  // what `qbound table --json` prints
std::string to_markdown(const paper_table& t);
std::string summary_row(const paper_table& t);

}  // namespace qbound::experiments
